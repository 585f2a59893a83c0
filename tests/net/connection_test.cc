// The net layer end to end over a socketpair: a Worker owns the server side,
// the test plays the client. The handler echoes length-prefixed frames.
#include "net/connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/byte_order.h"
#include "echo_handler.h"
#include "net/worker.h"
#include "support/test_env.h"

namespace memkv::net {
namespace {

class ConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    limits_.output_high_watermark = 256 << 10;
    limits_.output_low_watermark = 64 << 10;
    worker_ = std::make_unique<Worker>(limits_, pool_read_limit_, live_, read_budget_.get());
    worker_->setHandlerFactory([](Connection&) { return std::make_unique<EchoHandler>(); });
    worker_->start();
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    client_ = fds[0];
    ::fcntl(fds[1], F_SETFL, O_NONBLOCK);
    // A small kernel buffer on the server side, so "the client does not
    // read" turns into queued output quickly and deterministically.
    const int sndbuf = 16 << 10;
    ::setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    live_++;
    worker_->adopt(fds[1]);
  }
  // Another client on the same worker.
  int connectAnother() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return -1;
    ::fcntl(fds[1], F_SETFL, O_NONBLOCK);
    const int sndbuf = 16 << 10;
    ::setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    live_++;
    worker_->adopt(fds[1]);
    return fds[0];
  }
  void TearDown() override {
    if (client_ >= 0) ::close(client_);
    worker_->shutdown(1000);
    worker_->join();
  }

  void sendAll(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t n = ::send(client_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      ASSERT_GT(n, 0);
      off += static_cast<size_t>(n);
    }
  }
  std::string readExactly(size_t n, int timeout_ms = 5000) {
    return readFrom(client_, n, timeout_ms);
  }
  static std::string readFrom(int fd, size_t n, int timeout_ms = 5000) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    char buf[65536];
    while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const ssize_t got = ::recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
      if (got <= 0) break;
      out.append(buf, static_cast<size_t>(got));
    }
    return out;
  }
  template <typename Pred>
  // timeout_ms is scaled as every time bound (test_env.h: 5x under sanitizers).
  bool eventually(Pred pred, int timeout_ms = 3000) {
    const auto deadline =
        std::chrono::steady_clock::now() + test::scaled(std::chrono::milliseconds(timeout_ms));
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return pred();
  }

  ConnectionLimits limits_;
  size_t pool_read_limit_ = 0;
  std::unique_ptr<ReadBudget> read_budget_;  // outlives the worker (declared first)
  std::atomic<size_t> live_{0};
  std::unique_ptr<Worker> worker_;
  int client_ = -1;
};

TEST_F(ConnectionTest, PipelinedFramesAreAnsweredInOrder) {
  std::string all;
  for (int i = 0; i < 1000; ++i) all += echoFrame("request-" + std::to_string(i));
  sendAll(all);
  EXPECT_EQ(readExactly(all.size()), all);
}

