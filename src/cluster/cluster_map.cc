#include "cluster/cluster_map.h"

#include <algorithm>
#include <fstream>
#include <numeric>
#include <set>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>

namespace memkv::cluster {

namespace {

using Json = nlohmann::json;

constexpr size_t kMaxHostLength = 255;
constexpr size_t kMaxBucketNameLength = 100;
constexpr size_t kMaxFileBytes = 4 << 20;

// Couchbase's bucket-name rule (1..100 of [A-Za-z0-9._%-]); a per-bucket
// table under a name no bucket can have would never apply.
bool validBucketName(std::string_view name) {
  if (name.empty() || name.size() > kMaxBucketNameLength) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '%' || c == '-';
  });
}

// A host clients can dial: no spaces, quotes or control characters (it goes
// into JSON and into "host:port" strings unescaped by clients).
bool validHost(std::string_view host) {
  if (host.empty() || host.size() > kMaxHostLength) return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f && c != '"' && c != '\\' && c != '/';
  });
}

bool readPort(const Json& v, uint16_t* port) {
  if (!v.is_number_integer()) return false;
  const int64_t p = v.get<int64_t>();
  if (p < 1 || p > 65535) return false;
  *port = static_cast<uint16_t>(p);
  return true;
}

// An owners table: "balanced" or kVBuckets node indices.
bool readOwners(const Json& v, size_t nodes, Owners* out, std::string* error,
                const std::string& ctx) {
  if (v.is_string() && v.get_ref<const std::string&>() == "balanced") {
    out->resize(kVBuckets);
    for (size_t vb = 0; vb < kVBuckets; ++vb) out->at(vb) = static_cast<int16_t>(vb % nodes);
    return true;
  }
  if (!v.is_array() || v.size() != kVBuckets) {
    *error = ctx + ": must be \"balanced\" or an array of " + std::to_string(kVBuckets) +
             " node indices";
    return false;
  }
  out->resize(kVBuckets);
  for (size_t vb = 0; vb < kVBuckets; ++vb) {
    const Json& n = v[vb];
    if (!n.is_number_integer() || n.get<int64_t>() < 0 ||
        n.get<int64_t>() >= static_cast<int64_t>(nodes)) {
      *error = ctx + ": vbucket " + std::to_string(vb) + " names no node (0.." +
               std::to_string(nodes - 1) + ")";
      return false;
    }
    out->at(vb) = static_cast<int16_t>(n.get<int64_t>());
  }
  return true;
}

bool onlyKeys(const Json& object, std::initializer_list<std::string_view> allowed,
              const std::string& ctx, std::string* error) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      *error = ctx + ": unknown key \"" + key + "\"";
      return false;
    }
  }
  return true;
}

}  // namespace

bool parseHostPort(std::string_view text, Node* node) {
  std::string_view host;
  std::string_view port;
  if (text.starts_with("[")) {
    const size_t close = text.find("]:");
    if (close == std::string_view::npos) return false;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return false;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (!validHost(host) || port.empty() || port.size() > 5) return false;
  uint32_t p = 0;
  for (const char c : port) {
    if (c < '0' || c > '9') return false;
    p = p * 10 + static_cast<uint32_t>(c - '0');
  }
  if (p < 1 || p > 65535) return false;
  node->host = std::string(host);
  node->port = static_cast<uint16_t>(p);
  return true;
}

std::unique_ptr<const ClusterMap> ClusterMap::check(
    int64_t rev, int64_t epoch, std::vector<Node> nodes, Owners default_owners,
    std::map<std::string, Owners, std::less<>> buckets, std::string* error) {
  if (rev < 1) {
    *error = "rev must be a positive integer";
    return nullptr;
  }
  if (epoch < 0) {
    *error = "revEpoch must not be negative";
    return nullptr;
  }
  if (nodes.empty() || nodes.size() > kMaxNodes) {
    *error = "nodes: need 1 to " + std::to_string(kMaxNodes) + " nodes";
    return nullptr;
  }
  std::set<std::pair<std::string, uint16_t>> seen;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    const std::string ctx = "nodes[" + std::to_string(i) + "]";
    if (!validHost(n.host) || n.port == 0) {
      *error = ctx + ": needs a host and a port";
      return nullptr;
    }
    // A node is (host, port) to the SDK: two entries alike would share a
    // session slot and half the map would be unreachable.
    if (!seen.emplace(n.host, n.port).second ||
        (n.tls_port != 0 && !seen.emplace(n.host, n.tls_port).second)) {
      *error = ctx + ": " + n.host + " port " + std::to_string(n.port) + " is listed twice";
      return nullptr;
    }
  }
  const auto inRange = [&](const Owners& o) {
    return o.size() == kVBuckets && std::all_of(o.begin(), o.end(), [&](int16_t n) {
             return n >= 0 && static_cast<size_t>(n) < nodes.size();
           });
  };
  if (!inRange(default_owners)) {
    *error = "vbuckets: an owner is out of range";
    return nullptr;
  }
  for (const auto& [name, owners] : buckets) {
    if (!validBucketName(name) || !inRange(owners)) {
      *error = "buckets: bad table for \"" + name + "\"";
      return nullptr;
    }
  }
  return std::make_unique<const ClusterMap>(Checked{}, rev, epoch, std::move(nodes),
                                            std::move(default_owners), std::move(buckets));
}

