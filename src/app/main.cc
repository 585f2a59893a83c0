// memkv: startup, signals, shutdown. Wires the layers together; no logic of
// its own beyond that.
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <variant>
#include <vector>

#include <spdlog/spdlog.h>

#include "app/command_line.h"
#include "app/metrics_http.h"
#include "auth/users.h"
#include "cluster/cluster_map.h"
#include "common/clock.h"
#include "common/log_rate_limit.h"
#include "common/logging.h"
#include "engine/bucket.h"
#include "net/event_loop.h"
#include "net/listener.h"
#include "net/read_budget.h"
#include "net/tls.h"
#include "net/worker.h"
#include "protocol/limits.h"
#include "server/mcbp_session.h"
#include "server/server_context.h"

namespace {

using memkv::server::Settings;

// Each connection needs a descriptor; ask for -c plus room for listeners,
// loops and logs, as memcached does.
void raiseDescriptorLimit(size_t max_connections) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  const rlim_t wanted = static_cast<rlim_t>(max_connections) + 64;
  if (rl.rlim_cur >= wanted) return;
  rl.rlim_cur = std::min(wanted, rl.rlim_max);
  if (rl.rlim_max < wanted && ::geteuid() == 0) rl.rlim_cur = rl.rlim_max = wanted;
  if (::setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < wanted) {
    spdlog::warn("descriptor limit {} is below -c {} plus overhead", rl.rlim_cur, max_connections);
  }
}

