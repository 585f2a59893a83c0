#include "run_stats.h"

#include <algorithm>

namespace memkv::bench {

void RunStats::merge(const RunStats& other) {
  requests += other.requests;
  gets += other.gets;
  sets += other.sets;
  hits += other.hits;
  misses += other.misses;
  handshakes += other.handshakes;
  latency.merge(other.latency);
  // Workers run side by side: the run lasted as long as the longest of them.
  window_s = std::max(window_s, other.window_s);
  cpu_ns += other.cpu_ns;
  hot.merge(other.hot);
  sweep.merge(other.sweep);
  during_sweep.merge(other.during_sweep);
  after_sweep.merge(other.after_sweep);
  sweep_gets_issued += other.sweep_gets_issued;
  sweep_end_s = std::max(sweep_end_s, other.sweep_end_s);
  sweep_unfinished = sweep_unfinished || other.sweep_unfinished;
  if (intervals.size() < other.intervals.size()) intervals.resize(other.intervals.size());
  for (size_t i = 0; i < other.intervals.size(); ++i) {
    intervals[i].requests += other.intervals[i].requests;
    intervals[i].hot.merge(other.intervals[i].hot);
  }
  prefill_sets += other.prefill_sets;
  verify_failures += other.verify_failures;
  for (size_t i = 0; i < verify_by_check.size(); ++i)
    verify_by_check[i] += other.verify_by_check[i];
  for (const auto& [status, count] : other.errors_by_status) errors_by_status[status] += count;
  for (const auto& [line, count] : other.errors_by_reply) errors_by_reply[line] += count;
  connection_errors += other.connection_errors;
  protocol_errors += other.protocol_errors;
  tls_write_retries += other.tls_write_retries;
  timed_out = timed_out || other.timed_out;
}

}  // namespace memkv::bench