std::unique_ptr<const ClusterMap> ClusterMap::parse(std::string_view text, std::string* error) {
  const Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    *error = "not a JSON object";
    return nullptr;
  }
  if (!onlyKeys(j, {"version", "rev", "revEpoch", "nodes", "vbuckets", "buckets"}, "map", error)) {
    return nullptr;
  }
  if (!j.contains("version") || !j["version"].is_number_integer() || j["version"] != 1) {
    *error = "version must be 1";
    return nullptr;
  }
  if (!j.contains("rev") || !j["rev"].is_number_integer()) {
    *error = "rev must be a positive integer";
    return nullptr;
  }
  const int64_t rev = j["rev"].get<int64_t>();
  int64_t epoch = 1;
  if (j.contains("revEpoch")) {
    if (!j["revEpoch"].is_number_integer()) {
      *error = "revEpoch must be an integer";
      return nullptr;
    }
    epoch = j["revEpoch"].get<int64_t>();
  }
  if (!j.contains("nodes") || !j["nodes"].is_array()) {
    *error = "nodes must be an array";
    return nullptr;
  }
  std::vector<Node> nodes;
  for (size_t i = 0; i < j["nodes"].size() && i <= kMaxNodes; ++i) {
    const Json& n = j["nodes"][i];
    const std::string ctx = "nodes[" + std::to_string(i) + "]";
    if (!n.is_object()) {
      *error = ctx + ": must be an object";
      return nullptr;
    }
    if (!onlyKeys(n, {"host", "port", "tls_port"}, ctx, error)) return nullptr;
    Node node;
    if (!n.contains("host") || !n["host"].is_string() ||
        !validHost(n["host"].get_ref<const std::string&>())) {
      *error = ctx + ": host must be a name or address without spaces";
      return nullptr;
    }
    node.host = n["host"].get<std::string>();
    if (!n.contains("port") || !readPort(n["port"], &node.port)) {
      *error = ctx + ": port must be 1..65535";
      return nullptr;
    }
    if (n.contains("tls_port") && !readPort(n["tls_port"], &node.tls_port)) {
      *error = ctx + ": tls_port must be 1..65535";
      return nullptr;
    }
    nodes.push_back(std::move(node));
  }
  if (nodes.empty() || j["nodes"].size() > kMaxNodes) {
    *error = "nodes: need 1 to " + std::to_string(kMaxNodes) + " nodes";
    return nullptr;
  }
  Owners owners;
  if (!j.contains("vbuckets")) {
    *error = "vbuckets: missing (\"balanced\" or an array)";
    return nullptr;
  }
  if (!readOwners(j["vbuckets"], nodes.size(), &owners, error, "vbuckets")) return nullptr;
  std::map<std::string, Owners, std::less<>> buckets;
  if (j.contains("buckets")) {
    if (!j["buckets"].is_object()) {
      *error = "buckets must be an object of bucket name -> vbuckets";
      return nullptr;
    }
    for (const auto& [name, table] : j["buckets"].items()) {
      const std::string ctx = "buckets[\"" + name + "\"]";
      if (!validBucketName(name)) {
        *error = ctx + ": not a bucket name";
        return nullptr;
      }
      Owners o;
      if (!readOwners(table, nodes.size(), &o, error, ctx)) return nullptr;
      buckets.emplace(name, std::move(o));
    }
  }
  return check(rev, epoch, std::move(nodes), std::move(owners), std::move(buckets), error);
}

std::unique_ptr<const ClusterMap> ClusterMap::load(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = path + ": cannot open";
    return nullptr;
  }
  std::string text;
  text.resize(kMaxFileBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxFileBytes) {
    *error = path + ": larger than " + std::to_string(kMaxFileBytes) + " bytes";
    return nullptr;
  }
  auto map = parse(text, error);
  if (!map) *error = path + ": " + *error;
  return map;
}

std::unique_ptr<const ClusterMap> ClusterMap::balanced(std::vector<Node> nodes, int64_t rev,
                                                       int64_t epoch, std::string* error) {
  Owners owners(kVBuckets);
  for (size_t vb = 0; vb < kVBuckets; ++vb) {
    owners[vb] = static_cast<int16_t>(nodes.empty() ? 0 : vb % nodes.size());
  }
  return check(rev, epoch, std::move(nodes), std::move(owners), {}, error);
}

