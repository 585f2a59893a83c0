// One real connection of the server, end to end: a net::Connection over one
// end of a socketpair, registered with a real net::EventLoop that this
// thread runs, with a real server::McbpSession over a real ServerContext
// (with or without a users file) and its executor pool, so would-block
// commands (SASL, RANGE_SCAN_*, STAT vbucket-details) really run in the
// background and complete through the loop. The harness plays the client on
// the other end: the input decides what it writes (cut at chosen points),
// when and how much it reads (so output can stay above the high watermark
// across events), and when the loop runs. Nothing of the server's input path
// is re-implemented here; no opcode is rewritten.
//
// Oracle, on every byte the client reads:
//   - responses are well formed (magic 0x81 or 0x18, framing extras + extras
//     + key within the body) with a status the error map lists; a DCP
//     producer's own messages (magic 0x80) are one of its opcodes, well
//     formed, and otherwise stepped over;
//   - they answer the requests in order (opcode and opaque), a skipped
//     request is a quiet one, STAT's run ends with an empty key and a
//     RANGE_SCAN_CONTINUE's run with a status other than Success;
// and at the end of the input:
//   - once the client has sent everything and reads everything, the server
//     settles (a trap if no byte moves for 20 s: only a stuck connection
//     gets there), and an open connection has answered every whole
//     non-quiet request and left no partial response (skipped for an input
//     still running after 2 s, which hangs up instead);
//   - closing the client's end makes the connection close and be reaped;
//   - then no pool buffer, read buffer, spill, large frame or output byte is
//     still accounted, and the purged default bucket holds nothing (leaked
//     references show here or in LeakSanitizer).
// Everything is built fresh for every input, so an input replays alone; the
// engine's clock is a ManualClock that only the input moves.
//
// Input layout (fuzz/make_corpus.py writes seeds in it):
//   [0]        config: bit 0 users file (authentication required); bits 1-2
//              requests per event {1, 3, 20, 1000}; bits 3-4 output
//              watermarks high/low {4K/1K, 16K/4K, 64K/16K, 1M/256K}; bit 5
//              16 KiB of memory instead of 8 MiB; bit 6 no CAS (-C); bit 7 no
//              eviction (-M)
//   [1]        documents the default bucket holds before the client
//              connects (so that large values and scans of more than a
//              frame need no large input): (b & 15) * 8 of them, keys
//              "doc-<i>" that hash to vbucket 0, values of 10 bytes
//              (b >> 4 = 0) or (b >> 4) * 4 KiB
//   [2]        n, the number of script bytes that follow
//   [3, 3+n)   the client's script, one byte per step: low 2 bits the kind,
//              the high 6 bits (a) its argument (see StepKind below)
//   [3+n, ...) the byte stream the client sends; a RANGE_SCAN_CONTINUE or
//              CANCEL whose extras start with a zero byte gets the id of the
//              last scan the server created written into its first 16 bytes
//              (as a client would), the one thing the harness changes
// After the script the client sends what is left, reads everything and
// waits for the server to settle; then it closes its end.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "auth/scram_crypto.h"
#include "auth/users.h"
#include "common/clock.h"
#include "common/crc32.h"
#include "engine/bucket.h"
#include "engine/vbucket.h"
#include "net/buffer_pool.h"
#include "net/connection.h"
#include "net/event_loop.h"
#include "net/worker_counters.h"
#include "protocol/error_map.h"
#include "protocol/limits.h"
#include "protocol/magic.h"
#include "protocol/opcode_spec.h"
#include "protocol/status.h"
#include "server/mcbp_session.h"
#include "server/server_context.h"
#include "server/settings.h"
#include "text_reply_checker.h"

