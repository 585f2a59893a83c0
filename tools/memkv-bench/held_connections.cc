#include "held_connections.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "client_codec.h"
#include "key_chooser.h"
#include "protocol/limits.h"
#include "worker.h"

namespace memkv::bench {
namespace {

// Connects in flight at once: below the server's listen backlog, so a burst
// does not overflow it and stall on SYN retransmits.
constexpr size_t kConnectWindow = 256;
constexpr int kMaxEvents = 512;

enum class HeldState : uint8_t { kConnecting, kHandshaking, kAwaitingNoop, kReady, kFailed };

struct HeldConnection {
  int fd = -1;
  SslPtr ssl;  // --tls only
  bool stall = false;
  HeldState state = HeldState::kConnecting;
  size_t received = 0;
  size_t stall_sent = 0;  // bytes of the stalled SET written so far
};

class Holder final {
 public:
  Holder(const BenchOptions& options, const TlsClient* tls, const std::atomic<bool>& stop)
      : options_(options), tls_(tls), stop_(stop) {}
  ~Holder() {
    for (const HeldConnection& c : conns_) {
      if (c.fd >= 0) ::close(c.fd);
    }
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
  }

  int run();

 private:
  bool startConnect(size_t slot);
  void onEvent(size_t slot, uint32_t events);
  void handshake(HeldConnection& c);
  void sendFirstBytes(HeldConnection& c);
  void watch(HeldConnection& c, uint32_t events);
  // What arrived: recv, or SSL_read under --tls. <= 0: closed or failed
  // (errno or the TLS reason in *why); nothing to read yet: returns -1 with
  // *again set.
  ssize_t receive(HeldConnection& c, uint8_t* buffer, size_t size, bool* again, std::string* why);
  // Writes what the socket takes of the stalled SET; false if it broke.
  bool sendStallBytes(HeldConnection& c);
  void fail(HeldConnection& c, const char* why, int error);
  bool pump(uint64_t deadline_ns);

  const BenchOptions& options_;
  const TlsClient* tls_;
  const std::atomic<bool>& stop_;
  int epoll_fd_ = -1;
  sockaddr_in address_{};
  std::vector<HeldConnection> conns_;
  size_t next_connect_ = 0;  // connections below this have been started
  size_t connecting_ = 0;    // connects and TLS handshakes in flight
  size_t settled_ = 0;       // ready or failed
  size_t failed_ = 0;
  size_t closed_by_server_ = 0;
  std::vector<uint8_t> stall_prefix_;  // a stalled SET's header, extras and key
  size_t stall_total_ = 0;             // the bytes each stalled SET sends
};

bool Holder::startConnect(size_t slot) {
  HeldConnection& c = conns_[slot];
  c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c.fd < 0) {
    fail(c, "socket", errno);
    return false;
  }
  if (::connect(c.fd, reinterpret_cast<const sockaddr*>(&address_), sizeof address_) != 0 &&
      errno != EINPROGRESS) {
    fail(c, "connect", errno);
    return false;
  }
  epoll_event ev{};
  ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
  ev.data.u64 = slot;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c.fd, &ev);
  ++connecting_;
  return true;
}

void Holder::fail(HeldConnection& c, const char* why, int error) {
  if (c.state == HeldState::kConnecting || c.state == HeldState::kHandshaking) --connecting_;
  if (c.state == HeldState::kReady) {
    ++closed_by_server_;
  } else if (c.state != HeldState::kFailed) {
    ++failed_;
    ++settled_;
    if (failed_ <= 5) {
      std::fprintf(stderr, "memkv-bench: held connection: %s%s%s\n", why, error ? ": " : "",
                   error ? std::strerror(error) : "");
    }
  }
  c.state = HeldState::kFailed;
  c.ssl.reset();
  if (c.fd >= 0) ::close(c.fd);
  c.fd = -1;
}

void Holder::watch(HeldConnection& c, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = static_cast<size_t>(&c - conns_.data());
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
}

