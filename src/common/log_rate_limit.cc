#include "common/log_rate_limit.h"

#include <algorithm>
#include <array>

#include <spdlog/spdlog.h>

#include "common/clock.h"

namespace memkv {

LogRateLimiter::LogRateLimiter(uint32_t rate_per_s, uint32_t burst, NowMs now_ms)
    : rate_per_s_(rate_per_s),
      capacity_(int64_t{burst} * kMilli),
      now_ms_(now_ms),
      tokens_(capacity_),
      last_ms_(now_ms()) {}

void LogRateLimiter::refill(int64_t now) {
  // A clock that went backwards (it should not: it is monotonic) adds nothing.
  if (now <= last_ms_) return;
  // rate_per_s tokens a second is rate_per_s thousandths a millisecond;
  // capping the elapsed time first keeps the product from overflowing.
  const int64_t elapsed = std::min(now - last_ms_, int64_t{3'600'000});
  tokens_ = std::min(capacity_, tokens_ + elapsed * rate_per_s_);
  last_ms_ = now;
}

bool LogRateLimiter::allow(uint64_t* suppressed) {
  const int64_t now = now_ms_();
  std::lock_guard lock(mutex_);
  refill(now);
  if (tokens_ < kMilli) {
    ++suppressed_;
    return false;
  }
  tokens_ -= kMilli;
  *suppressed = suppressed_;
  suppressed_ = 0;
  return true;
}

uint64_t LogRateLimiter::takeSuppressed() {
  std::lock_guard lock(mutex_);
  const uint64_t n = suppressed_;
  suppressed_ = 0;
  return n;
}

std::string_view logKindName(LogKind kind) {
  switch (kind) {
    case LogKind::kHostileFrame:
      return "hostile_frame";
    case LogKind::kAuthFailure:
      return "auth_failure";
    case LogKind::kStallDisconnect:
      return "stall_disconnect";
    case LogKind::kCount:
      break;
  }
  return "unknown";
}

namespace {
constexpr uint32_t kLinesPerSecond = 10;
constexpr uint32_t kBurst = 20;
}  // namespace

LogRateLimiter& logLimiter(LogKind kind) {
  // Built on first use (thread-safe static); never destroyed before the
  // workers that use it, being a function-local static.
  static std::array<LogRateLimiter, static_cast<size_t>(LogKind::kCount)> limiters{
      LogRateLimiter(kLinesPerSecond, kBurst, steadyNowMs),
      LogRateLimiter(kLinesPerSecond, kBurst, steadyNowMs),
      LogRateLimiter(kLinesPerSecond, kBurst, steadyNowMs)};
  return limiters[static_cast<size_t>(kind)];
}

void logSuppressedSummaries() {
  for (size_t i = 0; i < static_cast<size_t>(LogKind::kCount); ++i) {
    const auto kind = static_cast<LogKind>(i);
    const uint64_t n = logLimiter(kind).takeSuppressed();
    if (n != 0) spdlog::warn("event={} ({} similar messages suppressed)", logKindName(kind), n);
  }
}

}  // namespace memkv