namespace {

using memkv::mcbp::kHeaderSize;
using memkv::mcbp::Opcode;
using memkv::mcbp::Status;
using SteadyClock = std::chrono::steady_clock;

constexpr size_t kItemSizeMax = 64 << 10;  // -I 64k
constexpr uint32_t kClockStart = 1'700'000'000;
constexpr size_t kRequestsPerEvent[] = {1, 3, 20, 1000};
constexpr uint32_t kClockSteps[] = {0, 1, 61, memkv::engine::kRelativeExpiryMax + 1};
struct Watermarks {
  size_t high;
  size_t low;
};
constexpr Watermarks kWatermarks[] = {
    {4 << 10, 1 << 10}, {16 << 10, 4 << 10}, {64 << 10, 16 << 10}, {1 << 20, 256 << 10}};
// Small, so that background producers meet their budget and a few writes
// fill the kernel's queues (output then stays in the OutputChain).
constexpr size_t kInboxBudget = 8 << 10;
constexpr size_t kBytesPerEvent = 32 << 10;
constexpr int kSocketBuffer = 8 << 10;
// Wall-clock bounds of waiting for background work. A WAIT step gives up
// quietly (the next steps see whatever state it left); the end of the input
// traps when no byte moved for kEndBound, because only a connection that
// stopped making progress takes that long (PBKDF2 for an unknown user's
// PLAIN is the slowest task: milliseconds, and one at a time).
constexpr auto kWaitBound = std::chrono::milliseconds(50);
// An input still running after this long (hundreds of PLAIN exchanges for
// unknown users, each PBKDF2 with 10,000 iterations) hangs up at once: the
// end-of-input checks are skipped, the close-and-reap ones still run.
constexpr auto kInputBudget = std::chrono::seconds(2);
constexpr auto kEndBound = std::chrono::seconds(20);
constexpr auto kBackgroundPoll = std::chrono::microseconds(20);

// The users, made once per process with the library's own API; each
// ServerContext gets its own database parsed from this users-file text.
// One PBKDF2 iteration: authentication must be cheap per input.
struct TestUser {
  const char* name;
  const char* password;
  bool admin;
  const char* roles;
};
constexpr TestUser kUsers[] = {
    {"admin", "adminpw", true, ""},
    {"alice", "alicepw", false, "read[default],write[default]"},
    {"reader", "readerpw", false, "read[*]"},
};

constexpr size_t kMaxPreload = 15 * 8;

// The preloaded documents' keys: vbucket 0 (a range scan covers one).
const std::vector<std::string>& preloadKeys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> out;
    for (size_t i = 0; out.size() < kMaxPreload; ++i) {
      std::string key = "doc-" + std::to_string(i);
      const uint32_t crc = memkv::crc32(key.data(), key.size());
      if (memkv::engine::vbucketOf(crc, memkv::engine::kVBucketCount) == 0) out.push_back(key);
    }
    return out;
  }();
  return keys;
}

void check(bool ok) {
  if (!ok) __builtin_trap();
}

const std::string& usersFileText() {
  static const std::string text = [] {
    std::vector<memkv::auth::User> users;
    for (const TestUser& u : kUsers) {
      bool admin = false;
      memkv::auth::BucketPrivileges buckets;
      std::string error;
      if (*u.roles != '\0' && !memkv::auth::parseRoles(u.roles, &admin, &buckets, &error)) {
        std::abort();
      }
      memkv::auth::User user(u.name, u.admin, std::move(buckets));
      for (const memkv::auth::ScramHash h : memkv::auth::kAllScramHashes) {
        user.setCredential(
            h, memkv::auth::makeCredential(h, u.password, std::string("salt-") + u.name, 1));
      }
      users.push_back(std::move(user));
    }
    std::string error;
    auto db = memkv::auth::UserDatabase::create(std::move(users), &error);
    if (!db) std::abort();
    return db->toJson();
  }();
  return text;
}

