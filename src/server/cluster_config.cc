// The cluster config a Couchbase SDK bootstraps from and routes by
// (GET_CLUSTER_CONFIG, and the body of NOT_MY_VBUCKET), in the shape
// kv_engine serves (docs/architecture.md section 9, docs/cluster.md).
//
// Without --cluster-map this node is the whole cluster: one node, "$HOST"
// (the address the client dialed), every vbucket on it, and "rev" the bucket
// manager's revision. With a map, the map says everything: its rev and
// revEpoch, every node under its own name, and each bucket's owners; only
// "thisNode" differs from node to node.
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cluster/cluster_map.h"
#include "server/executors.h"

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

std::string configJson(ServerContext& server, BucketEntry* entry) {
  const BucketManager::ClusterView view = server.buckets().clusterMap();
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

uint8_t jsonDatatype(const Cookie& c) {
  return c.session.features().has(mcbp::Feature::Json) ? mcbp::datatype::kJson : 0;
}

}  // namespace

void executeClusterConfig(Cookie& c) {
  const std::string json = configJson(c.server, c.session.bucket());
  c.out.send(c.header(), Status::Success, {}, {}, bytes(json), 0, jsonDatatype(c));
}

void sendNotMyVBucket(Cookie& c) {
  // kv_engine's answer: the config, so the client reroutes without asking.
  // The SDK reads it only with the JSON datatype (it always negotiates
  // Json). memkv grants neither config push nor DedupeNotMyVbucketClustermap,
  // so every NOT_MY_VBUCKET carries the whole config. Quiet commands answer
  // too: it is an error.
  const std::string json = configJson(c.server, c.session.bucket());
  c.out.send(c.header(), Status::NotMyVbucket, {}, {}, bytes(json), 0, jsonDatatype(c));
}

}  // namespace memkv::server
