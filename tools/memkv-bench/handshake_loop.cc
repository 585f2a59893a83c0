#include "handshake_loop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "client_codec.h"
#include "protocol/opcode.h"
#include "worker.h"

namespace memkv::bench {
namespace {

constexpr int kMaxEvents = 256;
constexpr int kPollMillis = 10;
// Failures printed per thread; the rest are only counted.
constexpr int kFailuresShown = 3;

uint64_t threadCpuNanos() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

enum class Stage : uint8_t { kIdle, kConnecting, kHandshaking, kSendingNoop, kAwaitingNoop, kDead };

struct Cycle {
  int fd = -1;
  SslPtr ssl;
  Stage stage = Stage::kIdle;
  uint64_t started_ns = 0;
  uint8_t reply[mcbp::kHeaderSize];
  size_t received = 0;  // bytes of reply[] filled
};

class HandshakeLoop final {
 public:
  HandshakeLoop(const BenchOptions& options, const TlsClient& tls, const std::atomic<bool>& stop,
                int index)
      : options_(options),
        tls_(tls),
        stop_(stop),
        index_(index),
        cycles_(options.conns_per_thread) {}
  ~HandshakeLoop() {
    for (Cycle& c : cycles_) closeCycle(c);
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
  }

  void run();
  const RunStats& stats() const { return stats_; }

 private:
  bool mayStart() const {
    return budget_left_ > 0 && !stop_.load(std::memory_order_relaxed) &&
           monotonicNanos() < measure_end_ns_;
  }
  void start(size_t slot);
  void onEvent(size_t slot);
  void handshake(size_t slot);
  void sendNoop(size_t slot);
  void readReply(size_t slot);
  void complete(size_t slot);
  void watch(size_t slot, uint32_t events);
  void fail(size_t slot, bool protocol_error, const std::string& why);
  static void closeCycle(Cycle& c);

  const BenchOptions& options_;
  const TlsClient& tls_;
  const std::atomic<bool>& stop_;
  int index_;
  std::vector<Cycle> cycles_;
  int epoll_fd_ = -1;
  sockaddr_in address_{};
  RunStats stats_;
  uint64_t budget_left_ = UINT64_MAX;  // cycles still to start (--requests)
  uint64_t measure_start_ns_ = 0;
  uint64_t measure_end_ns_ = UINT64_MAX;
  uint64_t last_done_ns_ = 0;
  int failures_shown_ = 0;
};

void HandshakeLoop::closeCycle(Cycle& c) {
  if (c.fd < 0) return;
  c.ssl.reset();
  ::close(c.fd);
  c.fd = -1;
}

void HandshakeLoop::watch(size_t slot, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = slot;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, cycles_[slot].fd, &ev);
}

void HandshakeLoop::fail(size_t slot, bool protocol_error, const std::string& why) {
  Cycle& c = cycles_[slot];
  closeCycle(c);
  c.stage = Stage::kDead;
  ++(protocol_error ? stats_.protocol_errors : stats_.connection_errors);
  if (failures_shown_++ < kFailuresShown) {
    std::fprintf(stderr, "memkv-bench: thread %d: handshake cycle failed: %s\n", index_,
                 why.c_str());
  }
}

void HandshakeLoop::start(size_t slot) {
  Cycle& c = cycles_[slot];
  c.stage = Stage::kIdle;
  c.received = 0;
  if (!mayStart()) return;
  if (budget_left_ != UINT64_MAX) --budget_left_;
  c.started_ns = monotonicNanos();
  c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c.fd < 0) return fail(slot, false, std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(c.fd, reinterpret_cast<const sockaddr*>(&address_), sizeof address_) != 0 &&
      errno != EINPROGRESS) {
    return fail(slot, false, std::string("connect: ") + std::strerror(errno));
  }
  epoll_event ev{};
  ev.events = EPOLLOUT;
  ev.data.u64 = slot;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.fd, &ev);
  c.stage = Stage::kConnecting;
}

void HandshakeLoop::onEvent(size_t slot) {
  Cycle& c = cycles_[slot];
  switch (c.stage) {
    case Stage::kConnecting: {
      int error = 0;
      socklen_t length = sizeof error;
      getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &length);
      if (error != 0) return fail(slot, false, std::string("connect: ") + std::strerror(error));
      c.ssl = tls_.newSsl(c.fd);
      if (!c.ssl) return fail(slot, false, "SSL_new: " + tlsFailure(nullptr));
      c.stage = Stage::kHandshaking;
      return handshake(slot);
    }
    case Stage::kHandshaking:
      return handshake(slot);
    case Stage::kSendingNoop:
      return sendNoop(slot);
    case Stage::kAwaitingNoop:
      return readReply(slot);
    default:
      return;
  }
}

void HandshakeLoop::handshake(size_t slot) {
  Cycle& c = cycles_[slot];
  ERR_clear_error();
  errno = 0;
  const int ret = SSL_connect(c.ssl.get());
  if (ret == 1) {
    c.stage = Stage::kSendingNoop;
    return sendNoop(slot);
  }
  switch (tlsStep(c.ssl.get(), ret)) {
    case TlsStep::kWantRead:
      return watch(slot, EPOLLIN);
    case TlsStep::kWantWrite:
      return watch(slot, EPOLLOUT);
    default:
      return fail(slot, false, "TLS handshake: " + tlsFailure(c.ssl.get()));
  }
}

