#include "output_queue.h"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include <openssl/err.h>

#include "tls_client.h"

namespace memkv::bench {

uint8_t* OutputQueue::reserve(size_t n) {
  if (arena_used_ + n > arena_capacity_) {
    const size_t capacity = std::max({arena_capacity_ * 2, arena_used_ + n, size_t{4096}});
    auto grown = std::make_unique_for_overwrite<uint8_t[]>(capacity);
    if (arena_used_ > 0) std::memcpy(grown.get(), arena_.get(), arena_used_);
    arena_ = std::move(grown);
    arena_capacity_ = capacity;
  }
  const size_t offset = arena_used_;
  arena_used_ += n;
  // Arena bytes queued back to back share one slice, hence one iovec.
  if (!slices_.empty() && slices_.back().borrowed == nullptr &&
      slices_.back().offset + slices_.back().length == offset) {
    slices_.back().length += n;
  } else {
    slices_.push_back({nullptr, offset, n});
  }
  return arena_.get() + offset;
}

void OutputQueue::appendBorrowed(const uint8_t* p, size_t n) {
  if (n > 0) slices_.push_back({p, 0, n});
}

void OutputQueue::reset() {
  slices_.clear();
  first_ = 0;
  first_written_ = 0;
  arena_used_ = 0;
}

OutputQueue::Flush OutputQueue::flush(int fd, int* error) {
  constexpr size_t kMaxIov = 64;
  std::array<iovec, kMaxIov> iov;
  while (!empty()) {
    size_t count = 0;
    for (size_t i = first_; i < slices_.size() && count < kMaxIov; ++i) {
      const Slice& s = slices_[i];
      const uint8_t* base = s.borrowed != nullptr ? s.borrowed : arena_.get() + s.offset;
      const size_t skip = i == first_ ? first_written_ : 0;
      iov[count++] = {const_cast<uint8_t*>(base + skip), s.length - skip};
    }
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = count;
    const ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Flush::kBlocked;
      *error = errno;
      return Flush::kError;
    }
    advance(static_cast<size_t>(n));
  }
  reset();
  return Flush::kDrained;
}

OutputQueue::Flush OutputQueue::flushTls(SSL* ssl, std::string* error) {
  while (!empty()) {
    const Slice& s = slices_[first_];
    const uint8_t* base = s.borrowed != nullptr ? s.borrowed : arena_.get() + s.offset;
    // A slice only grows at its tail, so a retried length still fits in it.
    const size_t length = tls_retry_bytes_ > 0 ? tls_retry_bytes_ : s.length - first_written_;
    size_t written = 0;
    ERR_clear_error();
    errno = 0;
    if (SSL_write_ex(ssl, base + first_written_, length, &written) != 1) {
      switch (tlsStep(ssl, 0)) {
        case TlsStep::kWantWrite:
          tls_retry_bytes_ = length;
          return Flush::kBlocked;
        case TlsStep::kWantRead:
          tls_retry_bytes_ = length;
          return Flush::kBlockedOnRead;
        default:
          *error = tlsFailure(ssl);
          return Flush::kError;
      }
    }
    tls_retry_bytes_ = 0;
    advance(written);
  }
  reset();
  return Flush::kDrained;
}

void OutputQueue::advance(size_t n) {
  while (n > 0) {
    const size_t in_first = slices_[first_].length - first_written_;
    if (n < in_first) {
      first_written_ += n;
      return;
    }
    n -= in_first;
    ++first_;
    first_written_ = 0;
  }
}

}  // namespace memkv::bench