void Holder::handshake(HeldConnection& c) {
  ERR_clear_error();
  errno = 0;
  const int ret = SSL_connect(c.ssl.get());
  if (ret == 1) {
    --connecting_;
    return sendFirstBytes(c);
  }
  switch (tlsStep(c.ssl.get(), ret)) {
    case TlsStep::kWantRead:
      return watch(c, EPOLLIN | EPOLLRDHUP);
    case TlsStep::kWantWrite:
      return watch(c, EPOLLOUT | EPOLLIN | EPOLLRDHUP);
    default:
      return fail(c, ("TLS handshake: " + tlsFailure(c.ssl.get())).c_str(), 0);
  }
}

ssize_t Holder::receive(HeldConnection& c, uint8_t* buffer, size_t size, bool* again,
                        std::string* why) {
  *again = false;
  if (!c.ssl) {
    const ssize_t n = ::recv(c.fd, buffer, size, 0);
    *again = n < 0 && (errno == EAGAIN || errno == EINTR);
    return n;
  }
  size_t got = 0;
  ERR_clear_error();
  errno = 0;
  if (SSL_read_ex(c.ssl.get(), buffer, size, &got) == 1) return static_cast<ssize_t>(got);
  switch (tlsStep(c.ssl.get(), 0)) {
    case TlsStep::kWantRead:
    case TlsStep::kWantWrite:  // an idle client's socket has room: the next event retries
      *again = true;
      return -1;
    case TlsStep::kClosed:
      return 0;
    default:
      *why = "TLS read: " + tlsFailure(c.ssl.get());
      return -1;
  }
}

bool Holder::sendStallBytes(HeldConnection& c) {
  static const std::vector<uint8_t> filler(64 << 10, 0x5a);
  while (c.stall_sent < stall_total_) {
    const uint8_t* from;
    size_t size;
    if (c.stall_sent < stall_prefix_.size()) {
      from = stall_prefix_.data() + c.stall_sent;
      size = stall_prefix_.size() - c.stall_sent;
    } else {
      from = filler.data();
      size = std::min(filler.size(), stall_total_ - c.stall_sent);
    }
    const ssize_t n = ::send(c.fd, from, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
    if (n <= 0) {
      fail(c, "write", n < 0 ? errno : 0);
      return false;
    }
    c.stall_sent += static_cast<size_t>(n);
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  if (c.stall_sent < stall_total_) ev.events |= EPOLLOUT;
  ev.data.u64 = static_cast<size_t>(&c - conns_.data());
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
  return true;
}

void Holder::sendFirstBytes(HeldConnection& c) {
  if (c.stall) {
    if (!sendStallBytes(c)) return;
    if (c.stall_sent == 0) return fail(c, "first write", 0);
  } else if (c.ssl) {
    uint8_t bytes[mcbp::kHeaderSize];
    encodeNoop(bytes, 1);
    // One record into an empty socket buffer: it goes whole, or the connection is broken.
    size_t written = 0;
    ERR_clear_error();
    errno = 0;
    if (SSL_write_ex(c.ssl.get(), bytes, sizeof bytes, &written) != 1) {
      return fail(c, ("first write: " + tlsFailure(c.ssl.get())).c_str(), 0);
    }
    watch(c, EPOLLIN | EPOLLRDHUP);
  } else {
    uint8_t bytes[mcbp::kHeaderSize];
    encodeNoop(bytes, 1);
    // Small enough for an empty socket buffer: one send, or the connection is broken.
    const ssize_t n = ::send(c.fd, bytes, sizeof bytes, MSG_NOSIGNAL);
    if (n != static_cast<ssize_t>(sizeof bytes)) return fail(c, "first write", n < 0 ? errno : 0);
    watch(c, EPOLLIN | EPOLLRDHUP);
  }
  if (c.stall) {
    c.state = HeldState::kReady;
    ++settled_;
  } else {
    c.state = HeldState::kAwaitingNoop;
  }
}

void Holder::onEvent(size_t slot, uint32_t events) {
  HeldConnection& c = conns_[slot];
  if (c.fd < 0) return;
  if (c.state == HeldState::kConnecting) {
    int error = 0;
    socklen_t length = sizeof error;
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) return fail(c, "connect", error);
    if (tls_ == nullptr) {
      --connecting_;
      return sendFirstBytes(c);
    }
    c.ssl = tls_->newSsl(c.fd);
    if (!c.ssl) return fail(c, "SSL_new", 0);
    c.state = HeldState::kHandshaking;
    return handshake(c);
  }
  if (c.state == HeldState::kHandshaking) return handshake(c);
  if ((events & EPOLLOUT) && c.stall && c.stall_sent < stall_total_ && !sendStallBytes(c)) return;
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) == 0) return;
  uint8_t buffer[512];
  bool again = false;
  std::string why;
  const ssize_t n = receive(c, buffer, sizeof buffer, &again, &why);
  if (again) return;
  if (!why.empty()) return fail(c, why.c_str(), 0);
  if (n <= 0) return fail(c, "closed by server", n < 0 ? errno : 0);
  if (c.state != HeldState::kAwaitingNoop) return;  // unexpected bytes: keep holding
  c.received += static_cast<size_t>(n);
  if (c.received >= mcbp::kHeaderSize) {
    c.state = HeldState::kReady;
    ++settled_;
  }
}

