#include "app/command_line.h"

#include <getopt.h>

#include <charconv>
#include <optional>
#include <sstream>
#include <string_view>

#include <spdlog/spdlog.h>

#include "cluster/cluster_map.h"

namespace memkv::app {

namespace {

constexpr size_t kMinItemSize = 1024;
constexpr size_t kMaxItemSize = 1024ull << 20;  // memcached's upper limit: 1 GiB

enum LongOnly : int {
  kPortFile = 1000,
  kMaxBodySize,
  kOutputHighWatermark,
  kReadBufferPoolLimit,
  kShutdownGraceMs,
  kOutputStallTimeout,
  kDcpIdleTimeout,
  kUsersFile,
  kAuthTimeout,
  kExecutorThreads,
  kRangeScanLifetime,
  kAuthThreads,
  kReadMemoryLimit,
  kReadStallTimeout,
  kTlsPort,
  kTlsPortFile,
  kTlsHandshakeTimeout,
  kTlsCertAuth,
  kMetricsPort,
  kMetricsListen,
  kMetricsPortFile,
  kLogFile,
  kClusterMap,
  kNodeIndex,
  kStrictVBuckets,
};

const char* const kUsage =
    "memkv " MEMKV_VERSION
    ": a memcached-compatible key-value server (memcached binary protocol)\n"
    "\n"
    "memcached options:\n"
    "  -p, --port=<num>          TCP port to listen on (default: 11211; 0 picks one)\n"
    "  -U, --udp-port=<num>      accepted for compatibility; UDP stays off\n"
    "  -l, --listen=<addr>       interfaces to listen on, comma separated (default: 127.0.0.1)\n"
    "  -t, --threads=<num>       number of worker threads (default: 4)\n"
    "  -m, --memory-limit=<num>  item memory in megabytes (default: 64)\n"
    "  -c, --conn-limit=<num>    max simultaneous connections (default: 1024)\n"
    "  -I, --max-item-size=<num> largest value, bytes with k/m suffix (default: 1m)\n"
    "  -b, --listen-backlog=<n>  listen backlog (default: 1024)\n"
    "  -R, --max-reqs-per-event=<n> requests handled per connection per wake-up (default: 20)\n"
    "  -C, --disable-cas         no CAS values\n"
    "  -F, --disable-flush-all   refuse FLUSH\n"
    "  -A, --enable-shutdown     allow the text command `shutdown`\n"
    "  -M, --disable-evictions   refuse writes with ENOMEM when memory is full\n"
    "  -v, --verbose             more logging: none warnings and errors, -v also\n"
    "                            startup and reloads, -vv (and -vvv) also\n"
    "                            connections (accept, close and why) and every\n"
    "                            command, as memcached's -vv\n"
    "  -u, --user=<user>         accepted for compatibility\n"
    "  -o, --extended=<k=v,...>  extended options (read_buf_mem_limit=<MB>: as\n"
    "                            --read-memory-limit, in megabytes; TLS: ssl_chain_cert,\n"
    "                            ssl_key, ssl_ca_cert, ssl_verify_mode (0 none, 1 request,\n"
    "                            2 require, 3 once), ssl_min_version (0 TLS 1.0 .. 3 TLS\n"
    "                            1.3; default 2), ssl_ciphers)\n"
    "  -Z, --enable-ssl          TLS on every listener (-l notls:HOST:PORT stays plain)\n"
    "  -h, --help                this text\n"
    "  -V, --version             print the version\n"
    "\n"
    "memkv options:\n"
    "  --port-file=<path>              write the bound TCP port here once listening\n"
    "  --log-file=<path>               append log lines here (created 0640) instead of\n"
    "                                  stderr; SIGUSR1 reopens it (for logrotate)\n"
    "  --tls-port=<num>                an extra TLS listener on each -l address (0 picks\n"
    "                                  one; needs -o ssl_chain_cert,ssl_key)\n"
    "  --tls-port-file=<path>          write the bound TLS port here once listening\n"
    "  --tls-handshake-timeout=<sec>   close a TLS connection whose handshake has not\n"
    "                                  ended by then (default: 10)\n"
    "  --tls-cert-auth                 a verified client certificate (ssl_verify_mode,\n"
    "                                  ssl_ca_cert) authenticates its connection as the\n"
    "                                  user its subject CN names (with --users-file)\n"
    "  --metrics-port=<num>            serve Prometheus metrics at http://HOST:PORT/metrics\n"
    "                                  (0 picks a port; default: off); with --users-file it\n"
    "                                  needs HTTP Basic auth of a user with a stats role\n"
    "  --metrics-listen=<host>         address for --metrics-port (default: 127.0.0.1)\n"
    "  --metrics-port-file=<path>      write the bound metrics port here once listening\n"
    "  --max-body-size=<num>           largest request body accepted (default: 20m)\n"
    "  --output-high-watermark=<num>   pause reading above this much queued output (default: 1m)\n"
    "  --read-buffer-pool-limit=<num>  per-thread buffer pool cap, 0 = none (default: 0)\n"
    "  --read-memory-limit=<num>       all bytes of partially received requests, server-\n"
    "                                  wide; beyond it connections wait (default: 256m)\n"
    "  --read-stall-timeout=<sec>      close a connection whose partial request has not\n"
    "                                  grown for this long, 0 = never (default: 30)\n"
    "  --shutdown-grace-ms=<num>       time to finish responses on SIGTERM (default: 5000)\n"
    "  --output-stall-timeout=<sec>    disconnect a client whose output has not moved\n"
    "                                  for this long (default: 360)\n"
    "  --users-file=<path>             require SASL authentication against these users\n"
    "                                  (made with memkv-admin; default: none, open server)\n"
    "  --auth-timeout=<sec>            close connections not authenticated by then\n"
    "                                  (with --users-file; default: 60)\n"
    "  --dcp-idle-timeout=<sec>        close a DCP consumer that enabled noops and sent\n"
    "                                  nothing for this long (default: 360)\n"
    "  --executor-threads=<num>        background threads for range scans, stats and other\n"
    "                                  slow work (default: 2)\n"
    "  --auth-threads=<num>            threads for SASL (PBKDF2), apart from the above; at\n"
    "                                  most 4 logins per thread wait or run, more get\n"
    "                                  ETMPFAIL (with --users-file; default: 1)\n"
    "  --range-scan-lifetime=<sec>     cancel range scans idle this long (default: 180)\n"
    "  --cluster-map=<path>            serve this cluster map (docs/cluster.md; made with\n"
    "                                  memkv-admin cluster-map) as one of its nodes\n"
    "  --node-index=<num>              which of the map's nodes this server is (from 0;\n"
    "                                  required with --cluster-map)\n"
    "  --strict-vbuckets               with --cluster-map: text and meta commands for a key\n"
    "                                  this node does not own get SERVER_ERROR instead of\n"
    "                                  being served (default: every key is served)\n";

// Parses an unsigned number with an optional k/m/g suffix (binary units).
std::optional<size_t> parseSize(std::string_view text, size_t default_unit = 1) {
  if (text.empty()) return std::nullopt;
  size_t unit = default_unit;
  switch (text.back()) {
    case 'k':
    case 'K':
      unit = 1ull << 10;
      text.remove_suffix(1);
      break;
    case 'm':
    case 'M':
      unit = 1ull << 20;
      text.remove_suffix(1);
      break;
    case 'g':
    case 'G':
      unit = 1ull << 30;
      text.remove_suffix(1);
      break;
    default:
      break;
  }
  size_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  if (unit != 0 && value > SIZE_MAX / unit) return std::nullopt;
  return value * unit;
}

std::optional<long> parseInt(std::string_view text, long min, long max) {
  long value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value < min || value > max) {
    return std::nullopt;
  }
  return value;
}

ExitNow bad(const std::string& message) {
  return {1, message + "\n"};
}

std::optional<ExitNow> applyExtended(std::string_view list, server::Settings& s) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    const std::string_view key = item.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? "" : item.substr(eq + 1);
    if (key == "read_buf_mem_limit") {
      // memcached's cap on read buffers, server-wide: here it covers every
      // byte of partially received requests (--read-memory-limit).
      auto mb = parseSize(value, 1ull << 20);
      if (!mb) return bad("read_buf_mem_limit must be a number of megabytes");
      if (*mb != 0 && *mb < (1u << 20)) return bad("read_buf_mem_limit must be 0 or at least 1");
      s.read_memory_limit = *mb;
    } else if (key == "ssl_chain_cert") {
      s.ssl_chain_cert = std::string(value);
    } else if (key == "ssl_key") {
      s.ssl_key = std::string(value);
    } else if (key == "ssl_ca_cert") {
      s.ssl_ca_cert = std::string(value);
    } else if (key == "ssl_ciphers") {
      s.ssl_ciphers = std::string(value);
    } else if (key == "ssl_verify_mode") {
      auto v = parseInt(value, 0, 3);
      if (!v) return bad("ssl_verify_mode must be 0, 1, 2 or 3");
      s.ssl_verify_mode = static_cast<int>(*v);
    } else if (key == "ssl_min_version") {
      auto v = parseInt(value, 0, 3);
      if (!v) return bad("ssl_min_version must be 0 (TLS 1.0) to 3 (TLS 1.3)");
      s.ssl_min_version = static_cast<int>(*v);
    } else if (key == "lru_crawler") {
      s.expiry_crawler = true;
    } else if (key == "no_lru_crawler") {
      s.expiry_crawler = false;
    } else if (key == "ssl_keyformat" || key == "ssl_wbuf_size" || key == "ssl_session_cache" ||
               key == "ssl_kernel_tls") {
      // PEM only, record-sized staging, no resumption, no kTLS here
      // (docs/architecture.md section 6.4).
      spdlog::warn("-o {}: not supported by memkv, ignored", key);
    } else {
      spdlog::warn("-o {}: not used by memkv, ignored", key);
    }
  }
  return std::nullopt;
}

