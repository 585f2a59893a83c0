#include "support/mcbp_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cerrno>

#include <utility>

#include "support/deadline.h"

namespace memkv::test {

namespace {

using Clock = std::chrono::steady_clock;

// Waits for `events` on fd; returns poll's revents, 0 on timeout, -1 on error.
int waitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, msLeft(deadline));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) return rc;
    return p.revents;
  }
}

}  // namespace

const char* toString(ReadStatus s) {
  switch (s) {
    case ReadStatus::kOk:
      return "ok";
    case ReadStatus::kClosed:
      return "connection closed";
    case ReadStatus::kTimeout:
      return "timeout";
    case ReadStatus::kError:
      return "socket error";
  }
  return "?";
}

McbpClient::~McbpClient() {
  close();
}

McbpClient::McbpClient(McbpClient&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), layer_(std::move(other.layer_)) {}

McbpClient& McbpClient::operator=(McbpClient&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    layer_ = std::move(other.layer_);
  }
  return *this;
}

void McbpClient::close() {
  layer_.reset();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool McbpClient::connect(uint16_t port, std::chrono::milliseconds timeout) {
  close();
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const auto deadline = Clock::now() + timeout;
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

ssize_t McbpClient::ioSend(const char* data, std::size_t n) {
  return layer_ ? layer_->send(data, n) : ::send(fd_, data, n, MSG_NOSIGNAL);
}

ssize_t McbpClient::ioRecv(char* data, std::size_t n) {
  return layer_ ? layer_->recv(data, n) : ::recv(fd_, data, n, 0);
}

bool McbpClient::sendRaw(std::string_view bytes, std::chrono::milliseconds timeout) {
  if (fd_ < 0) return false;
  const auto deadline = Clock::now() + timeout;
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ioSend(bytes.data() + off, bytes.size() - off);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      const int ev = waitFor(fd_, ioEvents(POLLOUT), deadline);
      if (ev <= 0 || (ev & (POLLERR | POLLHUP)) != 0) return false;
      continue;
    }
    return false;
  }
  return true;
}

bool McbpClient::readExact(char* buf, std::size_t n, Clock::time_point deadline, ReadStatus* st) {
  std::size_t off = 0;
  while (off < n) {
    const ssize_t got = ioRecv(buf + off, n - off);
    if (got > 0) {
      off += static_cast<std::size_t>(got);
      continue;
    }
    if (got == 0) {
      *st = ReadStatus::kClosed;
      return false;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      const int ev = waitFor(fd_, ioEvents(POLLIN), deadline);
      if (ev == 0) {
        *st = ReadStatus::kTimeout;
        return false;
      }
      if (ev < 0) {
        *st = ReadStatus::kError;
        return false;
      }
      continue;  // readable, hangup or error: recv() tells which
    }
    *st = (errno == ECONNRESET || errno == EPIPE) ? ReadStatus::kClosed : ReadStatus::kError;
    return false;
  }
  return true;
}

ReadStatus McbpClient::read(Response* out, std::chrono::milliseconds timeout) {
  if (fd_ < 0) return ReadStatus::kError;
  const auto deadline = Clock::now() + timeout;
  char hdr[kHeaderSize];
  ReadStatus st = ReadStatus::kOk;
  if (!readExact(hdr, sizeof(hdr), deadline, &st)) return st;
  const std::string_view h(hdr, sizeof(hdr));
  Response r;
  r.magic = static_cast<uint8_t>(h[0]);
  r.opcode = static_cast<uint8_t>(h[1]);
  const uint16_t key_len = readBe16(h.substr(2));
  const uint8_t ext_len = static_cast<uint8_t>(h[4]);
  r.data_type = static_cast<uint8_t>(h[5]);
  r.status = readBe16(h.substr(6));
  const uint32_t body_len = readBe32(h.substr(8));
  r.opaque = readBe32(h.substr(12));
  r.cas = readBe64(h.substr(16));
  if (static_cast<uint32_t>(key_len) + ext_len > body_len) return ReadStatus::kError;
  std::string body(body_len, '\0');
  if (body_len > 0 && !readExact(body.data(), body.size(), deadline, &st)) return st;
  r.extras = body.substr(0, ext_len);
  r.key = body.substr(ext_len, key_len);
  r.value = body.substr(static_cast<std::size_t>(ext_len) + key_len);
  *out = std::move(r);
  return ReadStatus::kOk;
}

