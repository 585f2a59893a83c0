#include "net/output_chain.h"

#include <algorithm>
#include <cstring>

namespace memkv::net {

OutputChain::Slice* OutputChain::ownedTail() {
  if (slices_.size() == head_) return nullptr;
  Slice& tail = slices_.back();
  return tail.owned ? &tail : nullptr;
}

uint8_t* OutputChain::reserve(size_t n) {
  pool_.owner().check("OutputChain::reserve");
  Slice* tail = ownedTail();
  if (tail == nullptr || BufferPool::kBufferSize - tail->write_offset < n) {
    uint8_t* buffer = pool_.acquire();
    if (buffer == nullptr) return nullptr;
    if (slices_.size() == head_) {
      slices_.clear();
      head_ = 0;
    }
    slices_.push_back({buffer, 0, buffer, 0, nullptr, nullptr});
    tail = &slices_.back();
  }
  return tail->owned + tail->write_offset;
}

void OutputChain::commit(size_t n) {
  Slice& tail = slices_.back();
  tail.write_offset += n;
  tail.size += n;
  bytes_ += n;
}

bool OutputChain::appendCopy(std::span<const uint8_t> bytes) {
  while (!bytes.empty()) {
    Slice* tail = ownedTail();
    size_t room = tail ? BufferPool::kBufferSize - tail->write_offset : 0;
    if (room == 0) room = BufferPool::kBufferSize;
    const size_t n = std::min(room, bytes.size());
    uint8_t* out = reserve(n);
    if (out == nullptr) return false;
    std::memcpy(out, bytes.data(), n);
    commit(n);
    bytes = bytes.subspan(n);
  }
  return true;
}

void OutputChain::appendFragment(const Fragment& fragment) {
  pool_.owner().check("OutputChain::appendFragment");
  if (fragment.size == 0) {
    if (fragment.release) fragment.release(fragment.ctx);
    return;
  }
  if (slices_.size() == head_) {
    slices_.clear();
    head_ = 0;
  }
  slices_.push_back({fragment.data, fragment.size, nullptr, 0, fragment.release, fragment.ctx});
  bytes_ += fragment.size;
}

size_t OutputChain::gather(iovec* iov, size_t max) const {
  pool_.owner().check("OutputChain::gather");
  size_t count = 0;
  for (size_t i = head_; i < slices_.size() && count < max; ++i) {
    const Slice& s = slices_[i];
    if (s.size == 0) continue;
    iov[count].iov_base = const_cast<uint8_t*>(s.data);
    iov[count].iov_len = s.size;
    ++count;
  }
  return count;
}

void OutputChain::releaseSlice(Slice& s) {
  if (s.owned) {
    pool_.release(s.owned);
  } else if (s.release) {
    s.release(s.ctx);
  }
  s = {};
}

void OutputChain::drain(size_t n) {
  pool_.owner().check("OutputChain::drain");
  bytes_ -= n;
  while (head_ < slices_.size()) {
    Slice& s = slices_[head_];
    const size_t take = std::min(n, s.size);
    s.data += take;
    s.size -= take;
    n -= take;
    if (s.size != 0) break;
    releaseSlice(s);
    ++head_;
  }
  if (head_ == slices_.size()) {
    // Nothing left in flight: an idle connection holds no slice storage.
    std::vector<Slice>().swap(slices_);
    head_ = 0;
  } else if (head_ > 32 && head_ * 2 > slices_.size()) {
    slices_.erase(slices_.begin(), slices_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
}

void OutputChain::clear() {
  for (size_t i = head_; i < slices_.size(); ++i) releaseSlice(slices_[i]);
  std::vector<Slice>().swap(slices_);
  head_ = 0;
  bytes_ = 0;
}

}  // namespace memkv::net
