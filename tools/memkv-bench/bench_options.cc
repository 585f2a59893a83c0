#include "bench_options.h"

#include <charconv>
#include <cstdlib>
#include <string_view>

#include "value_codec.h"

namespace memkv::bench {
namespace {

constexpr std::string_view kUsage = R"(memkv-bench: load generator for memkv and memcached

  --server HOST:PORT       target (default 127.0.0.1:11211)
  --cluster-map FILE       route as the Couchbase SDK does: each thread connects
                           --conns connections spread over the map's nodes, and
                           each request goes to its key's vbucket owner (binary
                           only; no sweep, shift, set-on-miss or TLS)
  --protocol P             binary (MCBP) | text (memcached's get/set) (default binary)
  --threads N              event-loop threads (default 1)
  --conns N                connections per thread (default 10)
  --pipeline N             requests in flight per connection (default 1)
  --ratio GET:SET          operation mix (default 10:1)
  --multiget N             text: each GET is "get k1 ... kN" (default 1); ops count
                           keys (N per GET), requests count lines sent
  --keys N                 key space size (default 100000)
  --key-dist D             uniform | zipf:THETA, 0 < THETA < 1 (default uniform)
  --key-prefix S           key prefix (default "key:"); keys are prefix + the index
  --key-digits N           digits of the zero-padded index (default 12), so a key is
                           prefix + N bytes long; every key index must fit
  --value-size N|MIN-MAX   value bytes, k/m suffixes allowed (default 32)
  --duration SECONDS       measured run time (default 10)
  --requests N             run until N requests completed instead of a duration
  --warmup SECONDS         run this long before measuring (default 0)
  --timeout SECONDS        hard cap on the whole run; reaching it fails it (default 600)
  --prefill                set every key once before the run
  --verify                 check every value read; any mismatch fails the run
  --set-on-miss            after a GET miss, SET that key (a cache-aside client)
  --seed N                 random seed (default 1)
  --sweep-keys N           scan pollution: one pass, in order, over N cold keys
                           (indices after the --keys set, never drawn by it), one
                           GET (and --set-on-miss SET) every other request until
                           done; its gets are reported apart from the others
  --sweep-start SECONDS    when the sweep starts, counted from the run's start
                           (after --prefill, warmup included) (default 0)
  --shift-at SECONDS       from then on (same clock) requests use a fresh key
                           space of the same size and distribution (indices after
                           the sweep's), whose values are --shift-value-size
  --shift-value-size N|MIN-MAX  value bytes of the shifted keys (default --value-size)
  --report-interval SECONDS  hit ratio of the non-sweep gets per interval of the
                           run, by send time on the same clock (warmup included)
  --json                   print one JSON object instead of text
  --idle-conns N           hold N idle connections (one NOOP each), print READY
  --stall-conns N          hold N connections that sent half a SET (binary or text), print READY
  --stall-value-size N     value size the stalled SETs announce (default 4096)
  --stall-percent P        percent of that value a stalled SET sends (default 50)
  --tls                    speak TLS (OpenSSL) on every connection; the handshake
                           is made at connect time, before any timing starts
  --tls-ca FILE            verify the server's chain against FILE and its name
                           against the --server host; without it nothing is verified
  --tls-version V          1.2 | 1.3: the one version offered (default 1.3)
  --handshakes             with --tls: each of --conns connections per thread loops
                           connect, full handshake, one NOOP, close_notify, close;
                           ops and requests count handshakes, latency is connect to
                           NOOP reply (--duration or --requests as usual)
Hold modes speak binary (--idle-conns also over --tls: handshake, then the NOOP)
and keep their connections until --duration passes or SIGINT/SIGTERM.
Exit status: 0 ok; 1 verify mismatch, connection or protocol error, timeout; 2 usage.
)";

template <typename T>
bool parseInt(std::string_view text, T* out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool parseDouble(std::string_view text, double* out) {
  std::string copy(text);
  char* end = nullptr;
  *out = std::strtod(copy.c_str(), &end);
  return !copy.empty() && end == copy.c_str() + copy.size() && *out >= 0;
}

// "100", "100k", "1m": k and m are binary (KiB, MiB) as memcached's -I reads them.
bool parseSize(std::string_view text, uint32_t* out) {
  uint64_t multiplier = 1;
  if (!text.empty() && (text.back() == 'k' || text.back() == 'K')) multiplier = 1024;
  if (!text.empty() && (text.back() == 'm' || text.back() == 'M')) multiplier = 1024 * 1024;
  if (multiplier != 1) text.remove_suffix(1);
  uint64_t n = 0;
  if (!parseInt(text, &n) || n * multiplier > UINT32_MAX) return false;
  *out = static_cast<uint32_t>(n * multiplier);
  return true;
}

bool parseServer(std::string_view text, BenchOptions* o) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return false;
  o->host = std::string(text.substr(0, colon));
  return parseInt(text.substr(colon + 1), &o->port) && !o->host.empty();
}

bool parseRatio(std::string_view text, BenchOptions* o) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) return false;
  return parseInt(text.substr(0, colon), &o->get_weight) &&
         parseInt(text.substr(colon + 1), &o->set_weight) && o->get_weight + o->set_weight > 0;
}

