// Range scans over time and across connections: the point-in-time view, ordering against
// pipelined requests, EBUSY between connections, cancellation by disconnect and by idle
// lifetime, a scan of all 1024 vbuckets, privileges and bucket deletion, and the STAT group
// gathered on the executor pool. range_scan_test.cc has the statuses, content and limits;
// range_scan_owner_test.cc who owns a scan and the caps on open scans.
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
    // Another connection of the same (anonymous) user can use it while its creator lives.
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
