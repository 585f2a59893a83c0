#include "server/text_session.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <iterator>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/crc32.h"
#include "common/logging.h"
#include "engine/vbucket.h"
#include "net/connection_log.h"
#include "net/worker.h"

#include "protocol/text_reply.h"
#include "server/executors.h"
#include "server/mcbp_session.h"
#include "server/stats.h"

namespace memkv::server {

using engine::EngineStatus;
using text::CommandKind;

uint32_t engineExpiry(int32_t exptime) {
  // Negative: an absolute time long past, so the item is stored but reads
  // as expired at once (memcached's rule).
  if (exptime < 0) return engine::kRelativeExpiryMax + 1;
  return static_cast<uint32_t>(exptime);
}

namespace {

class TextStatSink final : public StatWriter {
 public:
  explicit TextStatSink(TextWriter& out) : out_(out) {}
  void add(std::string_view name, std::string_view value) override {
    TextLine line;
    line.text(text::kStatPrefix).text(name).ch(' ').text(value);
    out_.line(line.view());
  }

 private:
  TextWriter& out_;
};

// Classic commands with `noreply` stay silent, errors included.
void reply(TextCookie& c, std::string_view text) {
  if (!c.command.noreply) c.out.raw(text);
}

void executeRetrieval(TextCookie& c) {
  const text::TextCommand& cmd = c.command;
  const bool touch = cmd.kind == CommandKind::kGat || cmd.kind == CommandKind::kGats;
  const bool with_cas = cmd.kind == CommandKind::kGets || cmd.kind == CommandKind::kGats;
  const bool cas_enabled = c.server.settings().cas_enabled;
  const uint32_t expiry = engineExpiry(cmd.exptime);
  CommandCounters& counters = c.counters();
  text::KeyCursor keys(cmd.keys);
  std::string_view key;
  while (keys.next(&key)) {
    engine::LookupResult r = touch ? c.bucket->getAndTouch(key, expiry) : c.bucket->get(key);
    if (touch) {
      counters.cmd_touch.add(1);
      (r.item ? counters.touch_hits : counters.touch_misses).add(1);
    } else {
      counters.cmd_get.add(1);
      (r.item ? counters.get_hits : counters.get_misses).add(1);
      if (r.expired) counters.get_expired.add(1);
      if (r.flushed) counters.get_flushed.add(1);
    }
    c.server.prefixStats().record(key, PrefixStats::Op::kGet, static_cast<bool>(r.item));
    if (!r.item) continue;
    const uint64_t cas = cas_enabled ? r.cas : 0;
    if (keys.done()) {
      // The last key's hit carries END in its own reservation.
      c.out.valueReply(key, r.item, with_cas ? &cas : nullptr, text::kEnd);
      return;
    }
    c.out.valueReply(key, r.item, with_cas ? &cas : nullptr);
  }
  c.out.raw(text::kEnd);
}

engine::StoreMode storeMode(CommandKind kind) {
  switch (kind) {
    case CommandKind::kAdd:
      return engine::StoreMode::kAdd;
    case CommandKind::kReplace:
      return engine::StoreMode::kReplace;
    case CommandKind::kAppend:
      return engine::StoreMode::kAppend;
    case CommandKind::kPrepend:
      return engine::StoreMode::kPrepend;
    default:
      return engine::StoreMode::kSet;
  }
}

// A set the server cannot keep (too large, out of memory) also drops the
// old value, so no stale value outlives a write the client believes it made
// (memcached does the same).
void refuseStore(TextCookie& c, std::string_view why) {
  (why == text::kTooLarge ? c.counters().store_too_large : c.counters().store_no_memory).add(1);
  if (c.command.kind == CommandKind::kSet) c.bucket->remove(c.command.key, 0);
  reply(c, why);
}

void executeStorage(TextCookie& c) {
  const text::TextCommand& cmd = c.command;
  CommandCounters& counters = c.counters();
  counters.cmd_set.add(1);
  c.server.prefixStats().record(cmd.key, PrefixStats::Op::kSet);
  if (cmd.value_length > c.server.settings().item_size_max) {
    refuseStore(c, text::kTooLarge);
    return;
  }
  const bool cas_command = cmd.kind == CommandKind::kCas;
  engine::StoreRequest sr;
  sr.mode = storeMode(cmd.kind);
  sr.key = cmd.key;
  sr.value = c.value();
  sr.flags = cmd.flags;
  sr.expiry = engineExpiry(cmd.exptime);
  if (cas_command) sr.cas = compareCas(cmd.cas);
  const engine::MutationResult r = c.bucket->store(sr);
  switch (r.status) {
    case EngineStatus::kSuccess:
      if (cas_command) counters.cas_hits.add(1);
      reply(c, text::kStored);
      return;
    case EngineStatus::kKeyEexists:
      if (cas_command) counters.cas_badval.add(1);
      reply(c, cas_command ? text::kExists : text::kNotStored);
      return;
    case EngineStatus::kKeyEnoent:
      if (cas_command) counters.cas_misses.add(1);
      reply(c, cas_command ? text::kNotFound : text::kNotStored);
      return;
    case EngineStatus::kNotStored:
      reply(c, text::kNotStored);
      return;
    case EngineStatus::kE2big:
      refuseStore(c, text::kTooLarge);
      return;
    case EngineStatus::kEnomem:
      refuseStore(c, text::kOutOfMemory);
      return;
    case EngineStatus::kLocked:
      // Locked by a Couchbase client: a CAS conflict, as MCBP clients
      // without extended errors are told.
      reply(c, text::kExists);
      return;
    default:
      reply(c, text::kTemporaryFailure);
      return;
  }
}

void executeDelete(TextCookie& c) {
  CommandCounters& counters = c.counters();
  c.server.prefixStats().record(c.command.key, PrefixStats::Op::kDelete);
  const engine::MutationResult r = c.bucket->remove(c.command.key, 0);
  switch (r.status) {
    case EngineStatus::kSuccess:
      counters.delete_hits.add(1);
      reply(c, text::kDeleted);
      return;
    case EngineStatus::kKeyEnoent:
      counters.delete_misses.add(1);
      reply(c, text::kNotFound);
      return;
    case EngineStatus::kLocked:
      reply(c, text::kExists);
      return;
    default:
      reply(c, text::kTemporaryFailure);
      return;
  }
}

void executeCounter(TextCookie& c) {
  const text::TextCommand& cmd = c.command;
  CommandCounters& counters = c.counters();
  engine::CounterRequest cr;
  cr.key = cmd.key;
  cr.increment = cmd.kind == CommandKind::kIncr;
  cr.delta = cmd.delta;
  cr.expiry = engine::kCounterNoCreate;  // text counters never create
  const engine::CounterResult r = c.bucket->counter(cr);
  counters.countCounter(cr.increment, r.status != EngineStatus::kKeyEnoent, r.created);
  switch (r.status) {
    case EngineStatus::kSuccess: {
      if (cmd.noreply) return;
      TextLine line;
      line.number(r.value);
      c.out.line(line.view());
      return;
    }
    case EngineStatus::kKeyEnoent:
      reply(c, text::kNotFound);
      return;
    case EngineStatus::kDeltaBadval:
      reply(c, text::kNonNumeric);
      return;
    case EngineStatus::kEnomem:
      reply(c, text::kOutOfMemory);
      return;
    case EngineStatus::kLocked:
      reply(c, text::kExists);
      return;
    default:
      reply(c, text::kTemporaryFailure);
      return;
  }
}

void executeTouch(TextCookie& c) {
  CommandCounters& counters = c.counters();
  counters.cmd_touch.add(1);
  const engine::LookupResult r =
      c.bucket->getAndTouch(c.command.key, engineExpiry(c.command.exptime));
  if (r.locked) {
    reply(c, text::kTemporaryFailure);
    return;
  }
  (r.item ? counters.touch_hits : counters.touch_misses).add(1);
  reply(c, r.item ? text::kTouched : text::kNotFound);
}

void executeFlushAll(TextCookie& c) {
  if (!c.server.settings().flush_enabled) {
    reply(c, text::kFlushDisabled);
    return;
  }
  c.counters().cmd_flush.add(1);
  // A delay of 0 or less flushes now.
  const uint32_t delay = c.command.exptime <= 0 ? 0 : static_cast<uint32_t>(c.command.exptime);
  flushBucket(c.server, c.session.bucketHandle(), delay);
  reply(c, text::kOk);
}

void executeShutdown(TextCookie& c) {
  if (!c.server.settings().shutdown_enabled) {
    c.out.raw(text::kShutdownDisabled);
    return;
  }
  if (c.command.shutdown == text::ShutdownMode::kInvalid) {
    c.out.raw(text::kBadShutdownMode);
    return;
  }
  // memcached closes the connection without a reply. Both modes end the
  // server as SIGTERM does: memkv's shutdown is always the graceful one.
  c.connection.closeNow(net::CloseReason::kQuit);
  ::kill(::getpid(), SIGTERM);
}

void executeCacheMemlimit(TextCookie& c) {
  const uint32_t megabytes = c.command.number;
  if (megabytes < 8) {
    reply(c, text::kMemlimitTooSmall);
  } else if (megabytes > 1'000'000'000) {
    reply(c, text::kMemlimitNotMegabytes);
  } else {
    c.bucket->setMemoryLimit(size_t{megabytes} << 20);
    reply(c, text::kOk);
  }
}

// memcached's refresh_certs: new TLS connections get the certificate and
// key read now (a few small files, read on this worker as memcached does).
void executeRefreshCerts(TextCookie& c) {
  net::TlsConfig* tls = c.server.tls();
  if (tls == nullptr) {
    c.out.raw(text::kErrorLine);  // as a server without TLS: no such command
    return;
  }
  std::string error;
  if (tls->reload(&error)) {
    spdlog::info("TLS certificates reloaded (refresh_certs)");
    reply(c, text::kOk);
  } else {
    spdlog::error("refresh_certs failed, keeping the old certificates: {}", error);
    c.out.raw(text::kRefreshCertsFailed);
  }
}

// "<fd>:addr", "<fd>:listen_addr" and "<fd>:state" of one connection, on
// its owner's thread.
void describeConnection(net::Connection& conn, std::string* out) {
  const auto address = [](int fd, bool peer) -> std::string {
    sockaddr_storage sa{};
    socklen_t len = sizeof sa;
    auto* p = reinterpret_cast<sockaddr*>(&sa);
    if ((peer ? ::getpeername(fd, p, &len) : ::getsockname(fd, p, &len)) != 0) return "unknown";
    char host[INET6_ADDRSTRLEN] = {};
    if (sa.ss_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(&sa);
      ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
      return fmt::format("tcp:{}:{}", host, ntohs(in->sin_port));
    }
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&sa);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    return fmt::format("tcp6:[{}]:{}", host, ntohs(in6->sin6_port));
  };
  const int fd = conn.fd();
  fmt::format_to(std::back_inserter(*out), "STAT {}:addr {}\r\nSTAT {}:listen_addr {}\r\n", fd,
                 address(fd, true), fd, address(fd, false));
  fmt::format_to(std::back_inserter(*out), "STAT {}:state {}\r\n", fd,
                 conn.output().empty() ? "conn_waiting" : "conn_mwrite");
}

// "conns": every worker describes its own connections on its own thread (no
// other thread may touch them); the last one to finish answers on this
// connection's thread. The session stays parked meanwhile, so replies keep
// their order.
void executeStatsConns(TextCookie& c) {
  struct Gather {
    std::mutex mutex;
    std::string lines;  // guarded by mutex
    std::atomic<size_t> remaining{0};
  };
  auto gather = std::make_shared<Gather>();
  std::vector<net::Worker*> workers;
  for (const auto& w : c.server.workers()) {
    if (w->worker != nullptr) workers.push_back(w->worker);
  }
  if (workers.empty()) {
    c.out.raw(text::kEnd);
    return;
  }
  gather->remaining.store(workers.size());
  c.session.park();
  net::EventLoop& loop = c.connection.loop();
  const std::weak_ptr<SessionAnchor> anchor = c.session.anchor();
  for (net::Worker* worker : workers) {
    worker->post([gather, worker, &loop, anchor] {
      std::string mine;
      worker->forEachConnection([&](net::Connection& conn) { describeConnection(conn, &mine); });
      {
        std::lock_guard guard(gather->mutex);
        gather->lines += mine;
      }
      if (gather->remaining.fetch_sub(1) != 1) return;
      postToSession(loop, anchor, [gather](McbpSession& session) {
        TextWriter out(session.connection(), session.worker().commands);
        out.raw(gather->lines);
        out.raw(text::kEnd);
        session.unpark();
      });
    });
  }
}

// memcached reads a stats group's first word and ignores what follows, except
// for detail's and cachedump's arguments.
void executeStats(TextCookie& c) {
  text::KeyCursor words(c.command.args);
  std::string_view group;
  std::string_view argument;
  words.next(&group);
  words.next(&argument);
  TextStatSink add(c.out);
  PrefixStats& prefixes = c.server.prefixStats();
  if (sharedStats(group, c.server, *c.bucket, add)) {
    c.out.raw(text::kEnd);
    return;
  }
  if (group == "conns") {
    executeStatsConns(c);
    return;
  } else if (group == "detail") {
    if (argument == "on" || argument == "off") {
      prefixes.setEnabled(argument == "on");
      c.out.raw(text::kOk);
    } else if (argument == "dump") {
      c.out.raw(prefixes.dump());
    } else {
      c.out.raw(text::kDetailUsage);
    }
    return;
  } else if (group == "cachedump") {
    // memkv does not list keys: class 1 (the only one) dumps nothing.
    if (argument.empty()) {
      c.out.raw(text::kCachedumpUsage);
    } else {
      c.out.raw(argument == "1" ? text::kEnd : text::kIllegalSlabId);
    }
    return;
  } else if (group == "reset") {
    c.server.resetTotals();
    c.bucket->resetStats();
    prefixes.reset();
    c.out.raw(text::kReset);
    return;
  } else {
    c.out.raw(text::kErrorLine);  // memcached: an unknown group is ERROR
  }
}

void execute(TextCookie& c) {
  switch (c.command.kind) {
    case CommandKind::kGet:
    case CommandKind::kGets:
    case CommandKind::kGat:
    case CommandKind::kGats:
      executeRetrieval(c);
      return;
    case CommandKind::kSet:
    case CommandKind::kAdd:
    case CommandKind::kReplace:
    case CommandKind::kAppend:
    case CommandKind::kPrepend:
    case CommandKind::kCas:
      executeStorage(c);
      return;
    case CommandKind::kDelete:
      executeDelete(c);
      return;
    case CommandKind::kIncr:
    case CommandKind::kDecr:
      executeCounter(c);
      return;
    case CommandKind::kTouch:
      executeTouch(c);
      return;
    case CommandKind::kFlushAll:
      executeFlushAll(c);
      return;
    case CommandKind::kVersion: {
      TextLine line;
      line.text(text::kVersionPrefix).text(kMemcachedVersion);
      c.out.line(line.view());
      return;
    }
    case CommandKind::kVerbosity:
      c.server.verbosity().store(static_cast<int>(std::min<uint32_t>(c.command.number, 2)));
      setLogVerbosity(c.server.verbosity().load());
      reply(c, text::kOk);
      return;
    case CommandKind::kQuit:
      c.connection.closeAfterFlush(net::CloseReason::kQuit);
      return;
    case CommandKind::kShutdown:
      executeShutdown(c);
      return;
    case CommandKind::kCacheMemlimit:
      executeCacheMemlimit(c);
      return;
    case CommandKind::kStats:
      executeStats(c);
      return;
    case CommandKind::kRefreshCerts:
      executeRefreshCerts(c);
      return;
    case CommandKind::kMetaNoop:
      c.out.raw(text::kMetaNoopReply);
      return;
    case CommandKind::kMetaGet:
      executeMetaGet(c);
      return;
    case CommandKind::kMetaSet:
      executeMetaSet(c);
      return;
    case CommandKind::kMetaDelete:
      executeMetaDelete(c);
      return;
    case CommandKind::kMetaArithmetic:
      executeMetaArithmetic(c);
      return;
    case CommandKind::kMetaDebug:
      executeMetaDebug(c);
      return;
  }
}

// Session commands run without a bucket (an administrator may have deleted
// the connection's one).
bool needsBucket(CommandKind kind) {
  switch (kind) {
    case CommandKind::kVersion:
    case CommandKind::kVerbosity:
    case CommandKind::kQuit:
    case CommandKind::kShutdown:
    case CommandKind::kRefreshCerts:
    case CommandKind::kMetaNoop:
      return false;
    default:
      return true;
  }
}

bool isMeta(CommandKind kind) {
  switch (kind) {
    case CommandKind::kMetaNoop:
    case CommandKind::kMetaGet:
    case CommandKind::kMetaSet:
    case CommandKind::kMetaDelete:
    case CommandKind::kMetaArithmetic:
    case CommandKind::kMetaDebug:
      return true;
    default:
      return false;
  }
}

// --strict-vbuckets: whether this node owns the vbucket of every key of the
// command (by the SDKs' CRC32 rule; a command without keys: true). A
// multi-key get with one key elsewhere is refused whole, before any VALUE.
bool ownsKeys(const BucketEntry& bucket, const text::TextCommand& cmd) {
  const auto owns = [&bucket](std::string_view key) {
    return bucket.owned.owns(
        engine::vbucketOf(crc32(key.data(), key.size()), engine::kVBucketCount));
  };
  switch (cmd.kind) {
    case CommandKind::kGet:
    case CommandKind::kGets:
    case CommandKind::kGat:
    case CommandKind::kGats: {
      text::KeyCursor keys(cmd.keys);
      std::string_view key;
      while (keys.next(&key)) {
        if (!owns(key)) return false;
      }
      return true;
    }
    case CommandKind::kSet:
    case CommandKind::kAdd:
    case CommandKind::kReplace:
    case CommandKind::kAppend:
    case CommandKind::kPrepend:
    case CommandKind::kCas:
    case CommandKind::kDelete:
    case CommandKind::kIncr:
    case CommandKind::kDecr:
    case CommandKind::kTouch:
      return owns(cmd.key);
    case CommandKind::kMetaGet:
    case CommandKind::kMetaSet:
    case CommandKind::kMetaDelete:
    case CommandKind::kMetaArithmetic:
    case CommandKind::kMetaDebug: {
      if (!cmd.meta.has('b')) return owns(cmd.key);
      std::array<uint8_t, text::kMaxKeyLength> decoded;
      const size_t n = text::decodeBase64Key(cmd.key, decoded);
      // Not base64: the executor answers that.
      return n == 0 || owns({reinterpret_cast<const char*>(decoded.data()), n});
    }
    default:
      return true;
  }
}

// A storage command whose value can never be stored: answered before the
// value arrives, and the value is skipped unread (as memcached's swallow).
void refuseLargeValue(McbpSession& session, TextWriter& out, const text::TextCommand& cmd) {
  const bool meta = cmd.kind == CommandKind::kMetaSet;
  BucketEntry* bucket = session.bucket();
  if (bucket && (cmd.kind == CommandKind::kSet || meta)) {
    std::array<uint8_t, text::kMaxKeyLength> decoded;
    std::string_view key = cmd.key;
    if (meta && cmd.meta.has('b')) {
      const size_t n = text::decodeBase64Key(cmd.key, decoded);
      key = {reinterpret_cast<const char*>(decoded.data()), n};
    }
    bucket->bucket.remove(key, 0);
  }
  session.worker().commands.cmd_set.add(1);
  session.worker().commands.store_too_large.add(1);
  if (!cmd.noreply || meta) out.raw(text::kTooLarge);  // meta errors ignore q
}

}  // namespace

