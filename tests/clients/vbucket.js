'use strict';
// CRC-32 (IEEE, reflected 0xEDB88320) and Couchbase's vbucket of a key, as the SDKs compute
// it: ((crc32(key) >> 16) & 0x7fff) % 1024. For the client tests that check routing.
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const vbucketOf = (key) => ((crc32(Buffer.from(key)) >>> 16) & 0x7fff) % 1024;

module.exports = { crc32, vbucketOf };
