#pragma once
// Per-worker-thread pool of fixed-size buffers for reading requests and
// encoding responses (docs/architecture.md invariant 5: connections borrow buffers
// while they have bytes in flight and give them back when empty).
//
// Owner: one worker thread; not thread-safe (checked in debug builds).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "net/owner_check.h"
#include "net/read_budget.h"

namespace memkv::net {

class BufferPool final {
 public:
  static constexpr size_t kBufferSize = 16 * 1024;
  // Read budget charged to one pool but not handed out to a connection yet,
  // at most (a shared budget must leave room for this per worker).
  static constexpr size_t kMaxCredit = 16 * kBufferSize;

  // read_limit_bytes: most bytes of pool buffers out for reading on this
  // thread at once (0 = no limit). budget: the server-wide cap on all read
  // memory (pool buffers, spills, large frames), shared with the other
  // workers; may be null (no cap); must outlive the pool. Output buffers are
  // bounded per connection by the output watermarks instead, so a response
  // being encoded never meets an exhausted pool.
  explicit BufferPool(size_t read_limit_bytes = 0, ReadBudget* budget = nullptr)
      : read_limit_bytes_(read_limit_bytes), budget_(budget) {}
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A kBufferSize buffer for output, or nullptr if the allocator failed.
  uint8_t* acquire();
  void release(uint8_t* buffer);
  // A buffer for reading requests, or nullptr when read buffers are at the
  // limit; the caller waits and retries (counted in exhaustedCount()).
  // Charged to the read budget: nullptr also when the budget is spent.
  uint8_t* acquireForRead();
  void releaseFromRead(uint8_t* buffer);
  // An exact-size block for reading (a spill or a frame larger than a pool
  // buffer), charged to the read budget (a large frame to its large-frame
  // share): nullptr when the budget is spent or the allocator failed; the
  // caller waits and retries. Freed with freeForRead(block, the same size).
  uint8_t* allocateForRead(size_t size);
  void freeForRead(uint8_t* block, size_t size);
  // Frees idle buffers beyond what the last interval needed, and gives this
  // thread's unused budget credit back. Called by the owner loop's periodic
  // tick.
  void trim();

  size_t buffersOut() const { return out_; }
  size_t buffersFree() const { return free_.size(); }
  size_t bytesInUse() const { return out_ * kBufferSize; }
  size_t bytesFree() const { return free_.size() * kBufferSize; }
  uint64_t exhaustedCount() const { return exhausted_; }

  OwnerThread& owner() { return owner_; }

 private:
  // Budget credit is taken in chunks of this and kept up to twice this, so
  // a worker serving small requests touches the shared atomic about once per
  // eight buffers' worth of growth, not per request.
  static constexpr size_t kCreditChunk = kMaxCredit / 2;
  bool chargeRead(size_t n);
  void unchargeRead(size_t n);
  void uncharge(size_t size);  // what allocateForRead(size) charged

  const size_t read_limit_bytes_;
  ReadBudget* const budget_;
  size_t credit_ = 0;  // charged to budget_, not yet handed out
  size_t read_out_ = 0;
  std::vector<uint8_t*> free_;
  size_t out_ = 0;
  size_t peak_out_since_trim_ = 0;
  uint64_t exhausted_ = 0;
  OwnerThread owner_;
};

}  // namespace memkv::net
