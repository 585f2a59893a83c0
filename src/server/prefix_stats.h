#pragma once
// memcached's `stats detail`: per key prefix (the part before the first ':')
// counts of gets, hits, sets and deletes, recorded only while switched on
// (`stats detail on`), so the off state costs one relaxed load per command.
// Thread-safe: any worker records; one mutex, taken only while on.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace memkv::server {

class PrefixStats final {
 public:
  enum class Op : uint8_t { kGet, kSet, kDelete };
  // At most this many prefixes are tracked; keys with others go uncounted
  // (a client must not grow the server's memory without bound).
  static constexpr size_t kMaxPrefixes = 10'000;
  static constexpr char kDelimiter = ':';  // memcached's default (-D)

  bool enabled() const { return enabled_.load(std::memory_order_relaxed); }
  void setEnabled(bool on) { enabled_.store(on, std::memory_order_relaxed); }
  // Counts a command while on; off, one relaxed load. A key without the
  // delimiter has no prefix and is not counted (memcached).
  void record(std::string_view key, Op op, bool hit = false) {
    if (enabled()) recordOn(key, op, hit);
  }
  // "PREFIX <p> get <n> hit <n> set <n> del <n>\r\n" per prefix, then "END\r\n".
  std::string dump() const;
  void reset();

 private:
  void recordOn(std::string_view key, Op op, bool hit);
  struct Counts {
    uint64_t gets = 0;
    uint64_t hits = 0;
    uint64_t sets = 0;
    uint64_t deletes = 0;
  };
  std::atomic<bool> enabled_{false};
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Counts> counts_;  // guarded by mutex_
};

}  // namespace memkv::server
