// Couchbase's session layer: HELLO, the error map, SASL, buckets, the
// cluster map and collection ids (../shared/reference/couchbase-sdk-over-kv.md).
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "auth/sasl.h"
#include "auth/users.h"
#include "common/byte_order.h"
#include "protocol/error_map.h"
#include "protocol/hello.h"
#include "server/cookie.h"

namespace memkv::server {

using mcbp::Status;

namespace {

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string_view text(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

void sendJson(Cookie& c, const std::string& json) {
  const uint8_t datatype =
      c.session.features().has(mcbp::Feature::Json) ? mcbp::datatype::kJson : 0;
  c.out.send(c.header(), Status::Success, {}, {}, bytes(json), 0, datatype);
}

// The node as the client should see it: "$HOST" is replaced by the address
// it dialed, so the config is right whichever interface it came in on.
nlohmann::json thisNode(uint16_t port) {
  return nlohmann::json::array(
      {{{"thisNode", true}, {"hostname", "$HOST"}, {"services", {{"kv", port}}}}});
}

}  // namespace

void executeHello(Cookie& c) {
  const auto& value = c.request.value;
  if (value.size() % 2 != 0) {
    c.out.sendStatus(c.header(), Status::Einval);
    return;
  }
  // A second HELLO replaces what the first negotiated.
  const mcbp::HelloOutcome outcome = mcbp::negotiate(value);
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
  const bool start = c.spec.base == mcbp::Opcode::SaslAuth;
  std::shared_ptr<auth::SaslServer> sasl;
  if (start) {
    // A new authentication replaces the old one, whatever its outcome.
    c.session.dropAuthentication();
    sasl = c.session.startSasl();
  } else {
    sasl = c.session.sasl();
  }
  if (!sasl) {
    c.out.sendStatus(c.header(), Status::AuthError);  // a step with no exchange
    return;
  }
  // PBKDF2 (PLAIN) and the SCRAM proofs cost milliseconds: a would-block
  // command. The exchange runs on the pool while the connection is parked;
  // the outcome is applied on the owner thread.
  c.session.park();
  auto task = [sasl, start, mechanism = std::string(c.request.key),
               data = std::string(text(c.request.value)), header = c.header(),
               &loop = c.connection.loop(), anchor = c.session.anchor()] {
    auto result = std::make_shared<auth::SaslResult>(start ? sasl->start(mechanism, data)
                                                           : sasl->step(mechanism, data));
    loop.post([result, header, anchor] {
      auto a = anchor.lock();
      if (!a || !a->session) return;  // closed meanwhile
      McbpSession& session = *a->session;
      ResponseWriter out(session.connection(), session.worker().commands,
                         session.server().settings().cas_enabled);
      switch (result->outcome) {
        case auth::SaslOutcome::kOk:
          session.endSasl();
          session.authenticatedAs(*result->user);
          out.send(header, Status::Success, {}, {}, bytes(result->payload), 0);
          break;
        case auth::SaslOutcome::kContinue:
          out.send(header, Status::AuthContinue, {}, {}, bytes(result->payload), 0);
          break;
        case auth::SaslOutcome::kFail:
          // Never which part was wrong: the user, the password or the message.
          session.endSasl();
          out.sendStatus(header, Status::AuthError);
          break;
      }
      session.unpark();
    });
  };
  if (!c.server.executors().submit(engine::TaskPriority::kHigh, std::move(task))) {
    c.session.unpark();
    c.out.sendStatus(c.header(), Status::Etmpfail);
  }
}

void executeSelectBucket(Cookie& c) {
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

void executeClusterConfig(Cookie& c) {
  const uint16_t port = c.server.boundPort();
  const auto rev = static_cast<int64_t>(c.server.buckets().revision());
  nlohmann::json config;
  BucketEntry* entry = c.session.bucket();
  if (entry == nullptr) {
    // The cluster-level session: a global config, no vbucket map.
    config = {{"rev", rev},
              {"revEpoch", 1},
              {"nodesExt", thisNode(port)},
              {"clusterCapabilitiesVer", nlohmann::json::array({1, 0})},
              {"clusterCapabilities", nlohmann::json::object()}};
  } else {
    // One node owns every vbucket; keys map by Couchbase's CRC32 rule,
    // which the engine uses too.
    nlohmann::json map = nlohmann::json::array();
    for (uint16_t vb = 0; vb < engine::kVBucketCount; ++vb)
      map.push_back(nlohmann::json::array({0}));
    config = {{"rev", rev},
              {"revEpoch", 1},
              {"name", entry->name},
              {"uuid", entry->uuid},
              {"nodeLocator", "vbucket"},
              {"collectionsManifestUid", "0"},
              {"bucketCapabilitiesVer", ""},
              // What memkv implements and nothing more.
              {"bucketCapabilities", nlohmann::json::array({"cbhello", "touch", "cccp", "nodesExt",
                                                            "collections", "rangeScan"})},
              {"nodesExt", thisNode(port)},
              {"vBucketServerMap",
               {{"hashAlgorithm", "CRC"},
                {"numReplicas", 0},
                {"serverList", nlohmann::json::array({"$HOST:" + std::to_string(port)})},
                {"vBucketMap", std::move(map)}}}};
  }
  sendJson(c, config.dump());
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
