#include "support/slow_reader.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>

#include <algorithm>
#include <thread>

#include "support/deadline.h"

namespace memkv::test {

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

void ResponseStream::append(const char* data, std::size_t n) {
  if (off_ > 0 && off_ == buf_.size()) {
    buf_.clear();
    off_ = 0;
  } else if (off_ > (1u << 20) && off_ > buf_.size() / 2) {
    buf_.erase(0, off_);
    off_ = 0;
  }
  buf_.append(data, n);
}

bool ResponseStream::pop(Response* out) {
  if (malformed_) return false;
  const std::string_view avail = std::string_view(buf_).substr(off_);
  if (avail.size() < kHeaderSize) return false;
  const std::string_view h = avail.substr(0, kHeaderSize);
  const uint16_t key_len = readBe16(h.substr(2));
  const uint8_t ext_len = static_cast<uint8_t>(h[4]);
  const uint32_t body_len = readBe32(h.substr(8));
  if (static_cast<uint8_t>(h[0]) != kResponseMagic ||
      static_cast<uint32_t>(key_len) + ext_len > body_len) {
    malformed_ = true;
    return false;
  }
  if (avail.size() < kHeaderSize + body_len) return false;
  Response r;
  r.magic = static_cast<uint8_t>(h[0]);
  r.opcode = static_cast<uint8_t>(h[1]);
  r.data_type = static_cast<uint8_t>(h[5]);
  r.status = readBe16(h.substr(6));
  r.opaque = readBe32(h.substr(12));
  r.cas = readBe64(h.substr(16));
  const std::string_view body = avail.substr(kHeaderSize, body_len);
  r.extras = body.substr(0, ext_len);
  r.key = body.substr(ext_len, key_len);
  r.value = body.substr(static_cast<std::size_t>(ext_len) + key_len);
  off_ += kHeaderSize + body_len;
  *out = std::move(r);
  return true;
}

SlowReader::~SlowReader() {
  close();
}

void SlowReader::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool SlowReader::connect(uint16_t port, const SlowReaderOptions& options,
                         std::chrono::milliseconds timeout) {
  close();
  options_ = options;
  options_.min_chunk = std::max<std::size_t>(1, options_.min_chunk);
  options_.max_chunk = std::max(options_.min_chunk, options_.max_chunk);
  rng_.seed(options_.seed);
  stream_ = ResponseStream();
  chunk_.assign(options_.max_chunk, '\0');
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  if (options_.rcvbuf > 0) {
    // Before connect(): the window scale and the first advertised window follow it.
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &options_.rcvbuf, sizeof(options_.rcvbuf));
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  if (rc < 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) {
      ::close(fd);
      return false;
    }
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    rc = err == 0 ? 0 : -1;
  }
  if (rc < 0) {
    ::close(fd);
    return false;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  fd_ = fd;
  return true;
}

bool SlowReader::receiveChunk(ReadStatus* st) {
  const std::size_t want =
      std::uniform_int_distribution<std::size_t>(options_.min_chunk, options_.max_chunk)(rng_);
  const ssize_t n = ::recv(fd_, chunk_.data(), want, 0);
  ++recv_calls_;
  if (n > 0) {
    bytes_received_ += static_cast<uint64_t>(n);
    stream_.append(chunk_.data(), static_cast<std::size_t>(n));
    if (options_.sleep_per_mille > 0 &&
        std::uniform_int_distribution<unsigned>(0, 999)(rng_) < options_.sleep_per_mille) {
      const auto us = std::uniform_int_distribution<int64_t>(0, options_.max_sleep.count())(rng_);
      std::this_thread::sleep_for(std::chrono::microseconds(us));
    }
    return true;
  }
  if (n == 0) {
    last_error_ = "peer closed the connection";
    *st = ReadStatus::kClosed;
    return false;
  }
  if (errno == EINTR) return true;
  if (errno == EAGAIN || errno == EWOULDBLOCK) {
    ++would_blocks_;
    return true;
  }
  last_error_ = std::string("recv: ") + std::strerror(errno);
  *st = (errno == ECONNRESET || errno == EPIPE) ? ReadStatus::kClosed : ReadStatus::kError;
  return false;
}

ReadStatus SlowReader::exchange(std::string_view bytes, std::size_t count,
                                const OnResponse& on_response,
                                std::chrono::milliseconds idle_timeout) {
  if (fd_ < 0) return ReadStatus::kError;
  std::size_t sent = 0;
  std::size_t delivered = 0;
  auto deadline = Clock::now() + idle_timeout;
  for (;;) {
    Response r;
    while (delivered < count && stream_.pop(&r)) {
      ++delivered;
      deadline = Clock::now() + idle_timeout;
      if (!on_response(std::move(r))) {
        last_error_ = "stopped by the response handler";
        return ReadStatus::kError;
      }
    }
    if (stream_.malformed()) {
      last_error_ = "malformed response header in the stream";
      return ReadStatus::kError;
    }
    if (sent == bytes.size() && delivered == count) return ReadStatus::kOk;

    pollfd p{fd_, static_cast<short>(POLLIN | (sent < bytes.size() ? POLLOUT : 0)), 0};
    const int rc = ::poll(&p, 1, msLeft(deadline));
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) {
      last_error_ = std::string("poll: ") + std::strerror(errno);
      return ReadStatus::kError;
    }
    if (rc == 0) {
      last_error_ = "nothing moved for " + std::to_string(idle_timeout.count()) + " ms (sent " +
                    std::to_string(sent) + "/" + std::to_string(bytes.size()) + " bytes, " +
                    std::to_string(delivered) + "/" + std::to_string(count) + " responses)";
      return ReadStatus::kTimeout;
    }
    if ((p.revents & POLLOUT) != 0 && sent < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
        deadline = Clock::now() + idle_timeout;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        ++would_blocks_;
      } else if (n < 0 && errno != EINTR) {
        last_error_ = std::string("send: ") + std::strerror(errno);
        return (errno == ECONNRESET || errno == EPIPE) ? ReadStatus::kClosed : ReadStatus::kError;
      }
    }
    if ((p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const uint64_t before = bytes_received_;
      ReadStatus st = ReadStatus::kOk;
      if (!receiveChunk(&st)) return st;
      if (bytes_received_ != before) deadline = Clock::now() + idle_timeout;
    }
  }
}