bool writePortFile(const std::string& path, uint16_t port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return false;
    out << port << "\n";
    if (!out.flush()) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

// Turns SIGTERM/SIGINT (stop), SIGHUP (reload the users file, the TLS
// certificates and the cluster map) and SIGUSR1
// (reopen --log-file, logrotate's convention) into a readable descriptor on
// the main loop.
class SignalHandler final : public memkv::net::EventHandler {
 public:
  SignalHandler(int fd, std::function<void()> on_stop, std::function<void()> on_hup)
      : fd_(fd), on_stop_(std::move(on_stop)), on_hup_(std::move(on_hup)) {}
  void onEvent(uint32_t) override {
    signalfd_siginfo info;
    while (::read(fd_, &info, sizeof info) == sizeof info) {
      if (info.ssi_signo == SIGHUP) {
        on_hup_();
        continue;
      }
      if (info.ssi_signo == SIGUSR1) {
        // On the main loop, not in signal context: the reopen takes a mutex.
        memkv::reopenLogFile();
        continue;
      }
      if (!stopping_) {
        stopping_ = true;
        spdlog::info("signal {}: shutting down", info.ssi_signo);
        on_stop_();
      }
    }
  }

 private:
  int fd_;
  std::function<void()> on_stop_;
  std::function<void()> on_hup_;
  bool stopping_ = false;
};

// SIGHUP: new TLS connections get the certificate and key read now;
// existing ones keep theirs.
void reloadTls(memkv::net::TlsConfig* tls) {
  if (tls == nullptr) return;
  std::string error;
  if (tls->reload(&error)) {
    spdlog::info("TLS certificates reloaded");
  } else {
    spdlog::error("TLS certificate reload failed, keeping the old ones: {}", error);
  }
}

// SIGHUP: every connection's next command sees the users read now; a user
// no longer in the file loses access. A file that does not load changes
// nothing (the old users stay in effect) and is logged.
void reloadUsers(memkv::server::ServerContext& context) {
  if (!context.authRequired()) return;
  std::string error;
  if (context.reloadUsers(&error)) {
    spdlog::info("{} users reloaded from {}", context.users().db->size(),
                 context.settings().users_file);
  } else {
    spdlog::error("users file reload failed, keeping the users in effect: {}", error);
  }
}

// SIGHUP: a newer cluster map that still names this node takes effect for
// every connection's next command. Anything else keeps the map in effect and
// is logged.
void reloadClusterMap(memkv::server::ServerContext& context) {
  if (!context.clustered()) return;
  std::string error;
  if (context.reloadClusterMap(&error)) {
    const auto view = context.buckets().clusterMap();
    spdlog::info("cluster map rev {} reloaded from {}: node {} of {}", view.map->rev(),
                 context.settings().cluster_map_file, view.node, view.map->nodes().size());
  } else {
    spdlog::error("cluster map reload failed, keeping the map in effect: {}", error);
  }
}

int run(const Settings& settings) {
  raiseDescriptorLimit(settings.max_connections);

  // Block the stop signals before any thread starts; the main loop reads them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);
  sigaddset(&stop_signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  const int signal_fd = ::signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC);

  std::unique_ptr<const memkv::auth::UserDatabase> users;
  if (!settings.users_file.empty()) {
    std::string error;
    users = memkv::auth::UserDatabase::load(settings.users_file, &error);
    if (!users) {
      std::fprintf(stderr, "memkv: %s\n", error.c_str());
      return 1;
    }
    spdlog::info("{} users from {}; authentication required", users->size(), settings.users_file);
  }

  std::shared_ptr<const memkv::cluster::ClusterMap> cluster_map;
  if (!settings.cluster_map_file.empty()) {
    std::string error;
    cluster_map = memkv::cluster::ClusterMap::load(settings.cluster_map_file, &error);
    if (!cluster_map) {
      std::fprintf(stderr, "memkv: --cluster-map: %s\n", error.c_str());
      return 1;
    }
    const size_t nodes = cluster_map->nodes().size();
    if (static_cast<size_t>(settings.node_index) >= nodes) {
      std::fprintf(stderr, "memkv: --node-index %d: the cluster map %s has %zu node%s (0 to %zu)\n",
                   settings.node_index, settings.cluster_map_file.c_str(), nodes,
                   nodes == 1 ? "" : "s", nodes - 1);
      return 1;
    }
  }

  std::unique_ptr<memkv::net::TlsConfig> tls;
  if (settings.tlsConfigured()) {
    memkv::net::TlsOptions options;
    options.chain_cert = settings.ssl_chain_cert;
    options.key = settings.ssl_key;
    options.ca_cert = settings.ssl_ca_cert;
    options.verify_mode = settings.ssl_verify_mode;
    options.min_version = settings.ssl_min_version;
    options.ciphers = settings.ssl_ciphers;
    std::string error;
    tls = memkv::net::TlsConfig::create(options, &error);
    if (!tls) {
      std::fprintf(stderr, "memkv: TLS: %s\n", error.c_str());
      return 1;
    }
  }

  memkv::SystemClock clock;
  memkv::server::ServerContext context(settings, clock, std::move(users));
  context.setTls(tls.get());
  context.verbosity().store(settings.verbosity);

  memkv::net::ConnectionLimits limits;
  limits.output_high_watermark = settings.output_high_watermark;
  limits.output_low_watermark = settings.output_high_watermark / 4;
  limits.requests_per_event = settings.requests_per_event;
  limits.output_stall_timeout_ms = int64_t{settings.output_stall_timeout_s} * 1000;
  limits.read_stall_timeout_ms = int64_t{settings.read_stall_timeout_s} * 1000;
  limits.tls_handshake_timeout_ms = int64_t{settings.tls_handshake_timeout_s} * 1000;

  // One budget for every partially received request on every worker. Never
  // below what one connection alone needs to finish the largest frame (the
  // frame's block within the large-frame share of three quarters, its pool
  // buffer, the workers' unspent credit), or such a frame could wait forever.
  size_t read_limit = settings.read_memory_limit;
  if (read_limit != 0) {
    const size_t alone = memkv::server::McbpSession::maxBody(settings) + memkv::mcbp::kHeaderSize +
                         memkv::net::BufferPool::kBufferSize +
                         settings.threads * memkv::net::BufferPool::kMaxCredit;
    const size_t floor = alone + alone / 3 + 1;
    if (read_limit < floor) {
      spdlog::warn("read memory limit raised to {} bytes: the largest request must fit", floor);
      read_limit = floor;
    }
  }
  memkv::net::ReadBudget read_budget(read_limit);
  context.setReadBudget(&read_budget);

  std::atomic<size_t> live_connections{0};
  std::vector<std::unique_ptr<memkv::net::Worker>> workers;
  std::vector<memkv::net::Worker*> worker_ptrs;
  for (size_t i = 0; i < settings.threads; ++i) {
    auto worker = std::make_unique<memkv::net::Worker>(limits, settings.read_buffer_pool_limit,
                                                       live_connections, &read_budget);
    memkv::server::WorkerContext& wctx = context.addWorker(&worker->counters());
    wctx.worker = worker.get();
    worker->setHandlerFactory([&context, &wctx](memkv::net::Connection& conn) {
      return std::make_unique<memkv::server::McbpSession>(context, wctx, conn);
    });
    worker_ptrs.push_back(worker.get());
    workers.push_back(std::move(worker));
  }

  memkv::net::EventLoop main_loop;
  memkv::net::Listener listener(main_loop, worker_ptrs, live_connections, settings.max_connections,
                                settings.backlog);
  context.setListener(&listener);
  listener.setTls(tls.get());
  try {
    for (const memkv::server::ListenSpec& l : settings.listens) {
      const uint16_t port = static_cast<uint16_t>(l.port >= 0 ? l.port : settings.port);
      listener.listen({l.host, port, settings.ssl_enabled && !l.notls});
    }
    if (settings.tls_port >= 0) {
      // One TLS listener per -l host; with port 0 all share the first one's
      // ephemeral port, as clients expect one kvSSL port.
      int tls_port = settings.tls_port;
      for (const memkv::server::ListenSpec& l : settings.listens) {
        listener.listen({l.host, static_cast<uint16_t>(tls_port), true});
        tls_port = listener.firstPort(true);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "memkv: %s\n", e.what());
    return 1;
  }
  const auto ports = listener.boundPorts();
  context.setBoundPort(ports.front());
  context.setPorts(listener.firstPort(false), listener.firstPort(true));
  if (cluster_map) {
    // Clients dial what the map says; a node listening elsewhere is a
    // mistake worth a line, not a refusal (a proxy or NAT may sit between).
    const memkv::cluster::Node& self = cluster_map->nodes()[settings.node_index];
    if (std::find(ports.begin(), ports.end(), self.port) == ports.end()) {
      spdlog::warn("cluster map: node {} is {}:{}, but this server does not listen on port {}",
                   settings.node_index, self.host, self.port, self.port);
    }
    spdlog::info("cluster map rev {} from {}: node {} of {}, {} vbuckets of bucket default",
                 cluster_map->rev(), settings.cluster_map_file, settings.node_index,
                 cluster_map->nodes().size(), cluster_map->ownedBy("default", settings.node_index));
    context.setClusterMap(cluster_map, settings.node_index);
  }
  if (!settings.port_file.empty() && !writePortFile(settings.port_file, ports.front())) {
    std::fprintf(stderr, "memkv: cannot write port file '%s'\n", settings.port_file.c_str());
    return 1;
  }
  if (!settings.tls_port_file.empty() &&
      !writePortFile(settings.tls_port_file, listener.firstPort(true))) {
    std::fprintf(stderr, "memkv: cannot write TLS port file '%s'\n",
                 settings.tls_port_file.c_str());
    return 1;
  }

  // Prometheus' endpoint, on its own thread (app/metrics_http.h).
  std::unique_ptr<memkv::app::MetricsHttpServer> metrics;
  if (settings.metrics_port >= 0) {
    metrics = std::make_unique<memkv::app::MetricsHttpServer>(context);
    std::string error;
    if (!metrics->start(settings.metrics_listen, static_cast<uint16_t>(settings.metrics_port),
                        &error)) {
      std::fprintf(stderr, "memkv: %s\n", error.c_str());
      return 1;
    }
    context.setMetricsPort(metrics->port());
    if (!settings.metrics_port_file.empty() &&
        !writePortFile(settings.metrics_port_file, metrics->port())) {
      std::fprintf(stderr, "memkv: cannot write metrics port file '%s'\n",
                   settings.metrics_port_file.c_str());
      return 1;
    }
    spdlog::info("metrics on http://{}:{}/metrics", settings.metrics_listen, metrics->port());
  }

  for (auto& w : workers) w->start();

  // The handler only ends the loop: closing the listeners from inside the
  // dispatch would free handlers that later events of the same epoll batch
  // still name.
  SignalHandler signals(
      signal_fd, [&] { main_loop.stop(); },
      [&] {
        if (!context.authRequired() && !tls && !context.clustered()) {
          spdlog::info("SIGHUP: nothing to reload");
        }
        reloadUsers(context);
        reloadTls(tls.get());
        reloadClusterMap(context);
      });
  main_loop.add(signal_fd, EPOLLIN, &signals);
  main_loop.setTick(1000, [&] {
    listener.resumePaused();
    // Range scans a client abandoned without cancelling.
    context.rangeScans().expireIdle(main_loop.nowMs(),
                                    int64_t{settings.range_scan_lifetime_s} * 1000);
    // A flood of rate-limited lines that ended still reports its count.
    memkv::logSuppressedSummaries();
  });
  spdlog::info("memkv {} listening on port {} with {} threads", MEMKV_VERSION, ports.front(),
               settings.threads);

  main_loop.run();
  if (metrics) metrics->stop();
  listener.close();
  for (auto& w : workers) w->shutdown(settings.shutdown_grace_ms);
  for (auto& w : workers) w->join();
  // Background tasks post to the workers' loops: end them while the loops
  // still exist.
  context.authExecutors().shutdown();
  context.executors().shutdown();
  ::close(signal_fd);
  spdlog::info("memkv stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  auto parsed = memkv::app::parseCommandLine(argc, argv);
  if (auto* exit_now = std::get_if<memkv::app::ExitNow>(&parsed)) {
    std::fputs(exit_now->message.c_str(), exit_now->code == 0 ? stdout : stderr);
    return exit_now->code;
  }
  const Settings& settings = std::get<Settings>(parsed);
  std::string error;
  if (!memkv::setupLogging(settings.verbosity, settings.log_file, &error)) {
    std::fprintf(stderr, "memkv: --log-file %s\n", error.c_str());
    return 1;
  }
  return run(settings);
}
