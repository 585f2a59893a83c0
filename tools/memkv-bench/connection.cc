#include "connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include <openssl/err.h>

#include "mcbp_connection.h"
#include "text_connection.h"
#include "worker.h"

namespace memkv::bench {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
// Reads per readiness event: enough to drain a pipeline, bounded for fairness
// between this thread's connections. An SSL_read returns one record (at
// most 16 KiB of plaintext), hence more of them for the same bytes.
constexpr int kReadsPerEvent = 8;
constexpr int kTlsReadsPerEvent = 32;

}  // namespace

Connection::Connection(int fd, SslPtr ssl, int pipeline, Worker& worker)
    : worker_(worker), fd_(fd), ssl_(std::move(ssl)), ring_(static_cast<size_t>(pipeline)) {}

Connection::~Connection() {
  if (fd_ < 0) return;
  // A polite goodbye: close_notify if the socket takes it now, no waiting.
  if (ssl_) SSL_shutdown(ssl_.get());
  ssl_.reset();
  ::close(fd_);
}

void Connection::issue(uint64_t now_ns) {
  if (fd_ < 0) return;
  PlannedRequest plan;
  while (count_ < ring_.size() && worker_.planNext(now_ns, node_, &plan)) {
    const size_t slot = (head_ + count_) % ring_.size();
    InFlight& request = ring_[slot];
    request = {now_ns, plan.key_index, 0, plan.opcode, plan.opcode == mcbp::Opcode::Get ? 1u : 0u};
    encode(plan, slot, &request);
    ++count_;
  }
  flush();
}

InFlight Connection::popOldest() {
  const InFlight request = ring_[head_];
  head_ = (head_ + 1) % ring_.size();
  --count_;
  return request;
}

void Connection::flush() {
  if (fd_ < 0 || out_.empty()) return;
  if (!ssl_) {
    int error = 0;
    if (out_.flush(fd_, &error) == OutputQueue::Flush::kError) fail(false, "write", error);
    return;
  }
  std::string error;
  const OutputQueue::Flush result = out_.flushTls(ssl_.get(), &error);
  write_wants_read_ = result == OutputQueue::Flush::kBlockedOnRead;
  if (result == OutputQueue::Flush::kBlocked || write_wants_read_) worker_.onTlsWriteBlocked();
  if (result == OutputQueue::Flush::kError) fail(false, ("TLS write: " + error).c_str(), 0);
}

void Connection::onWritable(uint64_t now_ns) {
  flush();
  if (read_wants_write_) {
    read_wants_write_ = false;
    onReadable(now_ns);
  }
}

void Connection::ensureReadSpace(size_t want) {
  if (in_capacity_ - in_end_ >= want) return;
  const size_t pending = in_end_ - in_begin_;
  if (in_begin_ > 0 && in_capacity_ - pending >= want) {
    std::memmove(in_.get(), in_.get() + in_begin_, pending);
  } else {
    const size_t capacity = std::max(in_capacity_ * 2, pending + want);
    auto grown = std::make_unique_for_overwrite<uint8_t[]>(capacity);
    if (pending > 0) std::memcpy(grown.get(), in_.get() + in_begin_, pending);
    in_ = std::move(grown);
    in_capacity_ = capacity;
  }
  in_begin_ = 0;
  in_end_ = pending;
}

Connection::Read Connection::readPlain(size_t room, size_t* got) {
  while (true) {
    const ssize_t n = ::recv(fd_, in_.get() + in_end_, room, 0);
    if (n > 0) {
      *got = static_cast<size_t>(n);
      return Read::kGot;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Read::kAgain;
    fail(false, n == 0 ? "closed by server" : "read", n == 0 ? 0 : errno);
    return Read::kFailed;
  }
}

Connection::Read Connection::readTls(size_t room, size_t* got) {
  ERR_clear_error();
  errno = 0;
  if (SSL_read_ex(ssl_.get(), in_.get() + in_end_, room, got) == 1) return Read::kGot;
  switch (tlsStep(ssl_.get(), 0)) {
    case TlsStep::kWantRead:
      return Read::kAgain;
    case TlsStep::kWantWrite:
      read_wants_write_ = true;
      return Read::kAgain;
    case TlsStep::kClosed:
      fail(false, "closed by server", 0);
      return Read::kFailed;
    default:
      fail(false, ("TLS read: " + tlsFailure(ssl_.get())).c_str(), 0);
      return Read::kFailed;
  }
}

void Connection::onReadable(uint64_t now_ns) {
  // A write that waited on a read may go once this read is done (issue()
  // below flushes).
  write_wants_read_ = false;
  const int max_reads = ssl_ ? kTlsReadsPerEvent : kReadsPerEvent;
  for (int reads = 0; reads < max_reads && fd_ >= 0; ++reads) {
    ensureReadSpace(kReadChunk);
    const size_t room = in_capacity_ - in_end_;
    size_t n = 0;
    const Read read = ssl_ ? readTls(room, &n) : readPlain(room, &n);
    if (read == Read::kFailed) return;
    if (read == Read::kAgain) break;
    in_end_ += n;
    parse(now_ns);
    if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
    // A short recv emptied the socket; an SSL_read is short by nature (one
    // record), so TLS reads on until the SSL wants more bytes. With room
    // for a whole record per read, nothing stays buffered inside the SSL
    // once the socket is empty, so level-triggered epoll misses nothing.
    if (!ssl_ && n < room) break;
  }
  issue(now_ns);
}

void Connection::fail(bool protocol_error, const char* why, int error) {
  if (fd_ < 0) return;
  ssl_.reset();
  ::close(fd_);
  fd_ = -1;
  count_ = 0;
  worker_.onConnectionFailed(protocol_error, why, error);
}

std::unique_ptr<Connection> makeConnection(int fd, SslPtr ssl, Worker& worker) {
  const BenchOptions& options = worker.options();
  if (options.protocol == Protocol::kText) {
    return std::make_unique<TextConnection>(fd, std::move(ssl), options.pipeline, worker);
  }
  return std::make_unique<McbpConnection>(fd, std::move(ssl), options.pipeline, worker);
}

}  // namespace memkv::bench
