// RANGE_SCAN_CREATE / CONTINUE / CANCEL: the would-block pattern. The
// executor parks the connection and hands the work to the ExecutorPool; the
// task never touches the connection: CREATE's completion is posted to the
// owner loop, which answers and unparks; CONTINUE's frames go through the
// Inbox and its end is posted the same way (range_scan.h says more).
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>

#include "common/byte_order.h"
#include "net/event_loop.h"
#include "net/inbox.h"
#include "protocol/leb128.h"
#include "protocol/response.h"
#include "server/cookie.h"

namespace memkv::server {

using mcbp::Status;

namespace {

int64_t steadyMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

ScanId scanIdFrom(const uint8_t* p) {
  ScanId id;
  std::memcpy(id.data(), p, id.size());
  return id;
}

// Response flags (the 4-byte extras of every CONTINUE response).
constexpr uint32_t kKeyOnlyFlags = 0;
constexpr uint32_t kDocumentFlags = 1;
// Document mode: flags, expiry, seqno, cas, datatype before key and value.
constexpr size_t kDocumentMetaSize = 4 + 4 + 8 + 8 + 1;
// A frame of the scan holds about this much, so one slow client's frames
// stay small against the Inbox budget and other connections' buffers.
constexpr size_t kFrameTarget = 32 << 10;
// Values this large travel by reference to their item, never copied.
constexpr size_t kReferenceValueAt = 4096;

size_t lebSize(size_t n) {
  size_t bytes = 1;
  while (n >= 0x80) {
    n >>= 7;
    ++bytes;
  }
  return bytes;
}

uint8_t* putLeb(uint8_t* p, size_t n) {
  do {
    uint8_t b = n & 0x7f;
    n >>= 7;
    if (n != 0) b |= 0x80;
    *p++ = b;
  } while (n != 0);
  return p;
}

void freeBuffer(void* ctx) {
  std::free(ctx);
}

// A frame's bytes, cut into pieces around the values sent by reference;
// freed when the last piece has been sent (or dropped).
struct FrameBuffer {
  std::atomic<uint32_t> pieces;
  uint8_t* data() { return reinterpret_cast<uint8_t*>(this + 1); }
};

void releasePiece(void* ctx) {
  auto* buffer = static_cast<FrameBuffer*>(ctx);
  if (buffer->pieces.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    buffer->~FrameBuffer();
    std::free(buffer);
  }
}

void releaseItem(void* ctx) {
  static_cast<engine::Item*>(ctx)->unref();
}

// One CONTINUE: runs on the ExecutorPool, possibly in several turns (the
// Inbox pauses it when the client reads slowly).
class ContinueJob final : public std::enable_shared_from_this<ContinueJob> {
 public:
  ContinueJob(RangeScanHandle scan, RangeScanRegistry& registry, engine::ExecutorPool& pool,
              std::shared_ptr<net::Inbox> inbox, net::EventLoop& loop,
              std::weak_ptr<SessionAnchor> anchor, uint32_t opaque, uint32_t item_limit,
              uint32_t time_limit_ms, uint32_t byte_limit, bool json)
      : scan_(std::move(scan)),
        registry_(registry),
        pool_(pool),
        inbox_(std::move(inbox)),
        loop_(loop),
        anchor_(std::move(anchor)),
        opaque_(opaque),
        item_limit_(item_limit),
        byte_limit_(byte_limit),
        deadline_ms_(time_limit_ms == 0 ? 0 : steadyMs() + time_limit_ms),
        datatype_mask_(json ? mcbp::datatype::kJson : 0) {}

  void start() {
    // Runs on the owner thread when the Inbox has drained enough. It holds
    // the job (nothing else does while it is paused); the cycle ends when
    // complete() clears the callback or the connection closes the Inbox.
    inbox_->setOnResume([self = shared_from_this()] { self->resume(); });
    submit();
  }

 private:
  // One turn runs at a time. A turn that filled the Inbox parks the job
  // (kRunning -> kPaused) only at its end, after its frame is whole; a
  // resume that arrives while the turn is still running is remembered
  // (kRunning -> kResumeRequested) and the turn carries on instead of
  // parking. So frames never interleave and the job never runs twice.
  enum Phase : uint8_t { kRunning, kPaused, kResumeRequested, kDone };

  void resume() {
    uint8_t expected = kPaused;
    if (phase_.compare_exchange_strong(expected, kRunning)) {
      submit();
      return;
    }
    expected = kRunning;
    phase_.compare_exchange_strong(expected, kResumeRequested);
  }

