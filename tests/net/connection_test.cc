// The net layer end to end over a socketpair: a Worker owns the server side,
// the test plays the client. The handler echoes length-prefixed frames.
#include "net/connection.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "common/byte_order.h"
#include "net/worker.h"

namespace memkv::net {
namespace {

class EchoHandler final : public ConnectionHandler {
 public:
  InputResult onInput(Connection& conn, std::span<const uint8_t> input,
                      size_t max_frames) override {
    InputResult r;
    while (r.frames < max_frames && !conn.outputFull()) {
      auto rest = input.subspan(r.consumed);
      if (rest.size() < 4) break;
      const size_t frame = 4 + loadBe32(rest.data());
      if (rest.size() < frame) {
        r.next_frame_size = frame;
        break;
      }
      if (!conn.output().appendCopy(rest.first(frame))) conn.closeNow();
      r.consumed += frame;
      ++r.frames;
    }
    return r;
  }
};

std::string frame(const std::string& payload) {
  std::string f(4, '\0');
  storeBe32(reinterpret_cast<uint8_t*>(f.data()), static_cast<uint32_t>(payload.size()));
  return f + payload;
}

class ConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    limits_.output_high_watermark = 256 << 10;
    limits_.output_low_watermark = 64 << 10;
    worker_ = std::make_unique<Worker>(limits_, 0, live_);
    worker_->setHandlerFactory([](Connection&) { return std::make_unique<EchoHandler>(); });
    worker_->start();
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    client_ = fds[0];
    ::fcntl(fds[1], F_SETFL, O_NONBLOCK);
    live_++;
    worker_->adopt(fds[1]);
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
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    char buf[65536];
    while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
      pollfd p{client_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const ssize_t got = ::recv(client_, buf, std::min(sizeof buf, n - out.size()), 0);
      if (got <= 0) break;
      out.append(buf, static_cast<size_t>(got));
    }
    return out;
  }
  template <typename Pred>
  bool eventually(Pred pred, int timeout_ms = 3000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return pred();
  }

  ConnectionLimits limits_;
  std::atomic<size_t> live_{0};
  std::unique_ptr<Worker> worker_;
  int client_ = -1;
};

TEST_F(ConnectionTest, PipelinedFramesAreAnsweredInOrder) {
  std::string all;
  for (int i = 0; i < 1000; ++i) all += frame("request-" + std::to_string(i));
  sendAll(all);
  EXPECT_EQ(readExactly(all.size()), all);
}

TEST_F(ConnectionTest, FrameLargerThanAPoolBufferArrivesWhole) {
  std::string payload(300 << 10, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 31);
  const std::string f = frame(payload);
  // Sent in pieces, with pauses, so the server sees it grow.
  for (size_t off = 0; off < f.size(); off += 70000) {
    sendAll(f.substr(off, 70000));
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(readExactly(f.size()), f);
  EXPECT_TRUE(eventually([&] { return worker_->counters().large_frame_bytes.get() == 0; }));
}

TEST_F(ConnectionTest, StalledHalfRequestHoldsNoPoolBuffer) {
  const std::string f = frame(std::string(1000, 'z'));
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

TEST_F(ConnectionTest, IdleConnectionHoldsNoBuffers) {
  sendAll(frame("x"));
  EXPECT_EQ(readExactly(5), frame("x"));
  EXPECT_TRUE(eventually([&] {
    return worker_->counters().read_buffers_out.get() == 0 &&
           worker_->counters().spill_bytes.get() == 0;
  }));
}

TEST_F(ConnectionTest, ClientThatDoesNotReadIsPausedNotBuffered) {
  // 8 MiB of requests while the client reads nothing: the server must stop
  // handling requests once its output passes the high watermark.
  const std::string f = frame(std::string(16 << 10, 'p'));
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

TEST_F(ConnectionTest, PeerCloseReleasesEverything) {
  ASSERT_TRUE(eventually([&] { return worker_->counters().curr_connections.get() == 1; }));
  sendAll(frame(std::string(50000, 'q')));
  ::close(client_);
  client_ = -1;
  EXPECT_TRUE(eventually([&] { return worker_->counters().curr_connections.get() == 0; }));
  EXPECT_EQ(worker_->counters().read_buffers_out.get(), 0u);
  EXPECT_EQ(live_.load(), 0u);
}

}  // namespace
}  // namespace memkv::net
