#pragma once
// The HTTP endpoint Prometheus scrapes (--metrics-port): GET /metrics on its
// own thread, never on a worker (docs/architecture.md, "Metrics").
//
// HTTP is not memkv's core, so it comes from a library: Debian's
// cpp-httplib, a small well-kept C++ server with a blocking
// thread-per-request model that suits one scraper every few seconds
// (civetweb, the other packaged choice, is a C API with more to configure
// for the same). Requests are served by one thread from a queue of at most
// kMaxQueued connections; beyond that the acceptor waits and connections wait
// in the kernel's backlog, so no client can make the endpoint hold
// descriptors or memory without bound.
#include <cstdint>
#include <memory>
#include <string>

namespace memkv::server {
class ServerContext;
}

namespace memkv::app {

class MetricsHttpServer final {
 public:
  static constexpr size_t kMaxQueued = 16;

  explicit MetricsHttpServer(server::ServerContext& server);
  ~MetricsHttpServer();  // stop()
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // Binds host:port (0: an ephemeral port) and starts serving. False with
  // *error when the address cannot be bound.
  bool start(const std::string& host, uint16_t port, std::string* error);
  uint16_t port() const { return port_; }
  // Stops accepting, finishes the request in progress, joins the threads.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint16_t port_ = 0;
};

}  // namespace memkv::app
