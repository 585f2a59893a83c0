#pragma once
// `memkv-admin cluster-map ...` (argv[1] is "cluster-map"): writes a cluster
// map (docs/cluster.md). Returns the exit status.
namespace memkv::admin {

int runClusterMap(int argc, char** argv);

}  // namespace memkv::admin
