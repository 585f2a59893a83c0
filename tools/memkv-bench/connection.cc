#include "connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "client_codec.h"
#include "key_chooser.h"
#include "value_codec.h"
#include "worker.h"

namespace memkv::bench {
namespace {

// Values at least this big are sent from the shared filler without a copy.
constexpr size_t kBorrowValueBytes = 4096;
// Responses bigger than this are skipped as they stream in, not buffered,
// when their bytes do not need checking.
constexpr size_t kSkipResponseBytes = 64 * 1024;
constexpr size_t kReadChunk = 64 * 1024;
// Reads per readiness event: enough to drain a pipeline, bounded for fairness
// between this thread's connections.
constexpr int kReadsPerEvent = 8;

}  // namespace

Connection::Connection(int fd, int pipeline, Worker& worker)
    : fd_(fd), worker_(worker), ring_(static_cast<size_t>(pipeline)) {}

Connection::~Connection() {
  if (fd_ >= 0) ::close(fd_);
}

void Connection::issue(uint64_t now_ns) {
  if (fd_ < 0) return;
  const BenchOptions& options = worker_.options();
  char key[256];
  PlannedRequest plan;
  while (count_ < ring_.size() && worker_.planNext(&plan)) {
    const size_t key_length = formatKey(options.key_prefix, plan.key_index, key);
    const std::string_view key_view(key, key_length);
    const uint32_t opaque = next_opaque_++;
    if (plan.opcode == mcbp::Opcode::Get) {
      encodeGet(out_.reserve(getRequestSize(key_view)), key_view, opaque);
    } else if (options.verify) {
      const uint64_t version = worker_.nextVersion();
      uint8_t* p = out_.reserve(setPrefixSize(key_view) + plan.value_length);
      encodeSetPrefix(p, key_view, plan.value_length, flagsForVersion(version), opaque);
      encodeValue(keyHash(key_view), version, {p + setPrefixSize(key_view), plan.value_length});
    } else if (plan.value_length >= kBorrowValueBytes) {
      encodeSetPrefix(out_.reserve(setPrefixSize(key_view)), key_view, plan.value_length, 0,
                      opaque);
      out_.appendBorrowed(worker_.filler().data(), plan.value_length);
    } else {
      uint8_t* p = out_.reserve(setPrefixSize(key_view) + plan.value_length);
      encodeSetPrefix(p, key_view, plan.value_length, 0, opaque);
      std::memcpy(p + setPrefixSize(key_view), worker_.filler().data(), plan.value_length);
    }
    ring_[(head_ + count_) % ring_.size()] = {now_ns, plan.key_index, opaque, plan.opcode};
    ++count_;
  }
  flush();
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
    if (static_cast<size_t>(n) < room) break;
  }
  issue(now_ns);
}

void Connection::parse(uint64_t now_ns) {
  if (skip_left_ > 0) {
    const size_t take = std::min(skip_left_, in_end_ - in_begin_);
    in_begin_ += take;
    skip_left_ -= take;
    if (skip_left_ > 0) return;
    complete(skipped_header_, {}, now_ns);
  }
  while (fd_ >= 0 && in_end_ - in_begin_ >= mcbp::kHeaderSize) {
    const uint8_t* frame = in_.get() + in_begin_;
    mcbp::ResponseHeader header;
    if (decodeResponseHeader(frame, &header) != ResponseMagic::kOk) {
      return fail(true, "bad response header", 0);
    }
    const size_t frame_size = mcbp::kHeaderSize + header.body_length;
    const size_t available = in_end_ - in_begin_;
    if (available >= frame_size) {
      in_begin_ += frame_size;
      complete(header, {frame + mcbp::kHeaderSize, header.body_length}, now_ns);
      continue;
    }
    if (!worker_.options().verify && frame_size > kSkipResponseBytes) {
      skipped_header_ = header;
      skip_left_ = frame_size - available;
      in_begin_ = in_end_;
      break;
    }
    ensureReadSpace(frame_size - available);
    break;
  }
  if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
}

void Connection::complete(const mcbp::ResponseHeader& header, std::span<const uint8_t> body,
                          uint64_t now_ns) {
  if (count_ == 0) return fail(true, "response with no request in flight", 0);
  const InFlight request = ring_[head_];
  head_ = (head_ + 1) % ring_.size();
  --count_;
  if (header.opaque != request.opaque || header.opcode != static_cast<uint8_t>(request.opcode)) {
    return fail(true, "response does not match the oldest request (opaque/opcode)", 0);
  }
  worker_.onResponse(request, header, body, now_ns);
}

void Connection::fail(bool protocol_error, const char* why, int error) {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
  count_ = 0;
  worker_.onConnectionFailed(protocol_error, why, error);
}

}  // namespace memkv::bench
