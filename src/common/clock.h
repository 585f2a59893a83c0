#pragma once
// Wall-clock seconds as the engine sees them. The engine takes a Clock so tests
// can move time by hand across expiry edges.
#include <atomic>
#include <cstdint>

namespace memkv {

// Milliseconds of the monotonic clock (deadlines, timeouts, idle times: never
// the wall clock, which may jump). Any thread.
int64_t steadyNowMs();

class Clock {
 public:
  virtual ~Clock() = default;
  // Seconds since the Unix epoch.
  virtual uint32_t now() const = 0;
};

class SystemClock final : public Clock {
 public:
  uint32_t now() const override;
};

// A clock that only moves when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(uint32_t start) : now_(start) {}
  uint32_t now() const override { return now_.load(std::memory_order_relaxed); }
  void advance(uint32_t seconds) { now_.fetch_add(seconds, std::memory_order_relaxed); }
  void set(uint32_t seconds) { now_.store(seconds, std::memory_order_relaxed); }

 private:
  std::atomic<uint32_t> now_;
};

}  // namespace memkv
