#include "server/stats.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>

#include "net/connection.h"
#include "server/mcbp_session.h"

namespace memkv::server {

namespace {
std::string rusageTime(const timeval& tv) {
  return fmt::format("{}.{:06}", tv.tv_sec, tv.tv_usec);
}

}  // namespace

void generalStats(ServerContext& server, engine::Bucket& stats_bucket, StatWriter& add,
                  CountFrom from) {
  const auto totals = from == CountFrom::kReset ? server.totalsSinceReset() : server.rawTotals();
  const auto bucket = stats_bucket.stats();
  const time_t now = ::time(nullptr);
  uint64_t curr_connections = 0;
  uint64_t read_buffers = 0, spill_bytes = 0, large_frame_bytes = 0;
  uint64_t pool_in_use = 0, pool_free = 0, pool_exhausted = 0, pauses = 0, stalls = 0;
  uint64_t expired = 0;
  uint64_t read_waits = 0, read_stalls = 0, inboxes = 0, backgrounds = 0;
  uint64_t output_queued = 0, output_queued_max = 0;
  for (const auto& w : server.workers()) {
    curr_connections += w->net->curr_connections.get();
    read_buffers += w->net->read_buffers_out.get();
    spill_bytes += w->net->spill_bytes.get();
    large_frame_bytes += w->net->large_frame_bytes.get();
    pool_in_use += w->net->pool_bytes_in_use.get();
    pool_free += w->net->pool_bytes_free.get();
    pool_exhausted += w->net->pool_exhausted.get();
    pauses += w->net->backpressure_pauses.get();
    stalls += w->net->stall_disconnects.get();
    expired += w->net->expired_disconnects.get();
    read_waits += w->net->read_waits.get();
    read_stalls += w->net->read_stall_disconnects.get();
    inboxes += w->net->inboxes.get();
    backgrounds += w->session_backgrounds.get();
    output_queued += w->net->output_queued.get();
    output_queued_max = std::max(output_queued_max, w->net->output_queued_max.get());
  }
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);

