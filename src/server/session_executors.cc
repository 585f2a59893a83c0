// Couchbase's session layer: HELLO, the error map, SASL, buckets and
// collection ids (docs/couchbase.md). The cluster config: cluster_config.cc.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "auth/sasl.h"
#include "auth/users.h"
#include "common/byte_order.h"
#include "common/logging.h"
#include "net/connection_log.h"
#include "protocol/error_map.h"
#include "protocol/hello.h"
#include "server/executors.h"

namespace memkv::server {

using mcbp::Status;

namespace {

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string_view text(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Online guessing is slowed per connection: the AUTH_ERROR of the n-th
// failure leaves after kAuthErrorBaseDelayMs * 2^(n-1) (at most
// kAuthErrorMaxDelayMs; the worker's tick rounds it up by up to a tick), and
// the kMaxAuthFailures-th closes the connection after its answer. The
// server-wide bound on SASL work (ServerContext::tryAcquireAuthSlot) is what
// limits a client that opens many connections.
constexpr int64_t kAuthErrorBaseDelayMs = 100;
constexpr int64_t kAuthErrorMaxDelayMs = 1600;
constexpr uint32_t kMaxAuthFailures = 5;

// The mechanism as the log may show it: client bytes only if they name one
// memkv offers.
std::string_view loggableMechanism(std::string_view mechanism) {
  if (mechanism.empty() || mechanism.find(' ') != std::string_view::npos) return "(unknown)";
  const std::string_view all = auth::kMechanisms;
  for (size_t pos = all.find(mechanism); pos != std::string_view::npos;
       pos = all.find(mechanism, pos + 1)) {
    const size_t end = pos + mechanism.size();
    if ((pos == 0 || all[pos - 1] == ' ') && (end == all.size() || all[end] == ' ')) {
      return mechanism;
    }
  }
  return "(unknown)";
}

// A failed SASL request on a parked session (owner thread): counted, logged
// as an audit line (never the password, a proof, or which part was wrong),
// and answered AUTH_ERROR after the connection's growing delay.
void failAuthentication(McbpSession& session, const mcbp::RequestHeader& header,
                        std::string_view mechanism, std::string_view user_name) {
  ServerContext& server = session.server();
  server.countAuthError();
  const uint32_t failures = session.recordAuthFailure();
  // Rate-limited: a password-guessing flood must not become a log flood.
  net::logLimited(spdlog::level::warn, LogKind::kAuthFailure, session.connection(),
                  "mechanism={} user=\"{}\" failure={}/{}", loggableMechanism(mechanism),
                  escapeForLog(user_name, 128), failures, kMaxAuthFailures);
  const uint32_t shift = std::min<uint32_t>(failures - 1, 16);
  const int64_t delay_ms = std::min(kAuthErrorBaseDelayMs << shift, kAuthErrorMaxDelayMs);
  session.holdAuthError(header, session.connection().loop().nowMs() + delay_ms,
                        failures >= kMaxAuthFailures);
}

// Gives a SASL slot back when the step that held it ends, however it ends.
struct AuthSlotRelease {
  ServerContext& server;
  ~AuthSlotRelease() { server.releaseAuthSlot(); }
};

// The rest of SASL_AUTH / SASL_STEP once a slot is held: park, and run the
// step on the auth pool.
void submitSaslStep(Cookie& c, bool start, std::string_view mechanism,
                    std::shared_ptr<auth::SaslServer> sasl) {
  if (start) {
    // A new authentication replaces the old one, whatever its outcome.
    c.session.dropAuthentication();
    sasl = c.session.startSasl();
  }
  // PBKDF2 (PLAIN) and the SCRAM proofs cost milliseconds: a would-block
  // command. The exchange runs on the auth pool while the connection is
  // parked; the outcome is applied on the owner thread.
  c.session.park();
  ServerContext& server = c.server;
  auto task = [sasl, start, &server, mechanism = std::string(mechanism),
               data = std::string(text(c.request.value)), header = c.header(),
               &loop = c.connection.loop(), anchor = c.session.anchor()] {
    runParkedTask(loop, anchor, [&] {
      std::shared_ptr<auth::SaslResult> result;
      {
        // Given back however the step ends (a throw included), before the
        // completion is posted: whether the connection still exists does not
        // matter to the bound. A task dropped unrun by shutdown keeps its
        // slot, which no one needs any more.
        const AuthSlotRelease release{server};
        result = std::make_shared<auth::SaslResult>(start ? sasl->start(mechanism, data)
                                                          : sasl->step(mechanism, data));
      }
      postToSession(loop, anchor, [result, sasl, header, mechanism](McbpSession& session) {
        ResponseWriter out = session.responseWriter();
        switch (result->outcome) {
          case auth::SaslOutcome::kOk:
            // The user lives in the database the exchange ran against, which
            // a reload meanwhile may have replaced: the session shares it.
            session.authenticatedAs(
                std::shared_ptr<const auth::User>(sasl->database(), result->user),
                session.saslGeneration());
            session.endSasl();
            out.send(header, Status::Success, {}, {}, bytes(result->payload), 0);
            break;
          case auth::SaslOutcome::kContinue:
            out.send(header, Status::AuthContinue, {}, {}, bytes(result->payload), 0);
            break;
          case auth::SaslOutcome::kFail:
            session.endSasl();
            failAuthentication(session, header, mechanism, result->user_name);
            return;  // stays parked until the answer leaves
        }
        session.unpark();
      });
    });
  };
  if (!c.server.authExecutors().submit(engine::TaskPriority::kHigh, std::move(task))) {
    c.server.releaseAuthSlot();
    c.session.unpark();
    c.out.sendStatus(c.header(), Status::Etmpfail);
  }
}

}  // namespace

void executeHello(Cookie& c) {
  const auto& value = c.request.value;
  if (value.size() % 2 != 0) {
    c.out.sendStatus(c.header(), Status::Einval);
    return;
  }
  // A second HELLO replaces what the first negotiated; a refused one
  // changes nothing.
  const mcbp::HelloOutcome outcome = mcbp::negotiate(value);
  if (outcome.error != nullptr) {
    c.out.sendStatus(c.header(), Status::Einval);
    return;
  }
  c.session.setFeatures(outcome.granted);
  c.out.setJson(outcome.granted.has(mcbp::Feature::Json));
  c.out.send(c.header(), Status::Success, {}, {}, bytes(outcome.reply), 0);
}

void executeErrorMap(Cookie& c) {
  const auto& value = c.request.value;
  if (value.size() != 2) {
    c.out.sendStatus(c.header(), Status::Einval);
    return;
  }
  const uint16_t version = loadBe16(value.data());
  if (version == 0) {
    c.out.sendStatus(c.header(), Status::Einval);
    return;
  }
  const std::string map = mcbp::errorMapJson(version);
  c.out.send(c.header(), Status::Success, {}, {}, bytes(map), 0);
}

void executeSaslListMechs(Cookie& c) {
  if (!c.server.authRequired()) {
    // No users: nothing to authenticate against (memcached without SASL).
    c.out.sendStatus(c.header(), Status::UnknownCommand);
    return;
  }
  c.out.send(c.header(), Status::Success, {}, {}, bytes(auth::kMechanisms), 0);
}

void executeSaslAuth(Cookie& c) {
  if (!c.server.authRequired()) {
    c.out.sendStatus(c.header(), Status::UnknownCommand);
    return;
  }
  if (c.session.dcp() != nullptr) {
    // kv_engine disables SASL on a DCP connection: its streams keep the
    // user and bucket they were opened with.
    c.out.sendStatus(c.header(), Status::NotSupported);
    return;
  }
  c.server.countAuthCommand();
  const bool start = c.spec.base == mcbp::Opcode::SaslAuth;
  const std::string_view mechanism = c.request.key;
  std::shared_ptr<auth::SaslServer> sasl = start ? nullptr : c.session.sasl();
  if (!start && !sasl) {
    // A step with no exchange: a failure like any other.
    c.session.park();
    failAuthentication(c.session, c.header(), mechanism, {});
    return;
  }
  // Server-wide bound on SASL work queued or running: beyond it the client
  // retries later, and nothing is computed or changed (not even a dropped
  // login) for this request.
  if (!c.server.tryAcquireAuthSlot()) {
    c.out.sendStatus(c.header(), Status::Etmpfail);
    return;
  }
  try {
    submitSaslStep(c, start, mechanism, std::move(sasl));
  } catch (const std::bad_alloc&) {
    // Before the task took the slot over: give it back, and let dispatch
    // answer ENOMEM to a session that is no longer parked.
    c.server.releaseAuthSlot();
    c.session.unpark();
    throw;
  }
}

void executeSelectBucket(Cookie& c) {
  if (c.session.dcp() != nullptr) {
    // A DCP connection's streams belong to the bucket it opened on.
    c.out.sendStatus(c.header(), Status::NotSupported);
    return;
  }
  // A missing bucket and one the user may not use look the same, so bucket
  // names cannot be probed (Couchbase Server does the same).
  if (!c.session.selectBucket(c.request.key)) {
    c.out.sendStatus(c.header(), Status::Eaccess);
    return;
  }
  c.out.send(c.header(), Status::Success, {}, {}, {}, 0);
}

void executeListBuckets(Cookie& c) {
  std::string names;
  for (const BucketHandle& b : c.server.buckets().all()) {
    const auth::User* user = c.session.user();
    if (c.server.authRequired() && user->privileges(b->name) == 0) continue;
    if (!names.empty()) names += ' ';
    names += b->name;
  }
  c.out.send(c.header(), Status::Success, {}, {}, bytes(names), 0);
}

void executeCreateBucket(Cookie& c) {
  // The value is the bucket's configuration as a JSON object (empty: the
  // defaults): {"memory_limit": bytes, "evict": bool}.
  engine::BucketConfig config = c.server.defaultBucketConfig();
  const std::string_view value = text(c.request.value);
  if (!value.empty()) {
    const nlohmann::json json = nlohmann::json::parse(value, nullptr, false);
    if (json.is_discarded() || !json.is_object()) {
      c.out.sendStatus(c.header(), Status::Einval);
      return;
    }
    for (const auto& [field, v] : json.items()) {
      if (field == "memory_limit" && v.is_number_unsigned() &&
          v.get<uint64_t>() >= (uint64_t{1} << 20) && v.get<uint64_t>() <= (uint64_t{1} << 40)) {
        config.memory_limit = v.get<uint64_t>();
      } else if (field == "evict" && v.is_boolean()) {
        config.evict = v.get<bool>();
      } else {
        c.out.sendStatus(c.header(), Status::Einval);
        return;
      }
    }
  }
  switch (c.server.buckets().create(c.request.key, config)) {
    case BucketError::kOk:
      c.out.send(c.header(), Status::Success, {}, {}, {}, 0);
      break;
    case BucketError::kExists:
      c.out.sendStatus(c.header(), Status::KeyEexists);
      break;
    case BucketError::kTooMany:
      c.out.sendStatus(c.header(), Status::E2big);
      break;
    default:
      c.out.sendStatus(c.header(), Status::Einval);
      break;
  }
}

void executeDeleteBucket(Cookie& c) {
  BucketHandle removed;
  switch (c.server.buckets().remove(c.request.key, &removed)) {
    case BucketError::kOk:
      // Give the memory back now rather than when the last session lets
      // go, but not on this worker: freeing millions of items takes time.
      if (!c.server.executors().submit(engine::TaskPriority::kLow,
                                       [removed] { removed->bucket.purge(); })) {
        removed->bucket.purge();
      }
      c.out.send(c.header(), Status::Success, {}, {}, {}, 0);
      break;
    default:
      c.out.sendStatus(c.header(), Status::KeyEnoent);
      break;
  }
}

void executeGetCollectionId(Cookie& c) {
  // "scope.collection" in the value (or, from older clients, the key); an
  // empty part names the default. Only _default._default exists.
  std::string_view path = c.request.value.empty() ? c.request.key : text(c.request.value);
  const size_t dot = path.find('.');
  if (dot == std::string_view::npos || path.find('.', dot + 1) != std::string_view::npos) {
    c.out.sendStatus(c.header(), Status::Einval);
    return;
  }
  const std::string_view scope = path.substr(0, dot);
  const std::string_view collection = path.substr(dot + 1);
  const bool is_default =
      (scope.empty() || scope == "_default") && (collection.empty() || collection == "_default");
  if (!is_default) {
    c.out.sendStatus(c.header(), Status::UnknownCollection);
    return;
  }
  uint8_t extras[12];
  storeBe64(extras, 0);      // manifest uid
  storeBe32(extras + 8, 0);  // collection id
  c.out.send(c.header(), Status::Success, extras, {}, {}, 0);
}

}  // namespace memkv::server
