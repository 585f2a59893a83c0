// The cluster config a Couchbase SDK bootstraps from and routes by
// (GET_CLUSTER_CONFIG, and the body of NOT_MY_VBUCKET), in the shape
// kv_engine serves (docs/architecture.md section 9, docs/cluster.md).
//
// Without --cluster-map this node is the whole cluster: one node, "$HOST"
// (the address the client dialed), every vbucket on it, and "rev" the bucket
// manager's revision. With a map, the map says everything: its rev and
// revEpoch, every node under its own name, and each bucket's owners; only
// "thisNode" differs from node to node.
#include <map>
#include <new>
#include <string>
#include <string_view>
#include <utility>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "cluster/cluster_map.h"
#include "common/byte_order.h"
#include "common/logging.h"
#include "net/worker.h"
#include "server/executors.h"
#include "server/mcbp_session.h"

namespace memkv::server {

using mcbp::Status;

namespace {

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

nlohmann::json services(uint16_t plain, uint16_t tls) {
  // kv is the plain port and kvSSL the TLS one, each only if it exists: an
  // SDK over couchbases:// uses kvSSL and skips a node without it.
  nlohmann::json s = nlohmann::json::object();
  if (plain != 0) s["kv"] = plain;
  if (tls != 0) s["kvSSL"] = tls;
  return s;
}

// "host:port" as the legacy server list spells it (IPv6 in brackets).
std::string hostPort(const cluster::Node& node) {
  const bool v6 = node.host.find(':') != std::string::npos;
  return (v6 ? "[" + node.host + "]" : node.host) + ":" + std::to_string(node.port);
}

// What a map or a lone node puts in a config.
struct Topology {
  int64_t rev = 0;
  int64_t epoch = 1;
  nlohmann::json nodes_ext;
  nlohmann::json server_list;
};

// This node alone: "$HOST" is replaced by the address the client dialed, so
// the config is right whichever interface it came in on.
Topology singleNode(ServerContext& server) {
  // The legacy server list names one port: the plain one if there is one.
  const uint16_t port = server.plainPort() != 0 ? server.plainPort() : server.boundPort();
  return {static_cast<int64_t>(server.buckets().revision()), 1,
          nlohmann::json::array({{{"thisNode", true},
                                  {"hostname", "$HOST"},
                                  {"services", services(server.plainPort(), server.tlsPort())}}}),
          nlohmann::json::array({"$HOST:" + std::to_string(port)})};
}

// Every node of the map, in its order: vBucketMap entries index nodesExt,
// and the SDK identifies a node by (hostname, kv port), so each is named as
// the file names it. Only this node carries "thisNode".
Topology mapped(const cluster::ClusterMap& map, int self) {
  Topology t{map.rev(), map.epoch(), nlohmann::json::array(), nlohmann::json::array()};
  const std::vector<cluster::Node>& nodes = map.nodes();
  for (size_t i = 0; i < nodes.size(); ++i) {
    nlohmann::json node = {{"hostname", nodes[i].host},
                           {"services", services(nodes[i].port, nodes[i].tls_port)}};
    if (static_cast<int>(i) == self) node["thisNode"] = true;
    t.nodes_ext.push_back(std::move(node));
    t.server_list.push_back(hostPort(nodes[i]));
  }
  return t;
}

// (revEpoch, rev) of the config configJson() makes from `view`.
std::pair<int64_t, int64_t> configVersion(ServerContext& server,
                                          const BucketManager::ClusterView& view) {
  if (view.map) return {view.map->epoch(), view.map->rev()};
  return {1, static_cast<int64_t>(server.buckets().revision())};
}

std::string configJson(ServerContext& server, const BucketManager::ClusterView& view,
                       BucketEntry* entry) {
  Topology t = view.map ? mapped(*view.map, view.node) : singleNode(server);
  nlohmann::json config;
  if (entry == nullptr) {
    // The cluster-level session: a global config, no vbucket map.
    config = {{"rev", t.rev},
              {"revEpoch", t.epoch},
              {"nodesExt", std::move(t.nodes_ext)},
              {"clusterCapabilitiesVer", nlohmann::json::array({1, 0})},
              {"clusterCapabilities", nlohmann::json::object()}};
    return config.dump();
  }
  // Keys map by Couchbase's CRC32 rule, which the engine uses too. No
  // replicas: one owner per vbucket.
  nlohmann::json vbucket_map = nlohmann::json::array();
  if (view.map) {
    for (const int16_t owner : view.map->owners(entry->name))
      vbucket_map.push_back(nlohmann::json::array({owner}));
  } else {
    for (uint16_t vb = 0; vb < engine::kVBucketCount; ++vb)
      vbucket_map.push_back(nlohmann::json::array({0}));
  }
  config = {{"rev", t.rev},
            {"revEpoch", t.epoch},
            {"name", entry->name},
            {"uuid", entry->uuid},
            {"nodeLocator", "vbucket"},
            {"collectionsManifestUid", "0"},
            {"bucketCapabilitiesVer", ""},
            // What memkv implements and nothing more.
            {"bucketCapabilities", nlohmann::json::array({"cbhello", "touch", "cccp", "nodesExt",
                                                          "collections", "rangeScan"})},
            {"nodesExt", std::move(t.nodes_ext)},
            {"vBucketServerMap",
             {{"hashAlgorithm", "CRC"},
              {"numReplicas", 0},
              {"serverList", std::move(t.server_list)},
              {"vBucketMap", std::move(vbucket_map)}}}};
  return config.dump();
}

uint8_t jsonDatatype(const McbpSession& session) {
  return session.features().has(mcbp::Feature::Json) ? mcbp::datatype::kJson : 0;
}

// Whether `session` already got the config of `view` for its bucket.
bool alreadyKnown(const McbpSession& session, const BucketManager::ClusterView& view) {
  return view.serial != 0 && view.serial != BucketManager::ClusterView::kSerialUnknown &&
         session.knownMap() == view.serial;
}

}  // namespace

void executeClusterConfig(Cookie& c) {
  const BucketManager::ClusterView view = c.server.buckets().clusterMap();
  if (c.request.extras.size() == 2 * sizeof(uint64_t)) {
    // The version the client has (GetClusterConfigWithKnownVersion): an
    // equal or newer one gets success without a body, as kv_engine answers.
    const std::pair<int64_t, int64_t> known = {
        static_cast<int64_t>(loadBe64(c.request.extras.data())),
        static_cast<int64_t>(loadBe64(c.request.extras.data() + sizeof(uint64_t)))};
    if (configVersion(c.server, view) <= known) {
      c.out.send(c.header(), Status::Success, {}, {}, {}, 0);
      return;
    }
  }
  const std::string json = configJson(c.server, view, c.session.bucket());
  c.out.send(c.header(), Status::Success, {}, {}, bytes(json), 0, jsonDatatype(c.session));
}

bool refuseForeignVBucket(Cookie& c, uint16_t vbucket) {
  if (!c.server.clustered() || c.session.bucketHandle()->owned.owns(vbucket)) return false;
  c.counters().not_my_vbucket.add(1);
  sendNotMyVBucket(c);
  return true;
}

bool refuseUnservedVBucket(Cookie& c, uint16_t vbucket) {
  if (refuseForeignVBucket(c, vbucket)) return true;
  if (vbucket < engine::kVBucketCount) return false;
  c.out.sendStatus(c.header(), Status::NotMyVbucket);
  return true;
}

void sendNotMyVBucket(Cookie& c) {
  // kv_engine's answer: the config, so the client reroutes without asking.
  // The SDK reads it only with the JSON datatype (it always negotiates
  // Json). With DedupeNotMyVbucketClustermap a connection gets each map
  // once (pushed or here); later answers have no body. Quiet commands
  // answer too: it is an error.
  const BucketManager::ClusterView view = c.server.buckets().clusterMap();
  if (c.session.features().has(mcbp::Feature::DedupeNotMyVbucketClustermap) &&
      alreadyKnown(c.session, view)) {
    c.out.send(c.header(), Status::NotMyVbucket, {}, {}, {}, 0);
    return;
  }
  const std::string json = configJson(c.server, view, c.session.bucket());
  c.out.send(c.header(), Status::NotMyVbucket, {}, {}, bytes(json), 0, jsonDatatype(c.session));
  c.session.setKnownMap(view.serial);
}

namespace {

// What one worker's push sends: the map read once, and each bucket's config
// made once (a bucket's thousands of connections share it).
struct PushConfigs {
  BucketManager::ClusterView view;
  std::map<const BucketEntry*, std::string> json;
};

// Sends `session` its bucket's config (the global one without a bucket, as
// the SDK's cluster-level connection expects: key empty, no "name") as a
// ClustermapChangeNotification server request if it negotiated one and has
// not got this map; with the brief variant, the version only. Owner thread.
void pushClusterMap(McbpSession& session, PushConfigs& configs) {
  const bool brief = session.features().has(mcbp::Feature::ClustermapChangeNotificationBrief);
  if ((!brief && !session.features().has(mcbp::Feature::ClustermapChangeNotification)) ||
      session.connection().closing()) {
    return;
  }
  // GET_CLUSTER_CONFIG needs a login; a push must not tell more than it.
  if (!session.authenticated()) return;
  BucketEntry* entry = session.bucket();
  const BucketManager::ClusterView& view = configs.view;
  if (!view.map || alreadyKnown(session, view)) return;
  const auto [epoch, rev] = configVersion(session.server(), view);
  uint8_t extras[2 * sizeof(uint64_t)];
  storeBe64(extras, static_cast<uint64_t>(epoch));
  storeBe64(extras + sizeof(uint64_t), static_cast<uint64_t>(rev));
  const std::string_view key = entry != nullptr ? std::string_view(entry->name) : "";
  if (brief) {
    session.responseWriter().sendServerRequest(mcbp::ServerOpcode::ClustermapChangeNotification,
                                               extras, key, {}, 0);
  } else {
    auto it = configs.json.find(entry);  // built once per bucket per worker (nullptr: global)
    if (it == configs.json.end()) {
      it = configs.json.emplace(entry, configJson(session.server(), view, entry)).first;
    }
    session.responseWriter().sendServerRequest(mcbp::ServerOpcode::ClustermapChangeNotification,
                                               extras, key, bytes(it->second),
                                               jsonDatatype(session));
  }
  session.setKnownMap(view.serial);
  session.connection().flushSoon();
}

}  // namespace

void dropLostVBuckets(ServerContext& server, std::vector<BucketManager::LostVBuckets> lost) {
  if (lost.empty()) return;
  // Not at once: a command that passed the ownership check under the old
  // map may be about to store into a lost vbucket on its worker, and an item
  // stored after the drop would outlive it, stale if the vbucket came back.
  // Commands run to completion on their worker, so once every worker has
  // run a task posted after the swap none is in flight; then the pool drops
  // (O(1) per vbucket) and sweeps. A vbucket regained meanwhile is dropped
  // all the same: what was written to it in between reads as a miss, never
  // as an old value.
  struct Pending {
    std::atomic<size_t> workers{0};
    std::vector<BucketManager::LostVBuckets> lost;
  };
  auto pending = std::make_shared<Pending>();
  pending->lost = std::move(lost);
  const auto drop = [&server](const std::shared_ptr<Pending>& p) {
    server.executors().submit(engine::TaskPriority::kLow, [&server, p] {
      uint64_t vbuckets = 0;
      uint64_t items = 0;
      for (const BucketManager::LostVBuckets& entry : p->lost) {
        items += dropVBuckets(server, entry.bucket, entry.vbuckets);
        vbuckets += entry.vbuckets.size();
      }
      server.countDropped(vbuckets, items);
      spdlog::info("cluster map: {} vbuckets this node lost dropped, {} items", vbuckets, items);
    });
  };
  std::vector<net::Worker*> workers;
  for (const auto& w : server.workers()) {
    if (w->worker != nullptr) workers.push_back(w->worker);
  }
  if (workers.empty()) {
    drop(pending);
    return;
  }
  pending->workers.store(workers.size(), std::memory_order_relaxed);
  for (net::Worker* worker : workers) {
    worker->post([pending, drop] {
      if (pending->workers.fetch_sub(1, std::memory_order_acq_rel) == 1) drop(pending);
    });
  }
}

void pushClusterMapToAll(ServerContext& server) {
  // Invariant 1: only a connection's owner writes its output, so each
  // worker visits its own connections on its own thread. Each reads the
  // map in effect when it runs: a second reload meanwhile is pushed once.
  for (const auto& w : server.workers()) {
    net::Worker* worker = w->worker;
    if (worker == nullptr) continue;
    worker->post([worker, &server] {
      PushConfigs configs{server.buckets().clusterMap(), {}};
      worker->forEachConnection([&configs](net::Connection& conn) {
        auto* session = dynamic_cast<McbpSession*>(conn.handler());
        if (session == nullptr) return;
        try {
          pushClusterMap(*session, configs);
        } catch (const std::bad_alloc&) {
          conn.closeNow();  // invariant 8: this client misses the map, the worker goes on
        }
      });
    });
  }
}

}  // namespace memkv::server