// Deliberately not common/byte_order.h: the oracle decodes on its own.
uint64_t be(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

struct Config {
  bool users;
  size_t requests_per_event;
  Watermarks watermarks;
  size_t memory_limit;
  bool cas_enabled;
  bool evict;

  explicit Config(uint8_t b)
      : users((b & 0x01) != 0),
        requests_per_event(kRequestsPerEvent[(b >> 1) & 3]),
        watermarks(kWatermarks[(b >> 3) & 3]),
        memory_limit((b & 0x20) ? 16 << 10 : 8 << 20),
        cas_enabled((b & 0x40) == 0),
        evict((b & 0x80) == 0) {}
};

// A step of the client's script: kind in the low 2 bits, argument a above.
//   kSend: write the next size(a) bytes of the stream (as many as the
//          socket takes; the rest waits for the next kSend)
//   kRead: read up to size(a) * 16 bytes (a = 0: all there is)
//   kRun:  run (a & 7) + 1 loop iterations, moving the engine's clock by
//          kClockSteps[(a >> 3) & 3] first
//   kWait: run the loop until no background work is parked (bounded)
enum class StepKind : uint8_t { kSend, kRead, kRun, kWait };

// a = 0: everything; 1..31: that many bytes; 32..63: (a - 31) KiB.
size_t stepSize(uint8_t a) {
  if (a == 0) return SIZE_MAX;
  return a < 32 ? a : (size_t{a} - 31) * 1024;
}

// The requests in the stream as an independent reader frames them: header
// after header, stepping over each body; framing ends where the server's
// does (a bad magic or framing extras + extras + key beyond the body).
struct SentRequest {
  uint8_t opcode;
  uint32_t opaque;
  bool whole;            // every byte of the frame is in the stream
  std::string_view key;  // empty if the key is not all in the stream
};

// Where a scan id goes: the stream offset of a CONTINUE/CANCEL's extras.
struct IdSlot {
  size_t at;
  bool filled = false;
};

void frameRequests(std::span<const uint8_t> stream, std::vector<SentRequest>* requests,
                   std::vector<IdSlot>* id_slots) {
  size_t at = 0;
  while (stream.size() - at >= kHeaderSize) {
    const uint8_t* p = stream.data() + at;
    // Classic: key length at 2..3. Alternative: framing extras length at 2,
    // key length at 3, and the framing extras first in the body.
    size_t framing_length = 0;
    size_t key_length;
    if (p[0] == static_cast<uint8_t>(memkv::mcbp::Magic::ClientRequest)) {
      key_length = be(p + 2, 2);
    } else if (p[0] == static_cast<uint8_t>(memkv::mcbp::Magic::AltClientRequest)) {
      framing_length = p[2];
      key_length = p[3];
    } else if (p[0] == static_cast<uint8_t>(memkv::mcbp::Magic::ClientResponse) ||
               p[0] == static_cast<uint8_t>(memkv::mcbp::Magic::ServerResponse)) {
      // A client's answer (a DCP consumer's, a Duplex client's): the server
      // steps over it when this connection may send one, and closes
      // otherwise; either way no response answers it.
      if (p[4] + be(p + 2, 2) > be(p + 8, 4)) break;
      at += kHeaderSize + be(p + 8, 4);
      if (at > stream.size()) break;
      continue;
    } else {
      break;
    }
    const size_t extras_length = p[4];
    const size_t body_length = be(p + 8, 4);
    const size_t extras_at = at + kHeaderSize + framing_length;
    const size_t key_at = extras_at + extras_length;
    SentRequest r{p[1],
                  static_cast<uint32_t>(be(p + 12, 4)),
                  body_length <= stream.size() - at - kHeaderSize,
                  {}};
    if (key_at + key_length <= stream.size()) {
      r.key = {reinterpret_cast<const char*>(stream.data() + key_at), key_length};
    }
    const auto op = static_cast<Opcode>(p[1]);
    if ((op == Opcode::RangeScanContinue || op == Opcode::RangeScanCancel) && extras_length >= 16 &&
        key_at <= stream.size() && stream[extras_at] == 0) {
      id_slots->push_back({extras_at});
    }
    requests->push_back(r);
    if (framing_length + extras_length + key_length > body_length) break;
    at += kHeaderSize + body_length;
    if (at > stream.size()) break;
  }
}

// A status the error map lists: the map promises clients it is complete.
bool knownStatus(uint16_t s) {
  for (const Status sent : memkv::mcbp::statusesSent()) {
    if (static_cast<uint16_t>(sent) == s) return true;
  }
  return false;
}

// What a DCP producer sends on its own: STREAM_END, SNAPSHOT_MARKER,
// MUTATION, DELETION, EXPIRATION, NOOP.
bool dcpMessage(uint8_t opcode) {
  return (opcode >= 0x55 && opcode <= 0x59) || opcode == 0x5c;
}

// Reads what the client receives, as a client would, and matches it to the
// requests (and steps over a DCP producer's messages).
class ResponseChecker {
 public:
  ResponseChecker(std::vector<SentRequest> requests, bool cas_enabled)
      : requests_(std::move(requests)), cas_enabled_(cas_enabled) {}

  void feed(const uint8_t* data, size_t n) {
    bytes_.insert(bytes_.end(), data, data + n);
    size_t at = 0;
    while (bytes_.size() - at >= kHeaderSize) {
      const uint8_t* p = bytes_.data() + at;
      const size_t body = be(p + 8, 4);
      if (p[0] == static_cast<uint8_t>(memkv::mcbp::Magic::ClientRequest)) {
        // A DCP producer's own message (after a DCP_OPEN the input made):
        // one of the producer's opcodes, its extras and key within the body.
        check(dcpMessage(p[1]));
        if (bytes_.size() - at < kHeaderSize + body) break;
        check(p[4] + be(p + 2, 2) <= body);
        at += kHeaderSize + body;
        continue;
      }
      check(p[0] == static_cast<uint8_t>(memkv::mcbp::Magic::ClientResponse) ||
            p[0] == static_cast<uint8_t>(memkv::mcbp::Magic::AltClientResponse));
      if (bytes_.size() - at < kHeaderSize + body) break;
      checkResponse(p);
      at += kHeaderSize + body;
    }
    bytes_.erase(bytes_.begin(), bytes_.begin() + static_cast<std::ptrdiff_t>(at));
  }

  // A settled, open connection: every whole request was answered, unless
  // quiet, and no response is half sent.
  void checkAllAnswered() const {
    check(bytes_.empty());
    check(!multi_open_);
    for (size_t k = next_; k < requests_.size(); ++k) {
      if (requests_[k].whole) check(memkv::mcbp::opcodeSpec(requests_[k].opcode).quiet);
    }
  }

  // The id the server gave the last scan it created, if any.
  const uint8_t* scanId() const { return has_scan_id_ ? scan_id_ : nullptr; }

 private:
  void checkResponse(const uint8_t* p) {
    const bool alt = p[0] == static_cast<uint8_t>(memkv::mcbp::Magic::AltClientResponse);
    const uint8_t opcode = p[1];
    const size_t framing_length = alt ? p[2] : 0;
    const size_t key_length = alt ? p[3] : be(p + 2, 2);
    const size_t extras_length = p[4];
    const uint16_t status = static_cast<uint16_t>(be(p + 6, 2));
    const size_t body = be(p + 8, 4);
    const uint32_t opaque = static_cast<uint32_t>(be(p + 12, 4));
    const uint64_t cas = be(p + 16, 8);
    check(framing_length + extras_length + key_length <= body);
    check(knownStatus(status));
    if (!cas_enabled_) check(cas == 0);

    const size_t k = match(opcode, opaque);
    const auto& spec = memkv::mcbp::opcodeSpec(opcode);
    const bool success = status == static_cast<uint16_t>(Status::Success);
    const uint8_t* extras = p + kHeaderSize + framing_length;
    const uint8_t* value = extras + extras_length + key_length;
    const size_t value_length = body - framing_length - extras_length - key_length;
    if (spec.base == Opcode::Stat) {
      // One response per statistic (name as key), closed by an empty key.
      multi_open_ = success && key_length > 0;
    } else if (spec.base == Opcode::RangeScanContinue) {
      // Documents in Success responses, closed by More, Complete or an
      // error; those of a running scan carry the 4-byte flags.
      const bool scan_frame = success || status == static_cast<uint16_t>(Status::RangeScanMore) ||
                              status == static_cast<uint16_t>(Status::RangeScanComplete);
      check(scan_frame ? extras_length == 4 : extras_length == 0 || extras_length == 4);
      multi_open_ = success;
    } else {
      check(success || extras_length == 0);
    }
    if (success &&
        (spec.base == Opcode::Get || spec.base == Opcode::GetK || spec.base == Opcode::Gat)) {
      check(extras_length == 4);  // flags
    }
    if (success && (spec.base == Opcode::Increment || spec.base == Opcode::Decrement)) {
      // With MutationSeqno negotiated, a 16-byte token precedes the value.
      check((extras_length == 0 || extras_length == 16) && key_length == 0 && value_length == 8);
    }
    if (spec.base == Opcode::GetK &&
        (success || status == static_cast<uint16_t>(Status::KeyEnoent))) {
      const std::string_view key(reinterpret_cast<const char*>(extras + extras_length), key_length);
      check(key == requests_[k].key);
    }
    if (success && spec.base == Opcode::RangeScanCreate) {
      check(value_length == 16);  // the scan id
      std::copy(value, value + 16, scan_id_);
      has_scan_id_ = true;
    }
    next_ = multi_open_ ? k : k + 1;
  }

  // The request this response answers: the next one with its opcode and
  // opaque; every request passed over must be quiet.
  size_t match(uint8_t opcode, uint32_t opaque) {
    for (size_t k = next_; k < requests_.size(); ++k) {
      const SentRequest& r = requests_[k];
      if (r.opcode == opcode && r.opaque == opaque) return k;
      check(!multi_open_);  // nothing may interleave with a run of responses
      check(memkv::mcbp::opcodeSpec(r.opcode).quiet);
    }
    check(false);  // a response to no request
    return 0;
  }

  std::vector<uint8_t> bytes_;  // received, not yet a whole response
  const std::vector<SentRequest> requests_;
  const bool cas_enabled_;
  size_t next_ = 0;
  bool multi_open_ = false;
  uint8_t scan_id_[16] = {};
  bool has_scan_id_ = false;
};

// One input's world, driven from the loop's after-dispatch hook: the loop
// runs on this thread, and after every iteration the client takes its next
// step. Declaration order is destruction order reversed: the loop outlives
// the server, whose executors post completions to it until shut down.
class Run {
 public:
  Run(const Config& config, uint8_t preload, std::span<const uint8_t> script,
      std::span<const uint8_t> stream)
      : script_(script), stream_(stream.begin(), stream.end()) {
    settings_.threads = 1;
    settings_.executor_threads = 1;  // background tasks run in submission order
    settings_.memory_limit = config.memory_limit;
    settings_.item_size_max = kItemSizeMax;
    settings_.requests_per_event = config.requests_per_event;
    settings_.cas_enabled = config.cas_enabled;
    settings_.evict = config.evict;
    std::unique_ptr<const memkv::auth::UserDatabase> users;
    if (config.users) {
      std::string error;
      users = memkv::auth::UserDatabase::parse(usersFileText(), &error);
      if (!users) std::abort();
    }
    server_ = std::make_unique<memkv::server::ServerContext>(settings_, clock_, std::move(users));
    // Held here so the checks at the end see it even if the input deleted it.
    bucket_ = server_->buckets().find("default");
    const size_t documents = (preload & 15) * 8;
    const std::vector<uint8_t> value((preload >> 4) == 0 ? 10 : (preload >> 4) * 4096, 'd');
    for (size_t i = 0; i < documents; ++i) {
      memkv::engine::StoreRequest store;
      store.key = preloadKeys()[i];
      store.value = value;
      bucket_->bucket.store(store);  // may not fit (16 KiB of memory): then fewer
    }
    worker_ = &server_->addWorker(&counters_);
    limits_.output_high_watermark = config.watermarks.high;
    limits_.output_low_watermark = config.watermarks.low;
    limits_.requests_per_event = config.requests_per_event;
    limits_.bytes_per_event = kBytesPerEvent;
    limits_.inbox_budget = kInboxBudget;

    std::vector<SentRequest> requests;
    frameRequests(stream_, &requests, &id_slots_);
    checker_ = std::make_unique<ResponseChecker>(std::move(requests), config.cas_enabled);
    // The first byte picks the protocol, as the server does.
    const auto first = static_cast<memkv::mcbp::Magic>(stream_.empty() ? 0 : stream_[0]);
    text_ = !stream_.empty() && first != memkv::mcbp::Magic::ClientRequest &&
            first != memkv::mcbp::Magic::AltClientRequest;

    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
      std::abort();
    }
    for (const int fd : fds) {
      ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kSocketBuffer, sizeof kSocketBuffer);
    }
    peer_ = fds[1];
    conn_ = new memkv::net::Connection(fds[0], env_);
    auto session = std::make_unique<memkv::server::McbpSession>(*server_, *worker_, *conn_);
    session_ = session.get();
    conn_->setHandler(std::move(session));
    if (!conn_->start()) std::abort();
  }

  ~Run() {
    if (peer_ >= 0) ::close(peer_);
  }

  void go() {
    // A zero tick: the loop never blocks in epoll_wait; waiting for
    // background work is done by polling in the steps, bounded.
    loop_.setTick(0, {});
    loop_.setAfterDispatch([this] { afterDispatch(); });
    loop_.run();

    // The connection is gone and the executors are joined: every buffer and
    // byte it held must be back.
    check(conn_ == nullptr);
    check(pool_.buffersOut() == 0);
    check(counters_.read_buffers_out.get() == 0);
    check(counters_.spill_bytes.get() == 0);
    check(counters_.large_frame_bytes.get() == 0);
    check(counters_.output_queued.get() == 0);
    server_.reset();
    // purge(), not flush(0): a FLUSH only hides items and leaves freeing them
    // to a sweep, and every byte the input stored must be given back here.
    bucket_->bucket.purge();
    const memkv::engine::BucketStats stats = bucket_->bucket.stats();
    check(stats.curr_items == 0);
    check(stats.bytes == 0);
  }

 private:
  enum class Phase : uint8_t { kScript, kDrain, kClose, kShutdown, kDone };

  void afterDispatch() {
    reapClosed();
    // The worker's tick, with every delay already over (the harness has no
    // clock to wait on): an AUTH_ERROR held back after a failed login leaves
    // now, so the session unparks (or closes after the last allowed failure)
    // as it would a delay later.
    if (conn_ != nullptr && !conn_->closed()) {
      session_->onTick(*conn_, std::numeric_limits<int64_t>::max());
    }
    switch (phase_) {
      case Phase::kScript:
        scriptStep();
        break;
      case Phase::kDrain:
        drainStep();
        break;
      case Phase::kClose:
        check(SteadyClock::now() < deadline_);  // closing the peer must end it
        if (conn_ == nullptr) {
          // Completions still queued find their session gone.
          server_->executors().shutdown();
          phase_ = Phase::kShutdown;
        } else if (session_->parked()) {
          std::this_thread::sleep_for(kBackgroundPoll);
        }
        break;
      case Phase::kShutdown:
        // This iteration ran what the executors posted before they stopped.
        phase_ = Phase::kDone;
        loop_.stop();
        break;
      case Phase::kDone:
        break;
    }
  }

  // As net::Worker does: a connection is destroyed after the dispatch that
  // closed it, once the loop no longer holds it scheduled.
  void reapClosed() {
    for (size_t i = 0; i < closed_.size();) {
      memkv::net::Connection* c = closed_[i];
      if (c->scheduled()) {
        ++i;
        continue;
      }
      check(c == conn_);
      c->finishClose();
      delete c;
      conn_ = nullptr;
      session_ = nullptr;
      closed_.erase(closed_.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }

  // Background work the loop can finish without the client reading.
  bool backgroundPending() const {
    return conn_ != nullptr && session_->parked() &&
           conn_->output().size() <= limits_.output_low_watermark;
  }

  void scriptStep() {
    if (SteadyClock::now() > give_up_) return hangUp();
    if (run_left_ > 0) {
      --run_left_;
      return;
    }
    if (waiting_) {
      if (backgroundPending() && SteadyClock::now() < deadline_) {
        std::this_thread::sleep_for(kBackgroundPoll);
        return;
      }
      waiting_ = false;
    }
    if (pc_ == script_.size()) {
      phase_ = Phase::kDrain;
      deadline_ = SteadyClock::now() + kEndBound;
      return;
    }
    const uint8_t b = script_[pc_++];
    const uint8_t a = b >> 2;
    switch (static_cast<StepKind>(b & 3)) {
      case StepKind::kSend:
        send(stepSize(a));
        break;
      case StepKind::kRead:
        receive(a == 0 ? SIZE_MAX : stepSize(a) * 16);
        break;
      case StepKind::kRun:
        clock_.advance(kClockSteps[(a >> 3) & 3]);
        run_left_ = a & 7;
        break;
      case StepKind::kWait:
        waiting_ = true;
        deadline_ = SteadyClock::now() + kWaitBound;
        break;
    }
  }

  // The end of the script: send the rest, read everything, until the
  // server has nothing left to do for this client.
  void drainStep() {
    check(SteadyClock::now() < deadline_);  // a connection that stopped answering
    if (SteadyClock::now() > give_up_) return hangUp();
    const size_t sent_before = sent_;
    send(SIZE_MAX);
    const bool got = receive(SIZE_MAX);
    if (got || sent_ != sent_before) deadline_ = SteadyClock::now() + kEndBound;
    if (conn_ != nullptr) {
      const bool settled = sent_ == stream_.size() && !got && !session_->parked() &&
                           conn_->output().empty() && conn_->inboxQueued() == 0 &&
                           !conn_->scheduled();
      idle_ = settled ? idle_ + 1 : 0;
      // Two quiet iterations: the last bytes sent were seen and handled.
      if (idle_ < 2) {
        if (session_->parked()) std::this_thread::sleep_for(kBackgroundPoll);
        return;
      }
      if (!conn_->closing()) {
        if (text_) {
          text_checker_.checkAllAnswered();
        } else {
          checker_->checkAllAnswered();
        }
      }
    } else if (got) {
      return;  // what the server sent before it closed
    }
    hangUp();
  }

  void hangUp() {
    ::close(peer_);
    peer_ = -1;
    phase_ = Phase::kClose;
    deadline_ = SteadyClock::now() + kEndBound;
  }

  // Writes up to max of the unsent stream (what the socket takes).
  void send(size_t max) {
    const size_t n = std::min(max, stream_.size() - sent_);
    if (n == 0 || peer_ < 0) return;
    if (const uint8_t* id = checker_->scanId()) {
      for (IdSlot& slot : id_slots_) {
        if (slot.filled || slot.at < sent_ || slot.at >= sent_ + n) continue;
        std::copy_n(id, std::min<size_t>(16, stream_.size() - slot.at), &stream_[slot.at]);
        slot.filled = true;
      }
    }
    const ssize_t r = ::send(peer_, stream_.data() + sent_, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r > 0) sent_ += static_cast<size_t>(r);
  }

  // Reads up to max bytes the server sent; true if there were any.
  bool receive(size_t max) {
    uint8_t buffer[64 << 10];
    bool got = false;
    while (max > 0 && peer_ >= 0) {
      const ssize_t r = ::recv(peer_, buffer, std::min(max, sizeof buffer), MSG_DONTWAIT);
      if (r <= 0) break;
      if (text_) {
        text_checker_.feed(buffer, static_cast<size_t>(r));
      } else {
        checker_->feed(buffer, static_cast<size_t>(r));
      }
      max -= static_cast<size_t>(r);
      got = true;
    }
    return got;
  }

  const std::span<const uint8_t> script_;
  std::vector<uint8_t> stream_;
  memkv::ManualClock clock_{kClockStart};
  memkv::net::EventLoop loop_;
  memkv::net::WorkerCounters counters_;
  memkv::server::Settings settings_;
  std::unique_ptr<memkv::server::ServerContext> server_;
  memkv::server::BucketHandle bucket_;
  memkv::server::WorkerContext* worker_ = nullptr;
  memkv::net::BufferPool pool_;
  memkv::net::ConnectionLimits limits_;
  std::vector<memkv::net::Connection*> closed_;
  memkv::net::ConnectionEnv env_{loop_, pool_, limits_, counters_, closed_};
  memkv::net::Connection* conn_ = nullptr;         // owned; deleted when reaped
  memkv::server::McbpSession* session_ = nullptr;  // conn_'s handler
  std::vector<IdSlot> id_slots_;
  bool text_ = false;  // the stream speaks memcached's text protocol
  memkv::fuzz::TextReplyChecker text_checker_{&check};
  std::unique_ptr<ResponseChecker> checker_;
  int peer_ = -1;  // the client's end

  Phase phase_ = Phase::kScript;
  size_t pc_ = 0;
  size_t run_left_ = 0;
  bool waiting_ = false;
  SteadyClock::time_point deadline_;
  const SteadyClock::time_point give_up_ = SteadyClock::now() + kInputBudget;
  size_t sent_ = 0;
  int idle_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const Config config(data[0]);
  const size_t n_script = std::min<size_t>(data[2], size - 3);
  Run run(config, data[1], {data + 3, n_script}, {data + 3 + n_script, size - 3 - n_script});
  run.go();
  return 0;
}
