#pragma once
// What one worker thread observed; the main thread merges them after join.
// Errors are counted whenever they happen (warmup and prefill included);
// operations and latency only inside the measured window.
#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "latency_histogram.h"
#include "value_codec.h"

namespace memkv::bench {

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