std::unique_ptr<const ClusterMap> ClusterMap::rebalanced(const ClusterMap& previous,
                                                         std::vector<Node> nodes, int64_t rev,
                                                         size_t* moved, std::string* error) {
  if (rev == 0) rev = previous.rev() + 1;
  if (rev <= previous.rev()) {
    *error = "rev must be higher than the previous map's rev " + std::to_string(previous.rev());
    return nullptr;
  }
  // Old nodes are found in the new list by host and port.
  std::vector<int> old_to_new(previous.nodes().size(), -1);
  for (size_t i = 0; i < previous.nodes().size(); ++i) {
    for (size_t k = 0; k < nodes.size(); ++k) {
      if (nodes[k].host == previous.nodes()[i].host && nodes[k].port == previous.nodes()[i].port) {
        old_to_new[i] = static_cast<int>(k);
      }
    }
  }
  if (nodes.empty() || nodes.size() > kMaxNodes) {
    *error = "nodes: need 1 to " + std::to_string(kMaxNodes) + " nodes";
    return nullptr;
  }
  *moved = 0;
  size_t n = 0;
  Owners owners = rebalance(previous.defaultOwners(), old_to_new, nodes.size(), &n);
  *moved += n;
  std::map<std::string, Owners, std::less<>> buckets;
  for (const auto& [name, table] : previous.bucketOwners()) {
    buckets.emplace(name, rebalance(table, old_to_new, nodes.size(), &n));
    *moved += n;
  }
  return check(rev, previous.epoch(), std::move(nodes), std::move(owners), std::move(buckets),
               error);
}

Owners rebalance(const Owners& owners, const std::vector<int>& old_to_new, size_t new_nodes,
                 size_t* moved) {
  Owners out(kVBuckets, -1);
  std::vector<size_t> count(new_nodes, 0);
  for (size_t vb = 0; vb < kVBuckets && vb < owners.size(); ++vb) {
    const int16_t old = owners[vb];
    if (old >= 0 && static_cast<size_t>(old) < old_to_new.size() && old_to_new[old] >= 0) {
      out[vb] = static_cast<int16_t>(old_to_new[old]);
      ++count[static_cast<size_t>(out[vb])];
    }
  }
  // Targets: the base share each, and the spare vbuckets to the nodes that
  // already hold the most, so that fewer have to move.
  std::vector<size_t> order(new_nodes);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return count[a] > count[b]; });
  std::vector<size_t> target(new_nodes, kVBuckets / new_nodes);
  for (size_t i = 0; i < kVBuckets % new_nodes; ++i) ++target[order[i]];
  // Free the surplus of over-full nodes (their highest vbuckets).
  for (size_t vb = kVBuckets; vb-- > 0;) {
    if (out[vb] >= 0 &&
        count[static_cast<size_t>(out[vb])] > target[static_cast<size_t>(out[vb])]) {
      --count[static_cast<size_t>(out[vb])];
      out[vb] = -1;
    }
  }
  // Hand every free vbucket to the first node still under its target.
  size_t node = 0;
  *moved = 0;
  for (size_t vb = 0; vb < kVBuckets; ++vb) {
    if (out[vb] >= 0) continue;
    while (count[node] >= target[node]) ++node;
    out[vb] = static_cast<int16_t>(node);
    ++count[node];
  }
  for (size_t vb = 0; vb < kVBuckets; ++vb) {
    const int16_t old = vb < owners.size() ? owners[vb] : -1;
    const int mapped =
        old >= 0 && static_cast<size_t>(old) < old_to_new.size() ? old_to_new[old] : -1;
    if (mapped != out[vb]) ++*moved;
  }
  return out;
}

const Owners& ClusterMap::owners(std::string_view bucket) const {
  const auto it = buckets_.find(bucket);
  return it == buckets_.end() ? default_ : it->second;
}

int ClusterMap::nodeIndex(std::string_view host, uint16_t port) const {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].host == host && (nodes_[i].port == port || nodes_[i].tls_port == port)) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

size_t ClusterMap::ownedBy(std::string_view bucket, int node) const {
  const Owners& o = owners(bucket);
  return static_cast<size_t>(std::count(o.begin(), o.end(), static_cast<int16_t>(node)));
}

std::string ClusterMap::toJson() const {
  Json j;
  j["version"] = 1;
  j["rev"] = rev_;
  j["revEpoch"] = epoch_;
  Json nodes = Json::array();
  for (const Node& n : nodes_) {
    Json node = {{"host", n.host}, {"port", n.port}};
    if (n.tls_port != 0) node["tls_port"] = n.tls_port;
    nodes.push_back(std::move(node));
  }
  j["nodes"] = std::move(nodes);
  j["vbuckets"] = default_;
  if (!buckets_.empty()) {
    Json buckets = Json::object();
    for (const auto& [name, owners] : buckets_) buckets[name] = owners;
    j["buckets"] = std::move(buckets);
  }
  return j.dump() + "\n";
}

}  // namespace memkv::cluster
