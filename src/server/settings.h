#pragma once
// Everything the command line sets (memcached's flags plus memkv's own long
// options). Built once at startup and passed down; hot code never reads
// globals.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace memkv::server {

// One -l entry: memcached's HOST, HOST:PORT, [V6]:PORT, with an optional
// "notls:" prefix (a plain listener when -Z makes the others TLS).
struct ListenSpec {
  std::string host;
  int port = -1;  // -1: the -p port
  bool notls = false;
};

struct Settings {
  std::vector<std::string> listen_hosts{"127.0.0.1"};  // -l
  uint16_t port = 11211;                               // -p
  size_t threads = 4;                                  // -t
  size_t memory_limit = 64ull << 20;                   // -m (bytes)
  size_t max_connections = 1024;                       // -c
  size_t item_size_max = 1 << 20;                      // -I
  int backlog = 1024;                                  // -b
  size_t requests_per_event = 20;                      // -R
  bool cas_enabled = true;                             // -C disables
  bool flush_enabled = true;                           // -F disables
  bool shutdown_enabled = false;                       // -A: the text `shutdown` command
  bool evict = true;                                   // -M disables
  int verbosity = 0;                                   // -v, -vv, -vvv
  std::string log_file;                                // --log-file (empty: stderr)
  size_t max_body_size = 20u << 20;                    // --max-body-size (plus headers)
  size_t output_high_watermark = 1 << 20;              // --output-high-watermark
  size_t read_buffer_pool_limit = 0;                   // --read-buffer-pool-limit (0: none)
  int shutdown_grace_ms = 5000;                        // --shutdown-grace-ms
  int output_stall_timeout_s = 360;                    // --output-stall-timeout
  std::string port_file;                               // --port-file
  std::string users_file;                              // --users-file (empty: open server)
  int auth_timeout_s = 60;                             // --auth-timeout
  // A DCP producer with noops enabled closes a consumer that sent nothing
  // (not even a noop's answer) for this long (kv_engine's dcp_idle_timeout).
  int dcp_idle_timeout_s = 360;     // --dcp-idle-timeout
  size_t executor_threads = 2;      // --executor-threads
  size_t auth_threads = 1;          // --auth-threads (SASL's own pool)
  int range_scan_lifetime_s = 180;  // --range-scan-lifetime
  std::string cluster_map_file;     // --cluster-map (empty: none)
  int node_index = -1;              // --node-index: this node in the map
  bool strict_vbuckets = false;     // --strict-vbuckets (text protocol)
  // The expiry crawler (server/expiry_crawler.h): -o lru_crawler (default)
  // or -o no_lru_crawler, as memcached names its own.
  bool expiry_crawler = true;

  // Every byte of partially received requests, server-wide (0: none):
  // -o read_buf_mem_limit=<MB> or --read-memory-limit. 256 MiB bounds what
  // -c x -I uploads could pin (1 GiB at the defaults) while leaving room for
  // 256 maximum-size uploads at once, so normal loads never wait for it.
  size_t read_memory_limit = 256ull << 20;
  // --read-stall-timeout: close a partial request that has not grown for
  // this long (0: never). A live client never pauses 30 s inside a request.
  int read_stall_timeout_s = 30;

  // TLS: memcached's -Z and -o ssl_* options (same meanings), plus memkv's
  // --tls-port (an extra TLS listener on each -l host, Couchbase's 11207
  // convention; -1: none) and --tls-handshake-timeout.
  std::vector<ListenSpec> listens{{"127.0.0.1", -1, false}};  // -l, parsed
  bool ssl_enabled = false;                                   // -Z
  std::string ssl_chain_cert;
  std::string ssl_key;
  std::string ssl_ca_cert;
  std::string ssl_ciphers;
  int ssl_verify_mode = 0;  // 0 none, 1 request, 2 require, 3 once
  int ssl_min_version = 2;  // 0 TLS 1.0 .. 3 TLS 1.3
  int tls_port = -1;
  std::string tls_port_file;
  int tls_handshake_timeout_s = 10;
  // --tls-cert-auth: a verified client certificate's subject CN names the
  // user the connection acts as (with --users-file and ssl_verify_mode).
  bool tls_cert_auth = false;
  // --metrics-port (-1: no metrics endpoint), --metrics-listen,
  // --metrics-port-file: Prometheus' /metrics over HTTP (app/metrics_http.h).
  int metrics_port = -1;
  std::string metrics_listen = "127.0.0.1";
  std::string metrics_port_file;

  bool tlsConfigured() const { return ssl_enabled || tls_port >= 0; }
};

}  // namespace memkv::server
