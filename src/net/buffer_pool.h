#pragma once
// Per-worker-thread pool of fixed-size buffers for reading requests and
// encoding responses (ARCHITECTURE.md invariant 5: connections borrow buffers
// while they have bytes in flight and give them back when empty).
//
// Owner: one worker thread; not thread-safe (checked in debug builds).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "net/owner_check.h"

namespace memkv::net {

class BufferPool final {
 public:
  static constexpr size_t kBufferSize = 16 * 1024;

  // read_limit_bytes: most bytes of buffers out for reading at once (0 = no
  // limit), memcached's read_buf_mem_limit. Output buffers are bounded per
  // connection by the output watermarks instead, so a response being encoded
  // never meets an exhausted pool.
  explicit BufferPool(size_t read_limit_bytes = 0) : read_limit_bytes_(read_limit_bytes) {}
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A kBufferSize buffer for output, or nullptr if the allocator failed.
  uint8_t* acquire();
  void release(uint8_t* buffer);
  // A buffer for reading requests, or nullptr when read buffers are at the
  // limit; the caller waits and retries (counted in exhaustedCount()).
  uint8_t* acquireForRead();
  void releaseFromRead(uint8_t* buffer);
  // Frees idle buffers beyond what the last interval needed. Called by the
  // owner loop's periodic tick.
  void trim();

  size_t buffersOut() const { return out_; }
  size_t buffersFree() const { return free_.size(); }
  size_t bytesInUse() const { return out_ * kBufferSize; }
  size_t bytesFree() const { return free_.size() * kBufferSize; }
  uint64_t exhaustedCount() const { return exhausted_; }

  OwnerThread& owner() { return owner_; }

 private:
  const size_t read_limit_bytes_;
  size_t read_out_ = 0;
  std::vector<uint8_t*> free_;
  size_t out_ = 0;
  size_t peak_out_since_trim_ = 0;
  uint64_t exhausted_ = 0;
  OwnerThread owner_;
};

}  // namespace memkv::net
