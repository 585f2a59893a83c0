#pragma once
// What DCP_OPEN makes of a connection (docs/dcp.md): a producer, with the
// flags it was opened with, what DCP_CONTROL set since, and its streams.
// Held by the session's Background (a connection that never opens DCP pays
// nothing) and touched only on the connection's owner thread: background
// work (a stream's snapshot) hands its result to that thread through
// postToSession, and only that thread encodes into the connection's output
// (the seeds' lesson, docs/architecture.md invariant 2).
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/bucket.h"
#include "engine/change_log.h"
#include "net/event_loop.h"
#include "protocol/dcp.h"
#include "server/bucket_manager.h"

namespace memkv::server {

class McbpSession;
struct SessionAnchor;
struct WorkerContext;

// One change as a stream holds it (a backfill's or the change log's): a
// document by key and seqno only (its item is looked up when it is sent, so
// changes waiting on a slow consumer pin no item, and with it no item store
// segment), or a removal with what it carries.
using DcpChange = engine::LoggedChange;

// A connection's follower of the vbuckets its streams follow: told by
// writers (any thread, under the vbucket lock) that a vbucket has new
// changes, it marks the vbucket and wakes the owner thread once, however
// many changes come before the owner looks (McbpSession::produce then
// reads them from the log, on its own thread).
class DcpWaker final : public engine::ChangeListener {
 public:
  DcpWaker(net::EventLoop& loop, std::weak_ptr<SessionAnchor> anchor)
      : loop_(loop), anchor_(std::move(anchor)) {}
  void changesAppended(uint16_t vbucket) noexcept override;
  // Owner thread: arms the next wake-up, then calls fn(vbucket) for each
  // vbucket marked since the last call.
  template <typename Fn>
  void takeChanged(Fn&& fn) {
    armed_.store(true);
    for (size_t w = 0; w < marked_.size(); ++w) {
      uint64_t bits = marked_[w].exchange(0);
      while (bits != 0) {
        const int bit = __builtin_ctzll(bits);
        bits &= bits - 1;
        fn(static_cast<uint16_t>(w * 64 + static_cast<size_t>(bit)));
      }
    }
  }

 private:
  net::EventLoop& loop_;
  const std::weak_ptr<SessionAnchor> anchor_;
  std::atomic<bool> armed_{true};
  std::array<std::atomic<uint64_t>, engine::kVBucketCount / 64> marked_{};
};

// A set of vbuckets (1024 bits): which streams the producer's pull looks
// at, so that a pass costs what is ready, not one step per open stream.
class VbucketSet {
 public:
  void assign(uint16_t vbucket, bool member) {
    const uint64_t bit = uint64_t{1} << (vbucket % 64);
    words_[vbucket / 64] = member ? words_[vbucket / 64] | bit : words_[vbucket / 64] & ~bit;
  }
  bool contains(uint16_t vbucket) const { return (words_[vbucket / 64] >> (vbucket % 64)) & 1; }
  // The first member at or after `from`, wrapping around (with `also`, of
  // either set); -1 when there is none.
  int firstFrom(uint16_t from, const VbucketSet* also = nullptr) const;

 private:
  std::array<uint64_t, engine::kVBucketCount / 64> words_{};
};

struct DcpStream {
  enum class State : uint8_t {
    kNeedSnapshot,  // has changes to fetch: waits for the connection's snapshot slot
    kSnapshotting,  // a pool thread is taking its snapshot
    kSending,       // sends `snapshot`: its marker, then changes[next...]
    kIdle,          // sent everything up to the cursor; follows the vbucket's change log
    kEnding,        // sends STREAM_END(end_status), then is gone
  };
  uint16_t vbucket = 0;
  uint32_t opaque = 0;      // the STREAM_REQ's: every message of the stream carries it
  uint64_t end = 0;         // the last seqno it sends (kSeqnoMax: follows forever)
  uint64_t vb_uuid = 0;     // the vbucket's history when the stream began
  uint64_t cursor = 0;      // every change up to here was sent (at first: the start)
  uint64_t generation = 0;  // tells a snapshot for this stream from one for an older one
  bool first_marker = true;
  // Registered with the producer's waker: the vbucket keeps a change log
  // (from STREAM_REQ, for a stream whose end lies past the high seqno).
  bool following = false;
  mcbp::dcp::EndStatus end_status = mcbp::dcp::EndStatus::kOk;
  std::vector<DcpChange> changes;  // kSending: the snapshot's changes, in seqno order
  size_t changes_bytes = 0;        // what they hold (DcpProducer::buffered_bytes)
  uint64_t snapshot_end = 0;       // kSending: the marker's end seqno
  uint32_t marker_flags = 0;       // kSending: Disk|Checkpoint (backfill) or Memory (log)
  size_t next = 0;                 // kSending: the next change to send
  bool marker_sent = false;