  add("pid", ::getpid());
  add("uptime", now - server.started());
  add("time", now);
  add("version", kMemcachedVersion);
  add("memkv_version", MEMKV_VERSION);
  add("pointer_size", sizeof(void*) * 8);
  add("rusage_user", rusageTime(usage.ru_utime));
  add("rusage_system", rusageTime(usage.ru_stime));
  add("max_connections", server.settings().max_connections);
  add("curr_connections", curr_connections);
  add("total_connections", totals.total_connections);
  add("rejected_connections", totals.rejected_connections);
  // memkv allocates a connection's structures with it and frees them on close.
  add("connection_structures", curr_connections);
  // memkv never stops listening: beyond -c it closes new sockets (rejected_connections).
  add("accepting_conns", 1);
  add("listen_disabled_num", 0);
  add("cmd_get", totals.cmd_get);
  add("cmd_set", totals.cmd_set);
  add("cmd_flush", totals.cmd_flush);
  add("cmd_touch", totals.cmd_touch);
  add("get_hits", totals.get_hits);
  add("get_misses", totals.get_misses);
  add("get_expired", totals.get_expired);
  add("get_flushed", totals.get_flushed);
  add("delete_misses", totals.delete_misses);
  add("delete_hits", totals.delete_hits);
  add("incr_misses", totals.incr_misses);
  add("incr_hits", totals.incr_hits);
  add("decr_misses", totals.decr_misses);
  add("decr_hits", totals.decr_hits);
  add("cas_misses", totals.cas_misses);
  add("cas_hits", totals.cas_hits);
  add("cas_badval", totals.cas_badval);
  add("touch_hits", totals.touch_hits);
  add("touch_misses", totals.touch_misses);
  add("auth_cmds", totals.auth_cmds);
  add("auth_errors", totals.auth_errors);
  const std::shared_ptr<const auth::UserDatabase> users = server.users().db;
  add("users", uint64_t{users ? users->size() : 0});
  add("users_reloads", server.usersReloads());
  add("users_reload_errors", server.usersReloadErrors());
  const BucketManager::ClusterView cluster = server.buckets().clusterMap();
  add("cluster_map_rev", uint64_t{cluster.map ? static_cast<uint64_t>(cluster.map->rev()) : 0});
  add("cluster_map_reloads", server.clusterMapReloads());
  add("cluster_map_reload_errors", server.clusterMapReloadErrors());
  // Requests refused because the key's vbucket belongs to another node: a
  // client that routes by the map causes none once it has the map.
  add("not_my_vbucket", totals.not_my_vbucket);
  // What map changes took from this node, emptied in the background.
  add("cluster_vbuckets_dropped", server.vbucketsDropped());
  add("cluster_items_dropped", server.itemsDropped());
  add("bytes_read", totals.bytes_read);
  add("bytes_written", totals.bytes_written);
  add("limit_maxbytes", bucket.limit_maxbytes);
  add("threads", server.settings().threads);
  add("conn_yields", totals.conn_yields);
  add("bytes", bucket.bytes);
  add("curr_items", bucket.curr_items);
  add("total_items", bucket.total_items);
  add("evictions", bucket.evictions);
  add("reclaimed", bucket.reclaimed);
  // Segments a writer emptied itself because the store was full (memkv has
  // no background evictor; memcached counts the same event this way).
  add("direct_reclaims", bucket.direct_reclaims);
  add("expired_unfetched", bucket.expired_unfetched);
  add("evicted_unfetched", bucket.evicted_unfetched);
  add("store_too_large", totals.store_too_large);
  add("store_no_memory", totals.store_no_memory);
  add("malloc_fails", bucket.malloc_fails);
  add("hash_power_level", bucket.hash_power_level);
  // Flushed items not freed yet: out of curr_items, still in bytes.
  add("flushed_unreclaimed", bucket.flushed_unreclaimed);
  // memkv's item store (docs/architecture.md section 5): all the memory
  // items hold against -m, the S3-FIFO small queue's share of it, and what
  // eviction did with the segments it emptied.
  add("item_store_bytes", bucket.store_bytes);
  add("item_store_small_queue_bytes", bucket.small_queue_bytes);
  add("item_store_segment_size", bucket.segment_size);
  add("item_store_segments_evicted", bucket.segments_evicted);
  add("item_store_items_moved", bucket.items_moved);
  add("item_store_segments_compacted", bucket.segments_compacted);
  // memkv's send path (docs/architecture.md invariants 3-5).
  add("bytes_copied", totals.bytes_copied);
  add("bytes_referenced", totals.bytes_referenced);
  add("read_buffers_in_use", read_buffers);
  add("read_spill_bytes", spill_bytes);
  add("large_frame_bytes", large_frame_bytes);
  add("pool_bytes_in_use", pool_in_use);
  add("pool_bytes_free", pool_free);
  add("pool_exhausted", pool_exhausted);
  add("backpressure_pauses", pauses);
  add("stall_disconnects", stalls);
  add("auth_timeout_disconnects", expired);
  // Partially received requests, all workers (--read-memory-limit).
  if (const net::ReadBudget* budget = server.readBudget()) {
    add("read_memory_limit", budget->limit());
    add("read_memory_bytes", budget->used());
    add("read_memory_peak", budget->peak());
  }
  add("read_memory_waits", read_waits);
  add("read_stall_disconnects", read_stalls);
  add("connection_inboxes", inboxes);       // connections holding an Inbox now
  add("session_backgrounds", backgrounds);  // sessions holding background state now
  const RangeScanRegistry::Totals scans = server.rangeScans().totals();
  add("range_scans_open", scans.scans);
  add("range_scans_items", scans.items);  // pinned by open scans
  add("range_scans_bytes", scans.bytes);
  add("executor_threads", server.executors().threads());
  add("executor_tasks_run", server.executors().tasksRun());
  add("executor_tasks_queued", server.executors().queued());
  add("output_bytes_queued", output_queued);
  add("output_bytes_queued_max", output_queued_max);
  // What a connection costs: its objects, plus the buffers all connections
  // hold right now shared out among them.
  const uint64_t struct_bytes = sizeof(net::Connection) + sizeof(McbpSession);
  add("connection_struct_bytes", struct_bytes);
  add("memory_per_connection",
      curr_connections == 0
          ? 0
          : struct_bytes + (pool_in_use + spill_bytes + large_frame_bytes) / curr_connections);
  if (server.tls() != nullptr) tlsStats(server, add);
}

