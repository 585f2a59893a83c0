#pragma once
// McbpSession: the session of one connection. The first byte received picks
// the protocol for the connection's life, as memcached does: 0x80 is MCBP,
// anything else memcached's text and meta protocols (text_session.h).
// For MCBP it frames requests out of the connection's input, validates each
// before dispatch (docs/architecture.md invariant 7), checks that the
// connection may run it (authentication, the selected bucket, the user's
// privileges on it) and runs the executor for its command family. It also
// holds what the client negotiated: HELLO features, the authenticated user
// and the selected bucket.
#include <cstdint>
#include <memory>
#include <new>
#include <span>

#include "net/connection.h"
#include "protocol/hello.h"
#include "server/bucket_manager.h"
#include "server/dcp_producer.h"
#include "server/response_writer.h"
#include "server/server_context.h"

namespace memkv::auth {
class SaslServer;
class User;
}  // namespace memkv::auth

namespace memkv::server {

class McbpSession;

// How work finishing on another thread finds its session: a completion
// posted to the owner loop locks the weak reference there, on the same
// thread that destroys sessions, and finds nullptr if the session is gone.
struct SessionAnchor {
  McbpSession* session;
};

class McbpSession final : public net::ConnectionHandler {
 public:
  McbpSession(ServerContext& server, WorkerContext& worker, net::Connection& connection);
  ~McbpSession() override;

  net::InputResult onInput(net::Connection& conn, std::span<const uint8_t> input,
                           size_t max_frames) override;
  bool expired(int64_t now_ms) const override;
  void inboxDrained(net::Connection& conn) override;
  // DCP streams (dcp_producer.h).
  bool produce(net::Connection& conn) override;
  // --tls-cert-auth: the verified client certificate names the user.
  void onTlsEstablished(net::Connection& conn) override;

  // Largest body accepted at all; beyond it framing is abandoned.
  static size_t maxBody(const Settings& settings);
  // Before authentication (with a users file) frames are at most this.
  static constexpr size_t kPreAuthMaxBody = 16 << 10;

  const mcbp::FeatureSet& features() const { return features_; }
  // The cluster map (BucketManager::ClusterView::serial) whose config this
  // connection last got for its bucket, pushed or in a NOT_MY_VBUCKET body;
  // 0: none. Owner thread.
  uint16_t knownMap() const { return known_map_; }
  void setKnownMap(uint16_t serial) { known_map_ = serial; }
  void setFeatures(const mcbp::FeatureSet& features) { features_ = features; }
  bool authenticated() const { return user_ != nullptr || !server_.authRequired(); }
  const auth::User* user() const { return user_.get(); }
  // The selected bucket, or nullptr (none selected, or it was deleted).
  BucketEntry* bucket();
  const BucketHandle& bucketHandle() const { return bucket_; }
  // Selects by name if the user may use it; false (and nothing selected)
  // otherwise.
  bool selectBucket(std::string_view name);
  // SASL: the exchange in progress (created on SASL_AUTH). Shared with the
  // background task that runs a step (PBKDF2 must not stall the worker).
  const std::shared_ptr<auth::SaslServer>& startSasl();
  std::shared_ptr<auth::SaslServer> sasl() { return bg_ ? bg_->sasl : nullptr; }
  // The users generation the exchange in progress runs against.
  uint32_t saslGeneration() const { return bg_ ? bg_->sasl_generation : 0; }
  void endSasl();
  // A successful authentication: the user (which keeps the database it came
  // from alive) of users generation `generation`, and the bucket of the same
  // name or "default" if the user may use it (memcached clients never select).
  void authenticatedAs(std::shared_ptr<const auth::User> user, uint32_t generation);
  void dropAuthentication();

  // Would-block commands (owner thread). park() stops request handling: the
  // requests after the parked one wait, in order, in the read buffer.
  // unpark() resumes it once every frame a background producer queued in the
  // Inbox has moved into the output, so responses stay in request order.
  void park();
  void unpark();
  bool parked() const { return bg_ && bg_->parked; }
  // The command that just parked the session began at since_ns: its time
  // is recorded under `family` when unpark() ends the park.
  void timeParked(CommandFamily family, uint64_t since_ns);
  // Failed SASL attempts on this connection (owner thread). recordAuthFailure()
  // counts one and returns the count. holdAuthError() keeps the parked
  // connection parked until the tick at or after reply_at_ms (a steady-clock
  // time), which answers AUTH_ERROR to `header`, then resumes the
  // connection, or closes it after that answer if `close`.
  uint32_t recordAuthFailure();
  void holdAuthError(const mcbp::RequestHeader& header, int64_t reply_at_ms, bool close);
  void onTick(net::Connection& conn, int64_t now_ms) override;
  // For completions posted from other threads (see postToSession).
  std::weak_ptr<SessionAnchor> anchor();
  // A writer for responses outside onInput (completions), with what this
  // client negotiated. Owner thread.
  ResponseWriter responseWriter() {
    return ResponseWriter(connection_, worker_.commands, server_.settings().cas_enabled,
                          features_.has(mcbp::Feature::Json));
  }
  // DCP (dcp_executors.cc): the producer DCP_OPEN made, or nullptr.
  DcpProducer* dcp() { return bg_ ? bg_->dcp.get() : nullptr; }
  DcpProducer& openDcp();
  net::Connection& connection() { return connection_; }
  WorkerContext& worker() { return worker_; }
  ServerContext& server() { return server_; }

