// The whole input path of one connection against a real engine: the input is
// cut into segments (arbitrary TCP segmentation), fed to McbpSession::onInput
// the way net::Connection::processInput feeds it (unconsumed bytes kept,
// `discard` bytes dropped, the -R budget renewed when it runs out), and every
// byte the session writes is drained from the OutputChain with gather/drain
// and checked:
//   - responses are well formed and back to back (magic 0x81, extras + key
//     within the body, a known status), and only whole responses are queued;
//   - they answer the requests in order (opcode and opaque), a skipped request
//     is a quiet one, and STAT's run of responses ends with an empty key;
//   - a connection left open with no bytes pending has answered every
//     non-quiet request; onInput never waits for bytes it already has;
//   - after the connection is gone and the bucket flushed, no pool buffer and
//     no item byte is still accounted (leaks of references show here or in
//     LeakSanitizer).
// Objects are built fresh for every input, so an input replays alone.
//
// Input layout:
//   [0]        config: bits 0-1 requests per event {1, 3, 20, 1000}; bit 2 no
//              eviction (-M); bit 3 16 KiB of memory instead of 8 MiB (below
//              -I, so a large SET fails even after evicting everything);
//              bit 4 no CAS (-C); bit 5 no flush (-F); bits 6-7 seconds the
//              clock moves per segment {0, 1, 61, 30 days + 1}
//   [1]        n, the number of segment-size bytes that follow
//   [2, 2+n)   segment sizes, used in turn: 0 = all the rest, 1..127 bytes,
//              128..255 = (b - 127) * 128 bytes; none = one segment
//   [2+n, ...) the byte stream the client sends
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "engine/bucket.h"
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

namespace {

using memkv::mcbp::kHeaderSize;
using memkv::mcbp::Opcode;
using memkv::mcbp::Status;

constexpr size_t kItemSizeMax = 64 << 10;  // -I 64k
constexpr uint32_t kClockStart = 1'700'000'000;
constexpr size_t kRequestsPerEvent[] = {1, 3, 20, 1000};
constexpr uint32_t kClockSteps[] = {0, 1, 61, memkv::engine::kRelativeExpiryMax + 1};

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// Deliberately not common/byte_order.h: the oracle decodes on its own.
uint64_t be(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

// Shared by every input: the loop and the socket are only there because a
// Connection needs them. The fd is never read or written (the session writes
// only into the OutputChain); each Connection gets a dup of it to close.
struct Process {
  memkv::net::EventLoop loop;
  int fds[2] = {-1, -1};
  Process() {
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
      std::abort();
    }
  }
};

struct Config {
  size_t requests_per_event;
  bool evict;
  size_t memory_limit;
  bool cas_enabled;
  bool flush_enabled;
  uint32_t clock_step;

  explicit Config(uint8_t b)
      : requests_per_event(kRequestsPerEvent[b & 3]),
        evict((b & 0x04) == 0),
        memory_limit((b & 0x08) ? 16 << 10 : 8 << 20),
        cas_enabled((b & 0x10) == 0),
        flush_enabled((b & 0x20) == 0),
        clock_step(kClockSteps[b >> 6]) {}
};

// The requests in the stream as an independent reader frames them: header
// after header, stepping over each body; framing ends where the server's
// does (a bad magic or framing extras + extras + key beyond the body).
struct SentRequest {
  uint8_t opcode;
  uint32_t opaque;
  std::string_view key;  // empty if the key is not all in the stream
};

// Would-block commands park the connection until a background task's
// completion runs on the owner loop, which this single-threaded harness does
// not run; frameRequests turns them into an opcode memkv does not know (their
// parsers have their own tests).
constexpr uint8_t kParkedOpcodeStandIn = 0xdd;
bool wouldBlock(uint8_t opcode) {
  const auto op = static_cast<Opcode>(opcode);
  return op == Opcode::RangeScanCreate || op == Opcode::RangeScanContinue ||
         op == Opcode::RangeScanCancel || op == Opcode::SaslAuth || op == Opcode::SaslStep;
}

std::vector<SentRequest> frameRequests(std::span<uint8_t> stream) {
  std::vector<SentRequest> out;
  size_t at = 0;
  while (stream.size() - at >= kHeaderSize) {
    uint8_t* p = stream.data() + at;
    // Classic: key length at 2..3. Alternative: framing extras length at 2,
    // key length at 3, and the framing extras first in the body.
    size_t framing_length = 0;
    size_t key_length;
    if (p[0] == static_cast<uint8_t>(memkv::mcbp::Magic::ClientRequest)) {
      key_length = be(p + 2, 2);
    } else if (p[0] == static_cast<uint8_t>(memkv::mcbp::Magic::AltClientRequest)) {
      framing_length = p[2];
      key_length = p[3];
    } else {
      break;
    }
    if (wouldBlock(p[1])) p[1] = kParkedOpcodeStandIn;
    const size_t extras_length = p[4];
    const size_t body_length = be(p + 8, 4);
    SentRequest r{p[1], static_cast<uint32_t>(be(p + 12, 4)), {}};
    const size_t key_at = at + kHeaderSize + framing_length + extras_length;
    if (key_at + key_length <= stream.size()) {
      r.key = {reinterpret_cast<const char*>(stream.data() + key_at), key_length};
    }
    out.push_back(r);
    if (framing_length + extras_length + key_length > body_length) break;
    at += kHeaderSize + body_length;
    if (at > stream.size()) break;
  }
  return out;
}

// A status the error map lists: the map promises clients it is complete.
bool knownStatus(uint16_t s) {
  for (const Status sent : memkv::mcbp::statusesSent()) {
    if (static_cast<uint16_t>(sent) == s) return true;
  }
  return false;
}

// Reads the session's output as a client would and matches it to requests.
class ResponseChecker {
 public:
  ResponseChecker(std::vector<SentRequest> requests, bool cas_enabled)
      : requests_(std::move(requests)), cas_enabled_(cas_enabled) {}

