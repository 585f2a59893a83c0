#include "net/inbox.h"

#include <algorithm>
#include <cstring>
#include <span>
#include <utility>

#include "net/event_loop.h"
#include "net/output_chain.h"

namespace memkv::net {

namespace {
// Below this a frame is copied into the output's tail buffer: one iovec less
// and the producer's memory back at once.
constexpr size_t kCopyBelow = 4096;

void releaseFragment(const Fragment& f) {
  if (f.release) f.release(f.ctx);
}
}  // namespace

Inbox::Inbox(EventLoop& loop, size_t budget_bytes, std::function<void()> deliver)
    : loop_(loop), budget_bytes_(budget_bytes), deliver_(std::move(deliver)) {}

Inbox::~Inbox() {
  for (const Queued& q : frames_) releaseFragment(q.fragment);
}

Inbox::Push Inbox::push(const Fragment& fragment, bool may_copy) {
  bool wake = false;
  Push result = Push::kOk;
  {
    std::lock_guard guard(mutex_);
    if (closed_) {
      result = Push::kClosed;
    } else {
      frames_.push_back({fragment, may_copy});
      const size_t bytes = bytes_.load(std::memory_order_relaxed) + fragment.size;
      bytes_.store(bytes, std::memory_order_release);
      peak_bytes_ = std::max(peak_bytes_, bytes);
      if (!wake_pending_) {
        wake_pending_ = true;
        wake = true;
      }
      if (bytes >= budget_bytes_) {
        if (!producer_paused_) ++pauses_;
        producer_paused_ = true;
        result = Push::kPause;
      }
    }
  }
  if (result == Push::kClosed) {
    releaseFragment(fragment);
    return result;
  }
  if (wake) loop_.post([self = shared_from_this()] { self->runDeliver(); });
  return result;
}

void Inbox::setOnResume(std::function<void()> on_resume) {
  std::lock_guard guard(mutex_);
  on_resume_ = std::move(on_resume);
}

void Inbox::runDeliver() {
  loop_.owner().check("Inbox::runDeliver");
  {
    std::lock_guard guard(mutex_);
    wake_pending_ = false;
    if (closed_) return;
  }
  deliver_();
}

size_t Inbox::drainInto(OutputChain& out, size_t out_limit) {
  loop_.owner().check("Inbox::drainInto");
  size_t moved = 0;
  std::function<void()> resume;
  while (out.size() < out_limit) {
    Fragment f;
    bool may_copy;
    {
      std::lock_guard guard(mutex_);
      if (frames_.empty()) break;
      f = frames_.front().fragment;
      may_copy = frames_.front().may_copy;
      frames_.pop_front();
      const size_t bytes = bytes_.load(std::memory_order_relaxed) - f.size;
      bytes_.store(bytes, std::memory_order_release);
      if (producer_paused_ && bytes <= budget_bytes_ / 2) {
        producer_paused_ = false;
        resume = on_resume_;
      }
    }
    if (may_copy && f.size < kCopyBelow) {
      // One reservation for the whole frame: a frame is never half copied.
      uint8_t* dst = out.reserve(f.size);
      if (dst != nullptr) {
        std::memcpy(dst, f.data, f.size);
        out.commit(f.size);
      }
      releaseFragment(f);
      if (dst == nullptr) break;  // allocator failure: the frame is dropped whole
    } else {
      out.appendFragment(f);
    }
    moved += f.size;
  }
  if (resume) resume();
  return moved;
}

void Inbox::close() {
  loop_.owner().check("Inbox::close");
  std::deque<Queued> dropped;
  {
    std::lock_guard guard(mutex_);
    closed_ = true;
    dropped.swap(frames_);
    bytes_.store(0, std::memory_order_release);
    on_resume_ = nullptr;
  }
  for (const Queued& q : dropped) releaseFragment(q.fragment);
  deliver_ = nullptr;
}

size_t Inbox::peakQueuedBytes() const {
  std::lock_guard guard(mutex_);
  return peak_bytes_;
}

uint64_t Inbox::pauses() const {
  std::lock_guard guard(mutex_);
  return pauses_;
}

}  // namespace memkv::net
