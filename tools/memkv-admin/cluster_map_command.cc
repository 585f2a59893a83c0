// memkv-admin cluster-map: writes the cluster map every node of a memkv
// cluster shares (docs/cluster.md): a balanced map for a node list, or an
// existing map moved onto a new node list with the fewest vbuckets moved.
#include "cluster_map_command.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/cluster_map.h"

namespace memkv::admin {
namespace {

constexpr std::string_view kUsage = R"(usage:
  memkv-admin cluster-map --nodes HOST:PORT[,HOST:PORT...] [--tls-ports PORT[,PORT...]]
                          [--from FILE] [--rev N] [--epoch N] [--out FILE]

Without --from: a balanced map of the nodes (vbucket v on node v % N), rev 1 unless --rev.
With --from: the map in FILE moved onto --nodes. Nodes are matched by HOST:PORT; vbuckets of
nodes that left and the surplus of over-full nodes move to under-full ones, and nothing else
moves. rev becomes FILE's rev + 1 (or --rev, which must be higher); revEpoch stays. The
number of vbuckets moved goes to stderr.
--tls-ports: each node's TLS KV port, in --nodes order (0: none).
--out: written atomically (a temporary file renamed over it); default stdout.
Give every node the same file and send each SIGHUP to publish it.
)";

bool parseInt(std::string_view text, int64_t min, int64_t max, int64_t* out) {
  if (text.empty() || text.size() > 18) return false;
  int64_t v = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v < min || v > max) return false;
  *out = v;
  return true;
}

std::vector<std::string_view> split(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    out.push_back(text.substr(0, comma));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

bool writeAtomically(const std::string& path, const std::string& text, std::string* error) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      *error = "cannot write " + tmp;
      std::remove(tmp.c_str());
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    *error = "cannot rename " + tmp + " to " + path;
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace

int runClusterMap(int argc, char** argv) {
  std::string nodes_arg, tls_arg, from, rev_arg, epoch_arg, out;
  for (int i = 2; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    std::string* target = arg == "--nodes"       ? &nodes_arg
                          : arg == "--tls-ports" ? &tls_arg
                          : arg == "--from"      ? &from
                          : arg == "--rev"       ? &rev_arg
                          : arg == "--epoch"     ? &epoch_arg
                          : arg == "--out"       ? &out
                                                 : nullptr;
    if (target == nullptr || i + 1 >= argc) {
      std::cerr << "memkv-admin cluster-map: " << (target == nullptr ? "unknown option " : "")
                << arg << (target == nullptr ? "" : " needs a value") << "\n"
                << kUsage;
      return 1;
    }
    *target = argv[++i];
  }
  const auto fail = [](const std::string& message) {
    std::cerr << "memkv-admin cluster-map: " << message << "\n";
    return 1;
  };
  if (nodes_arg.empty()) return fail("--nodes is required");
  std::vector<cluster::Node> nodes;
  for (const std::string_view text : split(nodes_arg)) {
    cluster::Node node;
    if (!cluster::parseHostPort(text, &node)) {
      return fail("bad node \"" + std::string(text) + "\" (HOST:PORT)");
    }
    nodes.push_back(std::move(node));
  }
  if (!tls_arg.empty()) {
    const auto ports = split(tls_arg);
    if (ports.size() != nodes.size()) return fail("--tls-ports needs one port per node");
    for (size_t i = 0; i < ports.size(); ++i) {
      int64_t p = 0;
      if (!parseInt(ports[i], 0, 65535, &p)) return fail("bad TLS port " + std::string(ports[i]));
      nodes[i].tls_port = static_cast<uint16_t>(p);
    }
  }
  int64_t rev = 0;
  int64_t epoch = 1;
  if (!rev_arg.empty() && !parseInt(rev_arg, 1, INT64_MAX / 2, &rev)) return fail("bad --rev");
  if (!epoch_arg.empty() && !parseInt(epoch_arg, 0, INT64_MAX / 2, &epoch)) {
    return fail("bad --epoch");
  }

  std::string error;
  std::unique_ptr<const cluster::ClusterMap> map;
  if (from.empty()) {
    map = cluster::ClusterMap::balanced(std::move(nodes), rev == 0 ? 1 : rev, epoch, &error);
  } else {
    if (!epoch_arg.empty()) return fail("--epoch comes from the --from map");
    const auto previous = cluster::ClusterMap::load(from, &error);
    if (!previous) return fail(error);
    size_t moved = 0;
    map = cluster::ClusterMap::rebalanced(*previous, std::move(nodes), rev, &moved, &error);
    if (map) {
      std::cerr << "moved " << moved << " of " << cluster::kVBuckets << " vbuckets per table; rev "
                << previous->rev() << " -> " << map->rev() << "\n";
    }
  }
  if (!map) return fail(error);
  const std::string json = map->toJson();
  if (out.empty()) {
    std::cout << json << std::flush;
    return std::cout ? 0 : 1;
  }
  if (!writeAtomically(out, json, &error)) return fail(error);
  return 0;
}

}  // namespace memkv::admin