  // Takes everything queued in the chain, as writev + drain would.
  void collect(memkv::net::OutputChain& chain) {
    iovec iov[64];
    while (!chain.empty()) {
      const size_t count = chain.gather(iov, 64);
      check(count > 0);
      size_t total = 0;
      for (size_t i = 0; i < count; ++i) {
        const auto* base = static_cast<const uint8_t*>(iov[i].iov_base);
        check(iov[i].iov_len > 0);
        bytes_.insert(bytes_.end(), base, base + iov[i].iov_len);
        total += iov[i].iov_len;
      }
      check(total <= chain.size());
      chain.drain(total);
    }
    parse();
    // A response is queued whole within one onInput call.
    check(bytes_.empty());
  }

  // Every request the server has fully handled was answered, unless quiet.
  void checkAllAnswered() const {
    check(!stat_open_);
    for (size_t k = next_; k < requests_.size(); ++k) {
      check(memkv::mcbp::opcodeSpec(requests_[k].opcode).quiet);
    }
  }

 private:
  void parse() {
    size_t at = 0;
    while (bytes_.size() - at >= kHeaderSize) {
      const uint8_t* p = bytes_.data() + at;
      check(p[0] == static_cast<uint8_t>(memkv::mcbp::Magic::ClientResponse));
      const size_t body = be(p + 8, 4);
      if (bytes_.size() - at < kHeaderSize + body) break;
      checkResponse(p);
      at += kHeaderSize + body;
    }
    bytes_.erase(bytes_.begin(), bytes_.begin() + static_cast<std::ptrdiff_t>(at));
  }

  void checkResponse(const uint8_t* p) {
    const uint8_t opcode = p[1];
    const size_t key_length = be(p + 2, 2);
    const size_t extras_length = p[4];
    const uint16_t status = static_cast<uint16_t>(be(p + 6, 2));
    const size_t body = be(p + 8, 4);
    const uint32_t opaque = static_cast<uint32_t>(be(p + 12, 4));
    const uint64_t cas = be(p + 16, 8);
    check(extras_length + key_length <= body);
    check(knownStatus(status));
    if (!cas_enabled_) check(cas == 0);

    const size_t k = match(opcode, opaque);
    const auto& spec = memkv::mcbp::opcodeSpec(opcode);
    const bool success = status == static_cast<uint16_t>(Status::Success);
    if (spec.base == Opcode::Stat) {
      // One response per statistic (name as key), closed by an empty key.
      stat_open_ = success && key_length > 0;
    }
    if (!success) check(extras_length == 0);
    if (success &&
        (spec.base == Opcode::Get || spec.base == Opcode::GetK || spec.base == Opcode::Gat)) {
      check(extras_length == 4);  // flags
    }
    if (success && (spec.base == Opcode::Increment || spec.base == Opcode::Decrement)) {
      // With MutationSeqno negotiated, a 16-byte token precedes the value.
      check((extras_length == 0 || extras_length == 16) && key_length == 0 &&
            body == extras_length + 8);
    }
    if (spec.base == Opcode::GetK &&
        (success || status == static_cast<uint16_t>(Status::KeyEnoent))) {
      const std::string_view key(reinterpret_cast<const char*>(p + kHeaderSize + extras_length),
                                 key_length);
      check(key == requests_[k].key);
    }
    next_ = stat_open_ ? k : k + 1;
  }

  // The request this response answers: the next one with its opcode and
  // opaque; every request passed over must be quiet.
  size_t match(uint8_t opcode, uint32_t opaque) {
    for (size_t k = next_; k < requests_.size(); ++k) {
      const SentRequest& r = requests_[k];
      if (r.opcode == opcode && r.opaque == opaque) return k;
      check(!stat_open_);  // nothing may interleave with STAT's responses
      check(memkv::mcbp::opcodeSpec(r.opcode).quiet);
    }
    check(false);  // a response to no request
    return 0;
  }

