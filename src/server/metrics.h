#pragma once
// The Prometheus exposition of the server's statistics (/metrics; the HTTP
// side is app/metrics_http). Nothing here keeps counts of its own: every
// value is what `stats` and STAT report, read through generalStats() and
// tlsStats() with a StatWriter that renames it, plus the latency histograms
// of command_timings.h. Names follow the memcached_exporter's where it has
// the statistic (so memcached dashboards and alerts work unchanged), with a
// `bucket` label on per-bucket values; memkv's own are `memkv_*`.
// docs/architecture.md, "Metrics".
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace memkv::server {

class ServerContext;

enum class MetricType : uint8_t { kCounter, kGauge };

// How one `stats` name is exposed.
struct MetricSpec {
  std::string_view stat;    // the name in `stats`
  std::string_view family;  // Prometheus name; a counter's ends in _total
  MetricType type;
  bool per_bucket;  // labelled {bucket="..."}, once per bucket shown
  std::string_view help;
};

// The spec for a `stats` name, or nullptr when /metrics shows it otherwise
// (memcached_commands_total is built from the *_hits/_misses family) or not
// at all (metricLeftOut()).
const MetricSpec* metricSpec(std::string_view stat);
// True for the `stats` names /metrics leaves out on purpose (strings such as
// version, identities such as pid, and values another metric already gives).
bool metricLeftOut(std::string_view stat);
// True for the names memcached_commands_total is built from.
bool metricInCommands(std::string_view stat);

struct MetricsRequest {
  // OpenMetrics 1.0 (the scraper asked for application/openmetrics-text)
  // rather than Prometheus text 0.0.4.
  bool openmetrics = false;
  // Which buckets' per-bucket series to include; unset: all of them.
  std::function<bool(std::string_view bucket)> bucket_visible;
};

inline constexpr std::string_view kPrometheusTextType = "text/plain; version=0.0.4; charset=utf-8";
inline constexpr std::string_view kOpenMetricsType =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

// The whole exposition. Any thread: it reads counters the way `stats` does.
std::string renderMetrics(ServerContext& server, const MetricsRequest& request);

}  // namespace memkv::server
