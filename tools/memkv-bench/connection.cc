#include "connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "mcbp_connection.h"
#include "text_connection.h"
#include "worker.h"

namespace memkv::bench {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
// Reads per readiness event: enough to drain a pipeline, bounded for fairness
// between this thread's connections.
constexpr int kReadsPerEvent = 8;

}  // namespace

Connection::Connection(int fd, int pipeline, Worker& worker)
    : worker_(worker), fd_(fd), ring_(static_cast<size_t>(pipeline)) {}

Connection::~Connection() {
  if (fd_ >= 0) ::close(fd_);
}

void Connection::issue(uint64_t now_ns) {
  if (fd_ < 0) return;
  PlannedRequest plan;
  while (count_ < ring_.size() && worker_.planNext(&plan)) {
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
  int error = 0;
  if (out_.flush(fd_, &error) == OutputQueue::Flush::kError) fail(false, "write", error);
}

void Connection::onWritable() {
  flush();
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

void Connection::onReadable(uint64_t now_ns) {
  for (int reads = 0; reads < kReadsPerEvent && fd_ >= 0; ++reads) {
    ensureReadSpace(kReadChunk);
    const size_t room = in_capacity_ - in_end_;
    const ssize_t n = ::recv(fd_, in_.get() + in_end_, room, 0);
    if (n == 0) return fail(false, "closed by server", 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return fail(false, "read", errno);
    }
    in_end_ += static_cast<size_t>(n);
    parse(now_ns);
    if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
    if (static_cast<size_t>(n) < room) break;
  }
  issue(now_ns);
}

void Connection::fail(bool protocol_error, const char* why, int error) {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
  count_ = 0;
  worker_.onConnectionFailed(protocol_error, why, error);
}

std::unique_ptr<Connection> makeConnection(int fd, Worker& worker) {
  const BenchOptions& options = worker.options();
  if (options.protocol == Protocol::kText) {
    return std::make_unique<TextConnection>(fd, options.pipeline, worker);
  }
  return std::make_unique<McbpConnection>(fd, options.pipeline, worker);
}

}  // namespace memkv::bench