  State state() const { return state_; }
  // kIdle: the change log may have something after the cursor.
  bool logPending() const { return log_pending_; }

 private:
  friend struct DcpProducer;  // which keeps its sets true to these
  State state_ = State::kNeedSnapshot;
  bool log_pending_ = false;
};

struct DcpProducer {
  DcpProducer(net::EventLoop& loop, std::weak_ptr<SessionAnchor> anchor, WorkerContext& worker);
  // Owner thread: stops following (no writer calls the waker afterwards)
  // and gives back the buffered bytes.
  ~DcpProducer();
  DcpProducer(const DcpProducer&) = delete;
  DcpProducer& operator=(const DcpProducer&) = delete;

  // Ends a stream: it stops following and lets go of its changes.
  void erase(std::map<uint16_t, DcpStream>::iterator it);
  // A stream's changes are let go of (sent, or dropped).
  void dropChanges(DcpStream& s);
  // A new stream on `vbucket` (none may be open there).
  DcpStream& open(uint16_t vbucket);
  DcpStream* find(uint16_t vbucket) const { return index_[vbucket]; }  // null: none open
  DcpStream& at(uint16_t vbucket) const { return *index_[vbucket]; }
  // Every change of a stream's state or log_pending goes through these,
  // which keep the sets below true.
  void setState(DcpStream& s, DcpStream::State state);
  void setLogPending(DcpStream& s, bool pending);

  WorkerContext& worker;
  // The bucket DCP_OPEN was on: the streams' (the session refuses
  // SELECT_BUCKET from then on). Declared before the streams, which
  // unfollow its vbuckets when they go.
  BucketHandle bucket;
  DcpWaker waker;
  std::string name;         // the consumer's, from DCP_OPEN's key
  uint32_t open_flags = 0;  // mcbp::dcp::kOpen* bits
  mcbp::dcp::ControlState control;
  std::map<uint16_t, DcpStream> streams;  // one per vbucket
  // Streams with a message to send (kSending, kEnding); idle ones whose
  // change log may hold more (kIdle and log_pending); ones waiting for the
  // snapshot slot (kNeedSnapshot).
  VbucketSet sending;
  VbucketSet log_pending;
  VbucketSet need_snapshot;
  // The memory of the last change-log read's vector, for the next read (at
  // most kLogBatch changes' worth per connection).
  std::vector<DcpChange> spare;
  static constexpr size_t kLogBatch = 256;  // changes a stream reads from its log at once
  // Flow control (reference dcp.md 1.8): bytes sent and not yet
  // acknowledged. A message goes out while this is below the window, so the
  // last one may overshoot it.
  uint64_t bytes_outstanding = 0;
  bool window_full = false;  // a message waits for an acknowledgement
  // One snapshot at a time per connection, and a new one (or a read of the
  // change log) only while the streams hold less than kBufferBytes of
  // changes waiting to be sent: what a connection buffers is that plus one
  // vbucket's keys.
  bool snapshot_in_flight = false;
  size_t buffered_bytes = 0;
  static constexpr size_t kBufferBytes = 1 << 20;
  uint16_t next_vbucket = 0;  // round robin over the streams
  uint64_t generations = 0;
  // DCP_NOOP (dcp.md 1.7): with enable_noop, a noop every noop interval
  // while none is unanswered; the consumer's answer (or anything it sends)
  // keeps the connection alive for --dcp-idle-timeout.
  int64_t last_input_ms = 0;
  int64_t noop_sent_ms = 0;
  uint32_t noop_opaque = 10'000'000;  // kv_engine's first; one more per noop
  bool noop_pending = false;
  // STAT dcp.
  uint64_t items_sent = 0;
  uint64_t bytes_sent = 0;
  uint64_t window_full_pauses = 0;

  bool windowOpen() const {
    return control.buffer_size == 0 || bytes_outstanding < control.buffer_size;
  }

 private:
  std::array<DcpStream*, engine::kVBucketCount> index_{};  // streams' nodes by vbucket
};

// The owner thread's pull (McbpSession::produce): writes what the streams
// have while the window and the output allow, and starts the next snapshot.
// True when it stopped on a full output with more to send.
bool dcpProduce(McbpSession& session);
// The worker's tick: idle streams whose vbucket's high seqno moved past
// their cursor read the change log (a backstop for a lost wake-up).
// With noops enabled, it also sends the next noop, or closes a consumer
// silent for --dcp-idle-timeout.
void dcpTick(McbpSession& session, int64_t now_ms);
// The consumer answered a noop (a response frame with DCP_NOOP's opcode).
void dcpNoopAnswered(McbpSession& session, uint32_t opaque);
// The waker's wake-up, on the owner thread: marked vbuckets' idle streams
// read the change log.
void dcpWoken(McbpSession& session);

}  // namespace memkv::server
