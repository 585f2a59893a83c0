#include "common/clock.h"

#include <chrono>
#include <ctime>

namespace memkv {

int64_t steadyNowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

uint32_t SystemClock::now() const {
  return static_cast<uint32_t>(::time(nullptr));
}

}  // namespace memkv
