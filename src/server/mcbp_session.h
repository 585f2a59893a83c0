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

// What the selected bucket lets this connection do (auth::Privilege bits).
inline constexpr uint8_t kPrivRead = 1;
inline constexpr uint8_t kPrivWrite = 2;
inline constexpr uint8_t kPrivManage = 4;
inline constexpr uint8_t kPrivAll = kPrivRead | kPrivWrite | kPrivManage;

class McbpSession final : public net::ConnectionHandler {
 public:
  McbpSession(ServerContext& server, WorkerContext& worker, net::Connection& connection);
  ~McbpSession() override;

  net::InputResult onInput(net::Connection& conn, std::span<const uint8_t> input,
                           size_t max_frames) override;
  bool expired(int64_t now_ms) const override;

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
  uint8_t privileges() const { return privileges_; }
  // Selects by name if the user may use it; false (and nothing selected)
  // otherwise.
  bool selectBucket(std::string_view name);
  // SASL: the exchange in progress (created on SASL_AUTH).
  auth::SaslServer& startSasl();
  auth::SaslServer* sasl() { return sasl_.get(); }
  void endSasl();
  // A successful authentication: the user, and the bucket of the same name
  // or "default" if the user may use it (memcached clients never select).
  void authenticatedAs(const auth::User& user);
  void dropAuthentication();

 private:
  void dispatch(const mcbp::Request& request, ResponseWriter& out);

  ServerContext& server_;
  WorkerContext& worker_;
  net::Connection& connection_;
  BucketHandle bucket_;
  const auth::User* user_ = nullptr;
  std::unique_ptr<auth::SaslServer> sasl_;  // only during an exchange
  int64_t auth_deadline_ms_ = 0;            // with a users file: close if still anonymous
  mcbp::FeatureSet features_;
  uint8_t privileges_ = 0;  // on bucket_
};

static_assert(sizeof(McbpSession) <= 80, "every connection carries a session");

}  // namespace memkv::server
