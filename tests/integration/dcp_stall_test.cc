// A DCP consumer that stops taking what it is sent stalls only itself (docs/dcp.md "Flow
// control"): one that reads but never acknowledges gets its window and then nothing, one
// that never reads at all is held at the output watermark, and a neighbour on the same
// worker thread (-t 1) keeps getting every answer, right, while both stay open and the
// writes they would be sent go on. Its latency beside them is measured against an idle run
// in bench/run.sh's (dcp-p) row, not here: a time bound a loaded machine breaks is no test.
// memkv only (a users file, DCP).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
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
    {"app", "app-pw", "read[default],write[default]"},
    {"connector", "connector-pw", "dcp[default],read[default]"},
};

constexpr uint32_t kWindow = 8192;

class DcpStallTest : public UsersServerTest {
 protected:
  DcpStallTest() : UsersServerTest(kUsers, {"-t", "1", "-m", "64"}) {}
  // n SETQs of 1 KiB values on keys prefix0..prefix(n-1), then a NOOP to wait for them.
  static void fill(McbpClient& app, const std::string& prefix, int n) {
    std::string batch;
    for (int i = 0; i < n; ++i) {
      const std::string key = prefix + std::to_string(i);
      Request set = makeStore(op::kSetQ, key, std::string(1024, static_cast<char>('a' + i % 26)));
      set.vbucket = cb::vbucketOf(key);
      batch += encode(set);
      if (batch.size() > (256 << 10) || i == n - 1) {
        ASSERT_TRUE(app.sendRaw(batch));
        batch.clear();
      }
    }
    const Response done = app.call(cb::makeRequest(op::kNoop));
    ASSERT_EQ(done.opcode, op::kNoop) << "a SETQ failed";
  }
  // Opens a producer named `name` with `window` (0: no flow control) and streams every
  // vbucket, following.
  static void streamAll(McbpClient& c, const std::string& name, uint32_t window) {
    ASSERT_EQ(c.call(dcpOpen(name, kProducer)).status, status::kSuccess);
    ASSERT_EQ(c.call(dcpControl("connection_buffer_size", std::to_string(window))).status,
              status::kSuccess);
    std::string requests;
    for (uint16_t vb = 0; vb < 1024; ++vb) requests += encode(streamReq(vb, vb, 0, kSeqnoMax, 0));
    ASSERT_TRUE(c.sendRaw(requests));
  }
};

TEST_F(DcpStallTest, ConsumersThatStopTakingStallOnlyThemselves) {
  McbpClient app = loggedIn("app", "app-pw");
  fill(app, "before", 8000);  // about 8.5 MB to stream
  ASSERT_FALSE(HasFatalFailure());

  // Reads, never acknowledges: the 1024 stream answers, then its window's worth of changes.
  McbpClient never_acks = loggedIn("connector", "connector-pw");
  streamAll(never_acks, "never-acks", kWindow);
  ASSERT_FALSE(HasFatalFailure());
  // Never reads at all, with no window: the server may only buffer up to its watermark.
  McbpClient never_reads = loggedIn("connector", "connector-pw");
  streamAll(never_reads, "never-reads", 0);
  ASSERT_FALSE(HasFatalFailure());

  size_t answers = 0, stream_bytes = 0;
  Response m;
  while (never_acks.read(&m, scaled(milliseconds(2000))) == ReadStatus::kOk) {
    if (m.magic == kResponseMagic && m.opcode == kStreamReq) {
      ASSERT_EQ(m.status, status::kSuccess);
      ++answers;
    } else {
      stream_bytes += kHeaderSize + m.extras.size() + m.key.size() + m.value.size();
    }
  }
  EXPECT_EQ(answers, 1024u);
  // The window, overshot by at most the message that crossed it (a 1 KiB mutation).
  EXPECT_GE(stream_bytes, kWindow);
  EXPECT_LE(stream_bytes, kWindow + 24 + 31 + 16 + 1024);

  // The neighbour on the same worker: every GET and SET answered, right, while the writes
  // are changes both stalled consumers' streams follow.
  for (int round = 0; round < 2000; ++round) {
    const std::string key = "before" + std::to_string(round * 7 % 8000);
    const Response got = app.get(key);
    ASSERT_EQ(got.status, status::kSuccess) << key;
    ASSERT_EQ(got.value, std::string(1024, static_cast<char>('a' + round * 7 % 8000 % 26)));
    const std::string later = "during" + std::to_string(round);
    ASSERT_EQ(app.set(later, "v" + std::to_string(round)).status, status::kSuccess);
  }
  const auto stats = app.stats("dcp");
  EXPECT_EQ(stats.at("dcp_producers"), "2");
  EXPECT_GE(std::stoull(stats.at("dcp_window_full_pauses")), 1u);
  // What memkv holds for them: at most the documented 1 MiB of changes per connection.
  EXPECT_LE(std::stoull(stats.at("dcp_buffered_bytes")), 2u << 20);
  EXPECT_TRUE(never_acks.silentFor(milliseconds(300))) << "nothing past the window";

  // Acknowledging reopens the window: the stalled stream goes on.
  ASSERT_TRUE(never_acks.send(bufferAck(static_cast<uint32_t>(stream_bytes))));
  ASSERT_EQ(never_acks.read(&m, scaled(milliseconds(5000))), ReadStatus::kOk);
  EXPECT_EQ(m.magic, kRequestMagic);

  // The one that never read gets, once it reads, every stream's answer and every change.
  size_t read_answers = 0, changes = 0;
  while (never_reads.read(&m, scaled(milliseconds(2000))) == ReadStatus::kOk) {
    if (m.magic == kResponseMagic) {
      ASSERT_EQ(m.opcode, kStreamReq);
      ++read_answers;
    } else if (m.opcode == kMutation) {
      ++changes;
    }
    if (changes == 10000) break;
  }
  EXPECT_EQ(read_answers, 1024u);
  EXPECT_EQ(changes, 10000u) << "every key before and during, in the end";
  EXPECT_EQ(app.get("during1999").value, "v1999");
}

}  // namespace
}  // namespace memkv::test
