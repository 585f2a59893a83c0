#pragma once
// McbpSession: the MCBP side of one connection. Frames requests out of the
// connection's input, validates each before dispatch (ARCHITECTURE.md
// invariant 7), checks that the connection may run it (authentication, the
// selected bucket, the user's privileges on it) and runs the executor for its
// command family. It also holds what the client negotiated: HELLO features,
// the authenticated user and the selected bucket.
#include <cstdint>
#include <memory>
#include <span>

#include "net/connection.h"
#include "protocol/hello.h"
#include "server/bucket_manager.h"
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

  // Largest body accepted at all; beyond it framing is abandoned.
  static size_t maxBody(const Settings& settings);
  // Before authentication (with a users file) frames are at most this.
  static constexpr size_t kPreAuthMaxBody = 16 << 10;

  const mcbp::FeatureSet& features() const { return features_; }
  void setFeatures(const mcbp::FeatureSet& features) { features_ = features; }
  bool authenticated() const { return user_ != nullptr || !server_.authRequired(); }
  const auth::User* user() const { return user_; }
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
  void endSasl();
  // A successful authentication: the user, and the bucket of the same name
  // or "default" if the user may use it (memcached clients never select).
  void authenticatedAs(const auth::User& user);
  void dropAuthentication();

  // Would-block commands (owner thread). park() stops request handling: the
  // requests after the parked one wait, in order, in the read buffer.
  // unpark() resumes it once every frame a background producer queued in the
  // Inbox has moved into the output, so responses stay in request order.
  void park();
  void unpark();
  bool parked() const { return bg_ && bg_->parked; }
  // Failed SASL attempts on this connection (owner thread). recordAuthFailure()
  // counts one and returns the count. holdAuthError() keeps the parked
  // connection parked until the tick at or after reply_at_ms (a steady-clock
  // time), which answers AUTH_ERROR to `header`, then resumes the
  // connection, or closes it after that answer if `close`.
  uint32_t recordAuthFailure();
  void holdAuthError(const mcbp::RequestHeader& header, int64_t reply_at_ms, bool close);
  void onTick(net::Connection& conn, int64_t now_ms) override;
  // For completions posted from other threads.
  std::weak_ptr<SessionAnchor> anchor();
  net::Connection& connection() { return connection_; }
  WorkerContext& worker() { return worker_; }
  ServerContext& server() { return server_; }

 private:
  // Only connections running background work pay for this: created by
  // park() or a SASL exchange, dropped once neither is in progress.
  struct Background {
    std::shared_ptr<SessionAnchor> anchor;
    std::shared_ptr<auth::SaslServer> sasl;  // only during an exchange
    bool parked = false;
    bool unpark_after_inbox = false;
    bool close_after_auth_error = false;
    uint32_t auth_failures = 0;
    int64_t auth_error_at_ms = 0;  // 0: no AUTH_ERROR held back
    mcbp::RequestHeader auth_error_to{};
  };
  Background& background();
  void releaseIdleBackground();
  // Recomputes grants_ after the user, bucket or privileges changed.
  void refreshGrants();
  size_t maxKey() const;
  void dispatch(const mcbp::Request& request, ResponseWriter& out);

  ServerContext& server_;
  WorkerContext& worker_;
  net::Connection& connection_;
  BucketHandle bucket_;
  const auth::User* user_ = nullptr;
  std::unique_ptr<Background> bg_;
  int64_t auth_deadline_ms_ = 0;  // with a users file: close if still anonymous
  mcbp::FeatureSet features_;
  uint8_t privileges_ = 0;  // auth::Privilege bits on bucket_
  uint8_t grants_ = 0;      // what dispatch checks each request's needs against
};

static_assert(sizeof(McbpSession) <= 80, "every connection carries a session");

}  // namespace memkv::server
