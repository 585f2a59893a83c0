#include "engine/counter_value.h"

#include <charconv>

namespace memkv::engine {

namespace {
constexpr size_t kMaxCounterLength = 22;
bool isBlank(uint8_t c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}
}  // namespace

std::optional<uint64_t> parseCounter(std::span<const uint8_t> value) {
  if (value.empty() || value.size() > kMaxCounterLength) return std::nullopt;
  const char* p = reinterpret_cast<const char*>(value.data());
  const char* end = p + value.size();
  while (p < end && isBlank(static_cast<uint8_t>(*p))) ++p;
  if (p < end && *p == '+') ++p;
  uint64_t result = 0;
  auto [ptr, ec] = std::from_chars(p, end, result);
  if (ec != std::errc() || ptr == p) return std::nullopt;
  if (ptr < end && !isBlank(static_cast<uint8_t>(*ptr))) return std::nullopt;
  return result;
}

size_t formatCounter(uint64_t value, char* out) {
  auto [ptr, ec] = std::to_chars(out, out + 20, value);
  (void)ec;  // 20 digits always fit a uint64_t
  return static_cast<size_t>(ptr - out);
}

}  // namespace memkv::engine