bool McbpClient::connectionClosed(std::chrono::milliseconds timeout) {
  if (fd_ < 0) return true;
  const auto deadline = Clock::now() + timeout;
  char buf[4096];
  for (;;) {
    const ssize_t got = ioRecv(buf, sizeof(buf));
    if (got == 0) return true;
    if (got > 0) continue;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (waitFor(fd_, ioEvents(POLLIN), deadline) == 0) return false;
      continue;
    }
    return errno == ECONNRESET || errno == EPIPE;
  }
}

bool McbpClient::silentFor(std::chrono::milliseconds timeout) {
  if (fd_ < 0) return false;
  const auto deadline = Clock::now() + timeout;
  return waitFor(fd_, POLLIN, deadline) == 0;
}

Response McbpClient::next() {
  Response r;
  const ReadStatus st = read(&r);
  if (st != ReadStatus::kOk) throw McbpError(std::string("no response: ") + toString(st));
  return r;
}

Response McbpClient::call(const Request& req) {
  if (!send(req)) throw McbpError("send failed");
  return next();
}

Response McbpClient::get(const std::string& key, uint8_t opcode) {
  return call(makeKeyOnly(opcode, key));
}

Response McbpClient::set(const std::string& key, const std::string& value, uint32_t flags,
                         uint32_t exptime, uint64_t cas) {
  return call(makeStore(op::kSet, key, value, flags, exptime, cas));
}

Response McbpClient::add(const std::string& key, const std::string& value, uint32_t flags,
                         uint32_t exptime) {
  return call(makeStore(op::kAdd, key, value, flags, exptime));
}

Response McbpClient::replace(const std::string& key, const std::string& value, uint32_t flags,
                             uint32_t exptime, uint64_t cas) {
  return call(makeStore(op::kReplace, key, value, flags, exptime, cas));
}

Response McbpClient::remove(const std::string& key, uint64_t cas) {
  Request r = makeKeyOnly(op::kDelete, key);
  r.cas = cas;
  return call(r);
}

Response McbpClient::append(const std::string& key, const std::string& value, uint64_t cas) {
  return call(makeConcat(op::kAppend, key, value, cas));
}

Response McbpClient::prepend(const std::string& key, const std::string& value, uint64_t cas) {
  return call(makeConcat(op::kPrepend, key, value, cas));
}

Response McbpClient::incr(const std::string& key, uint64_t delta, uint64_t initial,
                          uint32_t exptime) {
  return call(makeArith(op::kIncrement, key, delta, initial, exptime));
}

Response McbpClient::decr(const std::string& key, uint64_t delta, uint64_t initial,
                          uint32_t exptime) {
  return call(makeArith(op::kDecrement, key, delta, initial, exptime));
}

Response McbpClient::touch(const std::string& key, uint32_t exptime) {
  return call(makeTouch(op::kTouch, key, exptime));
}

Response McbpClient::gat(const std::string& key, uint32_t exptime) {
  return call(makeTouch(op::kGat, key, exptime));
}

Response McbpClient::flush(std::optional<uint32_t> delay) {
  return call(makeFlush(op::kFlush, delay));
}

Response McbpClient::noop() {
  return call(makeKeyOnly(op::kNoop, ""));
}

Response McbpClient::version() {
  return call(makeKeyOnly(op::kVersion, ""));
}

std::vector<Response> McbpClient::statRaw(const std::string& group, uint16_t* final_status) {
  if (!send(makeKeyOnly(op::kStat, group))) throw McbpError("send failed");
  std::vector<Response> out;
  for (;;) {
    Response r = next();
    if (r.status != status::kSuccess || r.key.empty()) {
      if (final_status != nullptr) *final_status = r.status;
      return out;
    }
    out.push_back(std::move(r));
    if (out.size() > 100000) throw McbpError("STAT never terminated");
  }
}

std::map<std::string, std::string> McbpClient::stats(const std::string& group) {
  uint16_t st = 0;
  std::vector<Response> rs = statRaw(group, &st);
  if (st != status::kSuccess) throw McbpError("STAT " + group + " failed: " + std::to_string(st));
  std::map<std::string, std::string> m;
  for (Response& r : rs) m[r.key] = std::move(r.value);
  return m;
}

}  // namespace memkv::test