void HandshakeLoop::sendNoop(size_t slot) {
  Cycle& c = cycles_[slot];
  uint8_t noop[mcbp::kHeaderSize];
  encodeNoop(noop, static_cast<uint32_t>(slot));
  size_t written = 0;
  ERR_clear_error();
  errno = 0;
  // Retried with the same 24 bytes after a WANT_*, as OpenSSL requires
  // (24 bytes fit one record, so a success writes them all).
  if (SSL_write_ex(c.ssl.get(), noop, sizeof noop, &written) == 1) {
    c.stage = Stage::kAwaitingNoop;
    return watch(slot, EPOLLIN);
  }
  switch (tlsStep(c.ssl.get(), 0)) {
    case TlsStep::kWantRead:
      return watch(slot, EPOLLIN);
    case TlsStep::kWantWrite:
      return watch(slot, EPOLLOUT);
    default:
      return fail(slot, false, "TLS write: " + tlsFailure(c.ssl.get()));
  }
}

void HandshakeLoop::readReply(size_t slot) {
  Cycle& c = cycles_[slot];
  while (c.received < sizeof c.reply) {
    size_t n = 0;
    ERR_clear_error();
    errno = 0;
    if (SSL_read_ex(c.ssl.get(), c.reply + c.received, sizeof c.reply - c.received, &n) == 1) {
      c.received += n;
      continue;
    }
    switch (tlsStep(c.ssl.get(), 0)) {
      case TlsStep::kWantRead:
        return watch(slot, EPOLLIN);
      case TlsStep::kWantWrite:
        return watch(slot, EPOLLOUT | EPOLLIN);
      case TlsStep::kClosed:
        return fail(slot, false, "closed by server before the NOOP reply");
      default:
        return fail(slot, false, "TLS read: " + tlsFailure(c.ssl.get()));
    }
  }
  mcbp::ResponseHeader header;
  if (decodeResponseHeader(c.reply, &header) != ResponseMagic::kOk ||
      header.opcode != static_cast<uint8_t>(mcbp::Opcode::Noop) ||
      header.status != mcbp::Status::Success || header.body_length != 0 ||
      header.opaque != static_cast<uint32_t>(slot)) {
    return fail(slot, true, "the NOOP's reply is not a successful NOOP response");
  }
  complete(slot);
}

void HandshakeLoop::complete(size_t slot) {
  Cycle& c = cycles_[slot];
  const uint64_t now = monotonicNanos();
  last_done_ns_ = now;
  if (c.started_ns >= measure_start_ns_ && now <= measure_end_ns_) {
    ++stats_.handshakes;
    ++stats_.requests;
    stats_.latency.record(now - c.started_ns);
  }
  // close_notify if the socket takes it now (it has room: nothing else is
  // queued), then close; the next cycle starts at once.
  SSL_shutdown(c.ssl.get());
  closeCycle(c);
  start(slot);
}

void HandshakeLoop::run() {
  address_.sin_family = AF_INET;
  address_.sin_port = htons(options_.port);
  if (inet_pton(AF_INET, options_.host.c_str(), &address_.sin_addr) != 1) {
    std::fprintf(stderr, "memkv-bench: --handshakes needs an IPv4 address, got %s\n",
                 options_.host.c_str());
    ++stats_.connection_errors;
    return;
  }
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  const uint64_t now = monotonicNanos();
  const uint64_t hard_deadline = now + static_cast<uint64_t>(options_.timeout_s * 1e9);
  measure_start_ns_ = now + static_cast<uint64_t>(options_.warmup_s * 1e9);
  if (options_.requests > 0) {
    const auto threads = static_cast<uint64_t>(options_.threads);
    const auto index = static_cast<uint64_t>(index_);
    budget_left_ = options_.requests / threads + (index < options_.requests % threads ? 1 : 0);
  } else {
    measure_end_ns_ = measure_start_ns_ + static_cast<uint64_t>(options_.duration_s * 1e9);
  }
  for (size_t slot = 0; slot < cycles_.size(); ++slot) start(slot);

  uint64_t cpu_at_start = 0;
  bool cpu_started = false;
  epoll_event events[kMaxEvents];
  while (!stop_.load(std::memory_order_relaxed)) {
    const uint64_t t = monotonicNanos();
    if (t >= hard_deadline) {
      stats_.timed_out = true;
      std::fprintf(stderr, "memkv-bench: thread %d: --timeout reached\n", index_);
      break;
    }
    if (!cpu_started && t >= measure_start_ns_) {
      cpu_started = true;
      cpu_at_start = threadCpuNanos();
    }
    if (t >= measure_end_ns_) break;
    const bool active = std::any_of(cycles_.begin(), cycles_.end(), [](const Cycle& c) {
      return c.stage != Stage::kIdle && c.stage != Stage::kDead;
    });
    if (!active) break;
    const int n = epoll_wait(epoll_fd_, events, kMaxEvents, kPollMillis);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) onEvent(events[i].data.u64);
  }
  if (cpu_started) stats_.cpu_ns = threadCpuNanos() - cpu_at_start;
  const uint64_t end =
      options_.requests > 0 ? last_done_ns_ : std::min(monotonicNanos(), measure_end_ns_);
  if (end > measure_start_ns_) stats_.window_s = static_cast<double>(end - measure_start_ns_) / 1e9;
}

}  // namespace

RunStats runHandshakes(const BenchOptions& options, const TlsClient& tls,
                       const std::atomic<bool>& stop) {
  std::vector<std::unique_ptr<HandshakeLoop>> loops;
  for (int i = 0; i < options.threads; ++i) {
    loops.push_back(std::make_unique<HandshakeLoop>(options, tls, stop, i));
  }
  std::vector<std::thread> threads;
  for (auto& loop : loops) threads.emplace_back([&loop] { loop->run(); });
  for (std::thread& t : threads) t.join();
  RunStats total;
  for (const auto& loop : loops) total.merge(loop->stats());
  return total;
}

}  // namespace memkv::bench
