#pragma once
// What every session of the server shares: settings, the buckets, the users,
// the per-worker counters (for STAT) and the process's start time.
#include <array>
#include <atomic>
#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/users.h"
#include "common/clock.h"
#include "common/counter.h"
#include "engine/bucket.h"
#include "net/listener.h"
#include "net/read_budget.h"
#include "net/worker_counters.h"
#include "server/bucket_manager.h"
#include "server/command_counters.h"
#include "server/command_timings.h"
#include "server/expiry_crawler.h"
#include "server/prefix_stats.h"
#include "server/range_scan.h"
#include "server/settings.h"

namespace memkv::net {
class EventLoop;
class Worker;
}  // namespace memkv::net

namespace memkv::server {

struct SessionAnchor;

// The memcached protocol version memkv implements, wherever a memcached client
// reads a version (VERSION, STAT version). Clients parse it as digits and dots
// to pick features, so memkv's own version is STAT memkv_version instead.
inline constexpr std::string_view kMemcachedVersion = "1.6.0";

// One per worker thread: its counters, written only by that thread.
struct WorkerContext {
  CommandCounters commands;
  CommandTimings timings;
  // Sessions of this worker holding background state now (a SASL exchange,
  // a parked command, a DCP producer): 0 when every connection is idle.
  Counter session_backgrounds;
  // Bytes of changes this worker's DCP streams hold, waiting to be sent.
  Counter dcp_buffered_bytes;
  const net::WorkerCounters* net = nullptr;
  // The worker itself, for work that must run on its thread (`stats conns`
  // visits its connections there); null in harnesses without one.
  ::memkv::net::Worker* worker = nullptr;
};

class ServerContext final {
 public:
  // Creates the "default" bucket from the settings (-m, -I, -M). users may be
  // null: then no one authenticates and every connection uses "default".
  ServerContext(const Settings& settings, const Clock& clock,
                std::unique_ptr<const auth::UserDatabase> users);
  ~ServerContext();

