#include "net/worker.h"

#include <unistd.h>

#include "common/clock.h"
#include "net/connection_log.h"

namespace memkv::net {

namespace {
constexpr int kTickMs = 250;
}  // namespace

Worker::Worker(const ConnectionLimits& limits, size_t pool_limit_bytes,
               std::atomic<size_t>& live_connections, ReadBudget* read_budget)
    : limits_(limits), live_connections_(live_connections), pool_(pool_limit_bytes, read_budget) {}

Worker::~Worker() {
  join();
}

void Worker::start() {
  loop_.setAfterDispatch([this] { reapClosed(); });
  loop_.setTick(kTickMs, [this] { onTick(); });
  thread_ = std::thread([this] {
    pool_.owner().bindToCurrentThread();
    loop_.run();
    // The loop has ended: nothing else touches these connections now.
    for (Connection* c = connections_; c;) {
      Connection* next = c->next_;
      c->closeNow(CloseReason::kShutdown);
      c = next;
    }
    reapClosed(/*final=*/true);
  });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::adopt(int fd, std::shared_ptr<const TlsContext> tls, const ConnectionOrigin& origin) {
  loop_.post([this, fd, tls = std::move(tls), origin] { onAdopt(fd, origin, tls.get()); });
}

void Worker::adoptTls(int fd, std::unique_ptr<TlsStream> stream) {
  // std::function needs a copyable closure: the stream travels in a shared
  // holder (freed with the task if the loop never runs it).
  auto holder = std::make_shared<std::unique_ptr<TlsStream>>(std::move(stream));
  loop_.post([this, fd, holder] { onAdopt(fd, ConnectionOrigin{}, nullptr, std::move(*holder)); });
}

void Worker::onAdopt(int fd, const ConnectionOrigin& origin, const TlsContext* tls,
                     std::unique_ptr<TlsStream> stream) {
  if (tls != nullptr && !draining_) {
    // The SSL holds its own reference to the context, so a reload that
    // drops this one leaves the connection's intact.
    stream = TlsStream::accept(*tls, fd);
  }
  if (stream && !tls_staging_) {
    tls_staging_ = std::make_unique<uint8_t[]>(16384);
    env_.tls_staging = tls_staging_.get();
  }
  if (draining_ || (tls != nullptr && !stream)) {
    ::close(fd);
    live_connections_.fetch_sub(1, std::memory_order_relaxed);
    return;
  }
  auto* conn = new Connection(fd, env_, std::move(stream));
  conn->setOrigin(origin);
  logConnection(spdlog::level::debug, *conn, "accept", "transport={}",
                conn->isTls() ? "tls" : "plain");
  conn->setHandler(factory_(*conn));
  conn->next_ = connections_;
  if (connections_) connections_->prev_ = conn;
  connections_ = conn;
  counters_.curr_connections.add(1);
  counters_.total_connections.add(1);
  if (!conn->start()) conn->closeNow(CloseReason::kServerError);
}

void Worker::reapClosed(bool final) {
  // Connections are destroyed here, after the dispatch that closed them, so
  // no reply path ever runs on a freed connection.
  for (size_t i = 0; i < closed_.size(); ++i) {
    Connection* c = closed_[i];
    if (c->scheduled() && !final) continue;  // the loop still holds it; next round
    c->finishClose();
    logConnection(spdlog::level::debug, *c, "close", "reason=\"{}\"",
                  closeReasonText(c->closeReason()));
    if (c->prev_) {
      c->prev_->next_ = c->next_;
    } else {
      connections_ = c->next_;
    }
    if (c->next_) c->next_->prev_ = c->prev_;
    delete c;
    closed_[i] = nullptr;
    counters_.curr_connections.sub(1);
    live_connections_.fetch_sub(1, std::memory_order_relaxed);
  }
  std::erase(closed_, nullptr);
  if (draining_ && connections_ == nullptr) loop_.stop();
}

void Worker::onTick() {
  const int64_t now = loop_.nowMs();
  for (Connection* c = connections_; c; c = c->next_) {
    if (c->closed()) continue;
    if (c->outputStalled(now)) {
      // A client that stopped reading: its queued output is dropped, not kept.
      counters_.stall_disconnects.add(1);
      logLimited(spdlog::level::warn, LogKind::kStallDisconnect, *c,
                 "reason=\"output stall\" queued={} timeout_ms={}; disconnected",
                 c->output().size(), limits_.output_stall_timeout_ms);
      c->closeNow(CloseReason::kOutputStall);
      continue;
    }
    if (c->handshakeExpired(now)) {
      // A silent or slow TLS handshaker: the slot and OpenSSL's state go.
      counters_.tls_handshake_timeouts.add(1);
      c->closeNow(CloseReason::kTlsHandshakeTimeout);
      continue;
    }
    if (c->inputStalled(now)) {
      // A client that announced a request and stopped sending it: the read
      // memory it pins goes back to the budget.
      counters_.read_stall_disconnects.add(1);
      logLimited(spdlog::level::warn, LogKind::kStallDisconnect, *c,
                 "reason=\"read stall\" timeout_ms={}; disconnected",
                 limits_.read_stall_timeout_ms);
      c->closeNow(CloseReason::kReadStall);
      continue;
    }
    if (c->handler() && c->handler()->expired(now)) {
      counters_.expired_disconnects.add(1);
      c->closeNow(CloseReason::kIdleTimeout);
      continue;
    }
    if (c->handler()) c->handler()->onTick(*c, now);
    if (c->waitingForBuffer() && !c->scheduled()) c->onEvent(0);
    // A producer that finished let go of the Inbox from its own thread.
    c->releaseIdleInbox();
  }
  pool_.trim();
  counters_.pool_bytes_in_use.set(pool_.bytesInUse());
  counters_.pool_bytes_free.set(pool_.bytesFree());
  if (draining_) drainOrForce();
}

void Worker::drainOrForce() {
  const bool force = steadyNowMs() >= drain_deadline_ms_;
  for (Connection* c = connections_; c; c = c->next_) {
    if (force) {
      c->closeNow(CloseReason::kShutdown);
    } else {
      c->closeAfterFlush(CloseReason::kShutdown);
    }
  }
  // No reaping here: this runs inside a dispatch (a posted task or the tick),
  // and later events of the same epoll batch may still name these
  // connections. The after-dispatch hook destroys them.
}

void Worker::shutdown(int grace_ms) {
  loop_.post([this, grace_ms] {
    draining_ = true;
    drain_deadline_ms_ = steadyNowMs() + grace_ms;
    drainOrForce();
  });
}

}  // namespace memkv::net
