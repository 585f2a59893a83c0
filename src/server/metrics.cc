#include "server/metrics.h"

#include <array>
#include <cstdlib>
#include <iterator>
#include <map>
#include <vector>

#include <fmt/format.h>

#include "server/command_timings.h"
#include "server/server_context.h"
#include "server/stats.h"

namespace memkv::server {

namespace {

using T = MetricType;

// memcached_exporter's names and meanings first (its metrics.md), then
// memkv's. Per-bucket values carry a bucket label; the rest are the server's.
constexpr std::array kSpecs = {
    // Server: memcached_exporter.
    MetricSpec{"uptime", "memcached_uptime_seconds", T::kGauge, false,
               "Number of seconds since the server started."},
    MetricSpec{"time", "memcached_time_seconds", T::kGauge, false,
               "Current UNIX time according to the server."},
    MetricSpec{"rusage_user", "memcached_process_user_cpu_seconds_total", T::kCounter, false,
               "Accumulated user time for this process."},
    MetricSpec{"rusage_system", "memcached_process_system_cpu_seconds_total", T::kCounter, false,
               "Accumulated system time for this process."},
    MetricSpec{"max_connections", "memcached_max_connections", T::kGauge, false,
               "Maximum number of clients allowed."},
    MetricSpec{"curr_connections", "memcached_current_connections", T::kGauge, false,
               "Current number of open connections."},
    MetricSpec{"total_connections", "memcached_connections_total", T::kCounter, false,
               "Total number of connections opened since the server started running."},
    MetricSpec{"rejected_connections", "memcached_connections_rejected_total", T::kCounter, false,
               "Total number of connections rejected due to the connection limit."},
    MetricSpec{"accepting_conns", "memcached_accepting_conns", T::kGauge, false,
               "The server is currently accepting connections."},
    MetricSpec{"listen_disabled_num", "memcached_connections_listener_disabled_total", T::kCounter,
               false,
               "Number of times that memcached has hit its connections limit and disabled its "
               "listener."},
    MetricSpec{"conn_yields", "memcached_connections_yielded_total", T::kCounter, false,
               "Total number of connections yielded running due to hitting the request limit."},
    MetricSpec{"bytes_read", "memcached_read_bytes_total", T::kCounter, false,
               "Total number of bytes read by this server from network."},
    MetricSpec{"bytes_written", "memcached_written_bytes_total", T::kCounter, false,
               "Total number of bytes sent by this server to network."},
    // Buckets: memcached_exporter.
    MetricSpec{"limit_maxbytes", "memcached_limit_bytes", T::kGauge, true,
               "Number of bytes this server is allowed to use for storage."},
    MetricSpec{"bytes", "memcached_current_bytes", T::kGauge, true,
               "Current number of bytes used to store items."},
    MetricSpec{"curr_items", "memcached_current_items", T::kGauge, true,
               "Current number of items stored."},
    MetricSpec{"total_items", "memcached_items_total", T::kCounter, true,
               "Total number of items stored during the life of this server."},
    MetricSpec{"evictions", "memcached_items_evicted_total", T::kCounter, true,
               "Total number of valid items removed from cache to free memory for new items."},
    MetricSpec{"reclaimed", "memcached_items_reclaimed_total", T::kCounter, true,
               "Total number of times an entry was stored using memory from an expired entry."},
    MetricSpec{"direct_reclaims", "memcached_direct_reclaims_total", T::kCounter, true,
               "Times worker threads had to directly reclaim or evict items."},
    // From `stats slabs`, as the exporter reads it.
    MetricSpec{"total_malloced", "memcached_malloced_bytes", T::kGauge, true,
               "Number of bytes of memory allocated to slab pages."},
    // memkv: commands and items.
    MetricSpec{"threads", "memkv_threads", T::kGauge, false, "Worker threads serving clients."},
    MetricSpec{"get_expired", "memkv_get_expired_total", T::kCounter, false,
               "GETs that found only an expired item."},
    MetricSpec{"get_flushed", "memkv_get_flushed_total", T::kCounter, false,
               "GETs that found only an item a flush had made invisible."},
    MetricSpec{"store_too_large", "memkv_store_too_large_total", T::kCounter, false,
               "Stores refused because the value was larger than the item size limit."},
    MetricSpec{"store_no_memory", "memkv_store_no_memory_total", T::kCounter, false,
               "Stores refused because no memory could be freed for them."},
    MetricSpec{"auth_cmds", "memkv_auth_commands_total", T::kCounter, false,
               "Authentication attempts (SASL and client certificates)."},
    MetricSpec{"auth_errors", "memkv_auth_errors_total", T::kCounter, false,
               "Failed authentication attempts."},
    MetricSpec{"users", "memkv_users", T::kGauge, false,
               "Users in the users file in effect (0 without one)."},
    MetricSpec{"users_reloads", "memkv_users_reloads_total", T::kCounter, false,
               "Successful reloads of the users file (SIGHUP)."},
    MetricSpec{"users_reload_errors", "memkv_users_reload_errors_total", T::kCounter, false,
               "Reloads of the users file that failed and kept the users in effect."},
    MetricSpec{"cluster_map_rev", "memkv_cluster_map_rev", T::kGauge, false,
               "Rev of the cluster map served (0 without --cluster-map)."},
    MetricSpec{"not_my_vbucket", "memkv_not_my_vbucket_total", T::kCounter, false,
               "Requests refused with NOT_MY_VBUCKET: the key's vbucket is another node's."},
    MetricSpec{"cluster_vbuckets_dropped", "memkv_cluster_vbuckets_dropped_total", T::kCounter,
               false, "Vbuckets a cluster map change took from this node, emptied."},
    MetricSpec{"cluster_items_dropped", "memkv_cluster_items_dropped_total", T::kCounter, false,
               "Items in the vbuckets a cluster map change took from this node."},
    MetricSpec{"cluster_map_reloads", "memkv_cluster_map_reloads_total", T::kCounter, false,
               "Successful reloads of the cluster map (SIGHUP)."},
    MetricSpec{"cluster_map_reload_errors", "memkv_cluster_map_reload_errors_total", T::kCounter,
               false, "Reloads of the cluster map that failed and kept the map in effect."},
    MetricSpec{"expired_unfetched", "memkv_items_expired_unfetched_total", T::kCounter, true,
               "Items that expired before anyone read them."},
    MetricSpec{"evicted_unfetched", "memkv_items_evicted_unfetched_total", T::kCounter, true,
               "Items evicted before anyone read them."},
    MetricSpec{"malloc_fails", "memkv_malloc_failures_total", T::kCounter, true,
               "Times the system refused memory the bucket's limit allowed."},
    MetricSpec{"hash_power_level", "memkv_hash_power_level", T::kGauge, true,
               "Log2 of the bucket's hash table slots."},
    MetricSpec{"flushed_unreclaimed", "memkv_items_flushed_unreclaimed", T::kGauge, true,
               "Items a flush made invisible whose memory is not freed yet."},
    // memkv: the item store and its S3-FIFO eviction queues.
    MetricSpec{"item_store_bytes", "memkv_item_store_bytes", T::kGauge, true,
               "Memory the item store holds against the limit: segments and large blocks."},
    MetricSpec{"item_store_small_queue_bytes", "memkv_item_store_small_queue_bytes", T::kGauge,
               true, "Bytes in the S3-FIFO small (probationary) queue."},
    MetricSpec{"item_store_segment_size", "memkv_item_store_segment_size_bytes", T::kGauge, true,
               "Size of one item store segment."},
    MetricSpec{"item_store_segments_evicted", "memkv_item_store_segments_evicted_total",
               T::kCounter, true, "Segments emptied by eviction."},
    MetricSpec{"item_store_items_moved", "memkv_item_store_items_moved_total", T::kCounter, true,
               "Items eviction copied to the main queue instead of evicting them."},
    MetricSpec{"item_store_segments_compacted", "memkv_item_store_segments_compacted_total",
               T::kCounter, true, "Segments emptied early because most of their items were dead."},
    // memkv: the send path.
    MetricSpec{"bytes_copied", "memkv_send_bytes_copied_total", T::kCounter, false,
               "Response bytes copied into output buffers."},
    MetricSpec{"bytes_referenced", "memkv_send_bytes_referenced_total", T::kCounter, false,
               "Value bytes sent by reference to the stored item, without a copy."},
    MetricSpec{"output_bytes_queued", "memkv_output_queued_bytes", T::kGauge, false,
               "Bytes waiting to be sent, all connections."},
    MetricSpec{"output_bytes_queued_max", "memkv_output_queued_max_bytes", T::kGauge, false,
               "The most bytes any one connection had waiting to be sent."},
    MetricSpec{"backpressure_pauses", "memkv_backpressure_pauses_total", T::kCounter, false,
               "Times a connection stopped reading because its output passed the high "
               "watermark."},
    MetricSpec{"stall_disconnects", "memkv_stall_disconnects_total", T::kCounter, false,
               "Connections closed because their output did not move for the stall timeout."},
    MetricSpec{"auth_timeout_disconnects", "memkv_auth_timeout_disconnects_total", T::kCounter,
               false, "Connections closed because they did not authenticate in time."},
    MetricSpec{"pool_bytes_in_use", "memkv_pool_in_use_bytes", T::kGauge, false,
               "Buffer pool bytes lent to connections."},
    MetricSpec{"pool_bytes_free", "memkv_pool_free_bytes", T::kGauge, false,
               "Buffer pool bytes cached for reuse."},
    MetricSpec{"pool_exhausted", "memkv_pool_exhausted_total", T::kCounter, false,
               "Times a buffer pool was at its limit when a connection needed a buffer."},
    MetricSpec{"read_buffers_in_use", "memkv_read_buffers_in_use", T::kGauge, false,
               "Pool buffers held for reading."},
    MetricSpec{"read_spill_bytes", "memkv_read_spill_bytes", T::kGauge, false,
               "Bytes of partial requests parked in exact-size spills."},
    MetricSpec{"large_frame_bytes", "memkv_read_large_frame_bytes", T::kGauge, false,
               "Bytes of requests larger than a pool buffer, being read."},
    MetricSpec{"read_memory_limit", "memkv_read_memory_limit_bytes", T::kGauge, false,
               "The server-wide budget for partially received requests."},
    MetricSpec{"read_memory_bytes", "memkv_read_memory_bytes", T::kGauge, false,
               "Bytes of partially received requests now."},
    MetricSpec{"read_memory_peak", "memkv_read_memory_peak_bytes", T::kGauge, false,
               "The most bytes of partially received requests held at once."},
    MetricSpec{"read_memory_waits", "memkv_read_memory_waits_total", T::kCounter, false,
               "Times a connection waited for read memory."},
    MetricSpec{"read_stall_disconnects", "memkv_read_stall_disconnects_total", T::kCounter, false,
               "Connections closed because a partial request stopped growing."},
    MetricSpec{"connection_inboxes", "memkv_connection_inboxes", T::kGauge, false,
               "Connections holding an inbox for background output."},
    MetricSpec{"session_backgrounds", "memkv_session_backgrounds", T::kGauge, false,
               "Connections holding background state: a login, a parked command or DCP."},
    MetricSpec{"connection_struct_bytes", "memkv_connection_struct_bytes", T::kGauge, false,
               "Bytes of one connection's own objects."},
    MetricSpec{"memory_per_connection", "memkv_connection_memory_bytes", T::kGauge, false,
               "What a connection costs now: its objects plus its share of held buffers."},
    // memkv: DCP (STAT dcp).
    MetricSpec{"dcp_producers", "memkv_dcp_producers", T::kGauge, false,
               "Connections DCP_OPEN made producers."},
    MetricSpec{"dcp_streams", "memkv_dcp_streams", T::kGauge, false, "DCP streams open."},
    MetricSpec{"dcp_items_sent", "memkv_dcp_items_sent_total", T::kCounter, false,
               "Documents and deletions DCP streams sent."},
    MetricSpec{"dcp_bytes_sent", "memkv_dcp_sent_bytes_total", T::kCounter, false,
               "Bytes of every DCP message sent, as flow control counts them."},
    MetricSpec{"dcp_window_full_pauses", "memkv_dcp_window_full_pauses_total", T::kCounter, false,
               "Times a DCP producer waited for its consumer's acknowledgement."},
    MetricSpec{"dcp_cursors_dropped", "memkv_dcp_cursors_dropped_total", T::kCounter, false,
               "Following DCP streams that fell behind the change log and backfilled again."},
    MetricSpec{"dcp_buffered_bytes", "memkv_dcp_buffered_bytes", T::kGauge, false,
               "Changes DCP streams hold waiting to be sent (backfills and change-log reads)."},
    MetricSpec{"dcp_change_log_bytes", "memkv_dcp_change_log_bytes", T::kGauge, true,
               "Memory the bucket's change logs hold for following DCP streams."},
    MetricSpec{"dcp_change_log_dropped", "memkv_dcp_change_log_dropped_total", T::kCounter, true,
               "Changes a change log let go of before every follower read them."},
    MetricSpec{"dcp_tombstones", "memkv_dcp_tombstones", T::kGauge, true,
               "Tombstones the bucket keeps for DCP streams."},
    MetricSpec{"dcp_tombstone_bytes", "memkv_dcp_tombstone_bytes", T::kGauge, true,
               "Memory those tombstones hold."},
    MetricSpec{"dcp_tombstones_purged", "memkv_dcp_tombstones_purged_total", T::kCounter, true,
               "Deletions whose tombstone the bounds dropped (or that none was kept for)."},
    // memkv: range scans and background work.
    MetricSpec{"range_scans_open", "memkv_range_scans_open", T::kGauge, false, "Range scans open."},
    MetricSpec{"range_scans_items", "memkv_range_scans_items_pinned", T::kGauge, false,
               "Items pinned by open range scans."},
    MetricSpec{"range_scans_bytes", "memkv_range_scans_pinned_bytes", T::kGauge, false,
               "Bytes pinned by open range scans."},
    MetricSpec{"executor_threads", "memkv_executor_threads", T::kGauge, false,
               "Background executor threads."},
    MetricSpec{"executor_tasks_run", "memkv_executor_tasks_run_total", T::kCounter, false,
               "Background tasks run."},
    MetricSpec{"executor_tasks_queued", "memkv_executor_tasks_queued", T::kGauge, false,
               "Background tasks waiting to run."},
    // TLS (present when TLS is configured).
    MetricSpec{"ssl_handshake_errors", "memkv_tls_handshake_errors_total", T::kCounter, false,
               "TLS handshakes that failed."},
    MetricSpec{"ssl_proto_errors", "memkv_tls_stream_errors_total", T::kCounter, false,
               "Fatal TLS errors after the handshake."},
    MetricSpec{"ssl_new_sessions", "memkv_tls_handshakes_total", T::kCounter, false,
               "TLS handshakes completed."},
    MetricSpec{"time_since_server_cert_refresh", "memkv_tls_cert_age_seconds", T::kGauge, false,
               "Seconds since the server certificate was last loaded."},
    MetricSpec{"tls_curr_connections", "memkv_tls_connections", T::kGauge, false,
               "TLS connections open."},
    MetricSpec{"tls_total_connections", "memkv_tls_connections_total", T::kCounter, false,
               "TLS connections accepted."},
    MetricSpec{"tls_handshake_timeouts", "memkv_tls_handshake_timeouts_total", T::kCounter, false,
               "TLS handshakes not done within the timeout."},
    MetricSpec{"tls_bytes_encrypted", "memkv_tls_encrypted_bytes_total", T::kCounter, false,
               "Plaintext bytes sent inside TLS records."},
    MetricSpec{"tls_bytes_decrypted", "memkv_tls_decrypted_bytes_total", T::kCounter, false,
               "Plaintext bytes received over TLS."},
    MetricSpec{"tls_records_written", "memkv_tls_records_written_total", T::kCounter, false,
               "TLS records written."},
    MetricSpec{"tls_bytes_staged", "memkv_tls_staged_bytes_total", T::kCounter, false,
               "Plaintext bytes copied to gather small pieces into one TLS record."},
};

// `stats` names /metrics leaves out, and why.
constexpr std::array<std::string_view, 7> kLeftOut = {
    "pid",                    // an identity, not a measurement
    "version",                // memcached_version{version}
    "memkv_version",          // memkv_build_info{version}
    "pointer_size",           // fixed
    "connection_structures",  // equals curr_connections in memkv
    "cmd_get",                // the sum of memcached_commands_total{command="get"}
    "cmd_touch",              // the sum of memcached_commands_total{command="touch"}
};

// The exporter's memcached_slab_* families, from `stats slabs` and `stats
// items`, labelled {bucket, slab}. memkv's one "slab class" (stats.cc) holds
// every item at its exact size.
struct SlabSpec {
  std::string_view stat;  // after the "N:" or "items:N:" prefix
  bool items;             // from `stats items`
  std::string_view family;
  MetricType type;
  std::string_view help;
};
constexpr std::array kSlabSpecs = {
    SlabSpec{"chunk_size", false, "memcached_slab_chunk_size_bytes", T::kGauge,
             "Number of bytes allocated to each chunk within this slab class."},
    SlabSpec{"chunks_per_page", false, "memcached_slab_chunks_per_page", T::kGauge,
             "Number of chunks within a single page for this slab class."},
    SlabSpec{"total_pages", false, "memcached_slab_current_pages", T::kGauge,
             "Number of pages allocated to this slab class."},
    SlabSpec{"total_chunks", false, "memcached_slab_current_chunks", T::kGauge,
             "Number of chunks allocated to this slab class."},
    SlabSpec{"used_chunks", false, "memcached_slab_chunks_used", T::kGauge,
             "Number of chunks allocated to an item."},
    SlabSpec{"free_chunks", false, "memcached_slab_chunks_free", T::kGauge,
             "Number of chunks not yet allocated items."},
    SlabSpec{"free_chunks_end", false, "memcached_slab_chunks_free_end", T::kGauge,
             "Number of free chunks at the end of the last allocated page."},
    SlabSpec{"number", true, "memcached_slab_current_items", T::kGauge,
             "Number of items currently stored in this slab class."},
    SlabSpec{"mem_requested", true, "memcached_slab_mem_requested_bytes", T::kGauge,
             "Number of bytes of memory actual items take up within a slab."},
    SlabSpec{"evicted", true, "memcached_slab_items_evicted_total", T::kCounter,
             "Total number of times an item had to be evicted from the LRU before it expired."},
    SlabSpec{"reclaimed", true, "memcached_slab_items_reclaimed_total", T::kCounter,
             "Total number of items reclaimed."},
    SlabSpec{"outofmemory", true, "memcached_slab_items_outofmemory_total", T::kCounter,
             "Total number of items for this slab class that have triggered an out of memory "
             "error."},
};
constexpr std::string_view kSlabClass = "1";

// memcached_commands_total{command,status}, as the memcached_exporter
// derives it from `stats`; {set,hit} is cmd_set less the CAS outcomes.
struct CommandSample {
  std::string_view stat, command, status;
};
constexpr std::array<CommandSample, 14> kCommandSamples = {{
    {"get_hits", "get", "hit"},
    {"get_misses", "get", "miss"},
    {"delete_hits", "delete", "hit"},
    {"delete_misses", "delete", "miss"},
    {"incr_hits", "incr", "hit"},
    {"incr_misses", "incr", "miss"},
    {"decr_hits", "decr", "hit"},
    {"decr_misses", "decr", "miss"},
    {"cas_hits", "cas", "hit"},
    {"cas_misses", "cas", "miss"},
    {"cas_badval", "cas", "badval"},
    {"touch_hits", "touch", "hit"},
    {"touch_misses", "touch", "miss"},
    {"cmd_flush", "flush", "hit"},
}};

// One `stats` pass, kept by name.
class Snapshot final : public StatWriter {
 public:
  void add(std::string_view name, std::string_view value) override {
    values_.insert_or_assign(std::string(name), std::string(value));
  }
  // The value as a number (rusage's "seconds.micros" included); nullptr-like
  // false when absent or not a number.
  bool number(std::string_view name, double* out) const {
    const auto it = values_.find(name);
    if (it == values_.end()) return false;
    char* end = nullptr;
    *out = std::strtod(it->second.c_str(), &end);
    return end != it->second.c_str() && *end == '\0';
  }

