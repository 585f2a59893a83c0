#pragma once
// Connection: one client socket, owned by exactly one worker thread
// (docs/architecture.md invariant 1). Only that thread reads the socket, touches
// the read buffer and the OutputChain, and writes; every entry point checks
// the owner in debug builds.
//
// Reading borrows a pool buffer only while there are unparsed bytes; a
// partial request left waiting moves into an exact-size spill so the pool
// buffer goes back (invariant 5). A frame larger than a pool buffer is read
// into one exact-size buffer. Output leaves through the OutputChain
// (invariants 3 and 4); above the high watermark the connection stops
// handling requests until output drains below the low one (invariant 6).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "net/buffer_pool.h"
#include "net/event_loop.h"
#include "net/inbox.h"
#include "net/output_chain.h"
#include "net/peer_address.h"
#include "net/tls.h"
#include "net/worker_counters.h"

namespace memkv::net {

class Connection;

struct InputResult {
  size_t consumed = 0;         // bytes handled, from the front of the input
  size_t frames = 0;           // requests handled
  size_t next_frame_size = 0;  // incomplete frame at `consumed`, if its size is known
  size_t discard = 0;          // bytes after `consumed` to drop unread (rejected body)
};

// The protocol side of a connection (implemented in server/).
class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;
  // Handles up to max_frames complete frames from the front of input,
  // encoding responses into conn.output(); stops early when
  // conn.outputFull() or conn.closing().
  virtual InputResult onInput(Connection& conn, std::span<const uint8_t> input,
                              size_t max_frames) = 0;
  // Asked on the worker's tick: true closes the connection (for example a
  // client that never authenticated).
  virtual bool expired(int64_t /*now_ms*/) const { return false; }
  // The Inbox was emptied into the output (owner thread): a producer's
  // frames are all in order in the OutputChain.
  virtual void inboxDrained(Connection& /*conn*/) {}
  // Called on the worker's tick (owner thread, every few hundred ms) for
  // work that waits on time, such as an answer held back on purpose.
  virtual void onTick(Connection& /*conn*/, int64_t /*now_ms*/) {}
  // Output the connection makes on its own rather than in answer to a
  // request (DCP streams): called on the owner thread at the end of each
  // serve(), after input and whenever a wake-up (flushSoon) or the socket
  // draining brought the connection back, while its output is below the
  // high watermark. It must stop writing once conn.outputFull(), and then
  // return true if it has more: serve() comes back once the socket took
  // the output (at once if the kernel took it all, else on EPOLLOUT).
  virtual bool produce(Connection& /*conn*/) { return false; }
  // The TLS handshake ended (owner thread, before any request is read):
  // conn.tls() tells the peer's verified certificate.
  virtual void onTlsEstablished(Connection& /*conn*/) {}
};

struct ConnectionLimits {
  size_t output_high_watermark = 1 << 20;
  size_t output_low_watermark = 256 << 10;
  size_t requests_per_event = 20;             // memcached -R
  size_t bytes_per_event = 4 << 20;           // written per wake-up before others get a turn
  size_t inbox_budget = 1 << 20;              // bytes background producers may queue
  int64_t output_stall_timeout_ms = 360'000;  // output not moving this long: disconnect
  int64_t read_stall_timeout_ms = 30'000;     // partial request not growing: close (0: never)
  int64_t tls_handshake_timeout_ms = 10'000;  // TLS handshake not done by then: close
};

// What every connection of one worker shares; owned by the worker (or a
// test), outliving its connections. One reference in each Connection instead
// of five: idle connections are counted in bytes.
struct ConnectionEnv {
  EventLoop& loop;
  BufferPool& pool;
  const ConnectionLimits& limits;
  WorkerCounters& counters;
  // Where closeNow() reports a connection, to be destroyed after the current
  // dispatch (never from inside the reply path).
  std::vector<Connection*>& closed_list;
  // The worker's 16 KiB where small output pieces are gathered into one TLS
  // record (null: write each piece as its own record). Used only inside
  // one write call: OpenSSL has encrypted the bytes when it returns.
  uint8_t* tls_staging = nullptr;
};

