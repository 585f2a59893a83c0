#include "report.h"

#include <algorithm>
#include <string>

#include "protocol/status.h"

namespace memkv::bench {
namespace {

struct Summary {
  double ops_per_sec = 0;  // keys read or written per second
  double requests_per_sec = 0;
  double hit_ratio = 0;
  double client_cpu_us_per_op = 0;
};

Summary summarize(const RunStats& s) {
  Summary r;
  if (s.window_s > 0) {
    r.ops_per_sec = static_cast<double>(s.ops()) / s.window_s;
    r.requests_per_sec = static_cast<double>(s.requests) / s.window_s;
  }
  if (s.hits + s.misses > 0) {
    r.hit_ratio = static_cast<double>(s.hits) / static_cast<double>(s.hits + s.misses);
  }
  if (s.ops() > 0) r.client_cpu_us_per_op = static_cast<double>(s.cpu_ns) / 1e3 / s.ops();
  return r;
}

double micros(uint64_t nanos) {
  return static_cast<double>(nanos) / 1e3;
}

const char* protocolName(Protocol protocol) {
  return protocol == Protocol::kText ? "text" : "binary";
}

std::string statusLabel(uint16_t status) {
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%04x", status);
  const std::string_view text = mcbp::statusText(static_cast<mcbp::Status>(status));
  return text.empty() ? std::string(hex) : std::string(hex) + " " + std::string(text);
}

unsigned long long ull(uint64_t v) {
  return static_cast<unsigned long long>(v);
}

// Seconds of the measured window after the sweep ended (run clock: the window
// runs from warmup_s to warmup_s + window_s), for hits/s after the sweep.
double afterSweepSeconds(const BenchOptions& o, const RunStats& s) {
  if (s.sweep_unfinished) return 0;
  const double end = o.warmup_s + s.window_s;
  return std::max(0.0, end - std::max(s.sweep_end_s, o.warmup_s));
}

double perSecond(uint64_t n, double seconds) {
  return seconds > 0 ? static_cast<double>(n) / seconds : 0;
}

void printHitSlicesText(const BenchOptions& o, const RunStats& s, std::FILE* out) {
  if (o.sweep_keys == 0 && !o.shift && o.report_interval_s == 0) return;
  std::fprintf(
      out, "hot keys (all but the sweep's): hit ratio %.4f (hits %llu, misses %llu)  %.0f hits/s\n",
      s.hot.ratio(), ull(s.hot.hits), ull(s.hot.misses), perSecond(s.hot.hits, s.window_s));
  if (o.sweep_keys > 0) {
    std::fprintf(out, "sweep: %llu keys from %.1f s, %llu gets issued, ", ull(o.sweep_keys),
                 o.sweep_start_s, ull(s.sweep_gets_issued));
    if (s.sweep_unfinished) {
      std::fprintf(out, "not finished in the run\n");
    } else {
      std::fprintf(out, "ended at %.2f s\n", s.sweep_end_s);
    }
    std::fprintf(out, "  sweep gets in the window: hits %llu, misses %llu\n", ull(s.sweep.hits),
                 ull(s.sweep.misses));
    std::fprintf(out,
                 "  hot hit ratio during the sweep %.4f (%llu gets), after it %.4f (%llu gets, "
                 "%.0f hits/s)\n",
                 s.during_sweep.ratio(), ull(s.during_sweep.gets), s.after_sweep.ratio(),
                 ull(s.after_sweep.gets), perSecond(s.after_sweep.hits, afterSweepSeconds(o, s)));
  }
  if (o.shift) {
    std::fprintf(out, "shift at %.1f s to a fresh key space, values %u-%u B\n", o.shift_at_s,
                 o.shift_value_min, o.shift_value_max);
  }
  for (size_t i = 0; i < s.intervals.size(); ++i) {
    const IntervalCounts& c = s.intervals[i];
    const double start = static_cast<double>(i) * o.report_interval_s;
    std::fprintf(
        out, "interval %.1f-%.1f s: %.0f requests/s, hot hit ratio %.4f (hits %llu, misses %llu)\n",
        start, start + o.report_interval_s, perSecond(c.requests, o.report_interval_s),
        c.hot.ratio(), ull(c.hot.hits), ull(c.hot.misses));
  }
}

void printHitCountsJson(const char* name, const HitCounts& c, std::FILE* out) {
  std::fprintf(out, "\"%s\":{\"gets\":%llu,\"hits\":%llu,\"misses\":%llu,\"hit_ratio\":%.6f}", name,
               ull(c.gets), ull(c.hits), ull(c.misses), c.ratio());
}

// The hit-ratio fields: "hot" always; "sweep", "shift" and "intervals"
// (each with start_s, end_s on the run clock) when asked for.
void printHitSlicesJson(const BenchOptions& o, const RunStats& s, std::FILE* out) {
  printHitCountsJson("hot", s.hot, out);
  std::fprintf(out, ",\"hot_hits_per_sec\":%.1f,", perSecond(s.hot.hits, s.window_s));
  if (o.sweep_keys > 0) {
    std::fprintf(out, "\"sweep\":{\"keys\":%llu,\"start_s\":%.3f,\"gets_issued\":%llu,",
                 ull(o.sweep_keys), o.sweep_start_s, ull(s.sweep_gets_issued));
    if (s.sweep_unfinished) {
      std::fprintf(out, "\"end_s\":null,");
    } else {
      std::fprintf(out, "\"end_s\":%.3f,", s.sweep_end_s);
    }
    printHitCountsJson("own", s.sweep, out);
    std::fputc(',', out);
    printHitCountsJson("hot_during", s.during_sweep, out);
    std::fputc(',', out);
    printHitCountsJson("hot_after", s.after_sweep, out);
    std::fprintf(out, ",\"hot_after_hits_per_sec\":%.1f},",
                 perSecond(s.after_sweep.hits, afterSweepSeconds(o, s)));
  }
  if (o.shift) {
    std::fprintf(out, "\"shift\":{\"at_s\":%.3f,\"value_min\":%u,\"value_max\":%u},", o.shift_at_s,
                 o.shift_value_min, o.shift_value_max);
  }
  if (o.report_interval_s > 0) {
    std::fprintf(out, "\"intervals\":[");
    for (size_t i = 0; i < s.intervals.size(); ++i) {
      const IntervalCounts& c = s.intervals[i];
      const double start = static_cast<double>(i) * o.report_interval_s;
      std::fprintf(out, "%s{\"start_s\":%.3f,\"end_s\":%.3f,\"requests\":%llu,", i > 0 ? "," : "",
                   start, start + o.report_interval_s, ull(c.requests));
      printHitCountsJson("hot", c.hot, out);
      std::fputc('}', out);
    }
    std::fprintf(out, "],");
  }
}

}  // namespace

void printText(const BenchOptions& o, const RunStats& s, std::FILE* out) {
  const Summary r = summarize(s);
  std::fprintf(out,
               "server %s:%u  %s  threads %d  conns/thread %d  pipeline %d  ratio %u:%u  "
               "keys/get %u\n",
               o.host.c_str(), o.port, protocolName(o.protocol), o.threads, o.conns_per_thread,
               o.pipeline, o.get_weight, o.set_weight, o.keys_per_get);
  if (o.tls) {
    std::fprintf(out, "tls %s%s\n", o.tls_version == 12 ? "1.2" : "1.3",
                 o.tls_ca.empty() ? " (server not verified)" : "");
  }
  if (o.handshakes) {
    std::fprintf(out, "handshakes %llu  %.0f handshakes/s (connect, full handshake, NOOP, close)\n",
                 static_cast<unsigned long long>(s.handshakes), r.ops_per_sec);
  }
  std::fprintf(out, "window %.2f s  ops (keys) %llu (gets %llu, sets %llu)  %.0f ops/s\n",
               s.window_s, static_cast<unsigned long long>(s.ops()),
               static_cast<unsigned long long>(s.gets), static_cast<unsigned long long>(s.sets),
               r.ops_per_sec);
  std::fprintf(out, "requests %llu  %.0f requests/s\n", static_cast<unsigned long long>(s.requests),
               r.requests_per_sec);
  std::fprintf(out, "hit ratio %.4f (hits %llu, misses %llu)\n", r.hit_ratio,
               static_cast<unsigned long long>(s.hits), static_cast<unsigned long long>(s.misses));
  printHitSlicesText(o, s, out);
  const LatencyHistogram& h = s.latency;
  std::fprintf(out, "latency us: mean %.1f  p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n",
               h.mean() / 1e3, micros(h.percentile(0.50)), micros(h.percentile(0.90)),
               micros(h.percentile(0.99)), micros(h.percentile(0.999)), micros(h.max()));
  std::fprintf(out, "client cpu %.2f us/op (latency is per request)\n", r.client_cpu_us_per_op);
  if (s.prefill_sets > 0) {
    std::fprintf(out, "prefill sets %llu\n", static_cast<unsigned long long>(s.prefill_sets));
  }
  for (const auto& [status, count] : s.errors_by_status) {
    std::fprintf(out, "error status %s: %llu\n", statusLabel(status).c_str(),
                 static_cast<unsigned long long>(count));
  }
  for (const auto& [line, count] : s.errors_by_reply) {
    std::fprintf(out, "error reply \"%s\": %llu\n", line.c_str(),
                 static_cast<unsigned long long>(count));
  }
  if (o.verify) {
    std::fprintf(out, "verify failures %llu\n", static_cast<unsigned long long>(s.verify_failures));
    for (size_t i = 1; i < s.verify_by_check.size(); ++i) {
      if (s.verify_by_check[i] == 0) continue;
      std::fprintf(out, "  %s: %llu\n", valueCheckName(static_cast<ValueCheck>(i)).data(),
                   static_cast<unsigned long long>(s.verify_by_check[i]));
    }
  }
  if (s.timed_out) std::fprintf(out, "timed out (--timeout)\n");
  if (s.connection_errors + s.protocol_errors > 0) {
    std::fprintf(out, "connection errors %llu  protocol errors %llu\n",
                 static_cast<unsigned long long>(s.connection_errors),
                 static_cast<unsigned long long>(s.protocol_errors));
  }
}

void printJson(const BenchOptions& o, const RunStats& s, std::FILE* out) {
  const Summary r = summarize(s);
  const LatencyHistogram& h = s.latency;
  std::fprintf(out,
               "{\"server\":\"%s:%u\",\"protocol\":\"%s\",\"threads\":%d,\"conns_per_thread\":%d,"
               "\"keys_per_get\":%u,",
               o.host.c_str(), o.port, protocolName(o.protocol), o.threads, o.conns_per_thread,
               o.keys_per_get);
  std::fprintf(out, "\"pipeline\":%d,\"value_min\":%u,\"value_max\":%u,", o.pipeline, o.value_min,
               o.value_max);
  std::fprintf(out, "\"window_s\":%.4f,\"ops\":%llu,\"gets\":%llu,\"sets\":%llu,", s.window_s,
               static_cast<unsigned long long>(s.ops()), static_cast<unsigned long long>(s.gets),
               static_cast<unsigned long long>(s.sets));
  std::fprintf(out,
               "\"tls\":%s,\"tls_version\":\"%s\",\"handshakes\":%llu,\"tls_write_retries\":%llu,",
               o.tls ? "true" : "false", o.tls ? (o.tls_version == 12 ? "1.2" : "1.3") : "",
               static_cast<unsigned long long>(s.handshakes),
               static_cast<unsigned long long>(s.tls_write_retries));
  std::fprintf(out, "\"hits\":%llu,\"misses\":%llu,\"ops_per_sec\":%.1f,\"hit_ratio\":%.6f,",
               static_cast<unsigned long long>(s.hits), static_cast<unsigned long long>(s.misses),
               r.ops_per_sec, r.hit_ratio);
  std::fprintf(out, "\"requests\":%llu,\"requests_per_sec\":%.1f,",
               static_cast<unsigned long long>(s.requests), r.requests_per_sec);
  printHitSlicesJson(o, s, out);
  std::fprintf(out,
               "\"latency_us\":{\"mean\":%.2f,\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,"
               "\"p999\":%.2f,\"max\":%.2f},",
               h.mean() / 1e3, micros(h.percentile(0.50)), micros(h.percentile(0.90)),
               micros(h.percentile(0.99)), micros(h.percentile(0.999)), micros(h.max()));
  std::fprintf(out, "\"client_cpu_us_per_op\":%.3f,\"prefill_sets\":%llu,\"errors_by_status\":{",
               r.client_cpu_us_per_op, static_cast<unsigned long long>(s.prefill_sets));
  const char* sep = "";
  for (const auto& [status, count] : s.errors_by_status) {
    std::fprintf(out, "%s\"0x%04x\":%llu", sep, status, static_cast<unsigned long long>(count));
    sep = ",";
  }
  std::fprintf(out, "},\"errors_by_reply\":{");
  sep = "";
  for (const auto& [line, count] : s.errors_by_reply) {
    std::fprintf(out, "%s\"%s\":%llu", sep, line.c_str(), static_cast<unsigned long long>(count));
    sep = ",";
  }
  std::fprintf(out, "},\"verify\":%s,\"verify_failures\":%llu,\"verify_by_check\":{",
               o.verify ? "true" : "false", static_cast<unsigned long long>(s.verify_failures));
  sep = "";
  for (size_t i = 1; i < s.verify_by_check.size(); ++i) {
    std::fprintf(out, "%s\"%s\":%llu", sep, valueCheckName(static_cast<ValueCheck>(i)).data(),
                 static_cast<unsigned long long>(s.verify_by_check[i]));
    sep = ",";
  }
  std::fprintf(out, "},\"connection_errors\":%llu,\"protocol_errors\":%llu,\"timed_out\":%s}\n",
               static_cast<unsigned long long>(s.connection_errors),
               static_cast<unsigned long long>(s.protocol_errors), s.timed_out ? "true" : "false");
}

}  // namespace memkv::bench
