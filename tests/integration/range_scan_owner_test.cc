// Who may use a range scan and what scans may hold: a scan belongs to the user that created
// it (another user cannot tell it from an unknown id), open scans are capped per connection,
// per user and in all (EBUSY beyond, which the SDK answers by lowering its concurrency), STAT
// reports what open scans pin, keys in the range obey the 250-byte rule, and ids do not
// repeat.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "integration/range_scan_fixture.h"
#include "integration/users_fixture.h"
#include "support/couchbase_client.h"
#include "support/test_env.h"

namespace memkv::test {
namespace {

namespace cb = couchbase;

// The server's caps (RangeScanRegistry); a change there is a change of behaviour users see.
constexpr int kPerConnection = 16;
constexpr int kPerUser = 64;
constexpr int kInAll = 4096;

const cb::TestUser kOwnerUsers[] = {
    {"alice", "alice-pw", "read[default],write[default]"},
    {"bob", "bob-pw", "read[default],write[default]"},
};

class RangeScanOwnerTest : public UsersServerTest {
 protected:
  RangeScanOwnerTest() : UsersServerTest(kOwnerUsers) {}

  McbpClient user(const char* name) {
    McbpClient c = newClient();
    cb::hello(c, {cb::feature::kJson, cb::feature::kXerror});
    EXPECT_EQ(cb::saslPlain(c, name, std::string(name) + "-pw").status, status::kSuccess) << name;
    return c;
  }
};

TEST_F(RangeScanOwnerTest, AnotherUserCannotContinueOrCancelAScanNorTellItExists) {
  constexpr uint16_t kVb = 21;
  McbpClient alice = user("alice");
  McbpClient bob = user("bob");
  const std::vector<std::string> keys = keysInVbucket(kVb, "own-", 3);
  for (const std::string& k : keys) ASSERT_EQ(alice.set(k, "v").status, status::kSuccess);
  const Response created = alice.call(makeCreate(kVb, fullRangeJson()));
  ASSERT_EQ(created.status, status::kSuccess);
  const std::string unknown(16, '\x5a');

  // Bob gets exactly what an unknown id gets: no oracle for someone else's scan.
  const Response unknown_continue = bob.call(makeContinue(unknown, 1, 0, 0, 7, kVb));
  const Response theirs_continue = bob.call(makeContinue(created.value, 1, 0, 0, 7, kVb));
  EXPECT_EQ(theirs_continue.status, status::kKeyEnoent);
  EXPECT_EQ(theirs_continue.status, unknown_continue.status);
  EXPECT_EQ(theirs_continue.value, unknown_continue.value);
  EXPECT_EQ(theirs_continue.extras, unknown_continue.extras);
  const Response unknown_cancel = bob.call(makeCancel(unknown, 8, kVb));
  const Response theirs_cancel = bob.call(makeCancel(created.value, 8, kVb));
  EXPECT_EQ(theirs_cancel.status, status::kKeyEnoent);
  EXPECT_EQ(theirs_cancel.status, unknown_cancel.status);
  EXPECT_EQ(theirs_cancel.value, unknown_cancel.value);

  // Bob's attempts changed nothing: the scan is whole, and alice may continue it from
  // another of her connections.
  McbpClient alice2 = user("alice");
  ASSERT_TRUE(alice2.send(makeContinue(created.value, 0, 0, 0, 9, kVb)));
  const ContinueResult all = readContinue(alice2, 9, false);
  ASSERT_TRUE(all.error.empty()) << all.error;
  EXPECT_EQ(all.status, scan_status::kComplete);
  EXPECT_EQ(all.items.size(), keys.size());

  // Alice cancels her own scan; bob cannot cancel it, she can.
  const Response second = alice.call(makeCreate(kVb, fullRangeJson(true)));
  ASSERT_EQ(second.status, status::kSuccess);
  EXPECT_EQ(bob.call(makeCancel(second.value, 0, kVb)).status, status::kKeyEnoent);
  EXPECT_EQ(alice.call(makeCancel(second.value, 0, kVb)).status, status::kSuccess);
  EXPECT_EQ(alice.call(makeCancel(second.value, 0, kVb)).status, status::kKeyEnoent);
}

TEST_F(RangeScanOwnerTest, CapsPerConnectionAndPerUserAreBusyForThemOnly) {
  constexpr uint16_t kVb = 22;
  McbpClient bob = user("bob");
  ASSERT_EQ(bob.set(keysInVbucket(kVb, "cap-", 1)[0], "v").status, status::kSuccess);
  const std::string json = fullRangeJson(true);

  // Alice fills one connection: the next CREATE there is EBUSY...
  std::vector<McbpClient> alice;
  alice.push_back(user("alice"));
  std::vector<std::string> first_ids;
  for (int i = 0; i < kPerConnection; ++i) {
    const Response r = alice[0].call(makeCreate(kVb, json));
    ASSERT_EQ(r.status, status::kSuccess) << "scan " << i;
    first_ids.push_back(r.value);
  }
  EXPECT_EQ(alice[0].call(makeCreate(kVb, json)).status, scan_status::kEbusy);
  // ...while bob, and alice on another connection, still create.
  EXPECT_EQ(bob.call(makeCreate(kVb, json)).status, status::kSuccess);
  alice.push_back(user("alice"));
  EXPECT_EQ(alice[1].call(makeCreate(kVb, json)).status, status::kSuccess);

  // Alice's connections together reach her cap: any of them is EBUSY, bob is not.
  int alice_open = kPerConnection + 1;
  while (alice_open < kPerUser) {
    if (alice.back().call(makeCreate(kVb, json)).status != status::kSuccess) {
      alice.push_back(user("alice"));
      continue;
    }
    ++alice_open;
  }
  alice.push_back(user("alice"));
  EXPECT_EQ(alice.back().call(makeCreate(kVb, json)).status, scan_status::kEbusy);
  EXPECT_EQ(bob.call(makeCreate(kVb, json)).status, status::kSuccess);

  // A scan that ends gives its room back.
  EXPECT_EQ(alice[0].call(makeCancel(first_ids[0], 0, kVb)).status, status::kSuccess);
  EXPECT_EQ(alice.back().call(makeCreate(kVb, json)).status, status::kSuccess);
  EXPECT_EQ(alice.back().call(makeCreate(kVb, json)).status, scan_status::kEbusy);
}

// ---------------------------------------------------------------------------------------------
// An open server: every client is the same anonymous user.

TEST_F(RangeScanTest, OpenScansAreCappedPerConnectionAndInAll) {
  McbpClient c = sdkClient();
  ASSERT_EQ(c.set(keysInVbucket(11, "many-", 1)[0], "v").status, status::kSuccess);
  const std::string json = fullRangeJson(true);
  // One connection: its cap, then EBUSY, whatever else is open.
  std::vector<std::string> ids;
  for (int i = 0; i < kPerConnection + 2; ++i) {
    const Response r = c.call(makeCreate(11, json, i));
    if (i < kPerConnection) {
      ASSERT_EQ(r.status, status::kSuccess) << "scan " << i;
      ids.push_back(r.value);
    } else {
      EXPECT_EQ(r.status, scan_status::kEbusy) << "scan " << i;
    }
  }
  // One finished: room for one more.
  ASSERT_TRUE(c.send(makeContinue(ids[0], 0, 0, 0, 1, 11)));
  const ContinueResult done = readContinue(c, 1, true);
  ASSERT_TRUE(done.error.empty()) << done.error;
  EXPECT_EQ(done.status, scan_status::kComplete);
  EXPECT_EQ(c.call(makeCreate(11, json)).status, status::kSuccess);
  EXPECT_EQ(c.call(makeCreate(11, json)).status, scan_status::kEbusy);

  // Other connections fill the server (pipelined: one round trip each); then even a fresh
  // connection is EBUSY.
  std::vector<McbpClient> others;
  int open = kPerConnection;
  while (open < kInAll) {
    McbpClient o = sdkClient();
    const int n = std::min(kPerConnection, kInAll - open);
    std::string batch;
    for (int i = 0; i < n; ++i) batch += encode(makeCreate(11, json, i));
    ASSERT_TRUE(o.sendRaw(batch));
    for (int i = 0; i < n; ++i) {
      const Response r = o.next();
      ASSERT_EQ(r.opaque, static_cast<uint32_t>(i)) << "answers in order";
      ASSERT_EQ(r.status, status::kSuccess) << "with " << open << " open";
      ++open;
    }
    others.push_back(std::move(o));
  }
  EXPECT_EQ(statU64(c, "range_scans_open"), static_cast<uint64_t>(kInAll));
  McbpClient late = sdkClient();
  EXPECT_EQ(late.call(makeCreate(11, json)).status, scan_status::kEbusy);
  // Closing a connection frees its scans.
  c.close();
  const auto deadline = std::chrono::steady_clock::now() + scaled(milliseconds(3000));
  uint16_t st = 0;
  do {
    st = late.call(makeCreate(11, json)).status;
  } while (st != status::kSuccess && std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(st, status::kSuccess);
}

TEST_F(RangeScanTest, StatReportsWhatOpenScansPinAndTheBytesTheySend) {
  constexpr uint16_t kVb = 23;
  McbpClient c = sdkClient();
  const std::vector<std::string> keys = keysInVbucket(kVb, "pin-", 20);
  std::vector<std::pair<std::string, std::string>> docs;
  size_t small_values = 0, large_values = 0, key_bytes = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    // Half copied into the frames, half sent by reference (at 4 KiB and above).
    const size_t size = i % 2 == 0 ? 100 + i : 8192 + i;
    (size < 4096 ? small_values : large_values) += size;
    key_bytes += keys[i].size();
    docs.emplace_back(keys[i], valueBytes(i, size));
  }
  ASSERT_TRUE(bulkSet(c, docs));
  EXPECT_EQ(statU64(c, "range_scans_open"), 0u);
  EXPECT_EQ(statU64(c, "range_scans_items"), 0u);
  EXPECT_EQ(statU64(c, "range_scans_bytes"), 0u);

  const Response a = c.call(makeCreate(kVb, fullRangeJson()));
  ASSERT_EQ(a.status, status::kSuccess);
  EXPECT_EQ(statU64(c, "range_scans_items"), keys.size());
  const uint64_t one_scan = statU64(c, "range_scans_bytes");
  EXPECT_GE(one_scan, key_bytes + small_values + large_values) << "at least keys and values";
  const Response b = c.call(makeCreate(kVb, fullRangeJson(true)));
  ASSERT_EQ(b.status, status::kSuccess);
  EXPECT_EQ(statU64(c, "range_scans_open"), 2u);
  EXPECT_EQ(statU64(c, "range_scans_items"), 2 * keys.size());
  EXPECT_EQ(statU64(c, "range_scans_bytes"), 2 * one_scan) << "each scan pins its snapshot";

  // Sending the documents counts the values copied and referenced, as GET does.
  const uint64_t copied = statU64(c, "bytes_copied");
  const uint64_t referenced = statU64(c, "bytes_referenced");
  ASSERT_TRUE(c.send(makeContinue(a.value, 0, 0, 0, 5, kVb)));
  const ContinueResult all = readContinue(c, 5, false);
  ASSERT_TRUE(all.error.empty()) << all.error;
  ASSERT_EQ(all.status, scan_status::kComplete);
  EXPECT_EQ(statU64(c, "bytes_copied") - copied, small_values);
  EXPECT_EQ(statU64(c, "bytes_referenced") - referenced, large_values);

  // A completed scan and a cancelled one pin nothing.
  EXPECT_EQ(statU64(c, "range_scans_items"), keys.size());
  EXPECT_EQ(statU64(c, "range_scans_bytes"), one_scan);
  ASSERT_EQ(c.call(makeCancel(b.value, 0, kVb)).status, status::kSuccess);
  EXPECT_EQ(statU64(c, "range_scans_open"), 0u);
  EXPECT_EQ(statU64(c, "range_scans_items"), 0u);
  EXPECT_EQ(statU64(c, "range_scans_bytes"), 0u);
}

TEST_F(RangeScanTest, RangeKeysOver250BytesAreEinval) {
  constexpr uint16_t kVb = 24;
  McbpClient c = sdkClient();
  ASSERT_EQ(c.set(keysInVbucket(kVb, "long-", 1)[0], "v").status, status::kSuccess);
  const std::string max(250, 'z'), over(251, 'z');  // above every "long-" key
  EXPECT_EQ(c.call(makeCreate(kVb, rangeJson({over, over + "z"}))).status, status::kEinval);
  EXPECT_EQ(c.call(makeCreate(kVb, rangeJson({"", over}))).status, status::kEinval);
  EXPECT_EQ(c.call(makeCreate(kVb, rangeJson({over, over + "z", true, true}))).status,
            status::kEinval);
  // 250 bytes is a key like any other (nothing in that range: KEY_ENOENT).
  EXPECT_EQ(c.call(makeCreate(kVb, rangeJson({max, max}))).status, status::kKeyEnoent);
  EXPECT_EQ(c.call(makeCreate(kVb, rangeJson({"", max}))).status, status::kSuccess);
  expectUsable(c);
}

TEST_F(RangeScanTest, ScanIdsDoNotRepeat) {
  constexpr uint16_t kVb = 25;
  constexpr int kScans = 1000;
  McbpClient c = sdkClient();
  ASSERT_EQ(c.set(keysInVbucket(kVb, "id-", 1)[0], "v").status, status::kSuccess);
  std::set<std::string> ids;
  for (int i = 0; i < kScans; ++i) {
    const Response r = c.call(makeCreate(kVb, fullRangeJson(true)));
    ASSERT_EQ(r.status, status::kSuccess) << "scan " << i;
    ASSERT_EQ(r.value.size(), 16u);
    ids.insert(r.value);
    ASSERT_EQ(c.call(makeCancel(r.value, 0, kVb)).status, status::kSuccess);
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kScans));
}

}  // namespace
}  // namespace memkv::test