// Why a connection ended, for its close line in the log (-vv). The first
// reason given wins: a QUIT's closeAfterFlush() stays a quit when the flush
// then closes it.
enum class CloseReason : uint8_t {
  kNone,
  kClientClosed,         // the peer closed its side (EOF)
  kSocketError,          // a read or write failed, EPOLLERR, a broken TLS stream
  kQuit,                 // the client asked (QUIT)
  kProtocolError,        // a frame or line the server will not read on from
  kAuthFailure,          // too many failed logins, or no way to authenticate
  kIdleTimeout,          // not authenticated within --auth-timeout
  kOutputStall,          // stopped reading its replies (--output-stall-timeout)
  kReadStall,            // stopped in the middle of a request (--read-stall-timeout)
  kTlsHandshakeTimeout,  // --tls-handshake-timeout
  kDcpIdle,              // a DCP consumer with noops on sent nothing (--dcp-idle-timeout)
  kDcpNameTaken,         // a newer DCP_OPEN on the bucket took this producer's name
  kShutdown,             // the server is stopping
  kServerError,          // the server could not go on (out of memory, ...)
};

std::string_view closeReasonText(CloseReason reason);

class Connection final : public EventHandler {
 public:
  // Takes ownership of fd (non-blocking); with tls, the connection speaks TLS
  // on it, beginning with the server side of the handshake.
  Connection(int fd, ConnectionEnv& env, std::unique_ptr<TlsStream> tls = nullptr);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void setHandler(std::unique_ptr<ConnectionHandler> handler) { handler_ = std::move(handler); }
  // Registers with the loop; false if that failed (the caller drops it).
  bool start();
  void onEvent(uint32_t events) override;
  // Unregisters and closes the socket and drops buffers; idempotent.
  void finishClose();

  OutputChain& output() { return output_; }
  // The hand-over point for other threads (created on first use, so
  // connections without background producers pay nothing). Owner thread.
  std::shared_ptr<Inbox> inbox();
  // True when output has waited longer than the stall timeout without the
  // client taking any of it, counting bytes the kernel's send queue passed on
  // as progress. Owner thread (the worker's tick).
  bool outputStalled(int64_t now_ms);
  // True when a partially received request has not grown for the read
  // stall timeout while the connection was willing to read it (a client
  // that announced a value and stopped sending holds read memory). Owner
  // thread (the worker's tick).
  bool inputStalled(int64_t now_ms);
  // A TLS connection whose handshake has not ended within the timeout (a
  // silent or slow handshaker holds a connection slot and OpenSSL's
  // handshake state). Owner thread (the worker's tick).
  bool handshakeExpired(int64_t now_ms) const;
  bool isTls() const { return tls_ != nullptr; }
  // The TLS stream (null for plain connections). Owner thread.
  const TlsStream* tls() const { return tls_.get(); }
  bool outputFull() const { return output_.size() >= env_.limits.output_high_watermark; }
  // Stop / resume handling this connection's requests (the bytes wait in
  // its buffer and the kernel). Calls nest: reading resumes when every
  // disable was matched by an enable. Owner thread.
  void disableReading();
  void enableReading();
  // Output was queued outside this connection's own events (a task posted
  // to the owner loop wrote a server request): send it from the loop, as
  // after a read. Owner thread.
  void flushSoon();
  bool readingDisabled() const { return read_disabled_ != 0; }
  // Sends what is queued, then closes (QUIT, peer EOF, shutdown).
  void closeAfterFlush(CloseReason reason = CloseReason::kServerError);
  // Drops the connection at the end of this event (framing lost, errors).
  void closeNow(CloseReason reason = CloseReason::kServerError);
  CloseReason closeReason() const { return close_reason_; }
  // Who this is, for log lines: set once by the worker at adoption.
  void setOrigin(const ConnectionOrigin& origin) { origin_ = origin; }
  uint64_t id() const { return origin_.id; }
  const PeerAddress& peer() const { return origin_.peer; }
  bool closing() const { return close_after_flush_ || closed_; }
  bool closed() const { return closed_; }
  bool scheduled() const { return scheduled_; }
  // The pool had no buffer, or the read budget no room, for this
  // connection's input; the worker retries it on its tick (the socket's
  // edge-triggered readiness was already used).
  bool waitingForBuffer() const { return waiting_for_buffer_; }
  int fd() const { return fd_; }
  const ConnectionHandler* handler() const { return handler_.get(); }
  ConnectionHandler* handler() { return handler_.get(); }
  // The owner's loop: completions of background work are posted here.
  EventLoop& loop() { return env_.loop; }
  // Bytes background producers have queued and the owner not yet taken
  // (no lock: read on every event).
  size_t inboxQueued() const { return inbox_ ? inbox_->queuedBytes() : 0; }
  // Drops the Inbox once it is empty and no producer holds it, so a
  // connection that once ran background work costs no more idle than any
  // other (invariant 5); the next producer gets a new one. Owner thread (the
  // worker's tick, and after a drain).
  void releaseIdleInbox();
  // Bytes this connection holds beyond its own object: buffers and output.
  size_t memoryInUse() const;

