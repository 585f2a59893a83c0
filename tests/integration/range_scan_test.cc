// Range scans on the wire (RANGE_SCAN_CREATE 0xda / CONTINUE 0xdb / CANCEL 0xdc), as the
// Couchbase SDKs use them (docs: /work/shared/reference/couchbase-sdk-over-kv.md §2): every
// status, both response layouts with verified content, bounds, sampling, limits, the
// point-in-time view, ordering against pipelined requests, concurrency between connections,
// cancellation by disconnect and by idle lifetime, and a scan of all 1024 vbuckets.
// Open server: every connection uses "default".
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "integration/server_fixture.h"
#include "support/couchbase_client.h"
#include "support/test_env.h"

namespace memkv::test {
namespace {

namespace cb = couchbase;
using std::chrono::milliseconds;

namespace scan_op {
constexpr uint8_t kCreate = 0xda;
constexpr uint8_t kContinue = 0xdb;
constexpr uint8_t kCancel = 0xdc;
}  // namespace scan_op

namespace scan_status {
constexpr uint16_t kNotMyVbucket = 0x07;
constexpr uint16_t kEbusy = 0x85;
constexpr uint16_t kEtmpfail = 0x86;
constexpr uint16_t kUnknownCollection = 0x88;
constexpr uint16_t kCancelled = 0xa5;
constexpr uint16_t kMore = 0xa6;
constexpr uint16_t kComplete = 0xa7;
constexpr uint16_t kVbUuidNotEqual = 0xa8;
}  // namespace scan_status

// The SDK's "end of keyspace" (RangeScan without `to`, PrefixScan's suffix).
const std::string kMaxKeySuffix = "\xf4\x8f\xfb\xfb";

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (uint32_t{static_cast<uint8_t>(in[i])} << 16) |
                       (uint32_t{static_cast<uint8_t>(in[i + 1])} << 8) |
                       uint32_t{static_cast<uint8_t>(in[i + 2])};
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (in.size() - i == 1) {
    const uint32_t v = uint32_t{static_cast<uint8_t>(in[i])} << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (in.size() - i == 2) {
    const uint32_t v = (uint32_t{static_cast<uint8_t>(in[i])} << 16) |
                       (uint32_t{static_cast<uint8_t>(in[i + 1])} << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

struct Bounds {
  std::string start;
  std::string end;
  bool excl_start = false;
  bool excl_end = false;
};

std::string rangeJson(const Bounds& b, bool key_only = false) {
  std::string json = "{";
  if (key_only) json += "\"key_only\":true,";
  json += "\"range\":{\"";
  json += b.excl_start ? "excl_start" : "start";
  json += "\":\"" + base64(b.start) + "\",\"";
  json += b.excl_end ? "excl_end" : "end";
  json += "\":\"" + base64(b.end) + "\"}}";
  return json;
}

// The SDK's full range: "" .. "\xf4\x8f\xfb\xfb".
std::string fullRangeJson(bool key_only = false) {
  return rangeJson({"", kMaxKeySuffix}, key_only);
}

std::string samplingJson(uint64_t samples, uint64_t seed, bool key_only = false) {
  return std::string("{") + (key_only ? "\"key_only\":true," : "") +
         "\"sampling\":{\"samples\":" + std::to_string(samples) +
         ",\"seed\":" + std::to_string(seed) + "}}";
}

Request makeCreate(uint16_t vbucket, std::string json, uint32_t opaque = 0,
                   uint8_t datatype = cb::datatype::kJson) {
  Request r;
  r.opcode = scan_op::kCreate;
  r.data_type = datatype;
  r.vbucket = vbucket;
  r.opaque = opaque;
  r.value = std::move(json);
  return r;
}

Request makeContinue(const std::string& id, uint32_t item_limit, uint32_t time_limit_ms,
                     uint32_t byte_limit, uint32_t opaque = 0, uint16_t vbucket = 0) {
  Request r;
  r.opcode = scan_op::kContinue;
  r.vbucket = vbucket;
  r.opaque = opaque;
  r.extras = id + be32(item_limit) + be32(time_limit_ms) + be32(byte_limit);
  return r;
}

Request makeCancel(const std::string& id, uint32_t opaque = 0, uint16_t vbucket = 0) {
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
bool parseItems(std::string_view v, bool key_only, std::vector<ScanItem>* out, std::string* error) {
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
    if (!cb::readLeb128(v, &pos, &len) || len > v.size() - pos) {
      *error = "bad key length";
      return false;
    }
    item.key = std::string(v.substr(pos, len));
    pos += len;
    if (!key_only) {
      if (!cb::readLeb128(v, &pos, &len) || len > v.size() - pos) {
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
ContinueResult readContinue(McbpClient& c, uint32_t opaque, bool key_only,
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
ScanResult runScan(McbpClient& c, uint16_t vbucket, const std::string& json, bool key_only,
                   uint32_t item_limit = 0, uint32_t time_limit_ms = 0, uint32_t byte_limit = 0,
                   size_t max_continues = 1000000) {
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

std::vector<std::string> keysOf(const std::vector<ScanItem>& items) {
  std::vector<std::string> keys;
  keys.reserve(items.size());
  for (const ScanItem& i : items) keys.push_back(i.key);
  return keys;
}

// `count` keys "<prefix><n>" that hash to `vbucket`.
std::vector<std::string> keysInVbucket(uint16_t vbucket, const std::string& prefix, size_t count) {
  std::vector<std::string> keys;
  for (uint64_t n = 0; keys.size() < count; ++n) {
    std::string k = prefix + std::to_string(n);
    if (cb::vbucketOf(k) == vbucket) keys.push_back(std::move(k));
  }
  return keys;
}

// Stores everything with pipelined SETQs and one NOOP; true if no SETQ failed.
bool bulkSet(McbpClient& c, const std::vector<std::pair<std::string, std::string>>& docs,
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

class RangeScanTest : public ServerTest {
 protected:
  RangeScanTest() : ServerTest({"-m", "256"}) {}

  void SetUp() override {
    if (targetFromEnv() == ServerKind::kMemcached) GTEST_SKIP() << "memkv-only: range scans";
    ServerTest::SetUp();
  }

  // A connection that negotiated what an SDK does for scans (JSON, XERROR).
  McbpClient sdkClient() {
    McbpClient c = newClient();
    cb::hello(c, {cb::feature::kJson, cb::feature::kXerror});
    return c;
  }

  static void expectUsable(McbpClient& c) {
    EXPECT_EQ(c.noop().status, status::kSuccess) << "the connection must stay usable";
  }
};

// ---------------------------------------------------------------------------------------------
// RANGE_SCAN_CREATE statuses

TEST_F(RangeScanTest, CreateAnswersEveryStatus) {
  McbpClient c = sdkClient();
  const std::vector<std::string> keys = keysInVbucket(7, "doc-", 3);
  for (const std::string& k : keys) ASSERT_EQ(c.set(k, "v").status, status::kSuccess);
  const std::string all = fullRangeJson();
  const std::string a = base64("a"), b = base64("b");
  const std::vector<std::pair<std::string, std::string>> invalid = {
      {"not JSON", "{\"range\":"},
      {"an array", "[]"},
      {"a string", "\"range\""},
      {"neither range nor sampling", "{}"},
      {"only key_only", "{\"key_only\":true}"},
      {"both range and sampling",
       "{\"range\":{\"start\":\"" + a + "\",\"end\":\"" + b + "\"},\"sampling\":{\"samples\":1}}"},
      {"unknown field", "{\"range\":{\"start\":\"" + a + "\",\"end\":\"" + b + "\"},\"x\":1}"},
      {"unknown range bound", "{\"range\":{\"start\":\"" + a + "\",\"stop\":\"" + b + "\"}}"},
      {"missing end", "{\"range\":{\"start\":\"" + a + "\"}}"},
      {"missing start", "{\"range\":{\"end\":\"" + b + "\"}}"},
      {"start and excl_start",
       "{\"range\":{\"start\":\"" + a + "\",\"excl_start\":\"" + a + "\",\"end\":\"" + b + "\"}}"},
      {"start > end", "{\"range\":{\"start\":\"" + b + "\",\"end\":\"" + a + "\"}}"},
      {"bound not base64", "{\"range\":{\"start\":\"!!!\",\"end\":\"" + b + "\"}}"},
      {"bound not a string", "{\"range\":{\"start\":1,\"end\":\"" + b + "\"}}"},
      {"range not an object", "{\"range\":\"" + a + "\"}"},
      {"zero samples", "{\"sampling\":{\"samples\":0}}"},
      {"sampling without samples", "{\"sampling\":{\"seed\":1}}"},
      {"samples not a number", "{\"sampling\":{\"samples\":\"x\"}}"},
      {"key_only not a bool",
       "{\"key_only\":\"yes\",\"range\":{\"start\":\"" + a + "\",\"end\":\"" + b + "\"}}"},
      {"collection not hex", "{\"collection\":\"zz\"," + all.substr(1)},
      {"collection a number", "{\"collection\":0," + all.substr(1)},
      {"snapshot_requirements without vb_uuid",
       "{\"snapshot_requirements\":{\"seqno\":1}," + all.substr(1)},
  };
  for (const auto& [name, json] : invalid) {
    SCOPED_TRACE(name + ": " + json);
    const Response r = c.call(makeCreate(7, json));
    EXPECT_EQ(r.status, status::kEinval);
    EXPECT_EQ(r.opcode, scan_op::kCreate);
  }
  expectUsable(c);

  // A non-default collection is unknown; the default one, named, is fine.
  EXPECT_EQ(c.call(makeCreate(7, "{\"collection\":\"8\"," + all.substr(1))).status,
            scan_status::kUnknownCollection);
  EXPECT_EQ(c.call(makeCreate(7, "{\"collection\":\"0\"," + all.substr(1))).status,
            status::kSuccess);

  // The vbucket must exist.
  EXPECT_EQ(c.call(makeCreate(1024, all)).status, scan_status::kNotMyVbucket);
  EXPECT_EQ(c.call(makeCreate(0xffff, all)).status, scan_status::kNotMyVbucket);

  // Nothing live in the range: KEY_ENOENT (the SDK skips the vbucket).
  EXPECT_EQ(c.call(makeCreate(8, all)).status, status::kKeyEnoent) << "vbucket 8 is empty";
  EXPECT_EQ(c.call(makeCreate(7, rangeJson({"zzz", "zzzz"}))).status, status::kKeyEnoent);
  EXPECT_EQ(c.call(makeCreate(7, samplingJson(5, 1), 0)).status, status::kSuccess);
  EXPECT_EQ(c.call(makeCreate(8, samplingJson(5, 1), 0)).status, status::kKeyEnoent);

  // Success: a 16-byte id, no extras, no key; each scan its own id.
  std::set<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    const Response r = c.call(makeCreate(7, all, 40 + i));
    ASSERT_EQ(r.status, status::kSuccess);
    EXPECT_EQ(r.opaque, 40u + i);
    EXPECT_EQ(r.value.size(), 16u);
    EXPECT_TRUE(r.extras.empty());
    EXPECT_TRUE(r.key.empty());
    ids.insert(r.value);
  }
  EXPECT_EQ(ids.size(), 4u);
  // start == end names one key.
  const ScanResult one = runScan(c, 7, rangeJson({keys[1], keys[1]}), false);
  ASSERT_EQ(one.create_status, status::kSuccess);
  ASSERT_TRUE(one.error.empty()) << one.error;
  ASSERT_EQ(one.items.size(), 1u);
  EXPECT_EQ(one.items[0].key, keys[1]);

  // A plain memcached client (no HELLO, raw datatype) may scan too.
  const ScanResult plain = runScan(client_, 7, fullRangeJson(true), true);
  ASSERT_EQ(plain.create_status, status::kSuccess);
  ASSERT_TRUE(plain.error.empty()) << plain.error;
  EXPECT_EQ(plain.items.size(), 3u);
  expectUsable(c);
}

TEST_F(RangeScanTest, MalformedFramesAreEinvalAndClose) {
  ASSERT_EQ(client_.set("k", "v").status, status::kSuccess);
  const uint16_t vb = cb::vbucketOf("k");
  std::vector<std::pair<const char*, Request>> bad;
  Request with_key = makeCreate(vb, fullRangeJson(), 1);
  with_key.key = "k";
  bad.emplace_back("CREATE with a key", with_key);
  Request with_extras = makeCreate(vb, fullRangeJson(), 1);
  with_extras.extras = be32(0);
  bad.emplace_back("CREATE with extras", with_extras);
  Request short_continue = makeContinue(std::string(16, 'x'), 0, 0, 0, 1);
  short_continue.extras.resize(16);
  bad.emplace_back("CONTINUE with 16 bytes of extras", short_continue);
  Request continue_key = makeContinue(std::string(16, 'x'), 0, 0, 0, 1);
  continue_key.key = "k";
  bad.emplace_back("CONTINUE with a key", continue_key);
  Request long_cancel = makeCancel(std::string(16, 'x'), 1);
  long_cancel.extras += "x";
  bad.emplace_back("CANCEL with 17 bytes of extras", long_cancel);
  bad.emplace_back("CANCEL without extras", makeCancel("", 1));
  for (const auto& [name, req] : bad) {
    SCOPED_TRACE(name);
    McbpClient c = newClient();
    const Response r = c.call(req);
    EXPECT_EQ(r.status, status::kEinval);
    EXPECT_EQ(r.opcode, req.opcode);
    EXPECT_TRUE(c.connectionClosed(milliseconds(2000))) << "a malformed frame closes";
  }
}

TEST_F(RangeScanTest, SnapshotRequirementsCheckUuidAndSeqno) {
  McbpClient c = newClient();
  ASSERT_EQ(
      cb::hello(c, {cb::feature::kJson, cb::feature::kXerror, cb::feature::kMutationSeqno}).size(),
      3u);
  const std::vector<std::string> keys = keysInVbucket(100, "snap-", 2);
  ASSERT_EQ(c.set(keys[0], "1").status, status::kSuccess);
  const Response s = c.set(keys[1], "2");
  ASSERT_EQ(s.status, status::kSuccess);
  ASSERT_EQ(s.extras.size(), 16u);
  const uint64_t uuid = readBe64(s.extras);
  const uint64_t seqno = readBe64(std::string_view(s.extras).substr(8));
  auto json = [&](uint64_t u, const std::string& seq, const std::string& more = "") {
    return "{\"snapshot_requirements\":{\"vb_uuid\":\"" + std::to_string(u) +
           "\",\"seqno\":" + seq + ",\"timeout_ms\":5000" + more + "}," + fullRangeJson().substr(1);
  };
  EXPECT_EQ(c.call(makeCreate(100, json(uuid, std::to_string(seqno)))).status, status::kSuccess);
  EXPECT_EQ(c.call(makeCreate(100, json(uuid, std::to_string(seqno - 1)))).status,
            status::kSuccess);
  EXPECT_EQ(c.call(makeCreate(100, json(uuid, "\"" + std::to_string(seqno) + "\""))).status,
            status::kSuccess)
      << "a seqno may come as a decimal string";
  EXPECT_EQ(
      c.call(makeCreate(100, json(uuid, std::to_string(seqno), ",\"seqno_exists\":true"))).status,
      status::kSuccess);
  EXPECT_EQ(c.call(makeCreate(100, json(uuid + 1, std::to_string(seqno)))).status,
            scan_status::kVbUuidNotEqual);
  EXPECT_EQ(c.call(makeCreate(100, json(uuid, std::to_string(seqno + 1)))).status,
            scan_status::kEtmpfail);
  // The uuid is another vbucket's: a mismatch there.
  EXPECT_EQ(c.call(makeCreate(101, json(uuid, "0"))).status, scan_status::kVbUuidNotEqual);
  expectUsable(c);
}

// ---------------------------------------------------------------------------------------------
// RANGE_SCAN_CONTINUE / CANCEL statuses

TEST_F(RangeScanTest, ContinueAndCancelStatuses) {
  McbpClient c = sdkClient();
  const std::vector<std::string> keys = keysInVbucket(3, "st-", 5);
  for (const std::string& k : keys) ASSERT_EQ(c.set(k, "v").status, status::kSuccess);
  const std::string unknown(16, '\x5a');
  EXPECT_EQ(c.call(makeContinue(unknown, 0, 0, 0)).status, status::kKeyEnoent);
  EXPECT_EQ(c.call(makeCancel(unknown)).status, status::kKeyEnoent);

  // Cancel, then continue: unknown (or cancelled).
  Response created = c.call(makeCreate(3, fullRangeJson()));
  ASSERT_EQ(created.status, status::kSuccess);
  const Response cancelled = c.call(makeCancel(created.value, 9, 3));
  EXPECT_EQ(cancelled.status, status::kSuccess);
  EXPECT_EQ(cancelled.opaque, 9u);
  EXPECT_EQ(cancelled.opcode, scan_op::kCancel);
  EXPECT_EQ(c.call(makeCancel(created.value)).status, status::kKeyEnoent) << "cancelled twice";
  const uint16_t after_cancel = c.call(makeContinue(created.value, 0, 0, 0)).status;
  EXPECT_TRUE(after_cancel == status::kKeyEnoent || after_cancel == scan_status::kCancelled)
      << after_cancel;

  // Complete: the scan is forgotten.
  created = c.call(makeCreate(3, fullRangeJson()));
  ASSERT_EQ(created.status, status::kSuccess);
  ASSERT_TRUE(c.send(makeContinue(created.value, 0, 0, 0, 77, 3)));
  const ContinueResult all = readContinue(c, 77, false);
  ASSERT_TRUE(all.error.empty()) << all.error;
  EXPECT_EQ(all.status, scan_status::kComplete);
  EXPECT_EQ(keysOf(all.items).size(), 5u);
  EXPECT_EQ(c.call(makeContinue(created.value, 0, 0, 0)).status, status::kKeyEnoent);
  EXPECT_EQ(c.call(makeCancel(created.value)).status, status::kKeyEnoent);

  // MORE keeps it; cancel between CONTINUEs.
  created = c.call(makeCreate(3, fullRangeJson(true)));
  ASSERT_EQ(created.status, status::kSuccess);
  ASSERT_TRUE(c.send(makeContinue(created.value, 2, 0, 0, 78)));
  const ContinueResult two = readContinue(c, 78, true);
  ASSERT_TRUE(two.error.empty()) << two.error;
  EXPECT_EQ(two.status, scan_status::kMore);
  EXPECT_EQ(two.items.size(), 2u);
  EXPECT_EQ(c.call(makeCancel(created.value)).status, status::kSuccess);
  const uint16_t later = c.call(makeContinue(created.value, 2, 0, 0)).status;
  EXPECT_TRUE(later == status::kKeyEnoent || later == scan_status::kCancelled) << later;

  // Another connection may continue and cancel a scan of the same bucket.
  created = c.call(makeCreate(3, fullRangeJson(true)));
  ASSERT_EQ(created.status, status::kSuccess);
  McbpClient other = sdkClient();
  ASSERT_TRUE(other.send(makeContinue(created.value, 1, 0, 0, 79)));
  const ContinueResult first = readContinue(other, 79, true);
  ASSERT_TRUE(first.error.empty()) << first.error;
  EXPECT_EQ(first.status, scan_status::kMore);
  EXPECT_EQ(other.call(makeCancel(created.value)).status, status::kSuccess);
  expectUsable(c);
  expectUsable(other);
}

// ---------------------------------------------------------------------------------------------
// Content

TEST_F(RangeScanTest, KeyOnlyAndDocumentsCarryEverything) {
  constexpr uint16_t kVb = 42;
  // Sizes around the 4 KiB copy/reference boundary and large values.
  const std::vector<size_t> sizes = {0,    1,     7,     100,   1000,       4095,       4096,
                                     4097, 10000, 32768, 40000, 100 * 1024, 100 * 1024, 300};
  const std::vector<std::string> keys = keysInVbucket(kVb, "doc::", sizes.size() + 1);
  McbpClient json_client = sdkClient();
  std::map<std::string, ScanItem> expected;
  const uint32_t now = static_cast<uint32_t>(std::time(nullptr));
  for (size_t i = 0; i < sizes.size(); ++i) {
    ScanItem e;
    e.key = keys[i];
    e.value = valueBytes(i + 1, sizes[i]);
    e.flags = 0x01020300u + static_cast<uint32_t>(i);
    const uint32_t exptime = i % 3 == 0 ? 1000 : 0;
    const Response r = client_.set(e.key, e.value, e.flags, exptime);
    ASSERT_EQ(r.status, status::kSuccess);
    e.cas = r.cas;
    e.expiry = exptime;
    expected[e.key] = e;
  }
  // A JSON document stored with the JSON datatype.
  {
    Request set = makeStore(op::kSet, keys.back(), "{\"a\":[1,2,3]}", 5);
    set.data_type = cb::datatype::kJson;
    const Response r = json_client.call(set);
    ASSERT_EQ(r.status, status::kSuccess);
    ScanItem e{keys.back(), 5, 0, 0, r.cas, cb::datatype::kJson, "{\"a\":[1,2,3]}"};
    expected[e.key] = e;
  }
  std::vector<std::string> sorted_keys;
  for (const auto& [k, e] : expected) sorted_keys.push_back(k);  // std::map: byte order

  // Key-only.
  const ScanResult ko = runScan(json_client, kVb, fullRangeJson(true), true);
  ASSERT_EQ(ko.create_status, status::kSuccess);
  ASSERT_TRUE(ko.error.empty()) << ko.error;
  EXPECT_EQ(keysOf(ko.items), sorted_keys);
  for (const ScanItem& i : ko.items) EXPECT_TRUE(i.value.empty());

  // Documents, every field.
  for (const bool json_granted : {true, false}) {
    SCOPED_TRACE(json_granted ? "JSON negotiated" : "no HELLO");
    McbpClient& c = json_granted ? json_client : client_;
    const ScanResult docs = runScan(c, kVb, fullRangeJson(false), false);
    ASSERT_EQ(docs.create_status, status::kSuccess);
    ASSERT_TRUE(docs.error.empty()) << docs.error;
    ASSERT_EQ(keysOf(docs.items), sorted_keys);
    for (const ScanItem& got : docs.items) {
      SCOPED_TRACE(got.key);
      const ScanItem& e = expected.at(got.key);
      EXPECT_EQ(got.value.size(), e.value.size());
      EXPECT_TRUE(got.value == e.value) << "value differs";
      EXPECT_EQ(got.flags, e.flags);
      EXPECT_EQ(got.cas, e.cas);
      EXPECT_EQ(got.seqno, 0u);
      EXPECT_EQ(got.datatype, json_granted ? e.datatype : cb::datatype::kRaw);
      if (e.expiry == 0) {
        EXPECT_EQ(got.expiry, 0u);
      } else {  // absolute unix seconds
        EXPECT_GE(got.expiry, now + e.expiry - 5);
        EXPECT_LE(got.expiry, now + e.expiry + 5);
      }
    }
    // One large value may fill a response alone; no response is empty unless it is the final.
    for (const ContinueResult& cr : docs.continues) {
      for (size_t i = 0; i + 1 < cr.items_per_response.size(); ++i) {
        EXPECT_GT(cr.items_per_response[i], 0u) << "an empty intermediate response";
      }
    }
  }
}

TEST_F(RangeScanTest, InclusiveAndExclusiveBounds) {
  constexpr uint16_t kVb = 513;
  std::vector<std::string> keys = keysInVbucket(kVb, "b-", 12);
  McbpClient c = sdkClient();
  for (const std::string& k : keys) ASSERT_EQ(c.set(k, "v").status, status::kSuccess);
  std::sort(keys.begin(), keys.end());
  auto slice = [&](size_t from, size_t to) {  // keys[from..to]
    return std::vector<std::string>(keys.begin() + from, keys.begin() + to + 1);
  };
  struct Case {
    const char* name;
    Bounds bounds;
    std::vector<std::string> want;
  };
  const std::vector<Case> cases = {
      {"[k3, k7]", {keys[3], keys[7]}, slice(3, 7)},
      {"(k3, k7]", {keys[3], keys[7], true, false}, slice(4, 7)},
      {"[k3, k7)", {keys[3], keys[7], false, true}, slice(3, 6)},
      {"(k3, k7)", {keys[3], keys[7], true, true}, slice(4, 6)},
      {"(k3, k4)", {keys[3], keys[4], true, true}, {}},
      {"[k5, k5]", {keys[5], keys[5]}, slice(5, 5)},
      {"[k3+\\0, k7-ish)", {keys[3] + std::string(1, '\0'), keys[7], false, true}, slice(4, 6)},
      {"[\"\", k0]", {"", keys[0]}, slice(0, 0)},
      {"[\"\", max]", {"", kMaxKeySuffix}, slice(0, 11)},
      {"(k11, max]", {keys[11], kMaxKeySuffix, true, false}, {}},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    for (const bool key_only : {true, false}) {
      const ScanResult r = runScan(c, kVb, rangeJson(tc.bounds, key_only), key_only);
      if (tc.want.empty()) {
        EXPECT_EQ(r.create_status, status::kKeyEnoent);
        continue;
      }
      ASSERT_EQ(r.create_status, status::kSuccess);
      ASSERT_TRUE(r.error.empty()) << r.error;
      EXPECT_EQ(keysOf(r.items), tc.want);
    }
  }
}

TEST_F(RangeScanTest, PrefixScanAndRawByteOrder) {
  constexpr uint16_t kVb = 900;
  McbpClient c = sdkClient();
  std::vector<std::string> users = keysInVbucket(kVb, "user::", 6);
  const std::vector<std::string> near = {keysInVbucket(kVb, "user:", 1)[0],
                                         keysInVbucket(kVb, "user;", 1)[0],
                                         keysInVbucket(kVb, "usea", 1)[0]};
  // Keys with bytes above 0x7f sort after ASCII (raw unsigned bytes), and the
  // SDK's end-of-range excludes keys from 0xf4 0x8f 0xfb 0xfb up.
  const std::string high = keysInVbucket(kVb, "\xc3\xa9t\xc3\xa9-", 1)[0];
  const std::string top = keysInVbucket(kVb, "\xfe-", 1)[0];
  for (const std::vector<std::string>* group : {&std::as_const(users), &near}) {
    for (const std::string& k : *group) ASSERT_EQ(c.set(k, k).status, status::kSuccess);
  }
  ASSERT_EQ(c.set(high, "high").status, status::kSuccess);
  ASSERT_EQ(c.set(top, "top").status, status::kSuccess);

  std::sort(users.begin(), users.end());
  const ScanResult prefix =
      runScan(c, kVb, rangeJson({"user::", "user::" + kMaxKeySuffix}, false), false);
  ASSERT_EQ(prefix.create_status, status::kSuccess);
  ASSERT_TRUE(prefix.error.empty()) << prefix.error;
  EXPECT_EQ(keysOf(prefix.items), users);
  for (const ScanItem& i : prefix.items) EXPECT_EQ(i.value, i.key);

  std::vector<std::string> sdk_all = users;
  sdk_all.insert(sdk_all.end(), near.begin(), near.end());
  sdk_all.push_back(high);
  std::sort(sdk_all.begin(), sdk_all.end());
  const ScanResult full = runScan(c, kVb, fullRangeJson(true), true);
  ASSERT_TRUE(full.error.empty()) << full.error;
  EXPECT_EQ(keysOf(full.items), sdk_all) << "raw-byte order, and the 0xfe key is past the end";
  EXPECT_EQ(keysOf(full.items).back(), high);

  std::vector<std::string> everything = sdk_all;
  everything.push_back(top);
  const ScanResult wide = runScan(c, kVb, rangeJson({"", std::string(4, '\xff')}, true), true);
  ASSERT_TRUE(wide.error.empty()) << wide.error;
  EXPECT_EQ(keysOf(wide.items), everything);
}

TEST_F(RangeScanTest, SamplingReturnsDistinctExistingDocsAndRepeatsWithASeed) {
  constexpr uint16_t kVb = 77;
  McbpClient c = sdkClient();
  const std::vector<std::string> keys = keysInVbucket(kVb, "sample-", 50);
  std::map<std::string, std::string> values;
  for (size_t i = 0; i < keys.size(); ++i) {
    values[keys[i]] = valueBytes(i, 10 + i * 37);
    ASSERT_EQ(c.set(keys[i], values[keys[i]]).status, status::kSuccess);
  }
  auto sample = [&](uint64_t n, uint64_t seed, bool key_only) {
    ScanResult r = runScan(c, kVb, samplingJson(n, seed, key_only), key_only, 3);
    EXPECT_EQ(r.create_status, status::kSuccess);
    EXPECT_TRUE(r.error.empty()) << r.error;
    return r;
  };
  const ScanResult ten = sample(10, 42, false);
  ASSERT_EQ(ten.items.size(), 10u);
  std::set<std::string> distinct;
  for (const ScanItem& i : ten.items) {
    ASSERT_TRUE(values.count(i.key)) << "not a stored key";
    EXPECT_TRUE(i.value == values[i.key]);
    distinct.insert(i.key);
  }
  EXPECT_EQ(distinct.size(), 10u);
  const std::vector<std::string> ten_keys = keysOf(ten.items);
  EXPECT_TRUE(std::is_sorted(ten_keys.begin(), ten_keys.end()));
  EXPECT_EQ(keysOf(sample(10, 42, true).items), keysOf(ten.items)) << "same seed, same sample";
  EXPECT_NE(keysOf(sample(10, 43, true).items), keysOf(ten.items)) << "another seed";
  const ScanResult more = sample(1000, 1, true);
  EXPECT_EQ(more.items.size(), 50u) << "more samples than documents: all of them";
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(keysOf(more.items), sorted);
  EXPECT_EQ(sample(50, 9, true).items.size(), 50u);
  // The seed may be a decimal string and is optional.
  const Response r = c.call(makeCreate(kVb, "{\"sampling\":{\"samples\":\"5\"}}"));
  EXPECT_EQ(r.status, status::kSuccess);
}

// ---------------------------------------------------------------------------------------------
// Limits

TEST_F(RangeScanTest, ItemLimitIsExactAndTheUnionComplete) {
  constexpr uint16_t kVb = 200;
  McbpClient c = sdkClient();
  const std::vector<std::string> keys = keysInVbucket(kVb, "lim-", 60);
  std::vector<std::pair<std::string, std::string>> docs;
  for (size_t i = 0; i < keys.size(); ++i) {
    docs.emplace_back(keys[i], valueBytes(i, i % 7 == 0 ? 9000 : 50 + i));
  }
  ASSERT_TRUE(bulkSet(c, docs));
  std::map<std::string, std::string> expected(docs.begin(), docs.end());
  std::vector<std::string> sorted;
  for (const auto& [k, v] : expected) sorted.push_back(k);

  for (const uint32_t limit : {1u, 6u, 7u, 59u, 60u, 61u}) {
    for (const bool key_only : {true, false}) {
      SCOPED_TRACE("item limit " + std::to_string(limit) + (key_only ? " key-only" : " docs"));
      const ScanResult r = runScan(c, kVb, fullRangeJson(key_only), key_only, limit);
      ASSERT_EQ(r.create_status, status::kSuccess);
      ASSERT_TRUE(r.error.empty()) << r.error;
      EXPECT_EQ(keysOf(r.items), sorted);
      if (!key_only) {
        for (const ScanItem& i : r.items) EXPECT_TRUE(i.value == expected[i.key]) << i.key;
      }
      EXPECT_EQ(r.continues.size(), (60 + limit - 1) / limit);
      for (size_t n = 0; n < r.continues.size(); ++n) {
        size_t got = 0;
        for (size_t k : r.continues[n].items_per_response) got += k;
        if (n + 1 < r.continues.size()) {
          EXPECT_EQ(got, limit) << "continue " << n;
          EXPECT_EQ(r.continues[n].status, scan_status::kMore);
        } else {
          EXPECT_EQ(got, 60 - limit * n);
        }
      }
    }
  }
}

TEST_F(RangeScanTest, ByteLimitStopsOnceReached) {
  constexpr uint16_t kVb = 201;
  McbpClient c = sdkClient();
  const std::vector<std::string> keys = keysInVbucket(kVb, "bytes-", 80);
  std::vector<std::pair<std::string, std::string>> docs;
  for (size_t i = 0; i < keys.size(); ++i) {
    docs.emplace_back(keys[i], valueBytes(i, (i * 131) % 700 + (i % 11 == 0 ? 6000 : 0)));
  }
  ASSERT_TRUE(bulkSet(c, docs));
  std::map<std::string, std::string> expected(docs.begin(), docs.end());
  std::vector<std::string> sorted;
  for (const auto& [k, v] : expected) sorted.push_back(k);

  for (const uint32_t limit : {1u, 100u, 1000u, 5000u, 100000u}) {
    for (const bool key_only : {true, false}) {
      SCOPED_TRACE("byte limit " + std::to_string(limit) + (key_only ? " key-only" : " docs"));
      const ScanResult r = runScan(c, kVb, fullRangeJson(key_only), key_only, 0, 0, limit);
      ASSERT_EQ(r.create_status, status::kSuccess);
      ASSERT_TRUE(r.error.empty()) << r.error;
      ASSERT_EQ(keysOf(r.items), sorted);
      size_t at = 0;
      for (size_t n = 0; n < r.continues.size(); ++n) {
        size_t count = 0;
        for (size_t k : r.continues[n].items_per_response) count += k;
        ASSERT_GT(count, 0u) << "continue " << n << " returned nothing";
        size_t bytes_before_last = 0, bytes = 0;
        for (size_t i = at; i < at + count; ++i) {
          const size_t b = r.items[i].key.size() + (key_only ? 0 : r.items[i].value.size());
          if (i + 1 < at + count) bytes_before_last += b;
          bytes += b;
        }
        EXPECT_LT(bytes_before_last, limit) << "continue " << n << " went past the limit";
        if (r.continues[n].status == scan_status::kMore) {
          EXPECT_GE(bytes, limit) << "continue " << n << " stopped early";
        }
        at += count;
      }
    }
  }
}

TEST_F(RangeScanTest, TimeLimitStillReturnsAnItemPerContinue) {
  constexpr uint16_t kVb = 202;
  McbpClient c = sdkClient();
  const std::vector<std::string> keys = keysInVbucket(kVb, "time-", 1500);
  std::vector<std::pair<std::string, std::string>> docs;
  for (size_t i = 0; i < keys.size(); ++i) docs.emplace_back(keys[i], valueBytes(i, 2000));
  ASSERT_TRUE(bulkSet(c, docs));
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  for (const bool key_only : {true, false}) {
    const ScanResult r = runScan(c, kVb, fullRangeJson(key_only), key_only, 0, 1, 0);
    ASSERT_EQ(r.create_status, status::kSuccess);
    ASSERT_TRUE(r.error.empty()) << r.error;
    EXPECT_EQ(keysOf(r.items), sorted);
    for (size_t n = 0; n < r.continues.size(); ++n) {
      size_t count = 0;
      for (size_t k : r.continues[n].items_per_response) count += k;
      EXPECT_GT(count, 0u) << "continue " << n;
    }
    std::cout << (key_only ? "key-only" : "documents") << ": 1 ms time limit took "
              << r.continues.size() << " continues\n";
  }
}

// ---------------------------------------------------------------------------------------------
// Consistency and ordering

TEST_F(RangeScanTest, ScanReturnsTheViewAtCreateWhateverWritersDo) {
  constexpr uint16_t kVb = 300;
  McbpClient scanner = sdkClient();
  McbpClient writer = newClient();
  const std::vector<std::string> keys = keysInVbucket(kVb, "pit-", 120);
  const std::vector<std::string> fresh = keysInVbucket(kVb, "pit-new-", 40);
  std::map<std::string, ScanItem> expected;
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::string v = valueBytes(i, i % 10 == 0 ? 20000 : 100 + i);
    const Response r = writer.set(keys[i], v, static_cast<uint32_t>(i));
    ASSERT_EQ(r.status, status::kSuccess);
    expected[keys[i]] = ScanItem{keys[i], static_cast<uint32_t>(i), 0, 0, r.cas, 0, v};
  }
  const Response created = scanner.call(makeCreate(kVb, fullRangeJson()));
  ASSERT_EQ(created.status, status::kSuccess);
  // After CREATE: overwrite, delete, append, add new keys in range; and again between CONTINUEs.
  auto mutate = [&](size_t round) {
    for (size_t i = round; i < keys.size(); i += 4) {
      switch ((i / 4 + round) % 4) {
        case 0:
          ASSERT_EQ(writer.set(keys[i], "overwritten").status, status::kSuccess);
          break;
        case 1:
          writer.remove(keys[i]);
          break;
        case 2:
          writer.append(keys[i], "+appended");
          break;
        default:
          ASSERT_EQ(writer.set(keys[i], "new flags", 0xabcd, 1000).status, status::kSuccess);
          break;
      }
    }
    for (size_t i = round; i < fresh.size(); i += 4) writer.set(fresh[i], "new");
  };
  mutate(0);
  std::vector<ScanItem> got;
  for (uint32_t n = 0; n < 1000; ++n) {
    ASSERT_TRUE(scanner.send(makeContinue(created.value, 9, 0, 0, 500 + n)));
    ContinueResult r = readContinue(scanner, 500 + n, false);
    ASSERT_TRUE(r.error.empty()) << r.error;
    got.insert(got.end(), r.items.begin(), r.items.end());
    if (r.status == scan_status::kComplete) break;
    ASSERT_EQ(r.status, scan_status::kMore);
    if (n < 3) mutate(n + 1);
  }
  ASSERT_EQ(got.size(), expected.size());
  auto it = expected.begin();
  for (const ScanItem& g : got) {
    const ScanItem& e = (it++)->second;
    ASSERT_EQ(g.key, e.key);
    EXPECT_TRUE(g.value == e.value) << g.key << " changed under the scan";
    EXPECT_EQ(g.cas, e.cas) << g.key;
    EXPECT_EQ(g.flags, e.flags) << g.key;
    EXPECT_EQ(g.expiry, 0u) << g.key;
  }
  // A new scan sees the new state.
  const ScanResult now = runScan(scanner, kVb, fullRangeJson(true), true);
  ASSERT_TRUE(now.error.empty()) << now.error;
  size_t live = 0;
  for (const std::string& k : keys) live += writer.get(k).status == status::kSuccess;
  for (const std::string& k : fresh) live += writer.get(k).status == status::kSuccess;
  EXPECT_EQ(now.items.size(), live);
}

// TOUCH/GAT after CREATE must not show through either: the document's expiry is part of the
// state the scan promised (the values at CREATE).
TEST_F(RangeScanTest, ExpiryChangedAfterCreateIsNotSeenByTheScan) {
  constexpr uint16_t kVb = 306;
  McbpClient c = sdkClient();
  const std::vector<std::string> keys = keysInVbucket(kVb, "touch-", 3);
  for (const std::string& k : keys) ASSERT_EQ(c.set(k, "v", 0, 0).status, status::kSuccess);
  const Response created = c.call(makeCreate(kVb, fullRangeJson()));
  ASSERT_EQ(created.status, status::kSuccess);
  EXPECT_EQ(c.touch(keys[0], 1000).status, status::kSuccess);
  EXPECT_EQ(c.gat(keys[1], 2000).status, status::kSuccess);
  ASSERT_TRUE(c.send(makeContinue(created.value, 0, 0, 0, 3, kVb)));
  const ContinueResult r = readContinue(c, 3, false);
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.items.size(), 3u);
  for (const ScanItem& i : r.items) {
    EXPECT_EQ(i.expiry, 0u) << i.key << ": the expiry set after CREATE shows in the scan";
  }
}

TEST_F(RangeScanTest, RequestsPipelinedAfterAContinueAreAnsweredAfterItsFrames) {
  constexpr uint16_t kVb = 301;
  McbpClient c = sdkClient();
  const std::vector<std::string> keys = keysInVbucket(kVb, "pipe-", 150);
  std::vector<std::pair<std::string, std::string>> docs;
  for (size_t i = 0; i < keys.size(); ++i) docs.emplace_back(keys[i], valueBytes(i, 20000));
  ASSERT_TRUE(bulkSet(c, docs));
  ASSERT_EQ(c.set("after", "x").status, status::kSuccess);

  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const Response created = c.call(makeCreate(kVb, fullRangeJson(round == 2)));
    ASSERT_EQ(created.status, status::kSuccess);
    // No limits (round 0), then three CONTINUEs of 50 items in one write (round 1, 2), each
    // followed by a NOOP and a GET.
    std::string batch;
    const int continues = round == 0 ? 1 : 3;
    for (int i = 0; i < continues; ++i) {
      batch += encode(makeContinue(created.value, round == 0 ? 0 : 50, 0, 0, 10 * i + 1, kVb));
      batch += encode(makeKeyOnly(op::kNoop, "", 10 * i + 2));
      batch += encode(makeKeyOnly(op::kGet, "after", 10 * i + 3));
    }
    ASSERT_TRUE(c.sendRaw(batch));
    std::vector<std::string> seen;
    for (int i = 0; i < continues; ++i) {
      const ContinueResult r = readContinue(c, 10 * i + 1, round == 2);
      ASSERT_TRUE(r.error.empty()) << "continue " << i << ": " << r.error;
      EXPECT_EQ(r.status, i + 1 == continues ? scan_status::kComplete : scan_status::kMore);
      EXPECT_EQ(r.items.size(), round == 0 ? 150u : 50u);
      for (const ScanItem& item : r.items) seen.push_back(item.key);
      const Response noop = c.next();
      EXPECT_EQ(noop.opcode, op::kNoop);
      EXPECT_EQ(noop.opaque, 10u * i + 2);
      const Response get = c.next();
      EXPECT_EQ(get.opcode, op::kGet);
      EXPECT_EQ(get.opaque, 10u * i + 3);
      EXPECT_EQ(get.value, "x");
    }
    std::vector<std::string> sorted = keys;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(seen, sorted);
  }
}

// A large scan whose client does not read stays "continuing": a second connection's CONTINUE
// is EBUSY, its CANCEL succeeds, and the running CONTINUE then ends with CANCELLED.
TEST_F(RangeScanTest, BusyWhileAnotherConnectionContinuesAndCancelEndsTheRunningContinue) {
  constexpr uint16_t kVb = 302;
  McbpClient a = sdkClient();
  const std::vector<std::string> keys = keysInVbucket(kVb, "busy-", 300);
  std::vector<std::pair<std::string, std::string>> docs;
  for (size_t i = 0; i < keys.size(); ++i) docs.emplace_back(keys[i], valueBytes(i, 100 * 1024));
  ASSERT_TRUE(bulkSet(a, docs));  // 30 MB: more than the Inbox, output and socket buffers hold
  const Response created = a.call(makeCreate(kVb, fullRangeJson()));
  ASSERT_EQ(created.status, status::kSuccess);
  ASSERT_TRUE(a.send(makeContinue(created.value, 0, 0, 0, 1, kVb)));
  Response first;
  ASSERT_EQ(a.read(&first), ReadStatus::kOk);
  ASSERT_EQ(first.status, status::kSuccess) << "the CONTINUE has started";
  std::this_thread::sleep_for(milliseconds(100));

  McbpClient b = sdkClient();
  const Response busy = b.call(makeContinue(created.value, 0, 0, 0, 2, kVb));
  EXPECT_EQ(busy.status, scan_status::kEbusy);
  EXPECT_EQ(b.call(makeCancel(created.value, 3, kVb)).status, status::kSuccess);

  // `a` now reads everything: items (an ordered prefix), then CANCELLED.
  std::vector<ScanItem> items;
  std::string error;
  ASSERT_TRUE(parseItems(first.value, false, &items, &error)) << error;
  ContinueResult rest = readContinue(a, 1, false);
  ASSERT_TRUE(rest.error.empty()) << rest.error;
  EXPECT_EQ(rest.status, scan_status::kCancelled);
  items.insert(items.end(), rest.items.begin(), rest.items.end());
  EXPECT_LT(items.size(), keys.size());
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < items.size(); ++i) {
    ASSERT_EQ(items[i].key, sorted[i]);
    ASSERT_EQ(items[i].value.size(), 100u * 1024);
  }
  EXPECT_EQ(a.call(makeContinue(created.value, 0, 0, 0, 4, kVb)).status, status::kKeyEnoent);
  expectUsable(a);
  expectUsable(b);
}

TEST_F(RangeScanTest, ClosingTheCreatingConnectionForgetsItsScans) {
  constexpr uint16_t kVb = 303;
  const std::vector<std::string> keys = keysInVbucket(kVb, "close-", 200);
  std::vector<std::pair<std::string, std::string>> docs;
  for (size_t i = 0; i < keys.size(); ++i) docs.emplace_back(keys[i], valueBytes(i, 100));
  ASSERT_TRUE(bulkSet(client_, docs));
  McbpClient other = sdkClient();
  std::string idle_id, running_id;
  {
    McbpClient creator = sdkClient();
    Response r = creator.call(makeCreate(kVb, fullRangeJson()));
    ASSERT_EQ(r.status, status::kSuccess);
    idle_id = r.value;
    // The other connection can use it while its creator lives.
    ASSERT_TRUE(other.send(makeContinue(idle_id, 1, 0, 0, 5)));
    const ContinueResult one = readContinue(other, 5, false);
    ASSERT_TRUE(one.error.empty()) << one.error;
    EXPECT_EQ(one.status, scan_status::kMore);
    r = creator.call(makeCreate(kVb, fullRangeJson(true)));
    ASSERT_EQ(r.status, status::kSuccess);
    running_id = r.value;
    // Closes with a CONTINUE unread (it may or may not have finished by then).
    ASSERT_TRUE(creator.send(makeContinue(running_id, 0, 0, 0, 6)));
  }
  for (const std::string* id : {&idle_id, &running_id}) {
    const auto deadline = std::chrono::steady_clock::now() + scaled(milliseconds(3000));
    uint16_t st = 0;
    uint32_t opaque = 100;
    do {
      ASSERT_TRUE(other.send(makeContinue(*id, 1, 0, 0, ++opaque)));
      const ContinueResult r = readContinue(other, opaque, id == &running_id);
      ASSERT_TRUE(r.error.empty()) << r.error;
      st = r.status;
      if (st == status::kKeyEnoent) break;
      std::this_thread::sleep_for(milliseconds(20));
    } while (std::chrono::steady_clock::now() < deadline);
    EXPECT_EQ(st, status::kKeyEnoent) << "the scan outlived its connection";
  }
  expectUsable(other);
}

TEST_F(RangeScanTest, IdleScansExpireAfterTheirLifetime) {
  ServerProcess server({"-m", "64", "--range-scan-lifetime", "2"});
  std::string error;
  ASSERT_TRUE(server.start(&error)) << error;
  McbpClient c;
  ASSERT_TRUE(c.connect(server.port()));
  cb::hello(c, {cb::feature::kJson, cb::feature::kXerror});
  constexpr uint16_t kVb = 304;
  for (const std::string& k : keysInVbucket(kVb, "idle-", 50)) ASSERT_EQ(c.set(k, "v").status, 0);
  const Response idle = c.call(makeCreate(kVb, fullRangeJson(true)));
  const Response active = c.call(makeCreate(kVb, fullRangeJson(true)));
  ASSERT_EQ(idle.status, status::kSuccess);
  ASSERT_EQ(active.status, status::kSuccess);
  // Continued every 300 ms, `active` lives (a loaded machine has 1.7 s of slack); `idle` goes
  // within the lifetime plus the 1 s check: 3 s, and the loop lasts 3.6 s.
  for (uint32_t n = 0; n < 12; ++n) {
    std::this_thread::sleep_for(milliseconds(300));
    ASSERT_TRUE(c.send(makeContinue(active.value, 1, 0, 0, n)));
    const ContinueResult r = readContinue(c, n, true);
    ASSERT_TRUE(r.error.empty()) << r.error;
    EXPECT_EQ(r.status, scan_status::kMore) << "continue " << n << " of a scan in use";
  }
  const uint16_t st = c.call(makeContinue(idle.value, 1, 0, 0)).status;
  EXPECT_TRUE(st == status::kKeyEnoent || st == scan_status::kCancelled) << st;
  EXPECT_EQ(c.call(makeCancel(idle.value)).status, status::kKeyEnoent);
  EXPECT_EQ(c.call(makeCancel(active.value)).status, status::kSuccess);
  c.close();
  const int ws = server.terminate(std::chrono::seconds(20));
  EXPECT_TRUE(ws != -1 && WIFEXITED(ws) && WEXITSTATUS(ws) == 0) << ws;
}

// ---------------------------------------------------------------------------------------------
// The SDK's whole-bucket scan: one stream per vbucket.

TEST_F(RangeScanTest, ScanningAllVbucketsReturnsEveryDocumentOnce) {
  McbpClient c = sdkClient();
  std::vector<std::pair<std::string, std::string>> docs;
  std::map<std::string, std::string> expected;
  std::set<uint16_t> used;
  for (int i = 0; i < 2000; ++i) {
    std::string key = "all::" + std::to_string(i);
    std::string value = valueBytes(static_cast<uint64_t>(i), 10 + (i * 97) % 600);
    used.insert(cb::vbucketOf(key));
    expected[key] = value;
    docs.emplace_back(std::move(key), std::move(value));
  }
  ASSERT_TRUE(bulkSet(c, docs));
  std::map<std::string, int> seen;
  size_t empty = 0;
  for (uint16_t vb = 0; vb < 1024; ++vb) {
    const bool key_only = vb % 2 == 1;
    const ScanResult r = runScan(c, vb, fullRangeJson(key_only), key_only, 0, 0, 4096);
    if (r.create_status == status::kKeyEnoent) {
      ++empty;
      EXPECT_FALSE(used.count(vb)) << "vbucket " << vb << " has documents";
      continue;
    }
    ASSERT_EQ(r.create_status, status::kSuccess) << "vbucket " << vb;
    ASSERT_TRUE(r.error.empty()) << "vbucket " << vb << ": " << r.error;
    const std::vector<std::string> got = keysOf(r.items);
    ASSERT_TRUE(std::is_sorted(got.begin(), got.end()));
    for (const ScanItem& i : r.items) {
      ++seen[i.key];
      ASSERT_TRUE(expected.count(i.key)) << i.key;
      EXPECT_EQ(cb::vbucketOf(i.key), vb) << i.key;
      if (!key_only) {
        EXPECT_TRUE(i.value == expected[i.key]) << i.key;
      }
    }
  }
  EXPECT_EQ(empty, 1024 - used.size());
  EXPECT_EQ(seen.size(), expected.size());
  for (const auto& [k, n] : seen) EXPECT_EQ(n, 1) << k;
}

// Many large frames to a fast reader: the stream stays well-formed (frames never interleave
// while the producer is paused and resumed by the Inbox).
TEST_F(RangeScanTest, LargeDocumentScansStayWellFormed) {
  constexpr uint16_t kVb = 305;
  McbpClient c = sdkClient();
  const std::vector<std::string> keys = keysInVbucket(kVb, "big-", 2500);
  std::vector<std::pair<std::string, std::string>> docs;
  std::map<std::string, std::string> expected;
  for (size_t i = 0; i < keys.size(); ++i) {
    docs.emplace_back(keys[i], valueBytes(i, 4096 + (i * 61) % 4000));
    expected[keys[i]] = docs.back().second;
  }
  ASSERT_TRUE(bulkSet(c, docs));  // ~15 MB in ~4 KiB..8 KiB values: sent by reference
  const int rounds = sanitizedBuild() ? 2 : 6;
  for (int round = 0; round < rounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const ScanResult r = runScan(c, kVb, fullRangeJson(), false);
    ASSERT_EQ(r.create_status, status::kSuccess);
    ASSERT_TRUE(r.error.empty()) << r.error;
    ASSERT_EQ(r.continues.size(), 1u);
    ASSERT_EQ(r.items.size(), expected.size());
    auto it = expected.begin();
    for (const ScanItem& i : r.items) {
      ASSERT_EQ(i.key, it->first);
      ASSERT_TRUE(i.value == it->second) << i.key;
      ++it;
    }
  }
  expectUsable(c);
}

}  // namespace
}  // namespace memkv::test

namespace memkv::test {
namespace {

TEST_F(RangeScanTest, OpenScansAreBoundedAndTheExcessIsBusy) {
  McbpClient c = sdkClient();
  const std::vector<std::string> keys = keysInVbucket(11, "many-", 1);
  ASSERT_EQ(c.set(keys[0], "v").status, status::kSuccess);
  constexpr int kScans = 4096 + 4;
  std::string batch;
  for (int i = 0; i < kScans; ++i) batch += encode(makeCreate(11, fullRangeJson(true), i));
  ASSERT_TRUE(c.sendRaw(batch));
  std::vector<std::string> ids;
  int busy = 0;
  for (int i = 0; i < kScans; ++i) {
    const Response r = c.next();
    ASSERT_EQ(r.opaque, static_cast<uint32_t>(i)) << "answers in order";
    if (r.status == status::kSuccess) {
      ids.push_back(r.value);
    } else {
      EXPECT_EQ(r.status, scan_status::kEbusy);
      ++busy;
    }
  }
  EXPECT_EQ(ids.size(), 4096u);
  EXPECT_EQ(busy, 4);
  // One finished: room for one more.
  ASSERT_TRUE(c.send(makeContinue(ids[0], 0, 0, 0, 1)));
  const ContinueResult done = readContinue(c, 1, true);
  ASSERT_TRUE(done.error.empty()) << done.error;
  EXPECT_EQ(done.status, scan_status::kComplete);
  EXPECT_EQ(c.call(makeCreate(11, fullRangeJson(true))).status, status::kSuccess);
  EXPECT_EQ(c.call(makeCreate(11, fullRangeJson(true))).status, scan_status::kEbusy);
  // Closing the connection frees them all.
  c.close();
  McbpClient d = sdkClient();
  const auto deadline = std::chrono::steady_clock::now() + scaled(milliseconds(3000));
  uint16_t st = 0;
  do {
    st = d.call(makeCreate(11, fullRangeJson(true))).status;
  } while (st != status::kSuccess && std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(st, status::kSuccess);
}

// ---------------------------------------------------------------------------------------------
// Privileges and buckets (a server with a users file).

const cb::TestUser kScanUsers[] = {
    {"admin", "admin-pw", "admin"},
    {"reader", "reader-pw", "read[default]"},
    {"writer", "writer-pw", "write[default]"},
    {"b2", "b2-pw", "read[b2],write[b2]"},
};

class RangeScanAuthTest : public ServerTest {
 protected:
  RangeScanAuthTest() : ServerTest(args()) {}

  static std::vector<std::string> args() {
    std::string error;
    return {"--users-file", cb::sharedUsersFile(MEMKV_ADMIN_BIN, kScanUsers, &error).path()};
  }

  void SetUp() override {
    if (targetFromEnv() == ServerKind::kMemcached) GTEST_SKIP() << "memkv-only: range scans";
    std::string error;
    cb::sharedUsersFile(MEMKV_ADMIN_BIN, kScanUsers, &error);
    ASSERT_TRUE(error.empty()) << error;
    ServerTest::SetUp();
    ASSERT_EQ(cb::saslPlain(client_, "admin", "admin-pw").status, status::kSuccess);
  }

  McbpClient user(const char* name, const char* password, const std::string& bucket) {
    McbpClient c = newClient();
    cb::hello(c, {cb::feature::kJson, cb::feature::kXerror});
    EXPECT_EQ(cb::saslPlain(c, name, password).status, status::kSuccess) << name;
    EXPECT_EQ(cb::selectBucket(c, bucket).status, status::kSuccess) << name << " " << bucket;
    return c;
  }
};

TEST_F(RangeScanAuthTest, ReadPrivilegeAndTheBucketAreChecked) {
  ASSERT_EQ(client_.call(cb::makeRequest(cb::op::kCreateBucket, "b2")).status, status::kSuccess);
  McbpClient writer = user("writer", "writer-pw", "default");
  McbpClient reader = user("reader", "reader-pw", "default");
  McbpClient b2 = user("b2", "b2-pw", "b2");
  const std::vector<std::string> keys = keysInVbucket(5, "auth-", 4);
  for (const std::string& k : keys) {
    ASSERT_EQ(writer.set(k, "default").status, status::kSuccess);
    ASSERT_EQ(b2.set(k, "b2").status, status::kSuccess);
  }
  EXPECT_EQ(writer.call(makeCreate(5, fullRangeJson())).status, cb::status::kEaccess)
      << "CREATE needs read";
  const Response created = reader.call(makeCreate(5, fullRangeJson()));
  ASSERT_EQ(created.status, status::kSuccess);
  // Another bucket's connection does not know the scan.
  EXPECT_EQ(b2.call(makeContinue(created.value, 0, 0, 0)).status, status::kKeyEnoent);
  EXPECT_EQ(b2.call(makeCancel(created.value)).status, status::kKeyEnoent);
  ASSERT_TRUE(reader.send(makeContinue(created.value, 0, 0, 0, 3, 5)));
  const ContinueResult r = readContinue(reader, 3, false);
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.status, scan_status::kComplete);
  ASSERT_EQ(r.items.size(), 4u);
  for (const ScanItem& i : r.items) EXPECT_EQ(i.value, "default");
  // And b2's own scan sees b2's documents.
  const ScanResult mine = runScan(b2, 5, fullRangeJson(), false);
  ASSERT_TRUE(mine.error.empty()) << mine.error;
  ASSERT_EQ(mine.items.size(), 4u);
  for (const ScanItem& i : mine.items) EXPECT_EQ(i.value, "b2");
}

TEST_F(RangeScanAuthTest, DeletingABucketUnderAnOpenScanIsSafe) {
  ASSERT_EQ(client_.call(cb::makeRequest(cb::op::kCreateBucket, "b2")).status, status::kSuccess);
  McbpClient b2 = user("b2", "b2-pw", "b2");
  const std::vector<std::string> keys = keysInVbucket(6, "del-", 50);
  std::vector<std::pair<std::string, std::string>> docs;
  for (size_t i = 0; i < keys.size(); ++i) docs.emplace_back(keys[i], valueBytes(i, 5000));
  ASSERT_TRUE(bulkSet(b2, docs));
  const Response idle = b2.call(makeCreate(6, fullRangeJson()));
  ASSERT_EQ(idle.status, status::kSuccess);
  const Response partly = b2.call(makeCreate(6, fullRangeJson()));
  ASSERT_EQ(partly.status, status::kSuccess);
  ASSERT_TRUE(b2.send(makeContinue(partly.value, 5, 0, 0, 4)));
  ASSERT_EQ(readContinue(b2, 4, false).status, scan_status::kMore);
  ASSERT_EQ(client_.call(cb::makeRequest(cb::op::kDeleteBucket, "b2")).status, status::kSuccess);
  const uint16_t st = b2.call(makeContinue(partly.value, 5, 0, 0)).status;
  EXPECT_NE(st, status::kSuccess);
  EXPECT_NE(st, scan_status::kMore);
  // A new bucket of the same name is another bucket: the old scans are unknown there.
  ASSERT_EQ(client_.call(cb::makeRequest(cb::op::kCreateBucket, "b2")).status, status::kSuccess);
  McbpClient again = user("b2", "b2-pw", "b2");
  EXPECT_EQ(again.call(makeContinue(idle.value, 0, 0, 0)).status, status::kKeyEnoent);
  EXPECT_EQ(again.noop().status, status::kSuccess);
  b2.close();  // the scans go with their connection; ASan/LSan check the items at exit
}

// ---------------------------------------------------------------------------------------------
// STAT vbucket-details: an expensive group gathered on the executor pool; the connection is
// parked meanwhile, so a request pipelined behind it is answered after the group's last stat.

TEST_F(RangeScanTest, VBucketDetailsStatIsGatheredInTheBackgroundAndKeepsOrder) {
  constexpr uint16_t kVb = 77;
  McbpClient c = sdkClient();
  const std::map<std::string, std::string> before = c.stats("vbucket-details");
  ASSERT_EQ(before.at("vb_77:num_items"), "0");
  const std::vector<std::string> keys = keysInVbucket(kVb, "detail-", 5);
  for (const std::string& k : keys) ASSERT_EQ(c.set(k, "v").status, status::kSuccess);
  ASSERT_EQ(c.remove(keys[0]).status, status::kSuccess);

  std::string batch = encode(makeKeyOnly(op::kStat, "vbucket-details", 1));
  batch += encode(makeKeyOnly(op::kNoop, "", 2));
  ASSERT_TRUE(c.sendRaw(batch));
  std::map<std::string, std::string> stats;
  for (;;) {
    const Response r = c.next();
    ASSERT_EQ(r.opcode, op::kStat) << "the NOOP overtook the STAT group";
    ASSERT_EQ(r.opaque, 1u);
    if (r.key.empty()) break;
    stats[r.key] = r.value;
  }
  const Response noop = c.next();
  EXPECT_EQ(noop.opcode, op::kNoop);
  EXPECT_EQ(noop.opaque, 2u);
  EXPECT_EQ(stats.size(), 4u * 1024);
  EXPECT_EQ(stats.at("vb_77:num_items"), "4");
  // Five sets and a delete: six mutations.
  EXPECT_EQ(std::stoull(stats.at("vb_77:high_seqno")) - std::stoull(before.at("vb_77:high_seqno")),
            6u);
  EXPECT_EQ(stats.at("vb_77:uuid"), before.at("vb_77:uuid"));
  EXPECT_EQ(stats.at("vb_77:state"), "active");
}

}  // namespace
}  // namespace memkv::test
