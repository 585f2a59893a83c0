// memkv-bench: an MCBP and text load generator, over TCP or TLS. See
// bench_options.cc for the flags and bench/run.sh for how the benchmark
// suite drives it.
#include <sys/resource.h>

#include <atomic>
#include <barrier>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench_options.h"
#include "cluster/cluster_map.h"
#include "handshake_loop.h"
#include "held_connections.h"
#include "key_chooser.h"
#include "report.h"
#include "run_stats.h"
#include "split_mix.h"
#include "tls_client.h"
#include "worker.h"

namespace {

std::atomic<bool> g_stop{false};

void onSignal(int) {
  g_stop.store(true, std::memory_order_relaxed);
}

// Thousands of connections need thousands of descriptors: take the hard limit.
void raiseDescriptorLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace memkv::bench;
  const ParseResult parsed = parseOptions(argc, argv);
  if (!parsed.options) {
    std::fputs(parsed.message.c_str(), parsed.help ? stdout : stderr);
    if (!parsed.help) std::fputs("\n(see --help)\n", stderr);
    return parsed.help ? 0 : 2;
  }
  const BenchOptions& options = *parsed.options;
  raiseDescriptorLimit();
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  std::signal(SIGPIPE, SIG_IGN);

  std::unique_ptr<TlsClient> tls;
  if (options.tls) {
    std::string error;
    tls = TlsClient::create(options, &error);
    if (!tls) {
      std::fprintf(stderr, "memkv-bench: %s\n", error.c_str());
      return 2;
    }
  }
  if (options.holdMode()) return holdConnections(options, tls.get(), g_stop);
  if (options.handshakes) {
    const RunStats total = runHandshakes(options, *tls, g_stop);
    (options.json ? printJson : printText)(options, total, stdout);
    return total.failed() ? 1 : 0;
  }

  const KeyChooser keys(options.keys, options.key_distribution);
  std::vector<uint8_t> filler(options.largestValue());
  SplitMix fill_rng(options.seed);
  for (uint8_t& b : filler) b = static_cast<uint8_t>(fill_rng.next());

  std::barrier<> start_line(options.threads);
  std::unique_ptr<Routing> routing;
  if (!options.cluster_map.empty()) {
    std::string error;
    const auto map = memkv::cluster::ClusterMap::load(options.cluster_map, &error);
    if (!map) {
      std::fprintf(stderr, "memkv-bench: --cluster-map: %s\n", error.c_str());
      return 2;
    }
    routing = std::make_unique<Routing>();
    for (const memkv::cluster::Node& n : map->nodes()) routing->nodes.push_back({n.host, n.port});
    const memkv::cluster::Owners& owners = map->owners("default");  // the bucket it talks to
    for (size_t vb = 0; vb < routing->owner.size(); ++vb) {
      routing->owner[vb] = static_cast<uint16_t>(owners[vb]);
    }
  }
  const SharedRun shared{options, keys, filler, g_stop, start_line, tls.get(), routing.get()};
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < options.threads; ++i) workers.push_back(std::make_unique<Worker>(shared, i));
  std::vector<std::thread> threads;
  for (auto& worker : workers) threads.emplace_back([&worker] { worker->run(); });
  for (std::thread& t : threads) t.join();

  RunStats total;
  for (const auto& worker : workers) total.merge(worker->stats());
  if (options.json) {
    printJson(options, total, stdout);
  } else {
    printText(options, total, stdout);
  }
  return total.failed() ? 1 : 0;
}