// std::bad_alloc stops at each command, as in McbpSession::dispatch, and the
// worker goes on; the connection is closed, since part of a text reply may
// already be queued and cannot be taken back.
net::InputResult textInput(McbpSession& session, net::Connection& conn,
                           std::span<const uint8_t> input, size_t max_frames) {
  net::InputResult r;
  ServerContext& server = session.server();
  TextWriter out(conn, session.worker().commands);
  if (server.authRequired()) {
    // With a users file memkv authenticates with SASL over MCBP only, and
    // text commands have no privilege checks: a text connection is refused
    // even when a client certificate authenticated it (--tls-cert-auth).
    out.raw(text::kUnauthenticated);
    conn.closeAfterFlush(net::CloseReason::kAuthFailure);
    r.consumed = input.size();
    return r;
  }
  // One command struct for the whole batch: the parser resets it per line.
  text::TextCommand command;
  const bool strict = server.clustered() && server.settings().strict_vbuckets;
  uint64_t since_ns = 0;
  while (r.frames < max_frames && !conn.closing() && !conn.outputFull() && !session.parked()) {
    const std::span<const uint8_t> rest = input.subspan(r.consumed);
    if (rest.empty()) break;
    const text::ParseResult p = text::parseTextCommand(rest, &command);
    switch (p.status) {
      case text::ParseStatus::kNeedMore:
        if (p.needed != 0) {
          if (command.value_length > server.settings().item_size_max) {
            refuseLargeValue(session, out, command);
            ++r.frames;
            r.consumed += command.value_offset;
            r.discard = size_t{command.value_length} + 2;
            return r;
          }
          r.next_frame_size = p.needed;
        } else if (rest.size() >= net::BufferPool::kBufferSize) {
          // A long get line (the parser closes any other): read it whole,
          // growing the buffer geometrically, up to what a frame may be.
          if (rest.size() >= McbpSession::maxBody(server.settings())) {
            net::logLimited(spdlog::level::warn, LogKind::kHostileFrame, conn,
                            "reason=\"get line too long\" bytes={}; closed", rest.size());
            conn.closeNow(net::CloseReason::kProtocolError);
            return r;
          }
          r.next_frame_size = std::min(rest.size() * 2, McbpSession::maxBody(server.settings()));
        }
        return r;
      case text::ParseStatus::kClose:
        // A line too long to be a command, or an HTTP request: not a
        // memcached client.
        net::logLimited(spdlog::level::warn, LogKind::kHostileFrame, conn,
                        "reason=\"not a command line\" bytes={}; closed", rest.size());
        conn.closeNow(net::CloseReason::kProtocolError);
        return r;
      case text::ParseStatus::kError: {
        ++r.frames;
        if (!p.reply.empty()) out.raw(p.reply);
        r.consumed += p.consumed;
        const size_t buffered = input.size() - r.consumed;
        if (p.swallow > buffered) {
          r.consumed = input.size();
          r.discard = p.swallow - buffered;
          return r;
        }
        r.consumed += p.swallow;
        break;
      }
      case text::ParseStatus::kCommand: {
        ++r.frames;
        // Timed as McbpSession::onInput times MCBP commands.
        if (since_ns == 0) since_ns = timingNowNs();
        if (logEnabled(spdlog::level::trace)) {
          // -vvv: the command's name only; keys and values stay out of the log.
          const std::string_view line(reinterpret_cast<const char*>(rest.data()), p.consumed);
          const std::string_view name = line.substr(0, line.find_first_of(" \r\n"));
          net::logConnection(spdlog::level::trace, conn, "command", "text={} bytes={}",
                             escapeForLog(name, 32), p.consumed);
        }
        BucketEntry* bucket = session.bucket();
        try {
          if (bucket == nullptr && needsBucket(command.kind)) {
            out.raw(text::kNoBucket);
          } else if (strict && bucket != nullptr && !ownsKeys(*bucket, command)) {
            // As other errors: classic noreply silences it, meta q does not.
            session.worker().commands.not_my_vbucket.add(1);
            if (!command.noreply || isMeta(command.kind)) out.raw(text::kNotMyVbucket);
          } else {
            TextCookie cookie{server,
                              session.worker(),
                              conn,
                              session,
                              out,
                              command,
                              rest.first(p.consumed),
                              bucket ? &bucket->bucket : nullptr};
            execute(cookie);
          }
        } catch (const std::bad_alloc&) {
          conn.closeNow();
        }
        const CommandFamily family = commandFamily(command);
        if (session.parked()) {
          session.timeParked(family, since_ns);
        } else {
          const uint64_t now_ns = timingNowNs();
          session.worker().timings[family].record(now_ns - since_ns);
          since_ns = now_ns;
        }
        r.consumed += p.consumed;
        break;
      }
    }
  }
  return r;
}

}  // namespace memkv::server