void tlsStats(ServerContext& server, StatWriter& add) {
  const auto total = [&server](const Counter net::WorkerCounters::*field) {
    uint64_t n = 0;
    for (const auto& w : server.workers()) n += (w->net->*field).get();
    return n;
  };
  using C = net::WorkerCounters;
  // memcached's names first; a "session" is a full handshake (no resumption).
  add("ssl_handshake_errors", total(&C::tls_handshake_errors));
  add("ssl_proto_errors", total(&C::tls_stream_errors));
  add("ssl_new_sessions", total(&C::tls_handshakes));
  add("time_since_server_cert_refresh", server.tls()->secondsSinceRefresh());
  add("tls_curr_connections", total(&C::tls_connections));
  add("tls_total_connections", total(&C::tls_total_connections));
  add("tls_handshake_timeouts", total(&C::tls_handshake_timeouts));
  add("tls_bytes_encrypted", total(&C::tls_bytes_encrypted));
  add("tls_bytes_decrypted", total(&C::tls_bytes_decrypted));
  add("tls_records_written", total(&C::tls_records_written));
  // Plaintext copied once more to gather small pieces into one record.
  add("tls_bytes_staged", total(&C::tls_bytes_staged));
}

void settingsStats(ServerContext& server, engine::Bucket& bucket, StatWriter& add) {
  const Settings& s = server.settings();
  add("maxbytes", bucket.stats().limit_maxbytes);
  add("maxconns", s.max_connections);
  add("tcpport", server.boundPort());
  add("udpport", 0);
  add("verbosity", server.verbosity().load());
  add("num_threads", s.threads);
  add("cas_enabled", s.cas_enabled ? "yes" : "no");
  add("flush_enabled", s.flush_enabled ? "yes" : "no");
  add("evictions", s.evict ? "on" : "off");
  add("item_size_max", s.item_size_max);
  // memcached's slab geometry, fixed in memkv (items are allocated exactly;
  // there are no slab classes to grow).
  add("growth_factor", "1.25");
  add("chunk_size", 48);
  add("reqs_per_event", s.requests_per_event);
  add("tcp_backlog", s.backlog);
  add("binding_protocol", "auto-negotiate");  // first byte: MCBP or text
  add("max_body_size", s.max_body_size);
  add("output_high_watermark", s.output_high_watermark);
  add("output_stall_timeout", s.output_stall_timeout_s);
  add("detail_enabled", server.prefixStats().enabled() ? "yes" : "no");
  add("shutdown_enabled", s.shutdown_enabled ? "yes" : "no");
  add("metrics_port", server.metricsPort());
  // --cluster-map: the file reloaded on SIGHUP, and whether text and meta
  // keys are checked against it (docs/cluster.md).
  add("cluster_map", s.cluster_map_file.empty() ? "none" : s.cluster_map_file);
  add("strict_vbuckets", s.strict_vbuckets ? "yes" : "no");
  add("ssl_enabled", s.ssl_enabled ? "yes" : "no");
  if (s.tlsConfigured()) {
    add("ssl_chain_cert", s.ssl_chain_cert);
    add("ssl_key", s.ssl_key);
    add("ssl_ca_cert", s.ssl_ca_cert);
    add("ssl_verify_mode", s.ssl_verify_mode);
    add("ssl_min_version", s.ssl_min_version);
    add("ssl_ciphers", s.ssl_ciphers.empty() ? "NULL" : s.ssl_ciphers);
    add("ssl_session_cache", "no");
    add("ssl_kernel_tls", "no");
    add("tls_port", server.tlsPort());
    add("tls_handshake_timeout", s.tls_handshake_timeout_s);
  }
}

void itemsStats(ServerContext& server, engine::Bucket& bucket, StatWriter& add) {
  (void)server;
  const engine::BucketStats b = bucket.stats();
  if (b.curr_items == 0) return;
  add("items:1:number", b.curr_items);
  add("items:1:mem_requested", b.bytes);
  add("items:1:evicted", b.evictions);
  add("items:1:reclaimed", b.reclaimed);
  add("items:1:outofmemory", b.out_of_memory);
}

