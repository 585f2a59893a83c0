#include "common/clock.h"

#include <ctime>

namespace memkv {

uint32_t SystemClock::now() const {
  return static_cast<uint32_t>(::time(nullptr));
}

}  // namespace memkv
