#include "server/mcbp_session.h"

#include <algorithm>
#include <new>

#include <spdlog/spdlog.h>

#include "auth/sasl.h"
#include "auth/users.h"
#include "common/clock.h"
#include "common/logging.h"
#include "net/connection_log.h"
#include "protocol/leb128.h"
#include "protocol/magic.h"
#include "protocol/opcode_spec.h"
#include "protocol/validate.h"
#include "server/command_access.h"
#include "server/executors.h"
#include "server/text_session.h"

namespace memkv::server {

using mcbp::Opcode;
using mcbp::Status;

namespace {
// Room for extras and a key beside the largest value.
constexpr size_t kBodyOverhead = 1024;

// Commands whose key is a document key (collection-prefixed once the client
// negotiated Collections).
bool documentKey(Opcode base) {
  switch (base) {
    case Opcode::Get:
    case Opcode::GetK:
    case Opcode::Set:
    case Opcode::Add:
    case Opcode::Replace:
    case Opcode::Append:
    case Opcode::Prepend:
    case Opcode::Delete:
    case Opcode::Increment:
    case Opcode::Decrement:
    case Opcode::Touch:
    case Opcode::Gat:
    case Opcode::GatK:
    case Opcode::GetLocked:
    case Opcode::UnlockKey:
    case Opcode::GetReplica:
      return true;
    default:
      return false;
  }
}
// A frame answered without reading its body: counted and stepped over,
// whole if the input holds it, else the rest is discarded as it arrives
// (then false: the caller returns).
bool skipFrame(const mcbp::RequestHeader& header, std::span<const uint8_t> rest,
               net::InputResult* r) {
  ++r->frames;
  const size_t frame = header.frameSize();
  if (frame > rest.size()) {
    r->consumed += rest.size();
    r->discard = frame - rest.size();
    return false;
  }
  r->consumed += frame;
  return true;
}

}  // namespace

McbpSession::McbpSession(ServerContext& server, WorkerContext& worker, net::Connection& connection)
    : server_(server), worker_(worker), connection_(connection) {
  if (server_.authRequired()) {
    auth_deadline_ms_ = steadyNowMs() + int64_t{server_.settings().auth_timeout_s} * 1000;
    refreshGrants();
  } else {
    // An open server, as memcached: everyone uses "default".
    selectBucket("default");
  }
}

McbpSession::~McbpSession() {
  if (bg_ && bg_->dcp) {
    server_.dcpStreamsClosed(bg_->dcp->streams.size());
    server_.dcpProducerClosed();
    server_.releaseDcpName(bg_->dcp->bucket.get(), bg_->dcp->name, connection_.id());
  }
  if (bg_) {
    bg_->anchor->session = nullptr;
    worker_.session_backgrounds.sub(1);
  }
  // Its scans end with it: no one else can continue them.
  server_.rangeScans().cancelOwnedBy(this);
}

McbpSession::Background& McbpSession::background() {
  if (!bg_) {
    bg_ = std::make_unique<Background>();
    bg_->anchor = std::make_shared<SessionAnchor>(SessionAnchor{this});
    worker_.session_backgrounds.add(1);
  }
  return *bg_;
}

std::weak_ptr<SessionAnchor> McbpSession::anchor() {
  return background().anchor;
}

void McbpSession::releaseIdleBackground() {
  // Every anchor is handed out after park() to work whose completion ends
  // the park (unpark() or this session's end): unparked, with no SASL
  // exchange open, no completion is owed to this session. A stale one (a
  // job still ending) finds the anchor gone and does nothing, as if the
  // session had closed; the next park() makes a new anchor.
  if (!bg_ || bg_->parked || bg_->sasl || bg_->dcp) return;
  bg_->anchor->session = nullptr;
  bg_.reset();
  worker_.session_backgrounds.sub(1);
}

DcpProducer& McbpSession::openDcp() {
  Background& bg = background();
  bg.dcp = std::make_unique<DcpProducer>(connection_.loop(), bg.anchor, worker_);
  bg.dcp->last_input_ms = bg.dcp->noop_sent_ms = steadyNowMs();
  server_.dcpProducerOpened();
  return *bg.dcp;
}

void McbpSession::park() {
  Background& bg = background();
  if (bg.parked) return;
  bg.parked = true;
  bg.unpark_after_inbox = false;
  connection_.disableReading();
}

void McbpSession::unpark() {
  if (!bg_ || !bg_->parked) return;
  Background& bg = *bg_;
  if (connection_.inboxQueued() != 0) {
    bg.unpark_after_inbox = true;  // inboxDrained() finishes it
    return;
  }
  bg.parked = false;
  bg.unpark_after_inbox = false;
  if (bg.timed_since_ns != 0) {
    worker_.timings[bg.timed_family].record(timingNowNs() - bg.timed_since_ns);
    bg.timed_since_ns = 0;
  }
  connection_.enableReading();
  releaseIdleBackground();
}

void McbpSession::timeParked(CommandFamily family, uint64_t since_ns) {
  if (!bg_ || !bg_->parked) return;
  bg_->timed_family = family;
  bg_->timed_since_ns = since_ns;
}

uint32_t McbpSession::recordAuthFailure() {
  if (auth_failures_ < UINT8_MAX) ++auth_failures_;
  return auth_failures_;
}

void McbpSession::holdAuthError(const mcbp::RequestHeader& header, int64_t reply_at_ms,
                                bool close) {
  Background& bg = background();
  bg.auth_error_to = header;
  bg.auth_error_at_ms = reply_at_ms;
  bg.close_after_auth_error = close;
}

void McbpSession::onTick(net::Connection& conn, int64_t now_ms) {
  // An idle connection of a user a reload removed loses its authentication
  // here rather than at a next command that may never come: the auth
  // timeout then closes it, and the old users file is let go. (A parked
  // session does so when it resumes.)
  if (usersChanged() && !parked()) refreshUser();
  if (dcp() != nullptr) dcpTick(*this, now_ms);
  if (!bg_ || bg_->auth_error_at_ms == 0 || now_ms < bg_->auth_error_at_ms) return;
  bg_->auth_error_at_ms = 0;
  ResponseWriter out(conn, worker_.commands, server_.settings().cas_enabled);
  out.sendStatus(bg_->auth_error_to, mcbp::Status::AuthError);
  // Closing first: the unpark below schedules the connection, which then
  // flushes the answer and closes instead of reading more requests.
  if (bg_->close_after_auth_error) conn.closeAfterFlush(net::CloseReason::kAuthFailure);
  unpark();
}

bool McbpSession::produce(net::Connection&) {
  DcpProducer* producer = dcp();
  if (producer == nullptr) return false;
  // kv_engine checks the privilege before every step and disconnects a
  // producer whose user lost it: its streams send documents.
  if (usersChanged() && !parked()) refreshUser();
  constexpr uint16_t kStreaming = kNeedAuth | kNeedBucket | kNeedDcp | kNeedRead;
  if ((grants_ & kStreaming) != kStreaming || bucket_ != producer->bucket ||
      producer->bucket->deleted.load(std::memory_order_relaxed)) {
    if (!producer->streams.empty()) {
      connection_.closeNow(net::CloseReason::kAuthFailure);
      return false;
    }
  }
  return dcpProduce(*this);
}

void McbpSession::inboxDrained(net::Connection&) {
  if (bg_ && bg_->parked && bg_->unpark_after_inbox) unpark();
}

size_t McbpSession::maxBody(const Settings& settings) {
  return std::max(settings.max_body_size, settings.item_size_max + kBodyOverhead);
}

size_t McbpSession::maxKey() const {
  return features_.has(mcbp::Feature::Collections)
             ? mcbp::kMaxKeyLength + mcbp::kMaxCollectionPrefix
             : mcbp::kMaxKeyLength;
}

bool McbpSession::expired(int64_t now_ms) const {
  return auth_deadline_ms_ != 0 && user_ == nullptr && now_ms >= auth_deadline_ms_;
}

BucketEntry* McbpSession::bucket() {
  if (bucket_ && bucket_->deleted.load(std::memory_order_relaxed)) {
    bucket_.reset();  // deleted under us: let it go
    privileges_ = 0;
    refreshGrants();
  }
  return bucket_.get();
}

void McbpSession::refreshGrants() {
  uint16_t g = 0;
  if (authenticated()) g |= kNeedAuth;
  if (!server_.authRequired() || (user_ && user_->admin())) g |= kNeedAdmin;
  if (server_.authRequired()) g |= kNeedUsers;
  if (bucket_) {
    g |= kNeedBucket | static_cast<uint16_t>(privileges_ << kPrivilegeShift);
    if ((privileges_ & (auth::kRead | auth::kStats)) != 0) g |= kNeedReadOrStats;
  }
  grants_ = g;
}

bool McbpSession::selectBucket(std::string_view name) {
  bucket_.reset();
  known_map_ = 0;  // another bucket, another config
  privileges_ = 0;
  refreshGrants();
  uint8_t privileges = auth::kAllPrivileges;
  if (server_.authRequired()) {
    if (user_ == nullptr) return false;
    privileges = user_->privileges(name);
    if (privileges == 0) return false;
  }
  BucketHandle handle = server_.buckets().find(name);
  if (!handle) {
    refreshGrants();
    return false;
  }
  bucket_ = std::move(handle);
  privileges_ = privileges;
  refreshGrants();
  return true;
}

const std::shared_ptr<auth::SaslServer>& McbpSession::startSasl() {
  Background& bg = background();
  ServerContext::UsersSnapshot users = server_.users();
  bg.sasl = std::make_shared<auth::SaslServer>(std::move(users.db));
  bg.sasl_generation = users.generation;
  return bg.sasl;
}

void McbpSession::endSasl() {
  if (!bg_) return;
  bg_->sasl.reset();
  releaseIdleBackground();
}

void McbpSession::authenticatedAs(std::shared_ptr<const auth::User> user, uint32_t generation) {
  user_ = std::move(user);
  users_generation_ = generation;
  auth_deadline_ms_ = 0;
  refreshGrants();
  // Memcached clients authenticate and never select: give them the bucket
  // named after the user (Couchbase's rule), else "default", if allowed.
  if (!selectBucket(user_->name())) selectBucket("default");
}

void McbpSession::refreshUser() {
  ServerContext::UsersSnapshot users = server_.users();
  const auth::User* found = users.db->find(user_->name());
  // The same name with other credentials is another login (the operator
  // removed the user and added it again, say after a leaked password): it
  // must authenticate again. set-roles keeps the credentials.
  const bool same_login =
      found != nullptr && found->credential(auth::ScramHash::kSha512)->stored_key ==
                              user_->credential(auth::ScramHash::kSha512)->stored_key;
  if (!same_login) {
    // This connection loses access now, and may authenticate again before
    // the auth timeout closes it.
    net::logConnection(spdlog::level::info, connection_, "user_revoked",
                       "user=\"{}\" reason=\"{}\"", escapeForLog(user_->name(), 128),
                       found == nullptr ? "removed from the users file" : "credentials changed");
    dropAuthentication();
    users_generation_ = users.generation;
    return;
  }
  user_ = std::shared_ptr<const auth::User>(std::move(users.db), found);
  users_generation_ = users.generation;
  if (bucket_) {
    // What the user may do on the selected bucket is what the new file
    // says; a bucket it may no longer use at all is let go, as SELECT_BUCKET
    // would have refused it (its name and uuid are not the user's to see).
    privileges_ = user_->privileges(bucket_->name);
    if (privileges_ == 0) bucket_.reset();
  }
  refreshGrants();
}

void McbpSession::onTlsEstablished(net::Connection& conn) {
  if (!server_.settings().tls_cert_auth || !server_.authRequired() || conn.tls() == nullptr) {
    return;
  }
  // No certificate (ssl_verify_mode=1 lets a client go without one): SASL
  // as usual. A verified certificate is the credential: its subject CN must
  // name a user, or the connection ends (kv_engine's rule); the client is
  // not told why, and the log names neither certificate nor user.
  const std::string name = conn.tls()->verifiedPeerName();
  if (name.empty()) return;
  ServerContext::UsersSnapshot users = server_.users();
  const auth::User* user = users.db->find(name);
  if (user == nullptr) {
    net::logLimited(spdlog::level::warn, LogKind::kAuthFailure, conn,
                    "mechanism=certificate reason=\"no such user\"; closed");
    server_.countAuthError();
    conn.closeNow(net::CloseReason::kAuthFailure);
    return;
  }
  server_.countAuthCommand();
  authenticatedAs(std::shared_ptr<const auth::User>(std::move(users.db), user), users.generation);
}

void McbpSession::dropAuthentication() {
  user_.reset();
  bucket_.reset();
  privileges_ = 0;
  refreshGrants();
  // Anonymous again: the same deadline as a new connection.
  auth_deadline_ms_ = steadyNowMs() + int64_t{server_.settings().auth_timeout_s} * 1000;
}

net::InputResult McbpSession::onInput(net::Connection& conn, std::span<const uint8_t> input,
                                      size_t max_frames) {
  if (protocol_ != Protocol::kBinary) {
    if (protocol_ == Protocol::kUnknown && !input.empty()) {
      // memcached switches on 0x80 alone; memkv also takes MCBP's alternative
      // request magic (0x08, a control character no text command starts with).
      const auto magic = static_cast<mcbp::Magic>(input[0]);
      protocol_ = magic == mcbp::Magic::ClientRequest || magic == mcbp::Magic::AltClientRequest
                      ? Protocol::kBinary
                      : Protocol::kText;
    }
    if (protocol_ == Protocol::kText) return textInput(*this, conn, input, max_frames);
  }
  // A DCP consumer is alive while it sends anything (--dcp-idle-timeout).
  if (DcpProducer* producer = dcp()) producer->last_input_ms = steadyNowMs();
  net::InputResult r;
  ResponseWriter out(conn, worker_.commands, server_.settings().cas_enabled,
                     features_.has(mcbp::Feature::Json));
  // What this client negotiated and proved so far; recomputed after a HELLO
  // (authentication completes asynchronously, never inside this loop).
  size_t max_key = maxKey();
  size_t max_body = authenticated() ? maxBody(server_.settings()) : kPreAuthMaxBody;
  uint64_t since_ns = 0;
  while (r.frames < max_frames && !conn.closing() && !conn.outputFull() && !parked()) {
    const std::span<const uint8_t> rest = input.subspan(r.consumed);
    if (rest.size() < mcbp::kHeaderSize) break;
    // Before anything of a frame is acted on (the checks of dispatch, and
    // the oversized-SET path below that never reaches it): one atomic load
    // per frame of an authenticated session, a lookup only after a reload.
    if (usersChanged()) {
      refreshUser();
      if (!authenticated()) max_body = kPreAuthMaxBody;
    }
    mcbp::RequestHeader header;
    switch (mcbp::parseHeader(rest, &header)) {
      case mcbp::HeaderStatus::kOk:
        break;
      case mcbp::HeaderStatus::kBadMagic:
        net::logLimited(spdlog::level::warn, LogKind::kHostileFrame, conn,
                        "reason=\"bad magic\" magic=0x{:02x}; closed", rest[0]);
        conn.closeNow(net::CloseReason::kProtocolError);  // framing lost: nothing to answer
        return r;
      case mcbp::HeaderStatus::kBadLengths:
        net::logLimited(spdlog::level::warn, LogKind::kHostileFrame, conn,
                        "reason=\"inconsistent lengths\" opcode=0x{:02x} body={}; closed",
                        static_cast<unsigned>(header.opcode), header.body_length);
        out.sendStatus(header, Status::Einval);
        conn.closeAfterFlush(net::CloseReason::kProtocolError);
        return r;
    }
    if (header.magic == mcbp::Magic::ServerResponse ||
        header.magic == mcbp::Magic::ClientResponse) {
      // A client's answer to a server request: a Duplex client's (0x83) to
      // a ClustermapChangeNotification, which wants none (kv_engine drops
      // them too), or a DCP consumer's (0x81) to its producer's messages,
      // of which only a noop's matters: skipped unbuffered. Otherwise, or
      // beyond the body limit, the client is not speaking MCBP as negotiated.
      DcpProducer* producer = dcp();
      const bool expected = header.magic == mcbp::Magic::ServerResponse
                                ? features_.has(mcbp::Feature::Duplex)
                                : producer != nullptr;
      if (!expected || header.body_length > max_body) {
        net::logLimited(spdlog::level::warn, LogKind::kHostileFrame, conn,
                        "reason=\"unexpected response\" magic=0x{:02x} duplex={} dcp={} "
                        "body={}; closed",
                        rest[0], features_.has(mcbp::Feature::Duplex), producer != nullptr,
                        header.body_length);
        conn.closeNow(net::CloseReason::kProtocolError);
        return r;
      }
      if (producer != nullptr && header.magic == mcbp::Magic::ClientResponse &&
          header.opcode == mcbp::dcp::kOpNoop) {
        dcpNoopAnswered(*this, header.opaque);
      }
      if (!skipFrame(header, rest, &r)) return r;
      continue;
    }
    const mcbp::Verdict verdict = mcbp::validateHeader(header, max_key);
    if (verdict == mcbp::Verdict::kInvalid) {
      net::logLimited(spdlog::level::warn, LogKind::kHostileFrame, conn,
                      "reason=\"invalid header\" opcode=0x{:02x} key={} body={}; closed",
                      static_cast<unsigned>(header.opcode), header.key_length, header.body_length);
      out.sendStatus(header, Status::Einval);
      conn.closeAfterFlush(net::CloseReason::kProtocolError);
      return r;
    }
    // An anonymous client gets small frames only (max_body): nothing it may
    // send yet needs more, and it must not make the server hold megabytes.
    if (header.body_length > max_body) {
      net::logLimited(spdlog::level::warn, LogKind::kHostileFrame, conn,
                      "reason=\"body too large\" opcode=0x{:02x} body={} limit={} "
                      "authenticated={}; closed",
                      static_cast<unsigned>(header.opcode), header.body_length, max_body,
                      authenticated());
      // Answer at once instead of waiting for (and buffering) the body.
      out.sendStatus(header, Status::E2big);
      conn.closeAfterFlush(net::CloseReason::kProtocolError);
      return r;
    }
    const mcbp::OpcodeSpec& spec = mcbp::opcodeSpec(header.opcode);
    const size_t value_length = header.body_length - header.framing_extras_length -
                                header.extras_length - header.key_length;
    const bool too_large = spec.value_allowed && value_length > server_.settings().item_size_max;
    if (verdict == mcbp::Verdict::kUnknownCommand || too_large) {
      if (too_large) worker_.commands.store_too_large.add(1);
      if (too_large && spec.base == Opcode::Set && authenticated() && bucket() &&
          (privileges_ & auth::kWrite) && !features_.has(mcbp::Feature::Collections)) {
        // memcached drops the old value of a SET it refuses as too large, so
        // no stale value outlives a write the client believes it made. The
        // key must be here for that.
        const size_t key_start =
            mcbp::kHeaderSize + header.framing_extras_length + header.extras_length;
        const size_t key_end = key_start + header.key_length;
        if (rest.size() < key_end) {
          r.next_frame_size = key_end;
          break;
        }
        const auto key = rest.subspan(key_start, header.key_length);
        bucket_->bucket.remove({reinterpret_cast<const char*>(key.data()), key.size()}, 0);
      }
      // Answer now and skip the body without buffering it; the connection
      // stays usable (memcached 1.6 does the same).
      out.sendStatus(header, too_large ? Status::E2big : Status::UnknownCommand);
      if (!skipFrame(header, rest, &r)) return r;
      continue;
    }
    if (rest.size() < header.frameSize()) {
      r.next_frame_size = header.frameSize();
      break;
    }
    // Timed from when the previous command of this batch ended (or the
    // batch began): one clock read per command.
    if (since_ns == 0) since_ns = timingNowNs();
    // -vv: one line per command, naming it but never its key or body (a
    // SASL request's body holds a password).
    // (Tested here: the arguments would be evaluated before logConnection's own test.)
    if (logEnabled(spdlog::level::trace)) {
      net::logConnection(spdlog::level::trace, conn, "command",
                         "opcode={} opaque={} key={} body={}",
                         spec.known() ? spec.name : std::string_view("unknown"), header.opaque,
                         header.key_length, header.body_length);
    }
    dispatch(mcbp::splitFrame(header, rest.first(header.frameSize())), out);
    const CommandFamily family = commandFamily(spec.base);
    if (parked()) {
      timeParked(family, since_ns);
    } else {
      const uint64_t now_ns = timingNowNs();
      worker_.timings[family].record(now_ns - since_ns);
      since_ns = now_ns;
    }
    r.consumed += header.frameSize();
    ++r.frames;
    if (header.opcode == static_cast<uint8_t>(Opcode::Hello)) max_key = maxKey();
  }
  return r;
}

// std::bad_alloc stops here (docs/architecture.md invariant 8): items are
// admitted under the memory quota, but a request's path still allocates with
// throwing allocators (output slices, STAT strings, JSON parsing, posted
// completions). The function-try-block costs nothing until something throws;
// then this request is answered ENOMEM (or, if even that cannot be queued,
// its connection is closed) and the worker thread and the server go on.
// Not undone: what the executor changed before the throw (a store whose
// answer could not be queued is answered ENOMEM although it was made), and
// a park() made before the throw (that session stays parked).
void McbpSession::dispatch(const mcbp::Request& request, ResponseWriter& out) try {
  const mcbp::OpcodeSpec& spec = mcbp::opcodeSpec(request.header.opcode);
  Cookie cookie{server_, worker_, connection_, *this, out, request, spec, {}, request.key};
  if (!request.framing_extras.empty()) {
    const Status status = mcbp::validateFrameInfos(request, &cookie.frame_infos);
    if (status != Status::Success) {
      out.sendStatus(request.header, status);
      return;
    }
  }
  const uint16_t needs = commandNeeds(request.header.opcode);
  if ((needs & kNeedBucket) != 0 && bucket_ && bucket_->deleted.load(std::memory_order_relaxed)) {
    bucket();  // deleted under us: let it go (updates the grants)
  }
  if ((needs & ~grants_) != 0) {
    // Refused; which status says why. Not authenticated, or not allowed,
    // is EACCESS; authenticated without a bucket is NO_BUCKET.
    const uint16_t missing = needs & ~grants_;
    const bool no_bucket = (missing & kNeedBucket) != 0 && (grants_ & kNeedAuth) != 0;
    out.sendStatus(request.header, no_bucket ? Status::NoBucket : Status::Eaccess);
    return;
  }
  if ((needs & kNeedBucket) != 0) cookie.bucket = &bucket_->bucket;
  if (features_.has(mcbp::Feature::Collections) && documentKey(spec.base)) {
    // The key starts with its collection id; only the default (0) exists.
    const auto id = mcbp::decodeLeb128(
        {reinterpret_cast<const uint8_t*>(request.key.data()), request.key.size()});
    if (!id || id->length == request.key.size()) {
      out.sendStatus(request.header, Status::Einval);
      return;
    }
    if (id->value != 0) {
      out.sendStatus(request.header, Status::UnknownCollection);
      return;
    }
    cookie.key = request.key.substr(id->length);
    if (cookie.key.size() > mcbp::kMaxKeyLength) {
      out.sendStatus(request.header, Status::Einval);
      return;
    }
  }
  // --cluster-map: a document on a vbucket this node does not own is
  // refused here, once the request is known valid and allowed (a client
  // without rights on the bucket learns nothing of its map). As kv_engine,
  // the header's vbucket decides, not the key's hash: the SDK sends the one
  // it routed by. Without a map one test of a bool; with one, a relaxed
  // load and a bit test per document command.
  if (server_.clustered() && documentKey(spec.base) && bucket_ &&
      refuseForeignVBucket(cookie, request.header.vbucket)) {
    return;
  }
  switch (spec.base) {
    case Opcode::Get:
    case Opcode::GetK:
      executeGet(cookie);
      break;
    case Opcode::Set:
    case Opcode::Add:
    case Opcode::Replace:
    case Opcode::Append:
    case Opcode::Prepend:
      executeStore(cookie);
      break;
    case Opcode::Delete:
      executeDelete(cookie);
      break;
    case Opcode::Increment:
    case Opcode::Decrement:
      executeCounter(cookie);
      break;
    case Opcode::Touch:
    case Opcode::Gat:
    case Opcode::GatK:
      executeTouch(cookie);
      break;
    case Opcode::GetLocked:
      executeGetLocked(cookie);
      break;
    case Opcode::GetReplica:
      // No node holds replicas (numReplicas 0): the vbucket is active here
      // or elsewhere, never a replica, and kv_engine answers a GET_REPLICA
      // for a vbucket that is not a replica NOT_MY_VBUCKET, config included.
      sendNotMyVBucket(cookie);
      break;
    case Opcode::UnlockKey:
      executeUnlock(cookie);
      break;
    case Opcode::DcpGetFailoverLog:
      executeGetFailoverLog(cookie);
      break;
    case Opcode::DcpOpen:
      executeDcpOpen(cookie);
      break;
    case Opcode::DcpControl:
      executeDcpControl(cookie);
      break;
    case Opcode::DcpStreamReq:
      executeDcpStreamReq(cookie);
      break;
    case Opcode::DcpCloseStream:
      executeDcpCloseStream(cookie);
      break;
    case Opcode::DcpBufferAck:
      executeDcpBufferAck(cookie);
      break;
    case Opcode::Flush:
      executeFlush(cookie);
      break;
    case Opcode::Noop:
      executeNoop(cookie);
      break;
    case Opcode::Version:
      executeVersion(cookie);
      break;
    case Opcode::Quit:
      executeQuit(cookie);
      break;
    case Opcode::Verbosity:
      executeVerbosity(cookie);
      break;
    case Opcode::Stat:
      executeStat(cookie);
      break;
    case Opcode::Hello:
      executeHello(cookie);
      break;
    case Opcode::GetErrorMap:
      executeErrorMap(cookie);
      break;
    case Opcode::SaslListMechs:
      executeSaslListMechs(cookie);
      break;
    case Opcode::SaslAuth:
    case Opcode::SaslStep:
      executeSaslAuth(cookie);
      break;
    case Opcode::SelectBucket:
      executeSelectBucket(cookie);
      break;
    case Opcode::ListBuckets:
      executeListBuckets(cookie);
      break;
    case Opcode::CreateBucket:
      executeCreateBucket(cookie);
      break;
    case Opcode::DeleteBucket:
      executeDeleteBucket(cookie);
      break;
    case Opcode::GetClusterConfig:
      executeClusterConfig(cookie);
      break;
    case Opcode::GetCollectionId:
      executeGetCollectionId(cookie);
      break;
    case Opcode::RangeScanCreate:
      executeRangeScanCreate(cookie);
      break;
    case Opcode::RangeScanContinue:
      executeRangeScanContinue(cookie);
      break;
    case Opcode::RangeScanCancel:
      executeRangeScanCancel(cookie);
      break;
    default:
      out.sendStatus(request.header, Status::UnknownCommand);
      break;
  }
} catch (const std::bad_alloc&) {
  try {
    out.sendStatus(request.header, Status::Enomem);
  } catch (const std::bad_alloc&) {
    connection_.closeNow();
  }
}

}  // namespace memkv::server
