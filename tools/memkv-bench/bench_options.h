#pragma once
// memkv-bench's command line, parsed once at startup into plain values that
// the workers copy; nothing reads argv after this.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

#include "key_chooser.h"

namespace memkv::bench {

enum class Protocol : uint8_t { kBinary, kText };

struct BenchOptions {
  Protocol protocol = Protocol::kBinary;
  std::string host = "127.0.0.1";
  uint16_t port = 11211;
  // --cluster-map: the nodes and vbucket owners of a memkv cluster map; every
  // request goes to the node that owns its key's vbucket, as the Couchbase SDK
  // routes, with that vbucket in its header (--server is then not used).
  std::string cluster_map;
  int threads = 1;
  int conns_per_thread = 10;
  int pipeline = 1;
  uint32_t keys_per_get = 1;  // > 1: text multiget "get k1 ... kN"
  uint32_t get_weight = 10;
  uint32_t set_weight = 1;
  uint64_t keys = 100000;
  KeyDistribution key_distribution;
  std::string key_prefix = "key:";
  size_t key_digits = KeyChooser::kIndexDigits;
  uint32_t value_min = 32;
  uint32_t value_max = 32;
  // Hit-ratio workloads. Times count from the start of the run phase (after
  // any prefill; the warmup is part of it), the same clock for all three.
  uint64_t sweep_keys = 0;  // > 0: one pass over this many cold keys (KeySpaces)
  double sweep_start_s = 0;
  bool shift = false;  // --shift-at given
  double shift_at_s = 0;
  uint32_t shift_value_min = 0;  // parseOptions makes these value_min/max when not given
  uint32_t shift_value_max = 0;
  double report_interval_s = 0;  // > 0: hit ratio per interval of the run
  double duration_s = 10.0;
  uint64_t requests = 0;  // 0: run for duration_s instead
  double warmup_s = 0.0;
  double timeout_s = 600.0;  // hard cap on any run, whatever else is asked
  bool json = false;
  bool verify = false;
  bool prefill = false;
  bool set_on_miss = false;  // cache-aside: a GET miss is followed by a SET of that key
  uint64_t seed = 1;
  uint64_t idle_conns = 0;
  uint64_t stall_conns = 0;
  uint32_t stall_value_size = 4096;
  uint32_t stall_percent = 50;
  bool tls = false;
  std::string tls_ca;       // empty: the server's certificate is not verified
  int tls_version = 13;     // 12 or 13: the one version offered
  bool handshakes = false;  // --handshakes: new connection, full handshake, NOOP, close; repeat

  bool holdMode() const { return idle_conns > 0 || stall_conns > 0; }
  KeySpaces keySpaces() const { return {keys, sweep_keys, shift}; }
  uint32_t largestValue() const { return shift ? std::max(value_max, shift_value_max) : value_max; }
};

struct ParseResult {
  std::optional<BenchOptions> options;  // empty: error or --help
  std::string message;                  // error text, or the usage for --help
  bool help = false;
};

ParseResult parseOptions(int argc, char** argv);

}  // namespace memkv::bench
