#include "support/test_env.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace memkv::test {

bool sanitizedBuild() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
  return true;
#else
  return false;
#endif
#else
  return false;
#endif
}

double residentScale() {
#if defined(__SANITIZE_THREAD__)
  return 5.0;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
  return 5.0;
#else
  return 1.0;
#endif
#else
  return 1.0;
#endif
}

double timeScale() {
  if (const char* s = std::getenv("MEMKV_TEST_TIME_SCALE"); s != nullptr) {
    char* end = nullptr;
    const double v = std::strtod(s, &end);
    if (end != s && v > 0) return v;
  }
  if (sanitizedBuild()) return 5.0;
#ifdef NDEBUG
  return 1.0;
#else
  return 2.0;
#endif
}

std::chrono::milliseconds scaled(std::chrono::milliseconds base) {
  return std::chrono::milliseconds(
      static_cast<int64_t>(static_cast<double>(base.count()) * timeScale()));
}

long envInt(const char* name, long fallback) {
  const char* s = std::getenv(name);
  if (s == nullptr) return fallback;
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  return (end != s && *end == '\0' && v > 0) ? v : fallback;
}

int64_t residentBytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) != 0) continue;
    std::istringstream fields(line.substr(6));
    int64_t kb = -1;
    fields >> kb;
    return kb < 0 ? -1 : kb * 1024;
  }
  return -1;
}

uint64_t raiseFileLimit(uint64_t wanted) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur >= wanted) return rl.rlim_cur;
  rlimit next = rl;
  next.rlim_cur = wanted;
  if (next.rlim_max < wanted) next.rlim_max = wanted;  // only root may raise the hard limit
  if (::setrlimit(RLIMIT_NOFILE, &next) != 0) {
    next.rlim_cur = rl.rlim_max;
    next.rlim_max = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &next);
  }
  ::getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur;
}

uint64_t statU64(McbpClient& client, const std::string& name) {
  const auto stats = client.stats();
  const auto it = stats.find(name);
  if (it == stats.end()) throw McbpError("STAT has no " + name);
  return std::strtoull(it->second.c_str(), nullptr, 10);
}

bool waitForStat(McbpClient& client, const std::string& name,
                 const std::function<bool(uint64_t)>& pred, std::chrono::milliseconds timeout,
                 uint64_t* last) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const uint64_t v = statU64(client, name);
    if (last != nullptr) *last = v;
    if (pred(v)) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string valueBytes(uint64_t tag, std::size_t size) {
  std::string s(size, '\0');
  uint64_t x = tag * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
  for (std::size_t i = 0; i < size; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(s.data() + i, &x, std::min<std::size_t>(8, size - i));
  }
  for (std::size_t i = 0; i < 8 && i < size; ++i) s[i] = static_cast<char>(tag >> (8 * i));
  return s;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool waitForFile(const std::string& path, const std::function<bool(const std::string&)>& pred,
                 std::chrono::milliseconds timeout, std::string* contents) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    *contents = readFile(path);
    if (pred(*contents)) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace memkv::test
