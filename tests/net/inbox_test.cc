// Cross-thread hand-over (docs/architecture.md invariant 2, seeds 000/001/004):
// producer threads push frames through Inboxes to connections that are
// serving requests at the same time. Run under TSan in CI: a producer that
// touched a connection's output or socket would be reported as a race.
#include "net/inbox.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/byte_order.h"
#include "echo_handler.h"
#include "net/worker.h"

namespace memkv::net {
namespace {

constexpr int kConnections = 100;
constexpr int kProducers = 8;
constexpr int kFramesTotal = 100'000;
constexpr int kEchoPerConnection = 50;

constexpr size_t kMaxFiller = 200;
constexpr size_t kMaxFrame = 4 + 1 + 1 + 4 + kMaxFiller - 1;

// A producer frame: [len][ 'P' producer seq(4) filler ].
Fragment makeFrame(int producer, uint32_t seq, size_t filler) {
  const size_t payload = 1 + 1 + 4 + filler;
  auto* bytes = new uint8_t[4 + payload];
  storeBe32(bytes, static_cast<uint32_t>(payload));
  bytes[4] = 'P';
  bytes[5] = static_cast<uint8_t>(producer);
  storeBe32(bytes + 6, seq);
  std::memset(bytes + 10, static_cast<int>(seq & 0xff), filler);
  return {bytes, 4 + payload, [](void* ctx) { delete[] static_cast<uint8_t*>(ctx); }, bytes};
}

struct Stream {
  int fd = -1;
  std::string pending;
  int echoes_seen = 0;
  std::map<int, uint32_t> next_seq;  // producer -> next expected sequence
  uint64_t producer_frames = 0;
  bool broken = false;
  std::string error;
};

// Parses whole frames out of what a client received, checking order.
void consume(Stream& s) {
  size_t off = 0;
  while (s.pending.size() - off >= 4) {
    const uint32_t len = loadBe32(reinterpret_cast<const uint8_t*>(s.pending.data() + off));
    if (s.pending.size() - off < 4 + len) break;
    const char* p = s.pending.data() + off + 4;
    if (p[0] == 'E') {
      const int n = std::stoi(std::string(p + 1, len - 1));
      if (n != s.echoes_seen) {
        s.broken = true;
        s.error = "echo out of order";
      }
      ++s.echoes_seen;
    } else if (p[0] == 'P') {
      const int producer = static_cast<uint8_t>(p[1]);
      const uint32_t seq = loadBe32(reinterpret_cast<const uint8_t*>(p + 2));
      for (uint32_t i = 6; i < len; ++i) {
        if (static_cast<uint8_t>(p[i]) != (seq & 0xff)) {
          s.broken = true;
          s.error = "producer frame corrupted";
        }
      }
      if (seq != s.next_seq[producer]) {
        s.broken = true;
        s.error = "producer frame out of order";
      }
      s.next_seq[producer] = seq + 1;
      ++s.producer_frames;
    } else {
      s.broken = true;
      s.error = "garbage in stream";
    }
    off += 4 + len;
  }
  s.pending.erase(0, off);
}

TEST(InboxTest, ProducersOnOtherThreadsDeliverCompleteOrderedFramesWithBackpressure) {
  ConnectionLimits limits;
  limits.inbox_budget = 8 << 10;  // small, so producers really meet it
  limits.output_high_watermark = 64 << 10;
  limits.output_low_watermark = 16 << 10;
  std::atomic<size_t> live{0};
  std::vector<std::unique_ptr<Worker>> workers;
  std::mutex mutex;
  std::map<int, int> index_of_server_fd;                      // guarded by mutex
  std::vector<std::shared_ptr<Inbox>> inboxes(kConnections);  // guarded by mutex
  int registered = 0;                                         // guarded by mutex
  std::condition_variable resumed;
  std::atomic<uint64_t> resumes{0};
  for (int w = 0; w < 2; ++w) {
    workers.push_back(std::make_unique<Worker>(limits, 0, live));
    workers.back()->setHandlerFactory([&](Connection& conn) {
      std::shared_ptr<Inbox> inbox = conn.inbox();  // on the owner thread
      inbox->setOnResume([&] {
        resumes++;
        resumed.notify_all();
      });
      std::lock_guard guard(mutex);
      inboxes[static_cast<size_t>(index_of_server_fd.at(conn.fd()))] = inbox;
      ++registered;
      return std::make_unique<EchoHandler>();
    });
    workers.back()->start();
  }
  std::vector<Stream> streams(kConnections);
  for (int i = 0; i < kConnections; ++i) {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    ::fcntl(fds[1], F_SETFL, O_NONBLOCK);
    ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
    live++;
    {
      std::lock_guard guard(mutex);
      index_of_server_fd[fds[1]] = i;
    }
    workers[i % 2]->adopt(fds[1]);
    streams[static_cast<size_t>(i)].fd = fds[0];
  }
  // Each connection registers its Inbox from its owner thread; wait for all.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    std::lock_guard guard(mutex);
    if (registered == kConnections) break;
  }
  std::vector<std::shared_ptr<Inbox>> targets;
  {
    std::lock_guard guard(mutex);
    ASSERT_EQ(registered, kConnections);
    targets = inboxes;
  }
  // The client side reads with a slow start so output and Inboxes fill up.
  std::atomic<bool> producers_done{false};
  std::vector<std::vector<uint32_t>> sent(kConnections, std::vector<uint32_t>(kProducers, 0));
  std::atomic<uint64_t> paused_pushes{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      std::mt19937 rng(static_cast<unsigned>(p));
      std::vector<uint32_t> seq(kConnections, 0);
      for (int i = 0; i < kFramesTotal / kProducers; ++i) {
        const int c = static_cast<int>(rng() % kConnections);
        Inbox& inbox = *targets[static_cast<size_t>(c)];
        const Inbox::Push r =
            inbox.push(makeFrame(p, seq[static_cast<size_t>(c)]++, rng() % kMaxFiller));
        if (r == Inbox::Push::kPause) {
          paused_pushes++;
          // Honour the pause strictly: push again only once the owner has
          // drained the Inbox to where it resumes producers (re-checked every
          // 10 ms, as a resume notified between check and wait is missed).
          std::unique_lock lock(mutex);
          while (inbox.queuedBytes() > limits.inbox_budget / 2) {
            resumed.wait_for(lock, std::chrono::milliseconds(10));
          }
        }
        ASSERT_NE(r, Inbox::Push::kClosed);
      }
      std::lock_guard guard(mutex);
      for (int c = 0; c < kConnections; ++c)
        sent[static_cast<size_t>(c)][static_cast<size_t>(p)] = seq[static_cast<size_t>(c)];
    });
  }
  // Each client sends its echo requests, then reads everything.
  for (int i = 0; i < kConnections; ++i) {
    std::string reqs;
    for (int n = 0; n < kEchoPerConnection; ++n) {
      const std::string payload = "E" + std::to_string(n);
      std::string f(4, '\0');
      storeBe32(reinterpret_cast<uint8_t*>(f.data()), static_cast<uint32_t>(payload.size()));
      reqs += f + payload;
    }
    ASSERT_EQ(::send(streams[static_cast<size_t>(i)].fd, reqs.data(), reqs.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(reqs.size()));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let Inboxes fill
  std::thread reader([&] {
    std::vector<pollfd> fds;
    for (auto& s : streams) fds.push_back({s.fd, POLLIN, 0});
    char buf[65536];
    const auto stop = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    uint64_t expected_total = kFramesTotal;
    while (std::chrono::steady_clock::now() < stop) {
      uint64_t got = 0;
      bool echoes_done = true;
      for (auto& s : streams) {
        got += s.producer_frames;
        echoes_done = echoes_done && s.echoes_seen == kEchoPerConnection;
      }
      if (producers_done && got == expected_total && echoes_done) break;
      if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
      for (size_t i = 0; i < fds.size(); ++i) {
        if (!(fds[i].revents & POLLIN)) continue;
        const ssize_t n = ::recv(fds[i].fd, buf, sizeof buf, 0);
        if (n > 0) {
          streams[i].pending.append(buf, static_cast<size_t>(n));
          consume(streams[i]);
        }
      }
    }
  });
  for (auto& t : producers) t.join();
  producers_done = true;
  reader.join();

  uint64_t delivered = 0;
  for (int i = 0; i < kConnections; ++i) {
    const Stream& s = streams[static_cast<size_t>(i)];
    EXPECT_FALSE(s.broken) << "connection " << i << ": " << s.error;
    EXPECT_EQ(s.echoes_seen, kEchoPerConnection) << "connection " << i;
    for (int p = 0; p < kProducers; ++p) {
      auto it = s.next_seq.find(p);
      const uint32_t got = it == s.next_seq.end() ? 0 : it->second;
      EXPECT_EQ(got, sent[static_cast<size_t>(i)][static_cast<size_t>(p)])
          << "connection " << i << " producer " << p;
    }
    delivered += s.producer_frames;
  }
  EXPECT_EQ(delivered, static_cast<uint64_t>(kFramesTotal));
  // Producers that honour kPause keep each Inbox within its budget plus the
  // one frame each of them may push before it sees the pause (a push is
  // accepted, then answered kPause). One that ignored kPause would queue
  // everything the slow client has not read yet.
  const size_t bound = limits.inbox_budget + kProducers * kMaxFrame;
  for (int i = 0; i < kConnections; ++i) {
    EXPECT_LE(targets[static_cast<size_t>(i)]->peakQueuedBytes(), bound) << "connection " << i;
  }
  EXPECT_GT(paused_pushes.load(), 0u) << "producers never met the Inbox budget";
  EXPECT_GT(resumes.load(), 0u) << "no paused producer was ever resumed by the owner";
  for (auto& s : streams) ::close(s.fd);
  for (auto& w : workers) w->shutdown(1000);
  for (auto& w : workers) w->join();
  EXPECT_EQ(live.load(), 0u);
}

TEST(InboxTest, PushAfterTheConnectionClosedIsRefusedAndReleased) {
  ConnectionLimits limits;
  std::atomic<size_t> live{0};
  Worker worker(limits, 0, live);
  std::promise<std::shared_ptr<Inbox>> got;
  worker.setHandlerFactory([&](Connection& conn) {
    got.set_value(conn.inbox());
    return std::make_unique<EchoHandler>();
  });
  worker.start();
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  ::fcntl(fds[1], F_SETFL, O_NONBLOCK);
  live++;
  worker.adopt(fds[1]);
  std::shared_ptr<Inbox> inbox = got.get_future().get();
  ::close(fds[0]);  // the client goes away
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (live.load() != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(live.load(), 0u);
  static std::atomic<int> released{0};
  auto* bytes = new uint8_t[10]();
  const Fragment f{bytes, 10,
                   [](void* ctx) {
                     released++;
                     delete[] static_cast<uint8_t*>(ctx);
                   },
                   bytes};
  EXPECT_EQ(inbox->push(f), Inbox::Push::kClosed);
  EXPECT_EQ(released.load(), 1);
  worker.shutdown(100);
  worker.join();
}

TEST(InboxTest, ConnectionLetsGoOfAnIdleInboxAndMakesANewOneWhenNeeded) {
  ConnectionLimits limits;
  std::atomic<size_t> live{0};
  Worker worker(limits, 0, live);
  std::promise<Connection*> adopted;
  worker.setHandlerFactory([&](Connection& conn) {
    adopted.set_value(&conn);
    return std::make_unique<EchoHandler>();
  });
  worker.start();
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  ::fcntl(fds[1], F_SETFL, O_NONBLOCK);
  live++;
  worker.adopt(fds[1]);
  Connection* conn = adopted.get_future().get();
  const auto inboxOnOwner = [&] {
    std::promise<std::shared_ptr<Inbox>> p;
    worker.post([&] { p.set_value(conn->inbox()); });
    return p.get_future().get();
  };
  const auto waitFor = [&](uint64_t inboxes) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (worker.counters().inboxes.get() != inboxes &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return worker.counters().inboxes.get() == inboxes;
  };
  const auto receive = [&](const std::string& want) {
    std::string got;
    char buf[256];
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (got.size() < want.size() && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fds[0], POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const ssize_t n = ::recv(fds[0], buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    return got;
  };
  for (int round = 0; round < 2; ++round) {
    std::shared_ptr<Inbox> inbox = inboxOnOwner();  // a producer takes it
    ASSERT_TRUE(waitFor(1));
    const std::string frame = "round" + std::to_string(round);
    auto* bytes = new uint8_t[frame.size()];
    std::memcpy(bytes, frame.data(), frame.size());
    ASSERT_NE(inbox->push({bytes, frame.size(),
                           [](void* ctx) { delete[] static_cast<uint8_t*>(ctx); }, bytes}),
              Inbox::Push::kClosed);
    EXPECT_EQ(receive(frame), frame);
    // Held by a producer: kept, even though it is empty.
    std::this_thread::sleep_for(std::chrono::milliseconds(600));  // two worker ticks
    EXPECT_EQ(worker.counters().inboxes.get(), 1u);
    inbox.reset();  // the producer is done
    EXPECT_TRUE(waitFor(0)) << "an idle connection still holds its Inbox";
  }
  ::close(fds[0]);
  worker.shutdown(100);
  worker.join();
  EXPECT_EQ(worker.counters().inboxes.get(), 0u);
}

// Output a background producer queued that waits on a full socket shows in
// the worker's output_queued (STAT output_bytes_queued): it was missed when
// the flush stopped at EAGAIN, so a stalled range scan looked like no output.
TEST(InboxTest, OutputWaitingOnAFullSocketIsCountedAsQueued) {
  ConnectionLimits limits;
  std::atomic<size_t> live{0};
  Worker worker(limits, 0, live);
  std::promise<Connection*> adopted;
  worker.setHandlerFactory([&](Connection& conn) {
    adopted.set_value(&conn);
    return std::make_unique<EchoHandler>();
  });
  worker.start();
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  ::fcntl(fds[1], F_SETFL, O_NONBLOCK);
  const int sndbuf = 16 << 10;
  ::setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  live++;
  worker.adopt(fds[1]);
  Connection* conn = adopted.get_future().get();
  std::promise<std::shared_ptr<Inbox>> taken;
  worker.post([&] { taken.set_value(conn->inbox()); });
  std::shared_ptr<Inbox> inbox = taken.get_future().get();
  // One 512 KiB frame the client never reads: far beyond the socket's
  // buffers, and one delivery (a second one would report it in passing).
  constexpr size_t kFrame = 512 << 10;
  auto* bytes = new uint8_t[kFrame]();
  ASSERT_NE(
      inbox->push({bytes, kFrame, [](void* ctx) { delete[] static_cast<uint8_t*>(ctx); }, bytes}),
      Inbox::Push::kClosed);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (worker.counters().output_queued.get() < kFrame / 2 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(worker.counters().output_queued.get(), kFrame / 2);
  inbox.reset();
  ::close(fds[0]);
  worker.shutdown(100);
  worker.join();
  EXPECT_EQ(worker.counters().output_queued.get(), 0u);
}

}  // namespace
}  // namespace memkv::net