  // Intrusive list of the worker's connections.
  Connection* prev_ = nullptr;
  Connection* next_ = nullptr;

 private:
  enum class ReadOutcome : uint8_t { kData, kAgain, kEof, kError };
  void serve();
  bool processInput(size_t* budget);
  ReadOutcome readSome();
  bool ensureReadSpace();
  void settleReadBuffer();
  void releaseReadBuffer();
  void flushOutput();
  // TLS: the handshake's next step; true once it has ended.
  bool continueHandshake();
  ReadOutcome readTls();
  // TLS: writes output record by record; false when it must stop (the
  // socket is full, the stream failed).
  bool writeTls(const iovec* iov, size_t count);
  void pullInbox();

  int fd_;
  ConnectionEnv& env_;
  ConnectionOrigin origin_;
  std::unique_ptr<ConnectionHandler> handler_;
  OutputChain output_;
  std::shared_ptr<Inbox> inbox_;
  std::unique_ptr<TlsStream> tls_;
  int64_t output_progress_ms_ = 0;  // when output appeared or last moved
  int64_t read_progress_ms_ = 0;    // when a partial request last grew
  int kernel_queue_ = -1;           // SIOCOUTQ at the last stall check
  bool output_was_empty_ = true;
  size_t written_this_event_ = 0;
  size_t reported_output_ = 0;  // output_.size() as last added to counters_
  void reportOutputQueued();

  // Read buffer: pool-owned (pooled_) or an exact-size heap block.
  uint8_t* rbuf_ = nullptr;
  size_t rcap_ = 0;
  size_t rstart_ = 0;
  size_t rend_ = 0;
  bool pooled_ = false;
  size_t next_frame_size_ = 0;
  size_t discard_ = 0;

  bool readable_ = false;
  bool writable_ = true;
  // Reasons not to handle requests now; a count (as Envoy's readDisable),
  // so several can overlap: output backpressure, a parked request, ...
  uint32_t read_disabled_ = 0;
  bool backpressured_ = false;  // output above the high watermark (one reason)
  bool scheduled_ = false;
  bool close_after_flush_ = false;
  bool closed_ = false;
  CloseReason close_reason_ = CloseReason::kNone;
  bool peer_shutdown_seen_ = false;  // EPOLLRDHUP/EPOLLHUP arrived
  bool waiting_for_buffer_ = false;
  // TLS reads and writes may each need the other direction's readiness
  // (a KeyUpdate answered while reading, a handshake message while writing).
  bool tls_read_wants_write_ = false;
  bool tls_write_wants_read_ = false;
};

}  // namespace memkv::net