// memcached's -l forms: HOST, HOST:PORT, [V6], [V6]:PORT, a bare IPv6
// address, each optionally prefixed "notls:".
std::optional<server::ListenSpec> parseListen(std::string_view text) {
  server::ListenSpec spec;
  if (text.starts_with("notls:")) {
    spec.notls = true;
    text.remove_prefix(6);
  }
  std::string_view port;
  if (text.starts_with('[')) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    spec.host = std::string(text.substr(1, close - 1));
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return std::nullopt;
      port = rest.substr(1);
    }
  } else if (const size_t colon = text.find(':');
             colon != std::string_view::npos &&
             text.find(':', colon + 1) == std::string_view::npos) {
    spec.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
  } else {
    spec.host = std::string(text);  // a name, IPv4, or a bare IPv6 address
  }
  if (spec.host.empty()) return std::nullopt;
  if (!port.empty()) {
    auto v = parseInt(port, 0, 65535);
    if (!v) return std::nullopt;
    spec.port = static_cast<int>(*v);
  } else if (text.ends_with(':')) {
    return std::nullopt;
  }
  return spec;
}

std::vector<std::string> splitCommas(std::string_view text) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in{std::string(text)};
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

}  // namespace

std::variant<server::Settings, ExitNow> parseCommandLine(int argc, char** argv) {
  static const option kLongOptions[] = {
      {"port", required_argument, nullptr, 'p'},
      {"udp-port", required_argument, nullptr, 'U'},
      {"listen", required_argument, nullptr, 'l'},
      {"threads", required_argument, nullptr, 't'},
      {"memory-limit", required_argument, nullptr, 'm'},
      {"conn-limit", required_argument, nullptr, 'c'},
      {"max-item-size", required_argument, nullptr, 'I'},
      {"listen-backlog", required_argument, nullptr, 'b'},
      {"max-reqs-per-event", required_argument, nullptr, 'R'},
      {"disable-cas", no_argument, nullptr, 'C'},
      {"disable-flush-all", no_argument, nullptr, 'F'},
      {"enable-shutdown", no_argument, nullptr, 'A'},
      {"disable-evictions", no_argument, nullptr, 'M'},
      {"verbose", optional_argument, nullptr, 'v'},
      {"user", required_argument, nullptr, 'u'},
      {"extended", required_argument, nullptr, 'o'},
      {"help", no_argument, nullptr, 'h'},
      {"version", no_argument, nullptr, 'V'},
      {"port-file", required_argument, nullptr, kPortFile},
      {"users-file", required_argument, nullptr, kUsersFile},
      {"auth-timeout", required_argument, nullptr, kAuthTimeout},
      {"executor-threads", required_argument, nullptr, kExecutorThreads},
      {"auth-threads", required_argument, nullptr, kAuthThreads},
      {"range-scan-lifetime", required_argument, nullptr, kRangeScanLifetime},
      {"max-body-size", required_argument, nullptr, kMaxBodySize},
      {"output-high-watermark", required_argument, nullptr, kOutputHighWatermark},
      {"read-buffer-pool-limit", required_argument, nullptr, kReadBufferPoolLimit},
      {"shutdown-grace-ms", required_argument, nullptr, kShutdownGraceMs},
      {"output-stall-timeout", required_argument, nullptr, kOutputStallTimeout},
      {"dcp-idle-timeout", required_argument, nullptr, kDcpIdleTimeout},
      {"read-memory-limit", required_argument, nullptr, kReadMemoryLimit},
      {"read-stall-timeout", required_argument, nullptr, kReadStallTimeout},
      {"enable-ssl", no_argument, nullptr, 'Z'},
      {"tls-port", required_argument, nullptr, kTlsPort},
      {"tls-port-file", required_argument, nullptr, kTlsPortFile},
      {"tls-handshake-timeout", required_argument, nullptr, kTlsHandshakeTimeout},
      {"tls-cert-auth", no_argument, nullptr, kTlsCertAuth},
      {"metrics-port", required_argument, nullptr, kMetricsPort},
      {"metrics-listen", required_argument, nullptr, kMetricsListen},
      {"metrics-port-file", required_argument, nullptr, kMetricsPortFile},
      {"log-file", required_argument, nullptr, kLogFile},
      {"cluster-map", required_argument, nullptr, kClusterMap},
      {"node-index", required_argument, nullptr, kNodeIndex},
      {"strict-vbuckets", no_argument, nullptr, kStrictVBuckets},
      {nullptr, 0, nullptr, 0},
  };
  server::Settings s;
  bool item_size_given = false;
  optind = 1;
  opterr = 0;
  int opt;
  while ((opt = ::getopt_long(argc, argv, ":p:U:l:t:m:c:I:b:R:CFAMZvu:o:hV", kLongOptions,
                              nullptr)) != -1) {
    const std::string_view arg = optarg ? optarg : "";
    switch (opt) {
      case 'p': {
        auto v = parseInt(arg, 0, 65535);
        if (!v) return bad("Invalid port number: '" + std::string(arg) + "'");
        s.port = static_cast<uint16_t>(*v);
        break;
      }
      case 'U':
        if (!parseInt(arg, 0, 65535)) return bad("Invalid UDP port: '" + std::string(arg) + "'");
        break;
      case 'l':
        s.listen_hosts = splitCommas(arg);
        if (s.listen_hosts.empty()) return bad("-l needs at least one address");
        s.listens.clear();
        for (const std::string& entry : s.listen_hosts) {
          auto spec = parseListen(entry);
          if (!spec) return bad("Invalid listen address: '" + entry + "'");
          s.listens.push_back(*spec);
        }
        break;
      case 'Z':
        s.ssl_enabled = true;
        break;
      case kTlsPort: {
        auto v = parseInt(arg, 0, 65535);
        if (!v) return bad("Invalid TLS port: '" + std::string(arg) + "'");
        s.tls_port = static_cast<int>(*v);
        break;
      }
      case kTlsCertAuth:
        s.tls_cert_auth = true;
        break;
      case kTlsPortFile:
        s.tls_port_file = std::string(arg);
        break;
      case kMetricsPort: {
        auto v = parseInt(arg, 0, 65535);
        if (!v) return bad("Invalid metrics port number: '" + std::string(arg) + "'");
        s.metrics_port = static_cast<int>(*v);
        break;
      }
      case kMetricsListen:
        if (arg.empty()) return bad("--metrics-listen needs an address");
        s.metrics_listen = std::string(arg);
        break;
      case kMetricsPortFile:
        s.metrics_port_file = std::string(arg);
        break;
      case kTlsHandshakeTimeout: {
        auto v = parseInt(arg, 1, 3600);
        if (!v) return bad("--tls-handshake-timeout must be 1 to 3600 seconds");
        s.tls_handshake_timeout_s = static_cast<int>(*v);
        break;
      }
      case 't': {
        auto v = parseInt(arg, 1, 1024);
        if (!v) return bad("Number of threads must be between 1 and 1024");
        s.threads = static_cast<size_t>(*v);
        break;
      }
      case 'm': {
        auto v = parseSize(arg, 1ull << 20);
        if (!v || *v == 0) return bad("Memory limit (-m) must be a positive number of megabytes");
        s.memory_limit = *v;
        break;
      }
      case 'c': {
        auto v = parseInt(arg, 1, 10'000'000);
        if (!v) return bad("Maximum connections must be greater than 0");
        s.max_connections = static_cast<size_t>(*v);
        break;
      }
      case 'I': {
        auto v = parseSize(arg);
        if (!v) return bad("Invalid item size: '" + std::string(arg) + "'");
        if (*v < kMinItemSize) return bad("Item max size cannot be less than 1024 bytes.");
        if (*v > kMaxItemSize) return bad("Cannot set item size limit higher than 1 GB.");
        s.item_size_max = *v;
        item_size_given = true;
        break;
      }
      case 'b': {
        auto v = parseInt(arg, 1, 1 << 20);
        if (!v) return bad("Listen backlog (-b) must be greater than 0");
        s.backlog = static_cast<int>(*v);
        break;
      }
      case 'R': {
        auto v = parseInt(arg, 1, 1 << 20);
        if (!v) return bad("Number of requests per event must be greater than 0");
        s.requests_per_event = static_cast<size_t>(*v);
        break;
      }
      case 'C':
        s.cas_enabled = false;
        break;
      case 'F':
        s.flush_enabled = false;
        break;
      case 'A':
        s.shutdown_enabled = true;
        break;
      case 'M':
        s.evict = false;
        break;
      case 'v':
        ++s.verbosity;
        break;
      case 'u':
        break;  // memkv never runs setuid; accepted so memcached command lines work
      case 'o':
        if (auto err = applyExtended(arg, s)) return *err;
        break;
      case 'h':
        return ExitNow{0, kUsage};
      case 'V':
        return ExitNow{0, "memkv " MEMKV_VERSION "\n"};
      case kPortFile:
        s.port_file = std::string(arg);
        break;
      case kMaxBodySize: {
        auto v = parseSize(arg);
        if (!v || *v < kMinItemSize) return bad("--max-body-size must be at least 1024");
        s.max_body_size = *v;
        break;
      }
      case kOutputHighWatermark: {
        auto v = parseSize(arg);
        if (!v || *v < 4096) return bad("--output-high-watermark must be at least 4096");
        s.output_high_watermark = *v;
        break;
      }
      case kReadBufferPoolLimit: {
        auto v = parseSize(arg);
        // Below one 16 KiB buffer nothing could ever be read.
        if (!v || (*v != 0 && *v < (16u << 10))) {
          return bad("--read-buffer-pool-limit must be 0 (no limit) or at least 16k");
        }
        s.read_buffer_pool_limit = *v;
        break;
      }
      case kReadMemoryLimit: {
        auto v = parseSize(arg);
        if (!v || (*v != 0 && *v < (1u << 20))) {
          return bad("--read-memory-limit must be 0 (no limit) or at least 1m");
        }
        s.read_memory_limit = *v;
        break;
      }
      case kReadStallTimeout: {
        auto v = parseInt(arg, 0, 86'400);
        if (!v) return bad("--read-stall-timeout must be between 0 and 86400 seconds");
        s.read_stall_timeout_s = static_cast<int>(*v);
        break;
      }
      case kShutdownGraceMs: {
        auto v = parseInt(arg, 0, 3'600'000);
        if (!v) return bad("--shutdown-grace-ms must be between 0 and 3600000");
        s.shutdown_grace_ms = static_cast<int>(*v);
        break;
      }
      case kOutputStallTimeout: {
        auto v = parseInt(arg, 1, 86'400);
        if (!v) return bad("--output-stall-timeout must be between 1 and 86400 seconds");
        s.output_stall_timeout_s = static_cast<int>(*v);
        break;
      }
      case kDcpIdleTimeout: {
        auto v = parseInt(arg, 1, 86'400);
        if (!v) return bad("--dcp-idle-timeout must be between 1 and 86400 seconds");
        s.dcp_idle_timeout_s = static_cast<int>(*v);
        break;
      }
      case kLogFile:
        if (arg.empty()) return bad("--log-file needs a path");
        s.log_file = std::string(arg);
        break;
      case kUsersFile:
        if (arg.empty()) return bad("--users-file needs a path");
        s.users_file = std::string(arg);
        break;
      case kAuthTimeout: {
        auto v = parseInt(arg, 1, 86'400);
        if (!v) return bad("--auth-timeout must be between 1 and 86400 seconds");
        s.auth_timeout_s = static_cast<int>(*v);
        break;
      }
      case kExecutorThreads: {
        auto v = parseInt(arg, 1, 64);
        if (!v) return bad("--executor-threads must be between 1 and 64");
        s.executor_threads = static_cast<size_t>(*v);
        break;
      }
      case kAuthThreads: {
        auto v = parseInt(arg, 1, 64);
        if (!v) return bad("--auth-threads must be between 1 and 64");
        s.auth_threads = static_cast<size_t>(*v);
        break;
      }
      case kRangeScanLifetime: {
        auto v = parseInt(arg, 1, 86'400);
        if (!v) return bad("--range-scan-lifetime must be between 1 and 86400 seconds");
        s.range_scan_lifetime_s = static_cast<int>(*v);
        break;
      }
      case kClusterMap:
        if (arg.empty()) return bad("--cluster-map needs a path");
        s.cluster_map_file = std::string(arg);
        break;
      case kNodeIndex: {
        // The map's own limit; whether the index names one of its nodes is
        // checked once the map is read.
        auto v = parseInt(arg, 0, static_cast<long>(cluster::kMaxNodes) - 1);
        if (!v) return bad("--node-index must be a number from 0 to 999");
        s.node_index = static_cast<int>(*v);
        break;
      }
      case kStrictVBuckets:
        s.strict_vbuckets = true;
        break;
      case ':':
        return bad(std::string("Option -") + static_cast<char>(optopt) + " needs a value");
      default:
        if (optopt != 0) return bad(std::string("Unknown option -") + static_cast<char>(optopt));
        return bad(std::string("Unknown option ") + argv[optind - 1]);
    }
  }
  if (optind < argc) return bad(std::string("Unexpected argument: ") + argv[optind]);
  if (item_size_given && s.item_size_max > s.memory_limit / 2) {
    return bad("Cannot set item size limit higher than 1/2 of memory max.");
  }
  if (s.tls_cert_auth && (s.ssl_verify_mode == 0 || s.users_file.empty())) {
    return bad(
        "--tls-cert-auth needs -o ssl_verify_mode=1|2|3,ssl_ca_cert=<file> and --users-file");
  }
  if (s.cluster_map_file.empty() != (s.node_index < 0)) {
    return bad(
        "--cluster-map and --node-index go together: the map, and which of its nodes "
        "this server is");
  }
  if (s.strict_vbuckets && s.cluster_map_file.empty()) {
    return bad("--strict-vbuckets needs --cluster-map: without a map this node owns every key");
  }
  if (s.tlsConfigured() && s.ssl_chain_cert.empty()) {
    return bad("TLS (-Z, --tls-port) needs -o ssl_chain_cert=<file> (and ssl_key=<file>)");
  }
  return s;
}

}  // namespace memkv::app