 private:
  std::map<std::string, std::string, std::less<>> values_;
};

std::string escapeLabel(std::string_view v) {
  std::string out;
  for (const char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

class Exposition {
 public:
  explicit Exposition(bool openmetrics) : openmetrics_(openmetrics) {}

  // HELP and TYPE of a family. OpenMetrics names a counter's family
  // without the _total its samples carry.
  void family(std::string_view name, std::string_view type, std::string_view help) {
    std::string_view base = name;
    if (openmetrics_ && type == "counter" && base.ends_with("_total")) {
      base.remove_suffix(6);
    }
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", base, help, base,
                   type);
  }
  void sample(std::string_view name, std::string_view labels, double value) {
    if (labels.empty()) {
      fmt::format_to(std::back_inserter(out_), "{} {}\n", name, value);
    } else {
      fmt::format_to(std::back_inserter(out_), "{}{{{}}} {}\n", name, labels, value);
    }
  }
  std::string finish() {
    if (openmetrics_) out_ += "# EOF\n";
    return std::move(out_);
  }

 private:
  bool openmetrics_;
  std::string out_;
};

void renderHistograms(ServerContext& server, Exposition& x) {
  x.family("memkv_command_duration_seconds", "histogram",
           "Time to serve a command, from its first byte's processing to its response, by "
           "command family.");
  for (size_t f = 0; f < kCommandFamilies; ++f) {
    const TimingTotals t = timingTotals(server, static_cast<CommandFamily>(f));
    const std::string command = fmt::format("command=\"{}\"", kCommandFamilyNames[f]);
    for (size_t i = 0; i < kLatencyBoundsNs.size(); ++i) {
      x.sample("memkv_command_duration_seconds_bucket",
               fmt::format("{},le=\"{}\"", command, static_cast<double>(kLatencyBoundsNs[i]) / 1e9),
               static_cast<double>(t.cumulative[i]));
    }
    x.sample("memkv_command_duration_seconds_bucket", command + ",le=\"+Inf\"",
             static_cast<double>(t.count));
    x.sample("memkv_command_duration_seconds_count", command, static_cast<double>(t.count));
    x.sample("memkv_command_duration_seconds_sum", command, static_cast<double>(t.sum_ns) / 1e9);
  }
}

}  // namespace

const MetricSpec* metricSpec(std::string_view stat) {
  for (const MetricSpec& spec : kSpecs) {
    if (spec.stat == stat) return &spec;
  }
  return nullptr;
}

bool metricLeftOut(std::string_view stat) {
  for (const std::string_view s : kLeftOut) {
    if (s == stat) return true;
  }
  return false;
}

bool metricInCommands(std::string_view stat) {
  if (stat == "cmd_set") return true;
  for (const CommandSample& c : kCommandSamples) {
    if (c.stat == stat) return true;
  }
  return false;
}

std::string renderMetrics(ServerContext& server, const MetricsRequest& request) {
  Exposition x(request.openmetrics);
  x.family("memcached_up", "gauge", "Could the memcached server be reached.");
  x.sample("memcached_up", {}, 1);
  x.family("memcached_version", "gauge", "The version of this memcached server.");
  x.sample("memcached_version", fmt::format("version=\"{}\"", escapeLabel(kMemcachedVersion)), 1);
  x.family("memkv_build_info", "gauge", "memkv's own version.");
  x.sample("memkv_build_info", fmt::format("version=\"{}\"", escapeLabel(MEMKV_VERSION)), 1);

  // One `stats` pass per bucket shown; the server's values from the first
  // pass over any bucket (they do not depend on it).
  struct Pass {
    std::string bucket;
    Snapshot stats;
  };
  std::vector<Pass> passes;
  Snapshot hidden;  // the server's values when the first bucket is not shown
  bool have_server_stats = false;
  size_t server_pass = ~size_t{0};
  for (const BucketHandle& b : server.buckets().all()) {
    if (b->deleted.load(std::memory_order_relaxed)) continue;
    if (request.bucket_visible && !request.bucket_visible(b->name)) {
      if (!have_server_stats) {
        generalStats(server, b->bucket, hidden, CountFrom::kStart);
        dcpStats(server, b->bucket, hidden, CountFrom::kStart);
      }
      have_server_stats = true;
      continue;
    }
    passes.push_back({b->name, {}});
    Snapshot& stats = passes.back().stats;
    generalStats(server, b->bucket, stats, CountFrom::kStart);
    slabsStats(server, b->bucket, stats);
    itemsStats(server, b->bucket, stats);
    dcpStats(server, b->bucket, stats, CountFrom::kStart);
    if (!have_server_stats) server_pass = passes.size() - 1;
    have_server_stats = true;
  }
  Snapshot& server_stats = server_pass < passes.size() ? passes[server_pass].stats : hidden;
  if (have_server_stats && server.tls() != nullptr) tlsStats(server, server_stats);

  double v = 0;
  for (const MetricSpec& spec : kSpecs) {
    const std::string_view type = spec.type == MetricType::kCounter ? "counter" : "gauge";
    if (spec.per_bucket) {
      bool first = true;
      for (const Pass& p : passes) {
        if (!p.stats.number(spec.stat, &v)) continue;
        if (first) x.family(spec.family, type, spec.help);
        first = false;
        x.sample(spec.family, fmt::format("bucket=\"{}\"", escapeLabel(p.bucket)), v);
      }
    } else if (server_stats.number(spec.stat, &v)) {
      x.family(spec.family, type, spec.help);
      x.sample(spec.family, {}, v);
    }
  }

  for (const SlabSpec& spec : kSlabSpecs) {
    const std::string stat =
        fmt::format("{}{}:{}", spec.items ? "items:" : "", kSlabClass, spec.stat);
    bool first = true;
    for (const Pass& p : passes) {
      if (!p.stats.number(stat, &v)) continue;
      if (first)
        x.family(spec.family, spec.type == MetricType::kCounter ? "counter" : "gauge", spec.help);
      first = false;
      x.sample(spec.family,
               fmt::format("bucket=\"{}\",slab=\"{}\"", escapeLabel(p.bucket), kSlabClass), v);
    }
  }

  if (have_server_stats) {
    x.family("memcached_commands_total", "counter",
             "Total number of all requests broken down by "
             "command (get, set, etc.) and status.");
    double cas_total = 0;
    for (const CommandSample& c : kCommandSamples) {
      if (!server_stats.number(c.stat, &v)) continue;
      if (c.command == "cas") cas_total += v;
      x.sample("memcached_commands_total",
               fmt::format("command=\"{}\",status=\"{}\"", c.command, c.status), v);
    }
    if (server_stats.number("cmd_set", &v)) {
      x.sample("memcached_commands_total", "command=\"set\",status=\"hit\"", v - cas_total);
    }
  }
  renderHistograms(server, x);
  return x.finish();
}

}  // namespace memkv::server
