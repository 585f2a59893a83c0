// DCP streams that follow their vbuckets (docs/dcp.md "Following"): changes made after the
// stream caught up come from the vbucket's change log as memory snapshots; a FLUSH ends the
// stream; a consumer too slow for the log's bound is dropped from it, backfills again, and
// still ends up with every key's final state. memkv only (a users file, DCP).
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "integration/dcp_client.h"
#include "integration/users_fixture.h"
#include "support/couchbase_client.h"
#include "support/test_env.h"

namespace memkv::test {
namespace {

namespace cb = couchbase;
using namespace dcp;  // NOLINT: the test speaks DCP throughout
using std::chrono::milliseconds;

const cb::TestUser kUsers[] = {
    {"admin", "admin-pw", "admin"},
    {"app", "app-pw", "read[default],write[default]"},
    {"connector", "connector-pw", "dcp[default],read[default]"},
};

constexpr uint32_t kMarkerMemory = 0x1;
constexpr uint32_t kMarkerDisk = 0x2;

size_t wireBytes(const Response& m) {
  return 24 + m.extras.size() + m.key.size() + m.value.size();
}

uint64_t dcpStat(McbpClient& c, const std::string& name) {
  return std::stoull(c.stats("dcp").at(name));
}

// Polls STAT dcp until `name` satisfies pred or the timeout passes.
template <typename Pred>
bool waitForDcpStat(McbpClient& c, const std::string& name, Pred pred, milliseconds timeout,
                    uint64_t* last) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    *last = dcpStat(c, name);
    if (pred(*last)) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
}

// -m 16: the change logs may hold 1 MiB (-m / 16), about 18,000 changes of short keys.
class DcpFollowTest : public UsersServerTest {
 protected:
  DcpFollowTest() : UsersServerTest(kUsers, {"-m", "16"}) {}
  explicit DcpFollowTest(std::vector<std::string> extra)
      : UsersServerTest(kUsers, std::move(extra)) {}
  static std::string keyIn(uint16_t vb, int* from) {
    for (;; ++*from) {
      std::string k = "follow" + std::to_string(*from);
      if (cb::vbucketOf(k) == vb) {
        ++*from;
        return k;
      }
    }
  }
};

TEST_F(DcpFollowTest, ChangesAfterTheBackfillComeFromTheLogUntilAFlushEndsTheStream) {
  McbpClient app = loggedIn("app", "app-pw");
  McbpClient consumer = loggedIn("connector", "connector-pw");
  ASSERT_EQ(consumer.call(dcpOpen("follow", kProducer)).status, status::kSuccess);
  const uint16_t vb = 42;
  int from = 0;
  const std::string a = keyIn(vb, &from), b = keyIn(vb, &from);
  Request set = makeStore(op::kSet, a, "before");
  set.vbucket = vb;
  ASSERT_EQ(app.call(set).status, status::kSuccess);  // seqno 1: the backfill's
  ASSERT_EQ(consumer.call(streamReq(vb, 9, 0, kSeqnoMax, 0)).status, status::kSuccess);
  Response m;
  ASSERT_EQ(consumer.read(&m, scaled(milliseconds(5000))), ReadStatus::kOk);
  ASSERT_EQ(m.opcode, kSnapshotMarker);
  EXPECT_EQ(readBe32(m.extras.substr(16)) & kMarkerDisk, kMarkerDisk) << "a backfill";
  ASSERT_EQ(consumer.read(&m, scaled(milliseconds(5000))), ReadStatus::kOk);
  EXPECT_EQ(m.key, a);

  // Caught up: a store, a delete and a store again arrive in order, from the log.
  set = makeStore(op::kSet, b, "after");
  set.vbucket = vb;
  ASSERT_EQ(app.call(set).status, status::kSuccess);  // 2
  Request del = makeKeyOnly(op::kDelete, a);
  del.vbucket = vb;
  ASSERT_EQ(app.call(del).status, status::kSuccess);  // 3
  set = makeStore(op::kSet, a, "again");
  set.vbucket = vb;
  ASSERT_EQ(app.call(set).status, status::kSuccess);  // 4
  uint64_t last = 1;
  std::vector<std::string> changes;
  while (last < 4) {
    ASSERT_EQ(consumer.read(&m, scaled(milliseconds(5000))), ReadStatus::kOk)
        << "after seqno " << last;
    ASSERT_EQ(m.opaque, 9u);
    if (m.opcode == kSnapshotMarker) {
      EXPECT_EQ(readBe32(m.extras.substr(16)), kMarkerMemory) << "from the change log";
      EXPECT_EQ(readBe64(m.extras), last + 1) << "each snapshot starts after the last";
      continue;
    }
    const uint64_t seqno = readBe64(m.extras);
    EXPECT_EQ(seqno, last + 1) << "every change, in order";
    last = seqno;
    changes.push_back((m.opcode == kDeletion ? "del " : "set ") + m.key + "=" + m.value);
  }
  EXPECT_EQ(changes, (std::vector<std::string>{"set " + b + "=after", "del " + a + "=",
                                               "set " + a + "=again"}));
  EXPECT_GT(dcpStat(app, "dcp_change_log_bytes"), 0u) << "the followed vbucket keeps a log";

  // A FLUSH starts the vbucket's history again: the stream ends, state changed.
  McbpClient admin = loggedIn("admin", "admin-pw");
  ASSERT_EQ(admin.flush().status, status::kSuccess);
  ASSERT_EQ(consumer.read(&m, scaled(milliseconds(5000))), ReadStatus::kOk);
  ASSERT_EQ(m.opcode, kStreamEnd);
  EXPECT_EQ(readBe32(m.extras), 2u) << "state changed";
  uint64_t v = 0;
  EXPECT_TRUE(waitForDcpStat(
      app, "dcp_change_log_bytes", [](uint64_t n) { return n == 0; }, scaled(milliseconds(3000)),
      &v))
      << "the log goes with its last follower: " << v;
}

// A consumer whose window stays full while 32,000 changes go to every vbucket: the change logs
// (1 MiB at -m 16) let go of what it has not read, so its streams backfill again from their
// cursors. Once it reads and acknowledges (at half its window), every key arrives in its final
// state, seqnos rise within each vbucket and each snapshot, and nothing stays buffered.
TEST_F(DcpFollowTest, AConsumerTooSlowForTheLogBackfillsAndGetsEveryKeysFinalState) {
  McbpClient consumer = loggedIn("connector", "connector-pw");
  ASSERT_EQ(consumer.call(dcpOpen("slow", kProducer)).status, status::kSuccess);
  constexpr uint32_t kWindow = 4000;
  ASSERT_EQ(consumer.call(dcpControl("connection_buffer_size", std::to_string(kWindow))).status,
            status::kSuccess);
  constexpr uint16_t kVBuckets = 1024;
  for (uint16_t vb = 0; vb < kVBuckets; ++vb) {
    ASSERT_EQ(consumer.call(streamReq(vb, 1000u + vb, 0, kSeqnoMax, 0)).status, status::kSuccess)
        << vb;
  }
  // The writes, pipelined: 20,000 stores, 10,000 of them stored again, 2,000 deleted.
  McbpClient app = loggedIn("app", "app-pw");
  std::map<std::string, std::optional<std::string>> model;
  std::string batch;
  auto flushBatch = [&] {
    ASSERT_TRUE(app.sendRaw(batch));
    batch.clear();
    ASSERT_EQ(app.noop().status, status::kSuccess);
  };
  auto queue = [&](Request r) {
    r.vbucket = cb::vbucketOf(r.key);
    batch += encode(r);
    if (batch.size() > 64 * 1024) flushBatch();
  };
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < (round == 0 ? 20000 : 10000); ++i) {
      const std::string k = "k" + std::to_string(i);
      const std::string v = "v" + std::to_string(round) + "-" + std::to_string(i);
      queue(makeStore(op::kSetQ, k, v));
      model[k] = v;
    }
  }
  for (int i = 0; i < 20000; i += 10) {
    const std::string k = "k" + std::to_string(i);
    queue(makeKeyOnly(op::kDeleteQ, k));
    model[k] = std::nullopt;
  }
  flushBatch();
  if (HasFatalFailure()) return;
  EXPECT_GT(dcpStat(app, "dcp_change_log_dropped"), 0u) << "the logs reached their bound";

  // Now it reads, acknowledging at half its window, until the producer has nothing left.
  struct Cursor {
    uint64_t last = 0;
    uint64_t snap_start = 0, snap_end = 0;
  };
  std::map<uint16_t, Cursor> cursors;
  std::map<std::string, std::optional<std::string>> seen;
  size_t unacked = 0, messages = 0;
  bool ended = false;
  Response m;
  while (consumer.read(&m, scaled(milliseconds(3000))) == ReadStatus::kOk) {
    ++messages;
    unacked += wireBytes(m);
    if (unacked >= kWindow / 2) {
      ASSERT_TRUE(consumer.send(bufferAck(static_cast<uint32_t>(unacked))));
      unacked = 0;
    }
    ASSERT_EQ(m.magic, 0x80) << "only producer messages: opcode " << int{m.opcode};
    const uint16_t vb = static_cast<uint16_t>(m.opaque - 1000u);
    ASSERT_LT(vb, kVBuckets);
    Cursor& c = cursors[vb];
    if (m.opcode == kStreamEnd) {
      ended = true;
      ADD_FAILURE() << "vbucket " << vb << " ended with " << readBe32(m.extras);
      continue;
    }
    if (m.opcode == kSnapshotMarker) {
      c.snap_start = readBe64(m.extras);
      c.snap_end = readBe64(m.extras.substr(8));
      EXPECT_GT(c.snap_end, c.last) << "vbucket " << vb;
      continue;
    }
    ASSERT_TRUE(m.opcode == kMutation || m.opcode == kDeletion) << int{m.opcode};
    const uint64_t seqno = readBe64(m.extras);
    ASSERT_EQ(cb::vbucketOf(m.key), vb) << m.key;
    EXPECT_GT(seqno, c.last) << "vbucket " << vb << " key " << m.key;
    EXPECT_GE(seqno, c.snap_start) << "vbucket " << vb;
    EXPECT_LE(seqno, c.snap_end) << "vbucket " << vb;
    c.last = seqno;
    if (m.opcode == kMutation) {
      seen[m.key] = m.value;
    } else {
      seen[m.key] = std::nullopt;
    }
  }
  EXPECT_FALSE(ended);
  EXPECT_EQ(seen.size(), model.size()) << messages << " messages";
  size_t wrong = 0;
  for (const auto& [k, v] : model) {
    const auto it = seen.find(k);
    if (it == seen.end() || it->second != v) {
      if (++wrong <= 5) ADD_FAILURE() << k << ": expected " << v.value_or("(deleted)");
    }
  }
  EXPECT_EQ(wrong, 0u);
  EXPECT_GT(dcpStat(app, "dcp_cursors_dropped"), 0u) << "its streams backfilled again";
  EXPECT_EQ(dcpStat(app, "dcp_buffered_bytes"), 0u);
  EXPECT_EQ(dcpStat(app, "dcp_streams"), kVBuckets) << "every stream still follows";
  EXPECT_LE(dcpStat(app, "dcp_change_log_bytes"), 1u << 20) << "within -m / 16";
  consumer.close();
  uint64_t v = 0;
  EXPECT_TRUE(waitForDcpStat(
      app, "dcp_change_log_bytes", [](uint64_t n) { return n == 0; }, scaled(milliseconds(3000)),
      &v))
      << "the logs go with their last follower: " << v;
}