  // End of a turn that filled the Inbox: park, unless a resume came first.
  bool parkOrContinue() {
    uint8_t expected = kRunning;
    if (phase_.compare_exchange_strong(expected, kPaused)) return true;
    phase_.store(kRunning);  // a resume arrived during the turn
    return false;
  }

  void submit() {
    auto self = shared_from_this();
    if (!pool_.submit(engine::TaskPriority::kLow, [self] { self->run(); })) {
      self->finish(Status::RangeScanCancelled);  // shutting down
    }
  }

  void run() {
    for (;;) {
      if (scan_->state() == RangeScan::State::kCancelled) {
        finish(Status::RangeScanCancelled);
        return;
      }
      const Turn turn = sendFrame();
      if (turn == Turn::kDone) return;
      if (turn == Turn::kPaused && parkOrContinue()) return;
    }
  }

  enum class Turn : uint8_t { kMore, kPaused, kDone };

  // Encodes and queues one response frame.
  Turn sendFrame() {
    const auto& items = scan_->items();
    const bool key_only = scan_->keyOnly();
    // Choose this frame's items.
    const size_t first = scan_->next;
    size_t last = first;
    size_t body = 4;  // flags
    size_t frame_bytes = 0;
    Status final_status = Status::Success;
    while (last < items.size()) {
      if (items_sent_ > 0 && limitReached()) {
        final_status = Status::RangeScanMore;
        break;
      }
      if (last > first && frame_bytes >= kFrameTarget) break;
      const engine::Item& item = *items[last].item;
      const size_t key = item.key().size();
      size_t size = lebSize(key) + key;
      if (!key_only) {
        const size_t value = item.value().size();
        size += kDocumentMetaSize + lebSize(value) + value;
      }
      body += size;
      frame_bytes += size;
      bytes_sent_ += key + (key_only ? 0 : item.value().size());
      ++items_sent_;
      ++last;
    }
    if (last == items.size()) final_status = Status::RangeScanComplete;
    scan_->next = last;

    // Encode: header, extras and small documents into buffers; large values
    // as references to their items.
    std::vector<net::Fragment> pieces;
    size_t buffer_cap = mcbp::kHeaderSize + 4;
    for (size_t i = first; i < last; ++i) {
      const engine::Item& item = *items[i].item;
      buffer_cap += kDocumentMetaSize + 2 * 5 + item.key().size();
      if (!key_only && item.value().size() < kReferenceValueAt) buffer_cap += item.value().size();
    }
    void* memory = std::malloc(sizeof(FrameBuffer) + buffer_cap);
    if (memory == nullptr) {
      finish(Status::Enomem);
      return Turn::kDone;
    }
    auto* frame_buffer = new (memory) FrameBuffer{};
    uint8_t* buffer = frame_buffer->data();
    mcbp::encodeResponseHeader(
        buffer, {static_cast<uint8_t>(mcbp::Opcode::RangeScanContinue), final_status, 4, 0,
                 static_cast<uint32_t>(body), opaque_, 0, 0});
    storeBe32(buffer + mcbp::kHeaderSize, key_only ? kKeyOnlyFlags : kDocumentFlags);
    uint8_t* segment = buffer;
    uint8_t* p = buffer + mcbp::kHeaderSize + 4;
    for (size_t i = first; i < last; ++i) {
      engine::Item& item = *items[i].item;
      const std::string_view key = item.key();
      if (!key_only) {
        storeBe32(p, item.flags());
        storeBe32(p + 4, items[i].expiry);
        storeBe64(p + 8, 0);  // memkv keeps no per-document seqno
        storeBe64(p + 16, item.cas());
        p[24] = item.datatype() & datatype_mask_;
        p += kDocumentMetaSize;
      }
      p = putLeb(p, key.size());
      std::memcpy(p, key.data(), key.size());
      p += key.size();
      if (key_only) continue;
      const auto value = item.value();
      p = putLeb(p, value.size());
      if (value.size() < kReferenceValueAt) {
        if (!value.empty()) std::memcpy(p, value.data(), value.size());  // the one copy
        p += value.size();
        continue;
      }
      // Close the bytes so far as one piece; the value follows by reference.
      if (p != segment) {
        pieces.push_back({segment, static_cast<size_t>(p - segment), &releasePiece, frame_buffer});
      }
      item.ref();
      pieces.push_back({value.data(), value.size(), &releaseItem, &item});
      segment = p;
    }
    if (p != segment) {
      pieces.push_back({segment, static_cast<size_t>(p - segment), &releasePiece, frame_buffer});
    }
    uint32_t buffer_pieces = 0;
    for (const net::Fragment& piece : pieces) buffer_pieces += piece.ctx == frame_buffer;
    frame_buffer->pieces.store(buffer_pieces, std::memory_order_relaxed);

    bool paused = false;
    for (size_t i = 0; i < pieces.size(); ++i) {
      switch (inbox_->push(pieces[i], /*may_copy=*/false)) {
        case net::Inbox::Push::kOk:
          break;
        case net::Inbox::Push::kPause:
          paused = true;
          break;
        case net::Inbox::Push::kClosed:
          // The connection is gone (the rest of this frame is released
          // unsent): so is the scan.
          for (size_t j = i + 1; j < pieces.size(); ++j) pieces[j].release(pieces[j].ctx);
          scan_->cancel();
          registry_.remove(scan_->id());
          return Turn::kDone;
      }
    }
    if (final_status != Status::Success) {
      complete(final_status);
      return Turn::kDone;
    }
    return paused ? Turn::kPaused : Turn::kMore;
  }