TEST_F(ConnectionTest, FrameLargerThanAPoolBufferArrivesWhole) {
  std::string payload(300 << 10, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 31);
  const std::string f = echoFrame(payload);
  // Sent in pieces, with pauses, so the server sees it grow.
  for (size_t off = 0; off < f.size(); off += 70000) {
    sendAll(f.substr(off, 70000));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(readExactly(f.size()), f);
  EXPECT_TRUE(eventually([&] { return worker_->counters().large_frame_bytes.get() == 0; }));
}

TEST_F(ConnectionTest, StalledHalfRequestHoldsNoPoolBuffer) {
  const std::string f = echoFrame(std::string(1000, 'z'));
  sendAll(f.substr(0, 100));
  // The partial request moves to an exact-size spill; the pool buffer goes back.
  EXPECT_TRUE(eventually([&] {
    return worker_->counters().spill_bytes.get() == 100 &&
           worker_->counters().read_buffers_out.get() == 0;
  }));
  sendAll(f.substr(100));
  EXPECT_EQ(readExactly(f.size()), f);
  EXPECT_TRUE(eventually([&] { return worker_->counters().spill_bytes.get() == 0; }));
}

TEST_F(ConnectionTest, StalledLargeFrameHoldsOnlyWhatArrived) {
  // The header announces 1 MiB; only 3000 bytes come. The server must not
  // reserve the announced size for a client that may never send it.
  const std::string f = echoFrame(std::string(1 << 20, 'L'));
  sendAll(f.substr(0, 3000));
  EXPECT_TRUE(eventually([&] {
    return worker_->counters().spill_bytes.get() == 3000 &&
           worker_->counters().large_frame_bytes.get() == 0 &&
           worker_->counters().read_buffers_out.get() == 0;
  }));
  sendAll(f.substr(3000));
  EXPECT_EQ(readExactly(f.size(), 10000), f);
}

TEST_F(ConnectionTest, IdleConnectionHoldsNoBuffers) {
  sendAll(echoFrame("x"));
  EXPECT_EQ(readExactly(5), echoFrame("x"));
  EXPECT_TRUE(eventually([&] {
    return worker_->counters().read_buffers_out.get() == 0 &&
           worker_->counters().spill_bytes.get() == 0;
  }));
}

TEST_F(ConnectionTest, ClientThatDoesNotReadIsPausedNotBuffered) {
  // 8 MiB of requests while the client reads nothing: the server must stop
  // handling requests once its output passes the high watermark.
  const std::string f = echoFrame(std::string(16 << 10, 'p'));
  std::thread writer([&] {
    for (int i = 0; i < 512; ++i) {
      size_t off = 0;
      while (off < f.size()) {
        const ssize_t n = ::send(client_, f.data() + off, f.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return;
        off += static_cast<size_t>(n);
      }
    }
  });
  EXPECT_TRUE(eventually([&] { return worker_->counters().backpressure_pauses.get() > 0; }));
  std::string got = readExactly(512 * f.size(), 20000);
  writer.join();
  EXPECT_EQ(got.size(), 512 * f.size());
  for (size_t off = 0; off < got.size(); off += f.size()) {
    ASSERT_EQ(got.compare(off, f.size(), f), 0) << "frame at " << off;
  }
}

// Regression: a connection paused above the high watermark whose output the
// kernel then took whole (no EAGAIN, so no EPOLLOUT edge) never resumed;
// pipelined 1 MiB GETs hung after the first answer.
TEST_F(ConnectionTest, PauseEndsEvenWhenTheKernelTakesAllOutputAtOnce) {
  // TCP, not a socketpair: a unix socket wakes its writer whenever the peer
  // reads, TCP only after a write found the buffer full.
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int big = 8 << 20;
  ::setsockopt(client, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const int server = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  ASSERT_GE(server, 0);
  ::close(listener);
  ::setsockopt(server, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  live_++;
  worker_->adopt(server);
  ::close(client_);
  client_ = client;
  // Each echo alone passes the 256 KiB high watermark, and all of it fits the
  // kernel's buffers, so the server's sends never meet EAGAIN.
  const std::string f = echoFrame(std::string(300 << 10, 'k'));
  const std::string three = f + f + f;
  std::thread writer([&] { sendAll(three); });
  const std::string got = readExactly(three.size(), 5000);
  writer.join();
  EXPECT_EQ(got.size(), three.size());
  EXPECT_GT(worker_->counters().backpressure_pauses.get(), 0u);
}

TEST_F(ConnectionTest, DisabledReadingHoldsLaterRequestsUntilEnabled) {
  EchoHandler::paused_connection = nullptr;
  const std::string before = echoFrame("a") + echoFrame("PAUSE");
  const std::string after = echoFrame("b") + echoFrame("c");
  sendAll(before + after);
  EXPECT_EQ(readExactly(before.size()), before);
  ASSERT_TRUE(eventually([] { return EchoHandler::paused_connection.load() != nullptr; }));
  EXPECT_EQ(readExactly(1, 200), "") << "requests after the pause were handled";
  worker_->post([] { EchoHandler::paused_connection.load()->enableReading(); });
  EXPECT_EQ(readExactly(after.size()), after);
}

#if MEMKV_OWNER_CHECKS
TEST(OwnerCheckDeathTest, TouchingAConnectionsBuffersOffItsThreadAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        BufferPool pool;  // owned by this thread
        std::thread other([&] {
          OutputChain chain(pool);
          chain.reserve(10);
        });
        other.join();
      },
      "owner-thread violation: OutputChain::reserve");
}
#else
TEST(OwnerCheckDeathTest, TouchingAConnectionsBuffersOffItsThreadAborts) {
  GTEST_SKIP() << "owner checks are compiled into debug and sanitizer builds only";
}
#endif

// Regression (found in review): more requests than the -R budget, then the
// client vanishes. The connection was scheduled for its next turn when the
// write failed and closed it; the scheduled turn returned before clearing
// the flag, so the worker never reaped it (a leaked -c slot, and a SIGTERM
// that never finished).
TEST_F(ConnectionTest, ClientGoneWhileScheduledIsStillReaped) {
  ASSERT_TRUE(eventually([&] { return worker_->counters().curr_connections.get() == 1; }));
  std::string burst;
  for (int i = 0; i < 25; ++i) burst += echoFrame("x");  // budget is 20 per turn
  sendAll(burst);
  ::close(client_);
  client_ = -1;
  EXPECT_TRUE(eventually([&] { return worker_->counters().curr_connections.get() == 0; }));
  EXPECT_EQ(live_.load(), 0u);
}

TEST_F(ConnectionTest, PeerCloseReleasesEverything) {
  ASSERT_TRUE(eventually([&] { return worker_->counters().curr_connections.get() == 1; }));
  sendAll(echoFrame(std::string(50000, 'q')));
  ::close(client_);
  client_ = -1;
  EXPECT_TRUE(eventually([&] { return worker_->counters().curr_connections.get() == 0; }));
  EXPECT_EQ(worker_->counters().read_buffers_out.get(), 0u);
  EXPECT_EQ(live_.load(), 0u);
}

// Regression: shutdown used to destroy connections from inside the posted
// task, while later events of the same epoll batch still pointed at them
// (use after free, seen as SIGSEGV on SIGTERM with a half-sent request).
TEST(WorkerShutdownTest, ShutdownWhileEventsArePendingIsSafe) {
  ConnectionLimits limits;
  for (int round = 0; round < 100; ++round) {
    std::atomic<size_t> live{0};
    Worker worker(limits, 0, live);
    worker.setHandlerFactory([](Connection&) { return std::make_unique<EchoHandler>(); });
    worker.start();
    std::vector<int> clients;
    for (int i = 0; i < 4; ++i) {
      int fds[2];
      ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
      ::fcntl(fds[1], F_SETFL, O_NONBLOCK);
      live++;
      worker.adopt(fds[1]);
      clients.push_back(fds[0]);
    }
    // Hold the loop busy, queue the shutdown, then make every connection
    // readable, then let the loop go: its next epoll batch holds the wake-up
    // first and the connections' events after it.
    std::atomic<bool> busy{false};
    std::atomic<bool> release{false};
    worker.post([&] {
      busy = true;
      while (!release) std::this_thread::yield();
    });
    while (!busy) std::this_thread::yield();
    worker.shutdown(1000);
    for (int fd : clients) {
      const std::string half = echoFrame(std::string(100, 'h')).substr(0, 50);
      ASSERT_EQ(::send(fd, half.data(), half.size(), MSG_NOSIGNAL), 50);
    }
    release = true;
    worker.join();
    EXPECT_EQ(live.load(), 0u);
    for (int fd : clients) ::close(fd);
  }
}

class StallTimeoutConnectionTest : public ConnectionTest {
 protected:
  void SetUp() override {
    limits_.output_stall_timeout_ms = 300;
    ConnectionTest::SetUp();
  }
};

TEST_F(StallTimeoutConnectionTest, ClientThatStopsReadingIsDisconnectedAndReleased) {
  // 1 MiB of responses the client never reads: output stops moving.
  const std::string f = echoFrame(std::string(64 << 10, 's'));
  std::thread writer([&] {
    for (int i = 0; i < 16; ++i) {
      if (::send(client_, f.data(), f.size(), MSG_NOSIGNAL) <= 0) return;
    }
  });
  EXPECT_TRUE(eventually([&] { return worker_->counters().stall_disconnects.get() == 1; }, 5000));
  EXPECT_TRUE(eventually([&] { return worker_->counters().curr_connections.get() == 0; }));
  EXPECT_EQ(worker_->counters().read_buffers_out.get(), 0u);
  ::shutdown(client_, SHUT_RDWR);
  writer.join();
}

TEST_F(StallTimeoutConnectionTest, SlowButMovingReaderIsNotDisconnected) {
  const std::string f = echoFrame(std::string(64 << 10, 'm'));
  std::string all;
  for (int i = 0; i < 16; ++i) all += f;
  std::thread writer([&] { sendAll(all); });
  std::string got;
  char buf[4096];
  // Reads 4 KiB every 20 ms: slow, but progress well within the timeout.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (got.size() < all.size() && std::chrono::steady_clock::now() < deadline) {
    pollfd p{client_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = ::recv(client_, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  writer.join();
  EXPECT_EQ(got.size(), all.size());
  EXPECT_EQ(worker_->counters().stall_disconnects.get(), 0u);
}

class PoolLimitedConnectionTest : public ConnectionTest {
 protected:
  void SetUp() override {
    pool_read_limit_ = BufferPool::kBufferSize;  // one read buffer for the whole worker
    ConnectionTest::SetUp();
  }
};

TEST_F(PoolLimitedConnectionTest, ConnectionsWaitForAReadBufferInsteadOfFailing) {
  // Client A fills its output without reading, so it pauses while holding
  // the worker's only read buffer (its unhandled requests are in it).
  const std::string f = echoFrame(std::string(8 << 10, 'a'));
  std::string burst;
  for (int i = 0; i < 100; ++i) burst += f;
  std::thread writer([&] { sendAll(burst); });  // blocks while A is paused
  ASSERT_TRUE(eventually([&] { return worker_->counters().backpressure_pauses.get() > 0; }));
  // Client B must wait for a buffer, not fail.
  const int b = connectAnother();
  ASSERT_GE(b, 0);
  const std::string small = echoFrame("hello from b");
  ASSERT_EQ(::send(b, small.data(), small.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(small.size()));
  ASSERT_TRUE(eventually([&] { return worker_->counters().pool_exhausted.get() > 0; }));
  // A drains; its buffer goes back; B is served.
  EXPECT_EQ(readExactly(burst.size(), 20000), burst);
  writer.join();
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  char buf[256];
  while (got.size() < small.size() && std::chrono::steady_clock::now() < deadline) {
    pollfd p{b, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = ::recv(b, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(got, small);
  ::close(b);
}

// Sends all of bytes on a blocking socket.
bool sendOn(int fd, const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

class ReadBudgetConnectionTest : public ConnectionTest {
 protected:
  static constexpr size_t kFrame = 400 << 10;
  // Large frames may use 600 KiB of it: one fits, not two.
  static constexpr size_t kBudget = 800 << 10;
  void SetUp() override {
    read_budget_ = std::make_unique<ReadBudget>(kBudget);
    ConnectionTest::SetUp();
  }
};

TEST_F(ReadBudgetConnectionTest, LargeFrameBeyondTheBudgetWaitsThenCompletes) {
  std::string payload_a(kFrame, 'A'), payload_b(kFrame, 'B');
  const std::string a = echoFrame(payload_a), b = echoFrame(payload_b);
  // A sends 90% of its frame and stops: its exact-size block takes most of
  // the budget.
  ASSERT_TRUE(sendOn(client_, a.substr(0, a.size() * 9 / 10)));
  ASSERT_TRUE(eventually([&] { return worker_->counters().large_frame_bytes.get() == a.size(); }));
  // B announces a frame as large: there is no room for its block, so it
  // waits unread instead of failing or growing the server.
  const int other = connectAnother();
  ASSERT_GE(other, 0);
  ASSERT_TRUE(sendOn(other, b.substr(0, 100 << 10)));
  ASSERT_TRUE(eventually([&] { return worker_->counters().read_waits.get() >= 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a few worker ticks
  EXPECT_EQ(worker_->counters().large_frame_bytes.get(), a.size()) << "B got a block anyway";
  EXPECT_LE(read_budget_->peak(), kBudget);
  EXPECT_EQ(worker_->counters().curr_connections.get(), 2u);
  // A finishes: its block goes back and B, retried on the tick, completes.
  ASSERT_TRUE(sendOn(client_, a.substr(a.size() * 9 / 10)));
  EXPECT_EQ(readExactly(a.size(), 10000), a);
  std::thread rest([&] { sendOn(other, b.substr(100 << 10)); });
  EXPECT_EQ(readFrom(other, b.size(), 10000), b);
  rest.join();
  EXPECT_LE(read_budget_->peak(), kBudget);
  EXPECT_TRUE(eventually([&] { return worker_->counters().large_frame_bytes.get() == 0; }));
  ::close(other);
}

class ReadStallConnectionTest : public ConnectionTest {
 protected:
  void SetUp() override {
    limits_.read_stall_timeout_ms = 300;
    read_budget_ = std::make_unique<ReadBudget>(0);
    ConnectionTest::SetUp();
  }
};

TEST_F(ReadStallConnectionTest, PartialRequestThatStopsGrowingIsClosedAndCounted) {
  const std::string f = echoFrame(std::string(1000, 'z'));
  sendAll(f.substr(0, 100));
  EXPECT_TRUE(eventually([&] { return worker_->counters().read_stall_disconnects.get() == 1; }));
  EXPECT_TRUE(eventually([&] { return worker_->counters().curr_connections.get() == 0; }));
  EXPECT_EQ(worker_->counters().spill_bytes.get(), 0u);
  EXPECT_EQ(read_budget_->used(), 0u) << "the stalled request's bytes went back";
  char c;
  EXPECT_EQ(::recv(client_, &c, 1, 0), 0) << "the client sees the connection closed";
}

TEST_F(ReadStallConnectionTest, IdleOrSlowlyGrowingRequestsAreNotClosed) {
  // Idle between requests, several timeouts long.
  sendAll(echoFrame("first"));
  EXPECT_EQ(readExactly(9), echoFrame("first"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  // A request that keeps growing, more slowly than a whole timeout overall.
  const std::string f = echoFrame(std::string(100, 's'));
  for (size_t off = 0; off < f.size(); off += 10) {
    sendAll(f.substr(off, 10));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(readExactly(f.size()), f);
  EXPECT_EQ(worker_->counters().read_stall_disconnects.get(), 0u);
}

TEST_F(ReadStallConnectionTest, RequestHeldBackByTheServerIsNotClosed) {
  // PAUSE disables reading (a parked request): the partial request behind
  // it waits on the server, not on the client.
  EchoHandler::paused_connection.store(nullptr);
  const std::string next = echoFrame("after the pause");
  sendAll(echoFrame("PAUSE") + next.substr(0, 6));
  ASSERT_TRUE(eventually([&] { return EchoHandler::paused_connection.load() != nullptr; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  EXPECT_EQ(worker_->counters().read_stall_disconnects.get(), 0u);
  worker_->post([] { EchoHandler::paused_connection.load()->enableReading(); });
  sendAll(next.substr(6));
  EXPECT_EQ(readExactly(9 + next.size()), echoFrame("PAUSE") + next);
}

}  // namespace
}  // namespace memkv::net