  const Settings& settings() const { return settings_; }
  BucketManager& buckets() { return buckets_; }
  engine::ExecutorPool& executors() { return executors_; }
  // SASL steps run here, apart from executors(): a flood of logins (PBKDF2
  // with the file's iteration count) cannot starve range scans and stats, and
  // scans cannot starve logins.
  engine::ExecutorPool& authExecutors() { return auth_executors_; }
  // A slot for one SASL step, queued or running, server-wide: false when
  // kAuthTasksPerThread per auth thread are taken (the caller answers
  // ETMPFAIL without computing anything). Any thread; a taken slot is given
  // back with releaseAuthSlot() once the step has run.
  bool tryAcquireAuthSlot();
  void releaseAuthSlot() { auth_in_flight_.fetch_sub(1, std::memory_order_relaxed); }
  static constexpr size_t kAuthTasksPerThread = 4;
  // memcached's auth_cmds and auth_errors (any thread).
  void countAuthCommand() { auth_cmds_.fetch_add(1, std::memory_order_relaxed); }
  void countAuthError() { auth_errors_.fetch_add(1, std::memory_order_relaxed); }
  RangeScanRegistry& rangeScans() { return range_scans_; }
  // The users as of now, and the generation they belong to (one more for
  // every successful reload). Holding the snapshot keeps its database, and
  // every User in it, alive across a reload. Any thread; takes a mutex, so
  // not per command: sessions compare usersGeneration() with the one their
  // user came from and look the user up again only when it moved.
  struct UsersSnapshot {
    std::shared_ptr<const auth::UserDatabase> db;  // null on an open server
    uint32_t generation = 0;
  };
  UsersSnapshot users() const;
  uint32_t usersGeneration() const { return users_generation_.load(std::memory_order_acquire); }
  // SIGHUP: reads settings().users_file again. On success the new users take
  // effect for every connection's next command; on failure (the file
  // unreadable or invalid) nothing changes and *error says why. Either way
  // it is counted (users_reloads, users_reload_errors). False on an open
  // server (there is no file to reload). Any thread.
  bool reloadUsers(std::string* error);
  uint64_t usersReloads() const { return users_reloads_.load(std::memory_order_relaxed); }
  uint64_t usersReloadErrors() const {
    return users_reload_errors_.load(std::memory_order_relaxed);
  }
  // Fixed at startup: a reload cannot turn authentication off.
  bool authRequired() const { return auth_required_; }
  // --cluster-map, before the workers start: this node is node `node` of
  // `map` (docs/cluster.md). It serves the map in GET_CLUSTER_CONFIG and
  // answers NOT_MY_VBUCKET to document commands for vbuckets it does not
  // own. The map lives in buckets() (BucketManager::clusterMap()), beside
  // the per-bucket owned tables it fills.
  void setClusterMap(std::shared_ptr<const cluster::ClusterMap> map, int node);
  // Fixed at startup, like authRequired(): without a map every vbucket is
  // served (memcached clients send vbucket 0 whatever the key).
  bool clustered() const { return clustered_; }
  // SIGHUP: reads settings().cluster_map_file again. The new map takes effect
  // for every command after the swap if it loads, still names this node (found
  // by its entry's host and port: an index moves when nodes join or leave) and
  // is newer, (revEpoch, rev) higher (clients drop an equal or older config,
  // so serving one would leave them routing by another map than the nodes').
  // Otherwise nothing changes and *error says why. Counted either way
  // (cluster_map_reloads, cluster_map_reload_errors). False without a map.
  // A new map is pushed to the connections that negotiated config push
  // (pushClusterMapToAll), and the vbuckets this node lost are emptied in
  // the background (dropLostVBuckets). Main loop only: the check against the map in effect and the
  // swap are two steps.
  bool reloadClusterMap(std::string* error);
  uint64_t clusterMapReloads() const { return map_reloads_.load(std::memory_order_relaxed); }
  uint64_t clusterMapReloadErrors() const {
    return map_reload_errors_.load(std::memory_order_relaxed);
  }
  // What the reloads took away from this node: vbuckets dropped, and the
  // items they held (dropLostVBuckets).
  void countDropped(uint64_t vbuckets, uint64_t items) {
    vbuckets_dropped_.fetch_add(vbuckets, std::memory_order_relaxed);
    items_dropped_.fetch_add(items, std::memory_order_relaxed);
  }
  uint64_t vbucketsDropped() const { return vbuckets_dropped_.load(std::memory_order_relaxed); }
  // Connections DCP_OPEN made producers, open now.
  void dcpProducerOpened() { dcp_producers_.fetch_add(1, std::memory_order_relaxed); }
  void dcpProducerClosed() { dcp_producers_.fetch_sub(1, std::memory_order_relaxed); }
  uint64_t dcpProducers() const { return dcp_producers_.load(std::memory_order_relaxed); }
  void dcpStreamOpened() { dcp_streams_.fetch_add(1, std::memory_order_relaxed); }
  void dcpStreamClosed() { dcp_streams_.fetch_sub(1, std::memory_order_relaxed); }
  void dcpStreamsClosed(size_t n) { dcp_streams_.fetch_sub(n, std::memory_order_relaxed); }
  uint64_t dcpStreams() const { return dcp_streams_.load(std::memory_order_relaxed); }
  // DCP producers by bucket and name: kv_engine disconnects a producer when
  // a new DCP_OPEN on its bucket takes its name (a consumer reconnecting
  // after a network split must not race its old connection's streams).
  struct DcpNameHolder {
    net::EventLoop* loop;
    std::weak_ptr<SessionAnchor> anchor;
    uint64_t connection_id;
  };
  // Takes the name for `holder`; returns the holder it took it from.
  std::optional<DcpNameHolder> claimDcpName(const void* bucket, const std::string& name,
                                            DcpNameHolder holder);
  // Gives the name back, unless a newer connection took it since.
  void releaseDcpName(const void* bucket, const std::string& name, uint64_t connection_id);
  uint64_t itemsDropped() const { return items_dropped_.load(std::memory_order_relaxed); }
  // The configuration of a bucket created with defaults (the -m quota).
  engine::BucketConfig defaultBucketConfig() const;
  time_t started() const { return started_; }

  WorkerContext& addWorker(const net::WorkerCounters* net) {
    workers_.push_back(std::make_unique<WorkerContext>());
    workers_.back()->net = net;
    return *workers_.back();
  }
  const std::vector<std::unique_ptr<WorkerContext>>& workers() const { return workers_; }