  bool limitReached() const {
    if (item_limit_ != 0 && items_sent_ >= item_limit_) return true;
    if (byte_limit_ != 0 && bytes_sent_ >= byte_limit_) return true;
    return deadline_ms_ != 0 && steadyMs() >= deadline_ms_;
  }

  // An ending frame with no items (cancelled, failed).
  void finish(Status status) {
    uint8_t frame[mcbp::kHeaderSize + 4];
    const uint32_t flags = scan_->keyOnly() ? kKeyOnlyFlags : kDocumentFlags;
    mcbp::encodeResponseHeader(frame, {static_cast<uint8_t>(mcbp::Opcode::RangeScanContinue),
                                       status, 4, 0, 4, opaque_, 0, 0});
    storeBe32(frame + mcbp::kHeaderSize, flags);
    auto* copy = static_cast<uint8_t*>(std::malloc(sizeof frame));
    if (copy != nullptr) {
      std::memcpy(copy, frame, sizeof frame);
      inbox_->push({copy, sizeof frame, &freeBuffer, copy}, false);
    }
    if (status != Status::RangeScanMore) scan_->cancel();
    complete(status);
  }

  // The CONTINUE is over: settle the scan, then let the connection go on.
  void complete(Status status) {
    phase_.store(kDone);
    if (status == Status::RangeScanMore) {
      scan_->endContinue(steadyMs());
    } else {
      registry_.remove(scan_->id());
    }
    inbox_->setOnResume(nullptr);
    loop_.post([anchor = anchor_] {
      if (auto a = anchor.lock(); a && a->session) a->session->unpark();
    });
  }