  std::vector<uint8_t> bytes_;
  const std::vector<SentRequest> requests_;
  const bool cas_enabled_;
  size_t next_ = 0;
  bool stat_open_ = false;
};

// Segment sizes, taken in turn from the size bytes.
class Segmenter {
 public:
  explicit Segmenter(std::span<const uint8_t> sizes) : sizes_(sizes) {}
  size_t next(size_t remaining) {
    if (sizes_.empty()) return remaining;
    const uint8_t b = sizes_[i_++ % sizes_.size()];
    const size_t n = b == 0 ? remaining : b < 128 ? b : (size_t{b} - 127) * 128;
    return std::min(n, remaining);
  }

 private:
  std::span<const uint8_t> sizes_;
  size_t i_ = 0;
};

// stream: modified in place by frameRequests before any byte is fed.
void runOneInput(Process& process, const Config& config, std::span<const uint8_t> sizes,
                 std::span<uint8_t> stream) {
  memkv::ManualClock clock(kClockStart);
  memkv::server::Settings settings;
  settings.threads = 1;
  settings.memory_limit = config.memory_limit;
  settings.item_size_max = kItemSizeMax;
  settings.requests_per_event = config.requests_per_event;
  settings.cas_enabled = config.cas_enabled;
  settings.flush_enabled = config.flush_enabled;
  settings.evict = config.evict;
  settings.executor_threads = 1;
  memkv::server::ServerContext server(settings, clock, nullptr);
  // Held here so the checks at the end see it even if the input deleted it.
  const memkv::server::BucketHandle bucket = server.buckets().find("default");
  memkv::net::WorkerCounters counters;
  memkv::server::WorkerContext& worker = server.addWorker(&counters);
  memkv::net::BufferPool pool;
  memkv::net::ConnectionLimits limits;
  limits.output_high_watermark = 64 << 10;  // reachable with a few large GETs
  limits.output_low_watermark = 16 << 10;
  limits.requests_per_event = config.requests_per_event;
  std::vector<memkv::net::Connection*> closed_list;
  const int fd = ::dup(process.fds[0]);
  if (fd < 0) std::abort();
  memkv::net::ConnectionEnv env{process.loop, pool, limits, counters, closed_list};
  auto conn = std::make_unique<memkv::net::Connection>(fd, env);
  auto session = std::make_unique<memkv::server::McbpSession>(server, worker, *conn);
  ResponseChecker responses(frameRequests(stream), config.cas_enabled);

  // The connection's read buffer: bytes received and not yet consumed.
  std::vector<uint8_t> pending;
  size_t discard = 0;
  const size_t max_frame = kHeaderSize + std::max(settings.max_body_size, kItemSizeMax + 1024);
  Segmenter segments(sizes);
  size_t sent = 0;
  while (sent < stream.size() && !conn->closing()) {
    clock.advance(config.clock_step);
    const size_t n = segments.next(stream.size() - sent);
    pending.insert(pending.end(), stream.begin() + static_cast<std::ptrdiff_t>(sent),
                   stream.begin() + static_cast<std::ptrdiff_t>(sent + n));
    sent += n;
    size_t budget = config.requests_per_event;
    while (!pending.empty() && !conn->closing()) {
      if (discard > 0) {
        const size_t d = std::min(discard, pending.size());
        pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(d));
        discard -= d;
        continue;
      }
      if (budget == 0) budget = config.requests_per_event;  // resumed after yielding
      const memkv::net::InputResult r = session->onInput(*conn, pending, budget);
      check(r.consumed <= pending.size());
      check(r.frames <= budget);
      check(r.next_frame_size <= max_frame);
      if (r.discard > 0) check(r.consumed == pending.size() && r.next_frame_size == 0);
      responses.collect(conn->output());
      pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(r.consumed));
      discard = r.discard;
      budget -= std::min(budget, r.frames);
      if (r.consumed == 0 && r.discard == 0) {
        check(r.frames == 0);
        // Waiting for more bytes: there must be no whole frame to handle.
        if (!conn->closing()) {
          check(pending.size() < kHeaderSize || r.next_frame_size > pending.size());
        }
        break;
      }
    }
  }
  responses.collect(conn->output());
  if (!conn->closing() && pending.empty() && discard == 0) responses.checkAllAnswered();

  session.reset();
  conn.reset();
  check(pool.buffersOut() == 0);
  bucket->bucket.flush(0);
  const memkv::engine::BucketStats stats = bucket->bucket.stats();
  check(stats.curr_items == 0);
  check(stats.bytes == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Process process;
  if (size < 2) return 0;
  const Config config(data[0]);
  const size_t n_sizes = std::min<size_t>(data[1], size - 2);
  std::vector<uint8_t> stream(data + 2 + n_sizes, data + size);
  runOneInput(process, config, {data + 2, n_sizes}, stream);
  return 0;
}