 private:
  // Only connections running background work pay for this: created by
  // park() or a SASL exchange, dropped once neither is in progress.
  struct Background {
    std::shared_ptr<SessionAnchor> anchor;
    std::shared_ptr<auth::SaslServer> sasl;  // only during an exchange
    uint32_t sasl_generation = 0;            // of the users the exchange runs against
    bool parked = false;
    bool unpark_after_inbox = false;
    bool close_after_auth_error = false;
    int64_t auth_error_at_ms = 0;  // 0: no AUTH_ERROR held back
    mcbp::RequestHeader auth_error_to{};
    // The parked command's timing, recorded when unpark() ends the park.
    uint64_t timed_since_ns = 0;  // 0: not timed
    CommandFamily timed_family = CommandFamily::kOther;
    // Set by DCP_OPEN for the connection's life: Background stays.
    std::unique_ptr<DcpProducer> dcp;
  };
  Background& background();
  void releaseIdleBackground();
  // Recomputes grants_ after the user, bucket or privileges changed.
  void refreshGrants();
  // The users were reloaded since user_ was looked up: look it up again
  // (privileges may have changed), or drop the authentication if it is gone.
  void refreshUser();
  bool usersChanged() const { return user_ && server_.usersGeneration() != users_generation_; }
  size_t maxKey() const;
  void dispatch(const mcbp::Request& request, ResponseWriter& out);

  ServerContext& server_;
  WorkerContext& worker_;
  net::Connection& connection_;
  BucketHandle bucket_;
  // Shares ownership of the database it belongs to: a reload does not free
  // it under this session.
  std::shared_ptr<const auth::User> user_;
  std::unique_ptr<Background> bg_;
  int64_t auth_deadline_ms_ = 0;  // with a users file: close if still anonymous
  mcbp::FeatureSet features_;
  uint32_t users_generation_ = 0;  // the users generation user_ comes from
  uint16_t grants_ = 0;            // what dispatch checks each request's needs against
  uint8_t privileges_ = 0;         // auth::Privilege bits on bucket_
  // Failed SASL attempts, for the connection's lifetime (not in Background,
  // which is let go between exchanges). Saturates; the connection is closed
  // long before.
  uint8_t auth_failures_ = 0;
  enum class Protocol : uint8_t { kUnknown, kBinary, kText };
  Protocol protocol_ = Protocol::kUnknown;  // set by the first byte received
  uint16_t known_map_ = 0;                  // in the padding: costs no byte
};

// 96 since the users file reloads: user_ shares its database (16 bytes, was a
// plain pointer) and the generation it came from is kept.
static_assert(sizeof(McbpSession) <= 96, "every connection carries a session");

// Runs fn(session) on the owner loop, if the session still exists by then.
// Any thread may call it: a background task's completion. The anchor is
// locked on the owner thread, the only one that destroys sessions, so the
// session cannot go away while fn runs.
// If fn throws std::bad_alloc (a completion allocates: responses, STAT
// strings, a scan's registry entry), the session cannot be answered
// truthfully, and it may be parked: its connection is closed instead
// (docs/architecture.md invariant 8: the worker thread goes on).
template <typename Fn>
void postToSession(net::EventLoop& loop, std::weak_ptr<SessionAnchor> anchor, Fn fn) {
  loop.post([anchor = std::move(anchor), fn = std::move(fn)]() mutable {
    const std::shared_ptr<SessionAnchor> a = anchor.lock();
    if (!a || !a->session) return;  // the connection closed meanwhile
    try {
      fn(*a->session);
    } catch (const std::bad_alloc&) {
      a->session->connection().closeNow();
    }
  });
}

// The body of a would-block command's pool task (a pool thread). Its session
// stays parked until a completion ends the park, so a body that throws
// std::bad_alloc must still end it: the connection is closed on its owner
// loop. Only a failure to post even that leaves the session parked (the
// process is then out of memory for a closure of a few dozen bytes).
template <typename Body>
void runParkedTask(net::EventLoop& loop, const std::weak_ptr<SessionAnchor>& anchor,
                   Body&& body) noexcept {
  try {
    body();
  } catch (const std::bad_alloc&) {
    try {
      postToSession(loop, anchor, [](McbpSession& session) { session.connection().closeNow(); });
    } catch (const std::bad_alloc&) {
    }
  }
}

}  // namespace memkv::server