  const RangeScanHandle scan_;
  RangeScanRegistry& registry_;
  engine::ExecutorPool& pool_;
  const std::shared_ptr<net::Inbox> inbox_;
  net::EventLoop& loop_;
  const std::weak_ptr<SessionAnchor> anchor_;
  const uint32_t opaque_;
  const uint32_t item_limit_;
  const uint32_t byte_limit_;
  const int64_t deadline_ms_;
  const uint8_t datatype_mask_;
  uint64_t items_sent_ = 0;
  uint64_t bytes_sent_ = 0;
  std::atomic<uint8_t> phase_{kRunning};
};

// Answers a parked CREATE on the owner thread.
void answerCreate(McbpSession& session, const mcbp::RequestHeader& header, Status status,
                  std::span<const uint8_t> value) {
  ResponseWriter out(session.connection(), session.worker().commands,
                     session.server().settings().cas_enabled);
  if (status == Status::Success) {
    out.send(header, status, {}, {}, value, 0);
  } else {
    out.sendStatus(header, status);
  }
  session.unpark();
}

}  // namespace

void executeRangeScanCreate(Cookie& c) {
  RangeScanConfig config;
  switch (parseRangeScanConfig(
      {reinterpret_cast<const char*>(c.request.value.data()), c.request.value.size()}, &config)) {
    case ConfigError::kOk:
      break;
    case ConfigError::kInvalid:
      c.out.sendStatus(c.header(), Status::Einval);
      return;
    case ConfigError::kUnknownCollection:
      c.out.sendStatus(c.header(), Status::UnknownCollection);
      return;
  }
  // The vbucket is the header's: the SDK makes one scan per vbucket.
  const uint16_t vbucket = c.header().vbucket;
  if (vbucket >= engine::kVBucketCount) {
    c.out.sendStatus(c.header(), Status::NotMyVbucket);
    return;
  }
  BucketHandle bucket = c.session.bucketHandle();
  if (config.snapshot_requirements) {
    // One node, no failover: the uuid must be this vbucket's, and the seqno
    // already reached (memkv answers at once instead of waiting).
    const engine::VBucketInfo info = bucket->bucket.vbucketInfo(vbucket);
    if (config.vb_uuid != info.uuid) {
      c.out.sendStatus(c.header(), Status::VbUuidNotEqual);
      return;
    }
    if (config.seqno > info.high_seqno) {
      c.out.sendStatus(c.header(), Status::Etmpfail);
      return;
    }
  }
  // The snapshot (and its sort) runs on the pool: a vbucket may hold many
  // items, and other connections of this worker must not wait for them.
  c.session.park();
  const mcbp::RequestHeader header = c.header();
  ServerContext& server = c.server;
  net::EventLoop& loop = c.connection.loop();
  auto anchor = c.session.anchor();
  const void* owner = &c.session;
  auto task = [bucket, config, vbucket, header, &server, &loop, anchor, owner] {
    std::vector<engine::ScanItem> items =
        config.sampling ? bucket->bucket.sampleVBucket(vbucket, config.samples, config.seed)
                        : bucket->bucket.snapshotRange(vbucket, config.range);
    auto snapshot = std::make_shared<std::vector<engine::ScanItem>>(std::move(items));
    loop.post([bucket, config, vbucket, header, &server, anchor, owner, snapshot] {
      auto a = anchor.lock();
      if (!a || !a->session) return;  // the connection closed meanwhile
      McbpSession& session = *a->session;
      if (snapshot->empty()) {
        answerCreate(session, header, Status::KeyEnoent, {});
        return;
      }
      const ScanId id = newScanId();
      auto scan = std::make_shared<RangeScan>(id, bucket, vbucket, config.key_only,
                                              std::move(*snapshot), owner, steadyMs());
      if (!server.rangeScans().add(std::move(scan))) {
        answerCreate(session, header, Status::Ebusy, {});
        return;
      }
      answerCreate(session, header, Status::Success, id);
    });
  };
  if (!server.executors().submit(engine::TaskPriority::kHigh, std::move(task))) {
    c.session.unpark();
    c.out.sendStatus(c.header(), Status::Etmpfail);
  }
}

void executeRangeScanContinue(Cookie& c) {
  const uint8_t* extras = c.request.extras.data();
  const ScanId id = scanIdFrom(extras);
  const uint32_t item_limit = loadBe32(extras + 16);
  const uint32_t time_limit_ms = loadBe32(extras + 20);
  const uint32_t byte_limit = loadBe32(extras + 24);
  RangeScanRegistry& registry = c.server.rangeScans();
  RangeScanHandle scan = registry.find(id);
  if (!scan || scan->bucket() != c.session.bucketHandle()) {
    c.out.sendStatus(c.header(), Status::KeyEnoent);
    return;
  }
  if (scan->state() == RangeScan::State::kCancelled) {
    registry.remove(id);
    uint8_t flags[4];
    storeBe32(flags, scan->keyOnly() ? kKeyOnlyFlags : kDocumentFlags);
    c.out.send(c.header(), Status::RangeScanCancelled, flags, {}, {}, 0);
    return;
  }
  if (!scan->beginContinue()) {
    c.out.sendStatus(c.header(), Status::Ebusy);  // another CONTINUE is running
    return;
  }
  c.session.park();
  auto job = std::make_shared<ContinueJob>(
      std::move(scan), registry, c.server.executors(), c.connection.inbox(), c.connection.loop(),
      c.session.anchor(), c.header().opaque, item_limit, time_limit_ms, byte_limit,
      c.session.features().has(mcbp::Feature::Json));
  job->start();
}

void executeRangeScanCancel(Cookie& c) {
  const ScanId id = scanIdFrom(c.request.extras.data());
  RangeScanHandle scan = c.server.rangeScans().find(id);
  if (!scan || scan->bucket() != c.session.bucketHandle()) {
    c.out.sendStatus(c.header(), Status::KeyEnoent);
    return;
  }
  // A CONTINUE running elsewhere sees the flag and ends with CANCELLED.
  scan->cancel();
  c.server.rangeScans().remove(id);
  c.out.send(c.header(), Status::Success, {}, {}, {}, 0);
}

}  // namespace memkv::server
