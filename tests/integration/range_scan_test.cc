// Range scans on the wire (RANGE_SCAN_CREATE 0xda / CONTINUE 0xdb / CANCEL 0xdc), as the
// Couchbase SDKs use them (docs/couchbase.md; kv_engine's docs/range_scans): every
// status, both response layouts with verified content, bounds, sampling and limits.
// range_scan_lifecycle_test.cc has the rest. Open server: every connection uses "default".
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

#include "integration/range_scan_fixture.h"
#include "support/couchbase_client.h"
#include "support/test_env.h"

namespace memkv::test {
namespace {

namespace cb = couchbase;

// ---------------------------------------------------------------------------------------------
// RANGE_SCAN_CREATE statuses

TEST_F(RangeScanTest, CreateAnswersEveryStatus) {
  McbpClient c = sdkClient();
  const std::vector<std::string> keys = keysInVbucket(7, "doc-", 3);
  for (const std::string& k : keys) ASSERT_EQ(c.set(k, "v").status, status::kSuccess);
  const std::string all = fullRangeJson();
  const std::string a = base64EncodeForTest("a"), b = base64EncodeForTest("b");
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
    e.seqno = i + 1;  // the vbucket's mutations, in order (a fresh server)
    expected[e.key] = e;
  }
  // A JSON document stored with the JSON datatype.
  {
    Request set = makeStore(op::kSet, keys.back(), "{\"a\":[1,2,3]}", 5);
    set.data_type = cb::datatype::kJson;
    const Response r = json_client.call(set);
    ASSERT_EQ(r.status, status::kSuccess);
    ScanItem e{keys.back(), 5, 0, sizes.size() + 1, r.cas, cb::datatype::kJson, "{\"a\":[1,2,3]}"};
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
      EXPECT_EQ(got.seqno, e.seqno);
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

}  // namespace
}  // namespace memkv::test
