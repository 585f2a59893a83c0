// Helpers for hostile-client tests: random bytes and frames, abortive closes, a tolerant
// response parser (classic 0x81 and alternative 0x18 responses), and a verified SET/GET round
// trip used to prove that other clients are unaffected. Header-only.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cerrno>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>
#include <utility>

#include "support/mcbp.h"
#include "support/mcbp_client.h"

namespace memkv::test {

inline constexpr uint8_t kAltRequestMagic = 0x08;
inline constexpr uint8_t kAltResponseMagic = 0x18;

// The seed of a randomized test: MEMKV_TEST_SEED if set, else a fresh random one. Tests print
// it so that a failure can be replayed.
inline uint64_t testSeed() {
  if (const char* s = std::getenv("MEMKV_TEST_SEED"); s != nullptr && *s != '\0') {
    return std::strtoull(s, nullptr, 0);
  }
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

inline std::string randomBytes(std::mt19937_64& rng, std::size_t n) {
  std::string s(n, '\0');
  std::size_t i = 0;
  while (i < n) {
    uint64_t x = rng();
    for (int b = 0; b < 8 && i < n; ++b, ++i) {
      s[i] = static_cast<char>(x & 0xff);
      x >>= 8;
    }
  }
  return s;
}

inline uint64_t uniform(std::mt19937_64& rng, uint64_t lo, uint64_t hi) {
  return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
}

inline bool chance(std::mt19937_64& rng, unsigned per_mille) {
  return uniform(rng, 0, 999) < per_mille;
}

// Closes with SO_LINGER {1, 0}: the kernel sends a RST instead of a FIN and drops unsent data.
inline void resetClose(int fd) {
  if (fd < 0) return;
  const linger lg{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  ::close(fd);
}

inline void resetClose(McbpClient& c) {
  if (!c.connected()) return;
  const linger lg{1, 0};
  ::setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  c.close();
}

// A non-blocking TCP_NODELAY connection to 127.0.0.1:port, or -1.
inline int connectRaw(uint16_t port, std::chrono::milliseconds timeout) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  if (rc < 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof err;
    rc = ::poll(&p, 1, static_cast<int>(timeout.count())) == 1 &&
                 ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0
             ? 0
             : -1;
  }
  if (rc < 0) {
    ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

enum class SendResult { kSent, kClosed, kTimeout };

// Writes all of `bytes` to a (non-blocking) socket. kClosed: the peer closed or reset the
// connection (EPIPE, ECONNRESET); kTimeout: the peer stopped reading for `timeout` without
// closing.
inline SendResult sendAll(int fd, std::string_view bytes, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
      if (left <= 0) return SendResult::kTimeout;
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, static_cast<int>(left));
      continue;
    }
    return SendResult::kClosed;
  }
  return SendResult::kSent;
}

// Incremental parser of server output that accepts both response formats. A byte sequence
// that is neither is "malformed" (a server bug: a reply must always be a proper response).
class AnyResponseStream {
 public:
  void append(const char* data, std::size_t n) {
    if (off_ == buf_.size()) {
      buf_.clear();
      off_ = 0;
    } else if (off_ > (1u << 20)) {
      buf_.erase(0, off_);
      off_ = 0;
    }
    buf_.append(data, n);
  }

  bool pop(Response* out) {
    if (malformed_) return false;
    const std::string_view avail = std::string_view(buf_).substr(off_);
    if (avail.size() < kHeaderSize) return false;
    const auto magic = static_cast<uint8_t>(avail[0]);
    std::size_t framing = 0;
    std::size_t key_len = 0;
    if (magic == kResponseMagic) {
      key_len = readBe16(avail.substr(2));
    } else if (magic == kAltResponseMagic) {
      framing = static_cast<uint8_t>(avail[2]);
      key_len = static_cast<uint8_t>(avail[3]);
    } else {
      malformed_ = true;
      return false;
    }
    const std::size_t ext_len = static_cast<uint8_t>(avail[4]);
    const std::size_t body_len = readBe32(avail.substr(8));
    if (framing + ext_len + key_len > body_len) {
      malformed_ = true;
      return false;
    }
    if (avail.size() < kHeaderSize + body_len) return false;
    Response r;
    r.magic = magic;
    r.opcode = static_cast<uint8_t>(avail[1]);
    r.data_type = static_cast<uint8_t>(avail[5]);
    r.status = readBe16(avail.substr(6));
    r.opaque = readBe32(avail.substr(12));
    r.cas = readBe64(avail.substr(16));
    const std::string_view body = avail.substr(kHeaderSize + framing, body_len - framing);
    r.extras = body.substr(0, ext_len);
    r.key = body.substr(ext_len, key_len);
    r.value = body.substr(ext_len + key_len);
    off_ += kHeaderSize + body_len;
    *out = std::move(r);
    return true;
  }

  bool malformed() const { return malformed_; }
  std::string_view head() const { return std::string_view(buf_).substr(off_, 32); }

 private:
  std::string buf_;
  std::size_t off_ = 0;
  bool malformed_ = false;
};

enum class DrainResult { kClosed, kDone, kTimeout, kError };

// Reads what the server sends on fd into `stream` until the server closes or resets the
// connection (kClosed), `done()` returns true (kDone; checked before every read), `timeout`
// passes (kTimeout) or a local socket error occurs (kError).
template <typename Until>
DrainResult drain(int fd, AnyResponseStream& stream, std::chrono::milliseconds timeout,
                  Until done) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[16384];
  for (;;) {
    if (done()) return DrainResult::kDone;
    const ssize_t got = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (got > 0) {
      stream.append(buf, static_cast<std::size_t>(got));
      continue;
    }
    if (got == 0) return DrainResult::kClosed;
    if (errno == EINTR) continue;
    if (errno == ECONNRESET || errno == EPIPE) return DrainResult::kClosed;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return DrainResult::kError;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) return DrainResult::kTimeout;
    pollfd p{fd, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(left));
  }
}

// Deterministic value for (tag, version): its size and bytes both depend on the pair.
inline std::string versionedValue(const std::string& tag, uint64_t version, std::size_t size) {
  std::mt19937_64 g(std::hash<std::string>{}(tag) ^ (version * 0x9E3779B97F4A7C15ull));
  std::string v = tag + "#" + std::to_string(version) + "#";
  v += randomBytes(g, size > v.size() ? size - v.size() : 0);
  return v;
}

// SET of a random value (random flags) under `key`, then GET, compared byte for byte. Returns
// "" on success, else what went wrong. Never throws.
inline std::string verifiedSetGet(McbpClient& c, const std::string& key, std::mt19937_64& rng,
                                  std::size_t max_size = 4096) {
  const std::string value = randomBytes(rng, uniform(rng, 0, max_size));
  const auto flags = static_cast<uint32_t>(rng());
  try {
    const Response s = c.set(key, value, flags);
    if (s.status != status::kSuccess) {
      return "SET " + key + " status " + std::to_string(s.status) + ": " + s.value;
    }
    const Response g = c.get(key);
    if (g.status != status::kSuccess) {
      return "GET " + key + " status " + std::to_string(g.status) + ": " + g.value;
    }
    if (g.value != value) {
      return "GET " + key + " returned " + std::to_string(g.value.size()) +
             " bytes that differ from the " + std::to_string(value.size()) + " bytes stored";
    }
    if (g.extras.size() != 4 || readBe32(g.extras) != flags) return "GET " + key + ": bad flags";
  } catch (const McbpError& e) {
    return "verified SET/GET on " + key + ": " + e.what();
  }
  return "";
}

}  // namespace memkv::test
