#pragma once
// What one worker thread observed; the main thread merges them after join.
// Errors are counted whenever they happen (warmup and prefill included);
// operations and latency only inside the measured window.
#include <array>
#include <cstdint>
#include <map>

#include "latency_histogram.h"
#include "value_codec.h"

namespace memkv::bench {

struct RunStats {
  uint64_t gets = 0;
  uint64_t sets = 0;
  uint64_t hits = 0;
  uint64_t misses = 0;
  LatencyHistogram latency;
  double window_s = 0;  // measured wall time of this worker
  uint64_t cpu_ns = 0;  // this worker's CPU time inside the window

  uint64_t prefill_sets = 0;
  uint64_t verify_failures = 0;
  std::array<uint64_t, 7> verify_by_check{};      // indexed by ValueCheck
  std::map<uint16_t, uint64_t> errors_by_status;  // GET misses are not errors
  uint64_t connection_errors = 0;
  uint64_t protocol_errors = 0;

  uint64_t ops() const { return gets + sets; }
  bool failed() const { return verify_failures + connection_errors + protocol_errors > 0; }
  void merge(const RunStats& other);
};

}  // namespace memkv::bench
