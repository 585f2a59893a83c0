#pragma once
// LogRateLimiter: a token bucket in front of one kind of log line (hostile
// frames, auth failures, stall disconnects), so a flood of bad clients costs
// at most `rate` lines a second (after a burst) instead of one line each.
// What it drops is counted and handed to the next line allowed through, or
// to a periodic summary (takeSuppressed), so the log still says how many.
//
// Thread-safe: every worker shares one limiter per kind. The mutex is taken
// only when a line of that kind is about to be written (already a slow path:
// a connection is being refused or dropped), never per request.
#include <cstdint>
#include <mutex>
#include <string_view>

namespace memkv {

class LogRateLimiter final {
 public:
  // Milliseconds of a monotonic clock; a plain function so a test can inject
  // its own time without a virtual call or an allocation.
  using NowMs = int64_t (*)();

  // rate_per_s lines a second on average, up to burst at once (the bucket
  // starts full).
  LogRateLimiter(uint32_t rate_per_s, uint32_t burst, NowMs now_ms);

  // True when a line may be written now; then *suppressed is the number of
  // lines refused since the last one allowed (or summarized), and the count
  // restarts.
  bool allow(uint64_t* suppressed);

  // Lines refused and not yet reported; resets the count (the caller writes
  // the summary).
  uint64_t takeSuppressed();

 private:
  void refill(int64_t now);

  static constexpr int64_t kMilli = 1000;  // tokens are counted in thousandths
  const int64_t rate_per_s_;
  const int64_t capacity_;  // burst, in thousandths of a token
  const NowMs now_ms_;
  std::mutex mutex_;
  int64_t tokens_;  // thousandths of a token
  int64_t last_ms_;
  uint64_t suppressed_ = 0;
};

// The kinds of line that go through a limiter: one bucket each, so a flood
// of one kind never hides another.
enum class LogKind : uint8_t { kHostileFrame, kAuthFailure, kStallDisconnect, kCount };

std::string_view logKindName(LogKind kind);

// The process-wide limiter for a kind: 10 lines a second, bursts of 20.
LogRateLimiter& logLimiter(LogKind kind);

// Writes one warning per kind whose lines were refused since the last one
// written ("N similar messages suppressed"), so a flood that stopped is still
// accounted for. Any thread; the main loop calls it every second.
void logSuppressedSummaries();

}  // namespace memkv
