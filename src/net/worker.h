#pragma once
// Worker: a thread running one EventLoop, the BufferPool its connections
// borrow from, and the connections it owns. Connections arrive from the
// acceptor through adopt() (posted to the loop) and never move to another
// worker.
#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "net/buffer_pool.h"
#include "net/connection.h"
#include "net/event_loop.h"
#include "net/worker_counters.h"

namespace memkv::net {

// Makes the protocol handler for a new connection; runs on the worker thread.
using HandlerFactory = std::function<std::unique_ptr<ConnectionHandler>(Connection&)>;

class Worker final {
 public:
  // live_connections: shared with the acceptor, decremented here on close.
  // read_budget: the server-wide cap on read memory, shared by all workers
  // (null: none); must outlive the worker.
  Worker(const ConnectionLimits& limits, size_t pool_limit_bytes,
         std::atomic<size_t>& live_connections, ReadBudget* read_budget = nullptr);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // The factory must be set before start().
  void setHandlerFactory(HandlerFactory factory) { factory_ = std::move(factory); }
  void start();
  // Thread-safe: hands a connected, non-blocking socket to this worker; with
  // a TLS context the connection speaks TLS (the context is the one current
  // when the socket was accepted).
  // origin: the id and peer its log lines name.
  void adopt(int fd, std::shared_ptr<const TlsContext> tls = nullptr,
             const ConnectionOrigin& origin = {});
  // Thread-safe: as adopt(), with a TLS stream the caller set up on fd (a
  // test's fault-injecting BIO); no SSL call may have been made on it yet.
  void adoptTls(int fd, std::unique_ptr<TlsStream> stream);
  // Thread-safe: stop reading requests, send what is queued, close every
  // connection (forcibly after grace_ms), then end the thread.
  void shutdown(int grace_ms);
  // Thread-safe: runs a control task on this worker's thread.
  void post(std::function<void()> task) { loop_.post(std::move(task)); }
  void join();

  const WorkerCounters& counters() const { return counters_; }
  // Calls fn for each open connection. This worker's thread only (a task
  // given to post()).
  template <typename Fn>
  void forEachConnection(Fn&& fn) {
    loop_.owner().check("Worker::forEachConnection");
    for (Connection* c = connections_; c != nullptr; c = c->next_) {
      if (!c->closed()) fn(*c);
    }
  }

 private:
  void onAdopt(int fd, const ConnectionOrigin& origin, const TlsContext* tls,
               std::unique_ptr<TlsStream> stream = nullptr);
  // final: the loop has ended, so nothing is scheduled any more.
  void reapClosed(bool final = false);
  void onTick();
  void drainOrForce();

  const ConnectionLimits& limits_;
  std::atomic<size_t>& live_connections_;
  HandlerFactory factory_;
  EventLoop loop_;
  BufferPool pool_;
  WorkerCounters counters_;
  Connection* connections_ = nullptr;  // intrusive list, owned
  std::vector<Connection*> closed_;
  ConnectionEnv env_{loop_, pool_, limits_, counters_, closed_};
  // env_.tls_staging's memory, made with the first TLS connection.
  std::unique_ptr<uint8_t[]> tls_staging_;
  bool draining_ = false;
  int64_t drain_deadline_ms_ = 0;
  std::thread thread_;
};

}  // namespace memkv::net