// DCP_NOOP (reference dcp.md 1.7) with --dcp-idle-timeout 2: a consumer that enabled noops
// gets one per interval (answered, the next follows; opaques from kv_engine's 10,000,000
// up), and stays while it answers; one that stops answering is closed after the timeout; one
// that never enabled noops is never closed for being quiet.
class DcpNoopTest : public DcpFollowTest {
 protected:
  DcpNoopTest() : DcpFollowTest({"--dcp-idle-timeout", "2"}) {}
};

TEST_F(DcpNoopTest, AConsumerThatAnswersNoopsStaysAndOneThatStopsIsClosed) {
  auto open = [&](const char* name, bool noop) {
    McbpClient c = loggedIn("connector", "connector-pw");
    EXPECT_EQ(c.call(dcpOpen(name, kProducer)).status, status::kSuccess);
    if (noop) {
      EXPECT_EQ(c.call(dcpControl("enable_noop", "true")).status, status::kSuccess);
      EXPECT_EQ(c.call(dcpControl("set_noop_interval", "0.2")).status, status::kSuccess);
    }
    return c;
  };
  McbpClient live = open("live", true);
  McbpClient silent = open("silent", true);
  McbpClient quiet = open("quiet", false);
  // Longer than the idle timeout: the live consumer answers every noop.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(3500);
  uint32_t last_opaque = 10'000'000;
  int noops = 0;
  while (std::chrono::steady_clock::now() < until) {
    Response m;
    ASSERT_EQ(live.read(&m, scaled(milliseconds(5000))), ReadStatus::kOk) << "after " << noops;
    ASSERT_EQ(m.magic, 0x80) << "a request from the producer";
    ASSERT_EQ(m.opcode, kNoop);
    EXPECT_TRUE(m.extras.empty() && m.key.empty() && m.value.empty());
    EXPECT_EQ(m.opaque, last_opaque + 1);
    last_opaque = m.opaque;
    ++noops;
    std::string answer(24, '\0');
    answer[0] = '\x81';
    answer[1] = static_cast<char>(kNoop);
    for (int i = 0; i < 4; ++i) answer[12 + i] = static_cast<char>(m.opaque >> (24 - 8 * i));
    ASSERT_TRUE(live.sendRaw(answer));
  }
  EXPECT_GE(noops, 3) << "one per interval (0.2 s, at the worker's 250 ms tick)";
  EXPECT_TRUE(silent.connectionClosed(scaled(milliseconds(5000))))
      << "a consumer that stopped answering is closed after --dcp-idle-timeout";
  // The live one still streams; the one without noops was never asked and stays.
  EXPECT_EQ(live.call(streamReq(1, 1, 0, kSeqnoMax, 0)).status, status::kSuccess);
  EXPECT_EQ(quiet.noop().status, status::kSuccess);
  // Only a DCP connection may answer the server (magic 0x81): from any other it is a client
  // not speaking MCBP, and closed.
  McbpClient plain = loggedIn("app", "app-pw");
  std::string response(24, '\0');
  response[0] = '\x81';
  response[1] = static_cast<char>(kNoop);
  ASSERT_TRUE(plain.sendRaw(response));
  EXPECT_TRUE(plain.connectionClosed(scaled(milliseconds(5000))));
}

}  // namespace
}  // namespace memkv::test
