#include "server/server_context.h"

#include <string>
#include <utility>

#include "auth/users.h"
#include "server/executors.h"

namespace memkv::server {

ServerContext::ServerContext(const Settings& settings, const Clock& clock,
                             std::unique_ptr<const auth::UserDatabase> users)
    : settings_(settings),
      buckets_(clock),
      executors_(settings.executor_threads),
      auth_executors_(settings.auth_threads),
      auth_required_(users != nullptr),
      users_(std::move(users)),
      started_(::time(nullptr)) {
  buckets_.create("default", defaultBucketConfig());
  if (settings.expiry_crawler) crawler_ = std::make_unique<ExpiryCrawler>(buckets_, executors_);
}

ServerContext::~ServerContext() {
  auth_executors_.shutdown();
  executors_.shutdown();
}

void ServerContext::setClusterMap(std::shared_ptr<const cluster::ClusterMap> map, int node) {
  buckets_.setClusterMap(std::move(map), node);
  clustered_ = true;
}

bool ServerContext::reloadClusterMap(std::string* error) {
  if (!clustered_) {
    *error = "no --cluster-map to reload";
    return false;
  }
  const BucketManager::ClusterView old = buckets_.clusterMap();
  std::shared_ptr<const cluster::ClusterMap> map =
      cluster::ClusterMap::load(settings_.cluster_map_file, error);
  int node = -1;
  if (map) {
    const cluster::Node& self = old.map->nodes()[static_cast<size_t>(old.node)];
    node = map->nodeIndex(self.host, self.port);
    const auto version = [](const cluster::ClusterMap& m) { return std::pair(m.epoch(), m.rev()); };
    if (node < 0) {
      *error = settings_.cluster_map_file + ": this node (" + self.host + ":" +
               std::to_string(self.port) + ") is not in it";
      map.reset();
    } else if (version(*map) <= version(*old.map)) {
      *error = settings_.cluster_map_file + ": revEpoch " + std::to_string(map->epoch()) + " rev " +
               std::to_string(map->rev()) + " is not newer than the map in effect (" +
               std::to_string(old.map->epoch()) + ", " + std::to_string(old.map->rev()) +
               "): clients would ignore it";
      map.reset();
    }
  }
  if (!map) {
    map_reload_errors_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  std::vector<BucketManager::LostVBuckets> lost = buckets_.setClusterMap(std::move(map), node);
  map_reloads_.fetch_add(1, std::memory_order_relaxed);
  pushClusterMapToAll(*this);
  dropLostVBuckets(*this, std::move(lost));
  return true;
}

ServerContext::UsersSnapshot ServerContext::users() const {
  const std::lock_guard lock(users_mutex_);
  return {users_, users_generation_.load(std::memory_order_relaxed)};
}

bool ServerContext::reloadUsers(std::string* error) {
  if (!auth_required_) {
    *error = "no --users-file to reload";
    return false;
  }
  // Parsed outside the lock: a slow disk or a large file does not hold up
  // the logins that take a snapshot meanwhile.
  std::shared_ptr<const auth::UserDatabase> db =
      auth::UserDatabase::load(settings_.users_file, error);
  if (!db) {
    users_reload_errors_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  std::shared_ptr<const auth::UserDatabase> old;
  {
    const std::lock_guard lock(users_mutex_);
    old = std::exchange(users_, std::move(db));
    users_generation_.fetch_add(1, std::memory_order_release);
  }
  users_reloads_.fetch_add(1, std::memory_order_relaxed);
  return true;  // `old` goes when its last session or exchange lets go
}

bool ServerContext::tryAcquireAuthSlot() {
  const size_t cap = auth_executors_.threads() * kAuthTasksPerThread;
  size_t taken = auth_in_flight_.load(std::memory_order_relaxed);
  do {
    if (taken >= cap) return false;
  } while (!auth_in_flight_.compare_exchange_weak(taken, taken + 1, std::memory_order_relaxed));
  return true;
}

engine::BucketConfig ServerContext::defaultBucketConfig() const {
  return {settings_.memory_limit, settings_.item_size_max, settings_.evict};
}

ServerContext::Totals ServerContext::rawTotals() const {
  Totals t;
  for (const auto& w : workers_) {
#define MEMKV_SUM(name) t.name += w->commands.name.get();
    MEMKV_COMMAND_COUNTERS(MEMKV_SUM)
#undef MEMKV_SUM
    t.bytes_read += w->net->bytes_read.get();
    t.bytes_written += w->net->bytes_written.get();
    t.total_connections += w->net->total_connections.get();
    t.conn_yields += w->net->conn_yields.get();
  }
  t.rejected_connections = rejectedConnections();
  t.auth_cmds = auth_cmds_.load(std::memory_order_relaxed);
  t.auth_errors = auth_errors_.load(std::memory_order_relaxed);
  return t;
}

ServerContext::Totals ServerContext::totalsSinceReset() const {
  Totals t = rawTotals();
  std::lock_guard guard(baseline_mutex_);
#define MEMKV_DIFF(name) t.name -= baseline_.name;
  MEMKV_COMMAND_COUNTERS(MEMKV_DIFF)
  MEMKV_DIFF(bytes_read)
  MEMKV_DIFF(bytes_written)
  MEMKV_DIFF(total_connections)
  MEMKV_DIFF(rejected_connections)
  MEMKV_DIFF(conn_yields)
  MEMKV_DIFF(auth_cmds)
  MEMKV_DIFF(auth_errors)
#undef MEMKV_DIFF
  return t;
}

void ServerContext::resetTotals() {
  Totals t = rawTotals();
  std::lock_guard guard(baseline_mutex_);
  baseline_ = t;
}

}  // namespace memkv::server

namespace memkv::server {

std::optional<ServerContext::DcpNameHolder> ServerContext::claimDcpName(const void* bucket,
                                                                        const std::string& name,
                                                                        DcpNameHolder holder) {
  std::lock_guard guard(dcp_names_mutex_);
  auto [it, inserted] = dcp_names_.try_emplace({bucket, name}, holder);
  if (inserted) return std::nullopt;
  DcpNameHolder previous = std::move(it->second);
  it->second = std::move(holder);
  return previous;
}

void ServerContext::releaseDcpName(const void* bucket, const std::string& name,
                                   uint64_t connection_id) {
  std::lock_guard guard(dcp_names_mutex_);
  const auto it = dcp_names_.find({bucket, name});
  if (it != dcp_names_.end() && it->second.connection_id == connection_id) dcp_names_.erase(it);
}

}  // namespace memkv::server