ReadStatus SlowReader::stream(const std::function<void(std::string*)>& more,
                              const std::function<bool()>& done, const OnResponse& on_response,
                              std::chrono::milliseconds idle_timeout) {
  if (fd_ < 0) return ReadStatus::kError;
  std::string queue;
  std::size_t sent = 0;
  auto deadline = Clock::now() + idle_timeout;
  for (;;) {
    Response r;
    while (stream_.pop(&r)) {
      deadline = Clock::now() + idle_timeout;
      if (!on_response(std::move(r))) {
        last_error_ = "stopped by the response handler";
        return ReadStatus::kError;
      }
    }
    if (stream_.malformed()) {
      last_error_ = "malformed response header in the stream";
      return ReadStatus::kError;
    }
    if (sent == queue.size()) {
      queue.clear();
      sent = 0;
      more(&queue);
    }
    if (sent == queue.size() && done()) return ReadStatus::kOk;

    pollfd p{fd_, static_cast<short>(POLLIN | (sent < queue.size() ? POLLOUT : 0)), 0};
    const int rc = ::poll(&p, 1, msLeft(deadline));
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) {
      last_error_ = std::string("poll: ") + std::strerror(errno);
      return ReadStatus::kError;
    }
    if (rc == 0) {
      last_error_ = "nothing moved for " + std::to_string(idle_timeout.count()) + " ms (" +
                    std::to_string(queue.size() - sent) + " bytes left to send, " +
                    std::to_string(stream_.buffered()) + " bytes of a response buffered)";
      return ReadStatus::kTimeout;
    }
    if ((p.revents & POLLOUT) != 0 && sent < queue.size()) {
      const ssize_t n = ::send(fd_, queue.data() + sent, queue.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
        deadline = Clock::now() + idle_timeout;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        ++would_blocks_;
      } else if (n < 0 && errno != EINTR) {
        last_error_ = std::string("send: ") + std::strerror(errno);
        return (errno == ECONNRESET || errno == EPIPE) ? ReadStatus::kClosed : ReadStatus::kError;
      }
    }
    if ((p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const uint64_t before = bytes_received_;
      ReadStatus st = ReadStatus::kOk;
      if (!receiveChunk(&st)) return st;
      if (bytes_received_ != before) deadline = Clock::now() + idle_timeout;
    }
  }
}

ReadStatus SlowReader::receiveOnce(std::chrono::milliseconds wait, const OnResponse& on_response) {
  if (fd_ < 0) return ReadStatus::kError;
  pollfd p{fd_, POLLIN, 0};
  int rc;
  do {
    rc = ::poll(&p, 1, static_cast<int>(wait.count()));
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    last_error_ = std::string("poll: ") + std::strerror(errno);
    return ReadStatus::kError;
  }
  if (rc == 0) return ReadStatus::kTimeout;
  const uint64_t before = bytes_received_;
  ReadStatus st = ReadStatus::kOk;
  if (!receiveChunk(&st)) return st;
  Response r;
  while (stream_.pop(&r)) {
    if (!on_response(std::move(r))) {
      last_error_ = "stopped by the response handler";
      return ReadStatus::kError;
    }
  }
  if (stream_.malformed()) {
    last_error_ = "malformed response header in the stream";
    return ReadStatus::kError;
  }
  return bytes_received_ != before ? ReadStatus::kOk : ReadStatus::kTimeout;
}

bool SlowReader::closedWithin(std::chrono::milliseconds timeout) {
  if (fd_ < 0) return true;
  const auto deadline = Clock::now() + timeout;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n == 0) return true;
    if (n > 0) continue;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return errno == ECONNRESET || errno == EPIPE;
    pollfd p{fd_, POLLIN, 0};
    const int rc = ::poll(&p, 1, msLeft(deadline));
    if (rc == 0) return false;
  }
}

}  // namespace memkv::test