void slabsStats(ServerContext& server, engine::Bucket& bucket, StatWriter& add) {
  const engine::BucketStats b = bucket.stats();
  const auto totals = server.totalsSinceReset();
  if (b.curr_items != 0) {
    // One exact-size "chunk" per item: chunk_size is their mean footprint.
    add("1:chunk_size", b.bytes / b.curr_items);
    add("1:chunks_per_page", 1);
    add("1:total_pages", b.curr_items);
    add("1:total_chunks", b.curr_items);
    add("1:used_chunks", b.curr_items);
    add("1:free_chunks", 0);
    add("1:free_chunks_end", 0);
    add("1:get_hits", totals.get_hits);
    add("1:cmd_set", totals.cmd_set);
    add("1:delete_hits", totals.delete_hits);
    add("1:incr_hits", totals.incr_hits);
    add("1:decr_hits", totals.decr_hits);
    add("1:cas_hits", totals.cas_hits);
    add("1:cas_badval", totals.cas_badval);
    add("1:touch_hits", totals.touch_hits);
  }
  add("active_slabs", b.curr_items != 0 ? 1 : 0);
  // What memcached has malloced for slab pages: the item store's segments
  // and large blocks.
  add("total_malloced", b.store_bytes);
}

void dcpStats(ServerContext& server, engine::Bucket& bucket, StatWriter& add, CountFrom from) {
  const engine::BucketStats b = bucket.stats();
  const auto totals = from == CountFrom::kReset ? server.totalsSinceReset() : server.rawTotals();
  add("dcp_producers", server.dcpProducers());
  add("dcp_streams", server.dcpStreams());
  // Documents and deletions sent, every message's bytes (flow control
  // counts the same), and times a stream waited for an acknowledgement.
  add("dcp_items_sent", totals.dcp_items_sent);
  add("dcp_bytes_sent", totals.dcp_bytes_sent);
  add("dcp_window_full_pauses", totals.dcp_window_full_pauses);
  // Following streams whose change log let go of what they had not read
  // (they backfilled again), and the changes streams hold waiting to be sent.
  add("dcp_cursors_dropped", totals.dcp_cursors_dropped);
  uint64_t buffered = 0;
  for (const auto& w : server.workers()) buffered += w->dcp_buffered_bytes.get();
  add("dcp_buffered_bytes", buffered);
  // The bucket's change logs (engine/change_log.h): held while a stream
  // follows a vbucket, and the changes they let go before every follower
  // read them.
  add("dcp_change_log_bytes", b.change_log_bytes);
  add("dcp_change_log_dropped", b.change_log_dropped);
  // What the bucket remembers of deletions for streams (engine/tombstones.h):
  // held, their bytes, and those the bounds dropped (or that went before a
  // first DCP_OPEN kept any), each raising its vbucket's purge seqno.
  add("dcp_tombstones", b.tombstones);
  add("dcp_tombstone_bytes", b.tombstone_bytes);
  add("dcp_tombstones_purged", b.tombstones_purged);
}

void timingsStats(ServerContext& server, StatWriter& add) {
  std::string name;
  for (size_t f = 0; f < kCommandFamilies; ++f) {
    const TimingTotals t = timingTotals(server, static_cast<CommandFamily>(f));
    if (t.count == 0) continue;
    const std::string_view family = kCommandFamilyNames[f];
    add(fmt::format("{}:count", family), t.count);
    add(fmt::format("{}:sum_ns", family), t.sum_ns);
    for (size_t i = 0; i < kLatencyBoundsNs.size(); ++i) {
      add(fmt::format("{}:le_us:{}", family, kLatencyBoundsNs[i] / 1000), t.cumulative[i]);
    }
    add(fmt::format("{}:le_us:inf", family), t.count);
  }
}

void sizesStats(StatWriter& add) {
  add("sizes_status", "disabled");
}

bool sharedStats(std::string_view group, ServerContext& server, engine::Bucket& bucket,
                 StatWriter& add) {
  if (group.empty()) {
    generalStats(server, bucket, add);
  } else if (group == "settings") {
    settingsStats(server, bucket, add);
  } else if (group == "items") {
    itemsStats(server, bucket, add);
  } else if (group == "slabs") {
    slabsStats(server, bucket, add);
  } else if (group == "sizes") {
    sizesStats(add);
  } else if (group == "timings") {
    timingsStats(server, add);
  } else if (group == "dcp") {
    dcpStats(server, bucket, add);
  } else {
    return false;
  }
  return true;
}

}  // namespace memkv::server
