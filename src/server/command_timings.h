#pragma once
// Per-worker latency histograms, one per command family, behind STAT
// "timings", `stats timings` and /metrics' memkv_command_duration_seconds.
// Written only by the worker thread that served the command: a record is a
// clock read, a short scan of fixed bounds and two relaxed load+store
// increments, with no lock and no allocation (docs/architecture.md, "Metrics").
#include <array>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <string_view>

#include "common/counter.h"

namespace memkv::mcbp {
enum class Opcode : uint8_t;
}
namespace memkv::text {
struct TextCommand;
}

namespace memkv::server {

class ServerContext;

// The families a command is timed under. The names are the `command` label of
// memcached_commands_total where memcached has one, and memkv's own otherwise.
enum class CommandFamily : uint8_t {
  kGet,     // get, gets, GET/GETK/GETQ, mg
  kSet,     // every store: set, add, replace, append, prepend, cas, ms
  kDelete,  // delete, md
  kIncr,    // incr, INCREMENT, ma
  kDecr,    // decr, DECREMENT, ma with mode decrement
  kTouch,   // touch, gat, gats, TOUCH, GAT
  kFlush,   // flush_all, FLUSH
  kAuth,    // SASL_LIST_MECHS, SASL_AUTH, SASL_STEP
  kStats,   // stats, STAT
  kScan,    // range scans
  kOther,   // everything else (noop, version, HELLO, bucket and meta commands, ...)
};
inline constexpr size_t kCommandFamilies = 11;

inline constexpr std::array<std::string_view, kCommandFamilies> kCommandFamilyNames = {
    "get", "set", "delete", "incr", "decr", "touch", "flush", "auth", "stats", "scan", "other"};

// Upper bounds of the buckets, in nanoseconds: a cache serves most commands
// in microseconds, so the scale starts at 5 us and runs to 10 s in 1-2.5-5
// steps; anything slower lands in +Inf.
inline constexpr std::array<uint64_t, 20> kLatencyBoundsNs = {
    5'000,       10'000,        25'000,        50'000,        100'000,
    250'000,     500'000,       1'000'000,     2'500'000,     5'000'000,
    10'000'000,  25'000'000,    50'000'000,    100'000'000,   250'000'000,
    500'000'000, 1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000};

// The monotonic clock the timings use, in nanoseconds.
inline uint64_t timingNowNs() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

class LatencyHistogram {
 public:
  static constexpr size_t kBuckets = kLatencyBoundsNs.size() + 1;  // the last is +Inf

  void record(uint64_t ns) {
    // Most commands fall in the first buckets: a forward scan ends soonest.
    size_t i = 0;
    while (i < kLatencyBoundsNs.size() && ns > kLatencyBoundsNs[i]) ++i;
    counts_[i].add(1);
    sum_ns_.add(ns);
  }
  // Commands in bucket i alone (not cumulative).
  uint64_t bucket(size_t i) const { return counts_[i].get(); }
  uint64_t sumNs() const { return sum_ns_.get(); }

 private:
  std::array<Counter, kBuckets> counts_;
  Counter sum_ns_;
};

struct CommandTimings {
  std::array<LatencyHistogram, kCommandFamilies> family;
  LatencyHistogram& operator[](CommandFamily f) { return family[static_cast<size_t>(f)]; }
  const LatencyHistogram& operator[](CommandFamily f) const {
    return family[static_cast<size_t>(f)];
  }
};

// Every worker's histograms of one family added up, with cumulative counts
// (what Prometheus' `le` buckets and `stats timings` show).
struct TimingTotals {
  std::array<uint64_t, LatencyHistogram::kBuckets> cumulative{};
  uint64_t count = 0;
  uint64_t sum_ns = 0;
};

// The family a command is timed under: MCBP by its base opcode (quiet
// variants share it), text and meta by the parsed command.
extern const std::array<CommandFamily, 256> kCommandFamilyByOpcode;
inline CommandFamily commandFamily(mcbp::Opcode base) {
  return kCommandFamilyByOpcode[static_cast<uint8_t>(base)];
}
CommandFamily commandFamily(const text::TextCommand& command);

// One family over every worker. Read while workers record: each bucket is
// exact, and count is the +Inf bucket, so count and buckets always agree.
TimingTotals timingTotals(const ServerContext& server, CommandFamily family);

}  // namespace memkv::server
