#pragma once
// What one worker thread observed; the main thread merges them after join.
// Errors are counted whenever they happen (warmup and prefill included);
// operations and latency only inside the measured window.
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "latency_histogram.h"
#include "value_codec.h"

namespace memkv::bench {

// GETs of one slice of the traffic and what they found (keys, for a multiget).
struct HitCounts {
  uint64_t gets = 0;
  uint64_t hits = 0;
  uint64_t misses = 0;

  void add(uint64_t keys, uint64_t hit, uint64_t miss) {
    gets += keys;
    hits += hit;
    misses += miss;
  }
  void merge(const HitCounts& other) { add(other.gets, other.hits, other.misses); }
  double ratio() const {
    return hits + misses > 0 ? static_cast<double>(hits) / static_cast<double>(hits + misses) : 0;
  }
};

// --report-interval: one interval of the run, by the time a request was sent.
struct IntervalCounts {
  uint64_t requests = 0;  // all of them, the sweep's too
  HitCounts hot;          // GETs of the workload's keys (not the sweep's)
};

struct RunStats {
  uint64_t requests = 0;  // a multiget is one request ...
  uint64_t gets = 0;      // ... and as many gets as it has keys
  uint64_t sets = 0;
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t handshakes = 0;  // --handshakes: completed cycles (each also one request)
  LatencyHistogram latency;
  double window_s = 0;  // measured wall time of this worker
  uint64_t cpu_ns = 0;  // this worker's CPU time inside the window

  // Hit-ratio workloads (KeySpaces), in the measured window like the above.
  HitCounts hot;                   // GETs of the workload's keys (main or shifted space)
  HitCounts sweep;                 // the sweep's GETs (all miss unless the keys were set before)
  HitCounts during_sweep;          // hot GETs sent while this worker's part of the sweep ran
  HitCounts after_sweep;           // hot GETs sent after it ended
  uint64_t sweep_gets_issued = 0;  // whole run, warmup included
  double sweep_end_s = 0;          // run clock; the latest worker's
  bool sweep_unfinished = false;   // some worker's part did not end in the run
  std::vector<IntervalCounts> intervals;  // whole run, warmup included

  uint64_t prefill_sets = 0;
  uint64_t verify_failures = 0;
  std::array<uint64_t, 7> verify_by_check{};        // indexed by ValueCheck
  std::map<uint16_t, uint64_t> errors_by_status;    // MCBP; GET misses are not errors
  std::map<std::string, uint64_t> errors_by_reply;  // text: the reply line
  uint64_t connection_errors = 0;
  uint64_t protocol_errors = 0;
  uint64_t tls_write_retries = 0;  // SSL_writes that wanted a retry (proof the retry path ran)
  bool timed_out = false;          // --timeout cut the run short (a server stopped answering?)

  // Keys read or written; in --handshakes mode, handshake cycles.
  uint64_t ops() const { return gets + sets + handshakes; }
  bool failed() const {
    return verify_failures + connection_errors + protocol_errors > 0 || timed_out;
  }
  void merge(const RunStats& other);
};

}  // namespace memkv::bench
