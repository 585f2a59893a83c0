// The cluster map parser (cluster/cluster_map.h) on arbitrary text. Oracle:
// a map it accepts has every owner in range and the same map after a round
// trip through toJson(); rebalancing it onto fewer or more nodes stays
// balanced within one vbucket and moves no more than it reports.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "cluster/cluster_map.h"

using memkv::cluster::ClusterMap;
using memkv::cluster::kVBuckets;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

void checkOwners(const memkv::cluster::Owners& owners, size_t nodes) {
  require(owners.size() == kVBuckets);
  for (const int16_t o : owners) require(o >= 0 && static_cast<size_t>(o) < nodes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string error;
  const auto map =
      ClusterMap::parse(std::string_view(reinterpret_cast<const char*>(data), size), &error);
  if (!map) {
    require(!error.empty());
    return 0;
  }
  const size_t n = map->nodes().size();
  checkOwners(map->defaultOwners(), n);
  for (const auto& [name, owners] : map->bucketOwners()) checkOwners(owners, n);

  const auto again = ClusterMap::parse(map->toJson(), &error);
  require(again != nullptr);
  require(again->rev() == map->rev() && again->epoch() == map->epoch());
  require(again->nodes() == map->nodes());
  require(again->defaultOwners() == map->defaultOwners());
  require(again->bucketOwners() == map->bucketOwners());

  // Drop the last node (or add one) and rebalance.
  auto nodes = map->nodes();
  if (nodes.size() > 1) {
    nodes.pop_back();
  } else {
    nodes.push_back({"fuzz.invalid", 1, 0});
    if (nodes[0] == nodes[1]) return 0;
  }
  size_t moved = 0;
  const auto next = ClusterMap::rebalanced(*map, nodes, 0, &moved, &error);
  if (!next) return 0;  // e.g. the added node collides with a TLS port
  require(next->rev() == map->rev() + 1);
  checkOwners(next->defaultOwners(), nodes.size());
  size_t changed = 0;
  std::vector<size_t> counts(nodes.size(), 0);
  for (size_t vb = 0; vb < kVBuckets; ++vb) {
    ++counts[static_cast<size_t>(next->defaultOwners()[vb])];
    const auto& before = map->nodes()[static_cast<size_t>(map->defaultOwners()[vb])];
    const auto& after = nodes[static_cast<size_t>(next->defaultOwners()[vb])];
    if (!(before.host == after.host && before.port == after.port)) ++changed;
  }
  const auto [lo, hi] = std::minmax_element(counts.begin(), counts.end());
  require(*hi - *lo <= 1);
  require(changed <= moved);
  return 0;
}