bool parseDistribution(std::string_view text, BenchOptions* o) {
  if (text == "uniform") {
    o->key_distribution = {};
    return true;
  }
  constexpr std::string_view kZipf = "zipf:";
  if (!text.starts_with(kZipf)) return false;
  double theta = 0;
  if (!parseDouble(text.substr(kZipf.size()), &theta) || theta <= 0 || theta >= 1) return false;
  o->key_distribution = {KeyDistribution::Kind::kZipf, theta};
  return true;
}

// "N" or "MIN-MAX", each a parseSize.
bool parseValueSize(std::string_view text, uint32_t* min, uint32_t* max) {
  const size_t dash = text.find('-');
  if (dash == std::string_view::npos) {
    if (!parseSize(text, min)) return false;
    *max = *min;
    return true;
  }
  return parseSize(text.substr(0, dash), min) && parseSize(text.substr(dash + 1), max) &&
         *min <= *max;
}

bool parseProtocol(std::string_view text, BenchOptions* o) {
  if (text == "binary") {
    o->protocol = Protocol::kBinary;
    return true;
  }
  if (text == "text") {
    o->protocol = Protocol::kText;
    return true;
  }
  return false;
}

// Applies one "--name value" pair; false if the value does not parse.
bool applyOption(std::string_view name, std::string_view value, BenchOptions* o) {
  if (name == "server") return parseServer(value, o);
  if (name == "protocol") return parseProtocol(value, o);
  if (name == "multiget") return parseInt(value, &o->keys_per_get) && o->keys_per_get > 0;
  if (name == "threads") return parseInt(value, &o->threads) && o->threads > 0;
  if (name == "conns") return parseInt(value, &o->conns_per_thread) && o->conns_per_thread >= 0;
  if (name == "pipeline") return parseInt(value, &o->pipeline) && o->pipeline > 0;
  if (name == "ratio") return parseRatio(value, o);
  if (name == "keys") return parseInt(value, &o->keys) && o->keys > 0;
  if (name == "key-dist") return parseDistribution(value, o);
  if (name == "cluster-map") {
    o->cluster_map = std::string(value);
    return !o->cluster_map.empty();
  }
  if (name == "key-prefix") {
    o->key_prefix = std::string(value);
    return o->key_prefix.size() <= 200;
  }
  if (name == "key-digits") {
    return parseInt(value, &o->key_digits) && o->key_digits > 0 &&
           o->key_digits <= KeyChooser::kMaxIndexDigits;
  }
  if (name == "value-size") return parseValueSize(value, &o->value_min, &o->value_max);
  if (name == "sweep-keys") return parseInt(value, &o->sweep_keys);
  if (name == "sweep-start") return parseDouble(value, &o->sweep_start_s);
  if (name == "shift-at") {
    o->shift = true;
    return parseDouble(value, &o->shift_at_s);
  }
  if (name == "shift-value-size") {
    return parseValueSize(value, &o->shift_value_min, &o->shift_value_max) &&
           o->shift_value_max > 0;
  }
  if (name == "report-interval") {
    return parseDouble(value, &o->report_interval_s) && o->report_interval_s > 0;
  }
  if (name == "duration") return parseDouble(value, &o->duration_s);
  if (name == "requests") return parseInt(value, &o->requests);
  if (name == "warmup") return parseDouble(value, &o->warmup_s);
  if (name == "timeout") return parseDouble(value, &o->timeout_s);
  if (name == "seed") return parseInt(value, &o->seed);
  if (name == "idle-conns") return parseInt(value, &o->idle_conns);
  if (name == "stall-conns") return parseInt(value, &o->stall_conns);
  if (name == "stall-value-size") return parseSize(value, &o->stall_value_size);
  if (name == "stall-percent") return parseInt(value, &o->stall_percent) && o->stall_percent < 100;
  if (name == "tls-ca") {
    o->tls_ca = std::string(value);
    return !o->tls_ca.empty();
  }
  if (name == "tls-version") {
    if (value == "1.2") o->tls_version = 12;
    if (value == "1.3") o->tls_version = 13;
    return value == "1.2" || value == "1.3";
  }
  return false;
}

