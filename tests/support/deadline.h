#pragma once
// Milliseconds left until a deadline, for poll() timeouts in the test clients.
#include <chrono>

namespace memkv::test {

inline int msLeft(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
  return left < 0 ? 0 : static_cast<int>(left);
}

}  // namespace memkv::test
