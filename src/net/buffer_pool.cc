#include "net/buffer_pool.h"

#include <cstdio>
#include <cstdlib>

namespace memkv::net {

void ownerViolation(const char* what) {
  std::fprintf(stderr, "memkv: owner-thread violation: %s called off its owner thread\n", what);
  std::abort();
}

BufferPool::~BufferPool() {
  for (uint8_t* b : free_) std::free(b);
}

uint8_t* BufferPool::acquireForRead() {
  if (read_limit_bytes_ != 0 && (read_out_ + 1) * kBufferSize > read_limit_bytes_) {
    ++exhausted_;
    return nullptr;
  }
  uint8_t* buffer = acquire();
  if (buffer) ++read_out_;
  return buffer;
}

void BufferPool::releaseFromRead(uint8_t* buffer) {
  --read_out_;
  release(buffer);
}

uint8_t* BufferPool::acquire() {
  owner_.check("BufferPool::acquire");
  uint8_t* buffer;
  if (!free_.empty()) {
    buffer = free_.back();
    free_.pop_back();
  } else {
    buffer = static_cast<uint8_t*>(std::malloc(kBufferSize));
    if (buffer == nullptr) {
      ++exhausted_;
      return nullptr;
    }
  }
  ++out_;
  if (out_ > peak_out_since_trim_) peak_out_since_trim_ = out_;
  return buffer;
}

void BufferPool::release(uint8_t* buffer) {
  owner_.check("BufferPool::release");
  --out_;
  free_.push_back(buffer);
}

void BufferPool::trim() {
  owner_.check("BufferPool::trim");
  // Keep as many free buffers as the busiest moment of the last interval
  // could have used beyond what is out now; free the rest.
  const size_t keep = peak_out_since_trim_ > out_ ? peak_out_since_trim_ - out_ : 0;
  while (free_.size() > keep) {
    std::free(free_.back());
    free_.pop_back();
  }
  if (free_.capacity() > 2 * free_.size() + 16) free_.shrink_to_fit();
  peak_out_since_trim_ = out_;
}

}  // namespace memkv::net
