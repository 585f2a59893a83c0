#include "support/text_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "support/deadline.h"
#include "support/test_env.h"

namespace memkv::test {

namespace {

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds defaultTimeout() {
  return scaled(std::chrono::milliseconds(5000));
}

// Waits for `events`; returns poll's revents, 0 on timeout, -1 on error.
int waitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, msLeft(deadline));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) return rc;
    return p.revents;
  }
}

constexpr std::size_t kNotYet = static_cast<std::size_t>(-1);

}  // namespace

TextClient::~TextClient() {
  close();
}

TextClient::TextClient(TextClient&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), buf_(std::move(other.buf_)) {}

TextClient& TextClient::operator=(TextClient&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    buf_ = std::move(other.buf_);
  }
  return *this;
}

void TextClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buf_.clear();
}

bool TextClient::connect(uint16_t port) {
  close();
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const auto deadline = Clock::now() + defaultTimeout();
  int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  if (rc < 0 && errno == EINPROGRESS) {
    if (waitFor(fd, POLLOUT, deadline) <= 0) {
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

bool TextClient::send(std::string_view bytes) {
  return send(bytes, defaultTimeout());
}

bool TextClient::send(std::string_view bytes, std::chrono::milliseconds timeout) {
  if (fd_ < 0) return false;
  const auto deadline = Clock::now() + timeout;
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      const int ev = waitFor(fd_, POLLOUT, deadline);
      if (ev <= 0 || (ev & (POLLERR | POLLHUP)) != 0) return false;
      continue;
    }
    return false;
  }
  return true;
}

template <typename Done>
std::string TextClient::readWith(const Done& done, std::chrono::milliseconds timeout) {
  if (fd_ < 0) return "<not connected>";
  const auto deadline = Clock::now() + timeout;
  char chunk[65536];
  for (;;) {
    const std::size_t take = done(buf_);
    if (take != kNotYet) {
      std::string out = buf_.substr(0, take);
      buf_.erase(0, take);
      return out;
    }
    const ssize_t got = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (got > 0) {
      buf_.append(chunk, static_cast<std::size_t>(got));
      continue;
    }
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      const int ev = waitFor(fd_, POLLIN, deadline);
      if (ev == 0) return "<timeout> " + std::exchange(buf_, {});
      if (ev < 0) return "<poll error> " + std::exchange(buf_, {});
      continue;
    }
    return "<closed> " + std::exchange(buf_, {});
  }
}

std::string TextClient::readLine() {
  return readLine(defaultTimeout());
}

std::string TextClient::readLine(std::chrono::milliseconds timeout) {
  return readWith(
      [](const std::string& b) {
        const auto nl = b.find('\n');
        return nl == std::string::npos ? kNotYet : nl + 1;
      },
      timeout);
}

std::string TextClient::readExact(std::size_t n) {
  return readExact(n, defaultTimeout());
}

std::string TextClient::readExact(std::size_t n, std::chrono::milliseconds timeout) {
  return readWith([n](const std::string& b) { return b.size() >= n ? n : kNotYet; }, timeout);
}

std::string TextClient::readUntil(std::string_view terminator) {
  return readUntil(terminator, defaultTimeout());
}

std::string TextClient::readUntil(std::string_view terminator, std::chrono::milliseconds timeout) {
  return readWith(
      [terminator](const std::string& b) {
        const auto at = b.find(terminator);
        return at == std::string::npos ? kNotYet : at + terminator.size();
      },
      timeout);
}

std::string TextClient::call(std::string_view request) {
  if (!send(request)) return "<send failed>";
  return readLine();
}

std::string TextClient::callUntil(std::string_view request, std::string_view terminator) {
  if (!send(request)) return "<send failed>";
  return readUntil(terminator);
}

bool TextClient::silentFor(std::chrono::milliseconds timeout) {
  if (fd_ < 0 || !buf_.empty()) return false;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const int ev = waitFor(fd_, POLLIN, deadline);
    if (ev == 0) return true;
    if (ev < 0) return false;
    char c;
    const ssize_t got = ::recv(fd_, &c, 1, MSG_PEEK);
    if (got < 0 && errno == EINTR) continue;
    return false;  // a byte, EOF or an error: not silent
  }
}

bool TextClient::closedWithin(std::chrono::milliseconds timeout) {
  discarded_ = buf_.size();
  buf_.clear();
  if (fd_ < 0) return true;
  const auto deadline = Clock::now() + timeout;
  char chunk[65536];
  for (;;) {
    const ssize_t got = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (got == 0) return true;
    if (got > 0) {
      discarded_ += static_cast<std::size_t>(got);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (waitFor(fd_, POLLIN, deadline) == 0) return false;
      continue;
    }
    return errno == ECONNRESET || errno == EPIPE;
  }
}

}  // namespace memkv::test
