#pragma once
// The client side of range scans (RANGE_SCAN_CREATE 0xda / CONTINUE 0xdb / CANCEL 0xdc) for
// the integration tests: request builders, a decoder of CONTINUE responses that checks the
// wire format (kv_engine's docs/range_scans), whole-scan drivers and
// key helpers. Written from the reference, independent of src/.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/couchbase_client.h"
#include "support/mcbp_client.h"
#include "support/scram_client.h"
#include "support/test_env.h"

namespace memkv::test {

using std::chrono::milliseconds;

namespace scan_op {
inline constexpr uint8_t kCreate = 0xda;
inline constexpr uint8_t kContinue = 0xdb;
inline constexpr uint8_t kCancel = 0xdc;
}  // namespace scan_op

namespace scan_status {
inline constexpr uint16_t kNotMyVbucket = 0x07;
inline constexpr uint16_t kEbusy = 0x85;
inline constexpr uint16_t kEtmpfail = 0x86;
inline constexpr uint16_t kUnknownCollection = 0x88;
inline constexpr uint16_t kCancelled = 0xa5;
inline constexpr uint16_t kMore = 0xa6;
inline constexpr uint16_t kComplete = 0xa7;
inline constexpr uint16_t kVbUuidNotEqual = 0xa8;
}  // namespace scan_status

// The SDK's "end of keyspace" (RangeScan without `to`, PrefixScan's suffix).
inline const std::string kMaxKeySuffix = "\xf4\x8f\xfb\xfb";

struct Bounds {
  std::string start;
  std::string end;
  bool excl_start = false;
  bool excl_end = false;
};

inline std::string rangeJson(const Bounds& b, bool key_only = false) {
  std::string json = "{";
  if (key_only) json += "\"key_only\":true,";
  json += "\"range\":{\"";
  json += b.excl_start ? "excl_start" : "start";
  json += "\":\"" + base64EncodeForTest(b.start) + "\",\"";
  json += b.excl_end ? "excl_end" : "end";
  json += "\":\"" + base64EncodeForTest(b.end) + "\"}}";
  return json;
}

// The SDK's full range: "" .. "\xf4\x8f\xfb\xfb".
inline std::string fullRangeJson(bool key_only = false) {
  return rangeJson({"", kMaxKeySuffix}, key_only);
}

inline std::string samplingJson(uint64_t samples, uint64_t seed, bool key_only = false) {
  return std::string("{") + (key_only ? "\"key_only\":true," : "") +
         "\"sampling\":{\"samples\":" + std::to_string(samples) +
         ",\"seed\":" + std::to_string(seed) + "}}";
}

inline Request makeCreate(uint16_t vbucket, std::string json, uint32_t opaque = 0,
                          uint8_t datatype = couchbase::datatype::kJson) {
  Request r;
  r.opcode = scan_op::kCreate;
  r.data_type = datatype;
  r.vbucket = vbucket;
  r.opaque = opaque;
  r.value = std::move(json);
  return r;
}

inline Request makeContinue(const std::string& id, uint32_t item_limit, uint32_t time_limit_ms,
                            uint32_t byte_limit, uint32_t opaque = 0, uint16_t vbucket = 0) {
  Request r;
  r.opcode = scan_op::kContinue;
  r.vbucket = vbucket;
  r.opaque = opaque;
  r.extras = id + be32(item_limit) + be32(time_limit_ms) + be32(byte_limit);
  return r;
}

inline Request makeCancel(const std::string& id, uint32_t opaque = 0, uint16_t vbucket = 0) {
  Request r;
  r.opcode = scan_op::kCancel;
  r.vbucket = vbucket;
  r.opaque = opaque;
  r.extras = id;
  return r;
}

struct ScanItem {
  std::string key;
  uint32_t flags = 0;
  uint32_t expiry = 0;
  uint64_t seqno = 0;
  uint64_t cas = 0;
  uint8_t datatype = 0;
  std::string value;
};

// Decodes one CONTINUE response's value; false (with *error) if it is malformed.
inline bool parseItems(std::string_view v, bool key_only, std::vector<ScanItem>* out,
                       std::string* error) {
  size_t pos = 0;
  while (pos < v.size()) {
    ScanItem item;
    if (!key_only) {
      if (v.size() - pos < 25) {
        *error = "truncated document header";
        return false;
      }
      item.flags = readBe32(v.substr(pos));
      item.expiry = readBe32(v.substr(pos + 4));
      item.seqno = readBe64(v.substr(pos + 8));
      item.cas = readBe64(v.substr(pos + 16));
      item.datatype = static_cast<uint8_t>(v[pos + 24]);
      pos += 25;
    }
    uint64_t len = 0;
    if (!couchbase::readLeb128(v, &pos, &len) || len > v.size() - pos) {
      *error = "bad key length";
      return false;
    }
    item.key = std::string(v.substr(pos, len));
    pos += len;
    if (!key_only) {
      if (!couchbase::readLeb128(v, &pos, &len) || len > v.size() - pos) {
        *error = "bad value length";
        return false;
      }
      item.value = std::string(v.substr(pos, len));
      pos += len;
    }
    out->push_back(std::move(item));
  }
  return true;
}

// What one CONTINUE produced.
struct ContinueResult {
  uint16_t status = 0;  // the final response's
  std::vector<ScanItem> items;
  size_t responses = 0;
  std::vector<size_t> items_per_response;
  std::string error;  // non-empty: the responses broke the protocol (or did not arrive)
};

// Reads the responses of one CONTINUE (opaque `opaque`) up to its final one.
inline ContinueResult readContinue(McbpClient& c, uint32_t opaque, bool key_only,
                                   milliseconds timeout = scaled(milliseconds(10000))) {
  ContinueResult out;
  for (;;) {
    Response r;
    const ReadStatus st = c.read(&r, timeout);
    if (st != ReadStatus::kOk) {
      out.error = std::string("read: ") + toString(st);
      return out;
    }
    ++out.responses;
    if (r.magic != kResponseMagic || r.opcode != scan_op::kContinue || r.opaque != opaque) {
      out.error = "unexpected response: opcode " + std::to_string(r.opcode) + " opaque " +
                  std::to_string(r.opaque) + " status " + std::to_string(r.status);
      return out;
    }
    const bool scan_status = r.status == status::kSuccess || r.status == scan_status::kMore ||
                             r.status == scan_status::kComplete ||
                             r.status == scan_status::kCancelled;
    if (!scan_status) {  // an error: one response, the CONTINUE is over
      out.status = r.status;
      return out;
    }
    // CANCELLED found before the CONTINUE starts is a plain error response; one that ends a
    // running CONTINUE carries the flags like every other scan response.
    if (r.status != scan_status::kCancelled || !r.extras.empty()) {
      if (r.extras != be32(key_only ? 0 : 1)) {
        out.error = "response extras must be the 4-byte flags " + std::to_string(key_only ? 0 : 1) +
                    ", got " + std::to_string(r.extras.size()) + " bytes";
        return out;
      }
    }
    const size_t before = out.items.size();
    if (!parseItems(r.value, key_only, &out.items, &out.error)) return out;
    out.items_per_response.push_back(out.items.size() - before);
    if (r.status != status::kSuccess) {
      out.status = r.status;
      return out;
    }
  }
}

struct ScanResult {
  uint16_t create_status = 0;
  std::string id;
  std::vector<ScanItem> items;
  std::vector<ContinueResult> continues;  // items moved out into `items`
  std::string error;
};

// CREATE, then CONTINUE with the given limits until COMPLETE (or an error).
inline ScanResult runScan(McbpClient& c, uint16_t vbucket, const std::string& json, bool key_only,
                          uint32_t item_limit = 0, uint32_t time_limit_ms = 0,
                          uint32_t byte_limit = 0, size_t max_continues = 1000000) {
  ScanResult out;
  const Response created = c.call(makeCreate(vbucket, json, 1));
  out.create_status = created.status;
  if (created.status != status::kSuccess) return out;
  if (created.value.size() != 16) {
    out.error = "scan id of " + std::to_string(created.value.size()) + " bytes";
    return out;
  }
  out.id = created.value;
  for (uint32_t opaque = 100; out.continues.size() < max_continues; ++opaque) {
    if (!c.send(makeContinue(out.id, item_limit, time_limit_ms, byte_limit, opaque, vbucket))) {
      out.error = "send failed";
      return out;
    }
    ContinueResult r = readContinue(c, opaque, key_only);
    if (!r.error.empty()) {
      out.error = "continue " + std::to_string(out.continues.size()) + ": " + r.error;
      return out;
    }
    for (ScanItem& item : r.items) out.items.push_back(std::move(item));
    r.items.clear();
    const uint16_t st = r.status;
    out.continues.push_back(std::move(r));
    if (st == scan_status::kComplete) return out;
    if (st != scan_status::kMore) {
      out.error = "continue ended with status " + std::to_string(st);
      return out;
    }
  }
  out.error = "too many continues";
  return out;
}

inline std::vector<std::string> keysOf(const std::vector<ScanItem>& items) {
  std::vector<std::string> keys;
  keys.reserve(items.size());
  for (const ScanItem& i : items) keys.push_back(i.key);
  return keys;
}

// `count` keys "<prefix><n>" that hash to `vbucket`.
inline std::vector<std::string> keysInVbucket(uint16_t vbucket, const std::string& prefix,
                                              size_t count) {
  std::vector<std::string> keys;
  for (uint64_t n = 0; keys.size() < count; ++n) {
    std::string k = prefix + std::to_string(n);
    if (couchbase::vbucketOf(k) == vbucket) keys.push_back(std::move(k));
  }
  return keys;
}

// Stores everything with pipelined SETQs and one NOOP; true if no SETQ failed.
inline bool bulkSet(McbpClient& c, const std::vector<std::pair<std::string, std::string>>& docs,
                    uint32_t flags = 0) {
  std::string batch;
  size_t sent = 0;
  auto flush = [&]() -> bool {
    batch += encode(makeKeyOnly(op::kNoop, "", 0xfeed));
    if (!c.sendRaw(batch, scaled(milliseconds(20000)))) return false;
    batch.clear();
    Response r;
    if (c.read(&r, scaled(milliseconds(20000))) != ReadStatus::kOk) return false;
    return r.opcode == op::kNoop && r.opaque == 0xfeed;  // any SETQ error would come first
  };
  for (const auto& [key, value] : docs) {
    batch += encode(makeStore(op::kSetQ, key, value, flags, 0, 0, 1));
    if (++sent % 256 == 0 || batch.size() > (1 << 20)) {
      if (!flush()) return false;
    }
  }
  return flush();
}

}  // namespace memkv::test