bool isFlag(std::string_view name) {
  return name == "json" || name == "verify" || name == "prefill" || name == "set-on-miss" ||
         name == "tls" || name == "handshakes" || name == "help";
}

// Combinations the hit-ratio workloads do not make sense with, and key
// indices that would not fit the key's digits; null when fine.
const char* keySpaceProblem(const BenchOptions& o) {
  uint64_t limit = 1;
  for (size_t i = 0; i < o.key_digits; ++i) limit *= 10;
  const KeySpaces spaces = o.keySpaces();
  // Indices run up to spaces.end() - 1, which must be below 10^digits;
  // compared term by term so that no sum can overflow.
  if (o.keys > limit || o.sweep_keys > limit - o.keys ||
      (o.shift && o.keys > limit - spaces.shiftBase())) {
    return "the key spaces (--keys, --sweep-keys, --shift-at) need more --key-digits";
  }
  if ((o.sweep_keys > 0 || o.shift) && o.keys_per_get > 1) {
    return "--sweep-keys and --shift-at go without --multiget";
  }
  if (o.verify && o.shift && o.shift_value_min < kValueHeaderSize) {
    return "--verify needs values of at least 24 bytes (the value's own header)";
  }
  return nullptr;
}

// Combinations the TLS client does not do; null when the options are fine.
const char* tlsProblem(const BenchOptions& o) {
  if (!o.tls && (!o.tls_ca.empty() || o.handshakes)) return "--tls-ca and --handshakes need --tls";
  if (o.tls && o.stall_conns > 0) return "--stall-conns does not speak --tls";
  if (o.handshakes && (o.holdMode() || o.prefill)) {
    return "--handshakes goes with neither hold modes nor --prefill";
  }
  return nullptr;
}

}  // namespace

ParseResult parseOptions(int argc, char** argv) {
  ParseResult result;
  BenchOptions o;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (!arg.starts_with("--")) {
      result.message = "unexpected argument: " + std::string(arg);
      return result;
    }
    arg.remove_prefix(2);
    std::string_view value;
    const size_t eq = arg.find('=');
    const std::string_view name = arg.substr(0, eq);
    if (isFlag(name)) {
      if (name == "help") {
        result.help = true;
        result.message = std::string(kUsage);
        return result;
      }
      if (name == "json") o.json = true;
      if (name == "verify") o.verify = true;
      if (name == "prefill") o.prefill = true;
      if (name == "set-on-miss") o.set_on_miss = true;
      if (name == "tls") o.tls = true;
      if (name == "handshakes") o.handshakes = true;
      continue;
    }
    if (eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      result.message = "missing value for --" + std::string(name);
      return result;
    }
    if (!applyOption(name, value, &o)) {
      result.message = "bad option --" + std::string(name) + " " + std::string(value);
      return result;
    }
  }
  if (o.shift_value_max == 0) {
    o.shift_value_min = o.value_min;
    o.shift_value_max = o.value_max;
  } else if (!o.shift) {
    result.message = "--shift-value-size needs --shift-at";
    return result;
  }
  if (const char* problem = keySpaceProblem(o)) {
    result.message = problem;
    return result;
  }
  if (o.verify && o.value_min < kValueHeaderSize) {
    result.message = "--verify needs values of at least 24 bytes (the value's own header)";
    return result;
  }
  if (o.protocol == Protocol::kText) {
    // Text keys end at a space or a control character.
    for (const char c : o.key_prefix) {
      if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
        result.message = "--protocol text needs a --key-prefix without spaces or control bytes";
        return result;
      }
    }
  } else if (o.keys_per_get > 1) {
    result.message = "--multiget needs --protocol text";
    return result;
  }
  if (const char* problem = tlsProblem(o)) {
    result.message = problem;
    return result;
  }
  if (!o.cluster_map.empty() &&
      (o.protocol != Protocol::kBinary || o.sweep_keys > 0 || o.shift || o.set_on_miss || o.tls ||
       o.holdMode() || o.conns_per_thread < 1)) {
    result.message =
        "--cluster-map goes with the binary protocol only, and without --sweep-keys, "
        "--shift-at, --set-on-miss, --tls and the hold modes";
    return result;
  }
  result.options = o;
  return result;
}

}  // namespace memkv::bench