  void setListener(const net::Listener* listener) { listener_ = listener; }
  // The server-wide read memory budget (for STAT); may stay null.
  void setReadBudget(const net::ReadBudget* budget) { read_budget_ = budget; }
  const net::ReadBudget* readBudget() const { return read_budget_; }
  // The first TCP port actually listened on (differs from -p 0).
  void setBoundPort(uint16_t port) { bound_port_ = port; }
  uint16_t boundPort() const { return bound_port_; }
  // The first plain and TLS ports listened on (0: none of that kind): what
  // the cluster map advertises as kv and kvSSL.
  void setPorts(uint16_t plain, uint16_t tls) {
    plain_port_ = plain;
    tls_port_ = tls;
  }
  uint16_t plainPort() const { return plain_port_; }
  // The metrics endpoint's port (0: none), for `stats settings`.
  void setMetricsPort(uint16_t port) { metrics_port_ = port; }
  uint16_t metricsPort() const { return metrics_port_; }
  uint16_t tlsPort() const { return tls_port_; }
  // The TLS configuration (null without TLS); must outlive the context.
  void setTls(net::TlsConfig* tls) { tls_ = tls; }
  net::TlsConfig* tls() const { return tls_; }
  uint64_t rejectedConnections() const { return listener_ ? listener_->rejectedConnections() : 0; }

  std::atomic<int>& verbosity() { return verbosity_; }
  PrefixStats& prefixStats() { return prefix_stats_; }

  // STAT reset: counters are single-writer per worker, so a reset records a
  // baseline that reports subtract instead of writing other threads' memory.
  struct Totals {
#define MEMKV_FIELD(name) uint64_t name = 0;
    MEMKV_COMMAND_COUNTERS(MEMKV_FIELD)
#undef MEMKV_FIELD
    uint64_t bytes_read = 0;
    uint64_t bytes_written = 0;
    uint64_t total_connections = 0;
    uint64_t rejected_connections = 0;
    uint64_t conn_yields = 0;
    uint64_t auth_cmds = 0;
    uint64_t auth_errors = 0;
  };
  Totals totalsSinceReset() const;
  void resetTotals();
  // Since the server started, whatever `stats reset` did.
  Totals rawTotals() const;

 private:
  const Settings settings_;
  BucketManager buckets_;
  engine::ExecutorPool executors_;
  engine::ExecutorPool auth_executors_;
  std::atomic<size_t> auth_in_flight_{0};
  std::atomic<uint64_t> auth_cmds_{0};
  std::atomic<uint64_t> auth_errors_{0};
  RangeScanRegistry range_scans_;
  // Null with -o no_lru_crawler. Its tasks run on executors_, which the
  // destructor shuts down before members go.
  std::unique_ptr<ExpiryCrawler> crawler_;
  const bool auth_required_;
  bool clustered_ = false;
  std::atomic<uint64_t> map_reloads_{0};
  std::atomic<uint64_t> map_reload_errors_{0};
  std::atomic<uint64_t> vbuckets_dropped_{0};
  std::atomic<uint64_t> dcp_producers_{0};
  std::atomic<uint64_t> dcp_streams_{0};
  std::mutex dcp_names_mutex_;
  std::map<std::pair<const void*, std::string>, DcpNameHolder> dcp_names_;  // guarded by it
  std::atomic<uint64_t> items_dropped_{0};
  mutable std::mutex users_mutex_;
  std::shared_ptr<const auth::UserDatabase> users_;  // guarded by users_mutex_
  std::atomic<uint32_t> users_generation_{0};        // written under users_mutex_
  std::atomic<uint64_t> users_reloads_{0};
  std::atomic<uint64_t> users_reload_errors_{0};
  const time_t started_;
  std::vector<std::unique_ptr<WorkerContext>> workers_;
  const net::Listener* listener_ = nullptr;
  const net::ReadBudget* read_budget_ = nullptr;
  uint16_t plain_port_ = 0;
  uint16_t tls_port_ = 0;
  uint16_t metrics_port_ = 0;
  net::TlsConfig* tls_ = nullptr;
  uint16_t bound_port_ = 0;
  std::atomic<int> verbosity_{0};
  PrefixStats prefix_stats_;
  mutable std::mutex baseline_mutex_;
  Totals baseline_;  // guarded by baseline_mutex_
};

}  // namespace memkv::server
