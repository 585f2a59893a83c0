#pragma once
// Listener: the listening sockets and the acceptor. Runs on the acceptor's
// EventLoop (the main thread); hands each accepted socket to a worker,
// round-robin. Beyond max_connections a new socket is closed at once and
// counted, and service goes on.
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "net/event_loop.h"
#include "net/tls.h"
#include "net/worker.h"

namespace memkv::net {

struct ListenAddress {
  std::string host;  // numeric IPv4/IPv6 or a name; "" or "*" means any
  uint16_t port = 0;
  bool tls = false;  // connections speak TLS (needs setTls)
};

class Listener final {
 public:
  // live_connections: shared with the workers, which decrement it on close.
  Listener(EventLoop& loop, std::vector<Worker*> workers, std::atomic<size_t>& live_connections,
           size_t max_connections, int backlog);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Where TLS listeners take their context, at each accept (so a reload
  // reaches new connections). Must outlive the listener; before listen().
  void setTls(const TlsConfig* tls) { tls_ = tls; }
  // Binds and listens; throws std::runtime_error with a clear message.
  void listen(const ListenAddress& address);
  // Ports actually bound, in order (useful with port 0).
  std::vector<uint16_t> boundPorts() const;
  // The first bound plain / TLS port; 0 if there is none.
  uint16_t firstPort(bool tls) const;
  // Stops accepting and closes the listening sockets. Loop thread only.
  void close();
  // Re-arms sockets paused when descriptors ran out. Loop thread (its tick).
  void resumePaused();

  uint64_t rejectedConnections() const { return rejected_.load(std::memory_order_relaxed); }

 private:
  class Socket final : public EventHandler {
   public:
    Socket(Listener& owner, int fd, uint16_t port, bool tls)
        : owner_(owner), fd_(fd), port_(port), tls_(tls) {}
    void onEvent(uint32_t events) override;
    int fd() const { return fd_; }
    uint16_t port() const { return port_; }
    bool tls() const { return tls_; }
    bool paused = false;

   private:
    Listener& owner_;
    int fd_;
    uint16_t port_;
    bool tls_;
  };
  void acceptFrom(Socket& socket);

  EventLoop& loop_;
  std::vector<Worker*> workers_;
  const size_t max_connections_;
  const int backlog_;
  std::vector<std::unique_ptr<Socket>> sockets_;
  size_t next_worker_ = 0;
  uint64_t last_connection_id_ = 0;  // the acceptor's thread only
  std::atomic<size_t>& live_;
  std::atomic<uint64_t> rejected_{0};
  const TlsConfig* tls_ = nullptr;
};

}  // namespace memkv::net
