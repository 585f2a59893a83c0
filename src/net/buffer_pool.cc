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
  if (budget_ != nullptr && credit_ != 0) budget_->uncharge(credit_);
}

bool BufferPool::chargeRead(size_t n) {
  if (budget_ == nullptr) return true;
  if (credit_ >= n) {
    credit_ -= n;
    return true;
  }
  const size_t deficit = n - credit_;
  // A chunk more than needed when it fits; exactly the deficit otherwise, so
  // the last bytes under the limit are still usable.
  if (budget_->tryCharge(deficit + kCreditChunk)) {
    credit_ = kCreditChunk;
    return true;
  }
  if (!budget_->tryCharge(deficit)) return false;
  credit_ = 0;
  return true;
}

void BufferPool::unchargeRead(size_t n) {
  if (budget_ == nullptr) return;
  credit_ += n;
  if (credit_ > 2 * kCreditChunk) {
    budget_->uncharge(credit_ - kCreditChunk);
    credit_ = kCreditChunk;
  }
}

uint8_t* BufferPool::acquireForRead() {
  if (read_limit_bytes_ != 0 && (read_out_ + 1) * kBufferSize > read_limit_bytes_) {
    ++exhausted_;
    return nullptr;
  }
  if (!chargeRead(kBufferSize)) {
    ++exhausted_;
    return nullptr;
  }
  uint8_t* buffer = acquire();
  if (buffer == nullptr) {
    unchargeRead(kBufferSize);
    return nullptr;
  }
  ++read_out_;
  return buffer;
}

void BufferPool::releaseFromRead(uint8_t* buffer) {
  --read_out_;
  release(buffer);
  unchargeRead(kBufferSize);
}

uint8_t* BufferPool::allocateForRead(size_t size) {
  owner_.check("BufferPool::allocateForRead");
  // A large frame's block is charged straight to the budget's large-frame
  // share (one atomic per large frame), never out of this pool's credit.
  const bool large = size > kBufferSize;
  if (large ? (budget_ != nullptr && !budget_->tryChargeLarge(size)) : !chargeRead(size)) {
    ++exhausted_;
    return nullptr;
  }
  auto* block = static_cast<uint8_t*>(std::malloc(size));
  if (block == nullptr) {
    ++exhausted_;
    uncharge(size);
  }
  return block;
}

void BufferPool::freeForRead(uint8_t* block, size_t size) {
  owner_.check("BufferPool::freeForRead");
  std::free(block);
  uncharge(size);
}

void BufferPool::uncharge(size_t size) {
  if (size <= kBufferSize) {
    unchargeRead(size);
  } else if (budget_ != nullptr) {
    budget_->uncharge(size);
  }
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
  // An idle thread holds no credit another thread's connection waits for.
  if (budget_ != nullptr && credit_ != 0) {
    budget_->uncharge(credit_);
    credit_ = 0;
  }
}

}  // namespace memkv::net
