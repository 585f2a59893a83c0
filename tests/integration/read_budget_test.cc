// Request bodies in flight (docs/architecture.md invariants 6 and 8): every byte of partially
// received requests is under one server-wide budget (--read-memory-limit). Clients that
// announce large SETs and stall make connections beyond the budget wait, not fail, and do not
// grow the server; a partial request that stops growing is closed after --read-stall-timeout.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "integration/server_fixture.h"
#include "support/test_env.h"

namespace memkv::test {
namespace {

using std::chrono::milliseconds;

constexpr std::size_t kMiB = 1024 * 1024;
constexpr std::size_t kValueSize = kMiB - 1024;  // a ~1 MiB SET under the default -I 1m

std::string bigSet(const std::string& key, uint64_t tag) {
  return encode(makeStore(op::kSet, key, valueBytes(tag, kValueSize)));
}

// Sends as much of each buffer as the connections take without blocking, round robin, until
// everything is sent or nothing moved for `quiet`. Returns the bytes sent on each.
std::vector<std::size_t> sendWithoutBlocking(const std::vector<int>& fds,
                                             const std::vector<std::string>& data,
                                             milliseconds quiet) {
  std::vector<std::size_t> sent(fds.size(), 0);
  auto last_progress = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - last_progress < quiet) {
    bool all_done = true;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (sent[i] == data[i].size()) continue;
      all_done = false;
      const ssize_t n = ::send(fds[i], data[i].data() + sent[i], data[i].size() - sent[i],
                               MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        sent[i] += static_cast<std::size_t>(n);
        last_progress = std::chrono::steady_clock::now();
      }
    }
    if (all_done) break;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return sent;
}

class ReadBudgetTest : public ServerTest {
 protected:
  static constexpr std::size_t kBudget = 32 * kMiB;
  ReadBudgetTest()
      : ServerTest({"-c", "1024", "-t", "4", "--read-memory-limit", "32m", "--read-stall-timeout",
                    "600"}) {}
};

TEST_F(ReadBudgetTest, StalledLargeSetsStayWithinTheBudgetAndOneBeyondItCompletesLater) {
  MEMKV_ONLY("memkv's read memory limit");
  // MEMKV_STALLED_SETS scales this down for slow builds; 300 is the requirement.
  const long count = envInt("MEMKV_STALLED_SETS", 300);
  ASSERT_GE(raiseFileLimit(static_cast<uint64_t>(count) + 256), static_cast<uint64_t>(count) + 256);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(client_.noop().status, status::kSuccess);
  std::this_thread::sleep_for(milliseconds(600));  // two pool trim ticks
  const int64_t rss_before = residentBytes(server_->pid());
  ASSERT_GT(rss_before, 0);

  std::vector<McbpClient> clients(static_cast<std::size_t>(count));
  std::vector<int> fds;
  std::vector<std::string> frames, heads;
  for (long i = 0; i < count; ++i) {
    McbpClient& c = clients[static_cast<std::size_t>(i)];
    ASSERT_TRUE(c.connect(server_->port())) << "connection " << i;
    fds.push_back(c.fd());
    frames.push_back(bigSet("stalled-" + std::to_string(i), static_cast<uint64_t>(i)));
    heads.push_back(frames.back().substr(0, frames.back().size() * 9 / 10));
  }
  // Each sends 90% of its SET and stops. Beyond the budget the server stops reading, so the
  // kernel's buffers fill and sends stop moving.
  const std::vector<std::size_t> sent = sendWithoutBlocking(fds, heads, scaled(milliseconds(2000)));
  uint64_t v = 0;
  EXPECT_TRUE(waitForStat(
      client_, "read_memory_waits", [](uint64_t w) { return w > 0; }, scaled(milliseconds(5000)),
      &v))
      << "no connection ever waited for read memory";
  std::this_thread::sleep_for(milliseconds(600));
  const uint64_t in_use = statU64(client_, "read_memory_bytes");
  const uint64_t peak = statU64(client_, "read_memory_peak");
  const int64_t rss_after = residentBytes(server_->pid());
  std::cout << count << " stalled 90% SETs of " << kValueSize / 1024 << " KiB: server RSS "
            << rss_before / kMiB << " MiB -> " << rss_after / kMiB << " MiB; read memory "
            << in_use / kMiB << " MiB (peak " << peak / kMiB << " MiB, limit " << kBudget / kMiB
            << " MiB)\n";
  EXPECT_LE(peak, kBudget);
  EXPECT_EQ(statU64(client_, "read_memory_limit"), kBudget);
  // Without the budget this grows by count x 0.9 MiB (270 MiB for 300; under TSan its shadow
  // multiplies both sides).
  EXPECT_LT(rss_after - rss_before,
            static_cast<int64_t>(static_cast<double>(kBudget + 24 * kMiB) * residentScale()))
      << "stalled uploads grew the server beyond the read budget";
  EXPECT_EQ(statU64(client_, "curr_connections"), static_cast<uint64_t>(count) + 1)
      << "waiting connections must not be dropped";

  // One connection most likely beyond the budget (the least of its SET got out: the kernel's
  // buffers hold what the server does not read) finishes its SET while the others go away;
  // it must then be served.
  std::size_t w = 0;
  for (std::size_t i = 0; i < sent.size(); ++i) {
    if (sent[i] < sent[w]) w = i;
  }
  std::thread finisher([&] {
    clients[w].sendRaw(std::string_view(frames[w]).substr(sent[w]), scaled(milliseconds(30000)));
  });
  for (std::size_t i = 0; i < clients.size(); ++i) {
    if (i != w) clients[i].close();
  }
  finisher.join();
  Response r;
  ASSERT_EQ(clients[w].read(&r, scaled(milliseconds(15000))), ReadStatus::kOk);
  EXPECT_EQ(r.status, status::kSuccess);
  const Response got = client_.get("stalled-" + std::to_string(w));
  EXPECT_EQ(got.status, status::kSuccess);
  EXPECT_EQ(got.value, valueBytes(w, kValueSize));
  EXPECT_EQ(statU64(client_, "read_stall_disconnects"), 0u);
}

class ReadStallTest : public ServerTest {
 protected:
  ReadStallTest() : ServerTest({"--read-stall-timeout", "1"}) {}
};

TEST_F(ReadStallTest, PartialSetThatStopsGrowingIsClosedAndCounted) {
  MEMKV_ONLY("memkv's read stall timeout");
  McbpClient stalled = newClient();
  const std::string frame = bigSet("stalls", 1);
  ASSERT_TRUE(stalled.sendRaw(std::string_view(frame).substr(0, frame.size() * 9 / 10)));
  EXPECT_TRUE(stalled.connectionClosed(scaled(milliseconds(5000))));
  uint64_t v = 0;
  EXPECT_TRUE(waitForStat(
      client_, "read_stall_disconnects", [](uint64_t n) { return n == 1; },
      scaled(milliseconds(2000)), &v))
      << "read_stall_disconnects " << v;
  // Its read memory went back (what remains is the STAT request's own buffer and credit).
  EXPECT_TRUE(waitForStat(
      client_, "read_memory_bytes", [](uint64_t b) { return b < kMiB / 2; },
      scaled(milliseconds(2000)), &v))
      << "read_memory_bytes " << v;
  // A client idle between requests for longer than the timeout is not touched.
  std::this_thread::sleep_for(milliseconds(2500));
  EXPECT_EQ(client_.noop().status, status::kSuccess);
  EXPECT_EQ(statU64(client_, "read_stall_disconnects"), 1u);
}

}  // namespace
}  // namespace memkv::test