// Runs the event loop until deadline_ns or stop; while connections are still
// being set up, also returns once every one has settled.
bool Holder::pump(uint64_t deadline_ns) {
  epoll_event events[kMaxEvents];
  const bool setting_up = settled_ < conns_.size();
  while (!stop_.load(std::memory_order_relaxed) && monotonicNanos() < deadline_ns) {
    while (connecting_ < kConnectWindow && next_connect_ < conns_.size()) {
      startConnect(next_connect_++);
    }
    if (setting_up && settled_ == conns_.size()) return true;
    const int n = epoll_wait(epoll_fd_, events, kMaxEvents, 50);
    for (int i = 0; i < n; ++i) onEvent(events[i].data.u64, events[i].events);
  }
  return !setting_up;
}

int Holder::run() {
  address_.sin_family = AF_INET;
  address_.sin_port = htons(options_.port);
  if (inet_pton(AF_INET, options_.host.c_str(), &address_.sin_addr) != 1) {
    std::fprintf(stderr, "memkv-bench: hold modes need an IPv4 address, got %s\n",
                 options_.host.c_str());
    return 1;
  }
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (options_.stall_conns > 0) {
    char key[256];
    const size_t key_length = formatKey(options_.key_prefix, 0, key, options_.key_digits);
    const std::string_view key_view(key, key_length);
    if (options_.protocol == Protocol::kText) {
      const std::string line = "set " + std::string(key_view) + " 0 0 " +
                               std::to_string(options_.stall_value_size) + "\r\n";
      stall_prefix_.assign(line.begin(), line.end());
    } else {
      stall_prefix_.resize(setPrefixSize(key_view));
      encodeSetPrefix(stall_prefix_.data(), key_view, options_.stall_value_size, 0, 1);
    }
    stall_total_ =
        stall_prefix_.size() + size_t{options_.stall_value_size} * options_.stall_percent / 100;
  }
  conns_.resize(options_.idle_conns + options_.stall_conns);
  for (size_t i = options_.idle_conns; i < conns_.size(); ++i) conns_[i].stall = true;

  const uint64_t start = monotonicNanos();
  const uint64_t setup_deadline = start + static_cast<uint64_t>(options_.timeout_s * 1e9);
  if (!pump(setup_deadline)) {
    std::fprintf(stderr, "memkv-bench: setting up held connections timed out (%zu of %zu)\n",
                 settled_, conns_.size());
    return 1;
  }
  const double setup_s = static_cast<double>(monotonicNanos() - start) / 1e9;
  std::printf("READY idle=%llu stall=%llu failed=%zu setup_s=%.2f\n",
              static_cast<unsigned long long>(options_.idle_conns),
              static_cast<unsigned long long>(options_.stall_conns), failed_, setup_s);
  std::fflush(stdout);
  pump(monotonicNanos() + static_cast<uint64_t>(options_.duration_s * 1e9));
  std::printf("DONE held=%zu failed=%zu closed_by_server=%zu\n",
              conns_.size() - failed_ - closed_by_server_, failed_, closed_by_server_);
  return failed_ + closed_by_server_ > 0 ? 1 : 0;
}

}  // namespace

int holdConnections(const BenchOptions& options, const TlsClient* tls,
                    const std::atomic<bool>& stop) {
  Holder holder(options, tls, stop);
  return holder.run();
}

}  // namespace memkv::bench
