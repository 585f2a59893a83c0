#pragma once
// The cluster map (--cluster-map FILE, format: docs/cluster.md): which memkv
// node owns each of a bucket's 1024 vbuckets, the same file on every node.
// memkv has no cluster manager: clients route by this map (Couchbase SDKs
// from the config GET_CLUSTER_CONFIG returns), and an operator or a script
// changes it by publishing a new file with a higher rev.
//
// A ClusterMap is immutable once built and checked, so the threads that
// serve configs share one without locks; a reload builds a new one.
//
// Rebalancing lives here too, because memkv-admin and the tests must agree
// with the server on what a balanced map is.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace memkv::cluster {

// Couchbase's vbucket count; the SDK refuses a config whose count changes.
inline constexpr size_t kVBuckets = 1024;
// A map's node indices are int16 on the wire (vBucketMap), -1 meaning none.
inline constexpr size_t kMaxNodes = 1000;

struct Node {
  std::string host;       // as clients should dial it: a name or an address
  uint16_t port = 0;      // the plain KV port
  uint16_t tls_port = 0;  // the TLS KV port, 0: none
  bool operator==(const Node&) const = default;
};

// Owner node index of each vbucket, kVBuckets entries.
using Owners = std::vector<int16_t>;

class ClusterMap final {
 public:
  // nullptr with *error (one line, naming the problem) when the text is not a
  // valid map. Never throws.
  static std::unique_ptr<const ClusterMap> parse(std::string_view json, std::string* error);
  static std::unique_ptr<const ClusterMap> load(const std::string& path, std::string* error);
  // A map of `nodes` with vbucket v on node v % nodes.size() for every bucket.
  // Nodes must be valid (1..kMaxNodes, distinct host:port).
  static std::unique_ptr<const ClusterMap> balanced(std::vector<Node> nodes, int64_t rev,
                                                    int64_t epoch, std::string* error);
  // `previous` moved onto `nodes` (rebalance() per owners table) at `rev`
  // (0: previous rev + 1; otherwise it must be higher than previous rev).
  static std::unique_ptr<const ClusterMap> rebalanced(const ClusterMap& previous,
                                                      std::vector<Node> nodes, int64_t rev,
                                                      size_t* moved, std::string* error);

  int64_t rev() const { return rev_; }
  int64_t epoch() const { return epoch_; }
  const std::vector<Node>& nodes() const { return nodes_; }
  // The owners of `bucket`: its own table if the file has one, else the
  // table for every bucket.
  const Owners& owners(std::string_view bucket) const;
  const Owners& defaultOwners() const { return default_; }
  const std::map<std::string, Owners, std::less<>>& bucketOwners() const { return buckets_; }
  // Index of the node listening on host:port (plain or TLS), or -1.
  int nodeIndex(std::string_view host, uint16_t port) const;
  // Vbuckets `node` owns in `bucket`.
  size_t ownedBy(std::string_view bucket, int node) const;

  // The file text; parse(toJson()) gives the same map.
  std::string toJson() const;

 private:
  struct Checked {
    explicit Checked() = default;
  };

 public:
  ClusterMap(Checked, int64_t rev, int64_t epoch, std::vector<Node> nodes, Owners default_owners,
             std::map<std::string, Owners, std::less<>> buckets)
      : rev_(rev),
        epoch_(epoch),
        nodes_(std::move(nodes)),
        default_(std::move(default_owners)),
        buckets_(std::move(buckets)) {}

 private:
  static std::unique_ptr<const ClusterMap> check(int64_t rev, int64_t epoch,
                                                 std::vector<Node> nodes, Owners default_owners,
                                                 std::map<std::string, Owners, std::less<>> buckets,
                                                 std::string* error);

  int64_t rev_;
  int64_t epoch_;
  std::vector<Node> nodes_;
  Owners default_;
  std::map<std::string, Owners, std::less<>> buckets_;
};

// Moves `owners` onto a new node list, moving as few vbuckets as possible:
// old_to_new[i] is old node i's index in the new list, or -1 if it leaves.
// Every new node ends with 1024 / new_nodes vbuckets or one more, vbuckets
// of leaving nodes and the surplus of over-full nodes move to under-full
// ones, and nothing else moves. *moved counts the vbuckets that changed node.
Owners rebalance(const Owners& owners, const std::vector<int>& old_to_new, size_t new_nodes,
                 size_t* moved);

// "host:port" -> Node; false if malformed (IPv6 hosts in brackets: [::1]:11210).
bool parseHostPort(std::string_view text, Node* node);

}  // namespace memkv::cluster
