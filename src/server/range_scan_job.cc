#include "server/range_scan_job.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "common/byte_order.h"
#include "common/clock.h"
#include "protocol/datatype.h"
#include "protocol/leb128.h"
#include "protocol/opcode.h"
#include "protocol/range_scan.h"
#include "protocol/response.h"
#include "server/response_writer.h"

namespace memkv::server {

namespace rs = mcbp::range_scan;
using mcbp::Status;

namespace {

// A frame of the scan holds about this much, so one slow client's frames
// stay small against the Inbox budget and other connections' buffers.
constexpr size_t kFrameTarget = 32 << 10;
// The most a u32 length takes in LEB128.
constexpr size_t kMaxLengthLeb = mcbp::leb128Size(UINT32_MAX);

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

uint32_t flagsOf(const RangeScan& scan) {
  return scan.keyOnly() ? rs::kKeyOnlyFlags : rs::kDocumentFlags;
}

}  // namespace

bool TurnGate::resume() {
  uint8_t expected = kPaused;
  if (phase_.compare_exchange_strong(expected, kRunning)) return true;
  expected = kRunning;
  phase_.compare_exchange_strong(expected, kResumeRequested);
  return false;
}

bool TurnGate::park() {
  uint8_t expected = kRunning;
  if (phase_.compare_exchange_strong(expected, kPaused)) return true;
  phase_.store(kRunning);  // a resume arrived during the turn
  return false;
}

ContinueJob::ContinueJob(RangeScanHandle scan, RangeScanRegistry& registry,
                         engine::ExecutorPool& pool, std::shared_ptr<net::Inbox> inbox,
                         net::EventLoop& loop, OnComplete on_complete, uint32_t opaque,
                         ContinueLimits limits, bool json)
    : scan_(std::move(scan)),
      registry_(registry),
      pool_(pool),
      inbox_(std::move(inbox)),
      loop_(loop),
      on_complete_(std::move(on_complete)),
      opaque_(opaque),
      limits_(limits),
      deadline_ms_(limits.time_ms == 0 ? 0 : steadyNowMs() + limits.time_ms),
      datatype_mask_(json ? mcbp::datatype::kJson : 0) {}

void ContinueJob::start() {
  // Runs on the owner thread when the Inbox has drained enough. It holds
  // the job (nothing else does while it is parked); the cycle ends when
  // complete() clears the callback or the connection closes the Inbox.
  inbox_->setOnResume([self = shared_from_this()] { self->resume(); });
  submit();
}

void ContinueJob::resume() {
  if (gate_.resume()) submit();
}

void ContinueJob::submit() {
  auto self = shared_from_this();
  if (!pool_.submit(engine::TaskPriority::kLow, [self] { self->run(); })) {
    finish(Status::RangeScanCancelled);  // shutting down
  }
}

void ContinueJob::run() {
  for (;;) {
    if (scan_->state() == RangeScan::State::kCancelled) {
      finish(Status::RangeScanCancelled);
      return;
    }
    const Turn turn = sendFrame();
    if (turn == Turn::kDone) return;
    if (turn == Turn::kPaused && gate_.park()) return;
  }
}

ContinueJob::Turn ContinueJob::sendFrame() {
  const auto& items = scan_->items();
  const bool key_only = scan_->keyOnly();
  // Choose this frame's items.
  const size_t first = scan_->next;
  size_t last = first;
  size_t body = rs::kResponseExtrasSize;
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
    size_t size = mcbp::leb128Size(key) + key;
    if (!key_only) {
      const size_t value = item.value().size();
      size += rs::kDocumentMetaSize + mcbp::leb128Size(value) + value;
    }
    body += size;
    frame_bytes += size;
    bytes_sent_ += key + (key_only ? 0 : item.value().size());
    ++items_sent_;
    ++last;
  }
  if (last == items.size()) final_status = Status::RangeScanComplete;
  scan_->next = last;

  // Encode: header, extras and small documents into one buffer; large
  // values as references to their items.
  std::vector<net::Fragment> pieces;
  size_t buffer_cap = mcbp::kHeaderSize + rs::kResponseExtrasSize;
  for (size_t i = first; i < last; ++i) {
    const engine::Item& item = *items[i].item;
    buffer_cap += rs::kDocumentMetaSize + 2 * kMaxLengthLeb + item.key().size();
    if (!key_only && item.value().size() < kCopyValueThreshold) buffer_cap += item.value().size();
  }
  void* memory = std::malloc(sizeof(FrameBuffer) + buffer_cap);
  if (memory == nullptr) {
    finish(Status::Enomem);
    return Turn::kDone;
  }
  auto* frame_buffer = new (memory) FrameBuffer{};
  uint8_t* buffer = frame_buffer->data();
  mcbp::encodeResponseHeader(
      buffer, {static_cast<uint8_t>(mcbp::Opcode::RangeScanContinue), final_status,
               rs::kResponseExtrasSize, 0, static_cast<uint32_t>(body), opaque_, 0, 0});
  storeBe32(buffer + mcbp::kHeaderSize, flagsOf(*scan_));
  uint8_t* segment = buffer;
  uint8_t* p = buffer + mcbp::kHeaderSize + rs::kResponseExtrasSize;
  for (size_t i = first; i < last; ++i) {
    engine::Item& item = *items[i].item;
    const std::string_view key = item.key();
    if (!key_only) {
      storeBe32(p + rs::kMetaFlagsOffset, item.flags());
      storeBe32(p + rs::kMetaExpiryOffset, items[i].expiry);
      storeBe64(p + rs::kMetaSeqnoOffset, item.seqno());
      storeBe64(p + rs::kMetaCasOffset, item.cas());
      p[rs::kMetaDatatypeOffset] = item.datatype() & datatype_mask_;
      p += rs::kDocumentMetaSize;
    }
    p = mcbp::encodeLeb128(p, key.size());
    std::memcpy(p, key.data(), key.size());
    p += key.size();
    if (key_only) continue;
    const auto value = item.value();
    p = mcbp::encodeLeb128(p, value.size());
    if (value.size() < kCopyValueThreshold) {
      if (!value.empty()) std::memcpy(p, value.data(), value.size());  // the one copy
      p += value.size();
      totals_.bytes_copied += value.size();
      continue;
    }
    // Close the bytes so far as one piece; the value follows by reference.
    if (p != segment) {
      pieces.push_back({segment, static_cast<size_t>(p - segment), &releasePiece, frame_buffer});
    }
    item.ref();
    pieces.push_back({value.data(), value.size(), &releaseItemReference, &item});
    totals_.bytes_referenced += value.size();
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
        gate_.finish();
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

bool ContinueJob::limitReached() const {
  if (limits_.items != 0 && items_sent_ >= limits_.items) return true;
  if (limits_.bytes != 0 && bytes_sent_ >= limits_.bytes) return true;
  return deadline_ms_ != 0 && steadyNowMs() >= deadline_ms_;
}

void ContinueJob::finish(Status status) {
  constexpr size_t kSize = mcbp::kHeaderSize + rs::kResponseExtrasSize;
  auto* frame = static_cast<uint8_t*>(std::malloc(kSize));
  if (frame != nullptr) {
    mcbp::encodeResponseHeader(
        frame, {static_cast<uint8_t>(mcbp::Opcode::RangeScanContinue), status,
                rs::kResponseExtrasSize, 0, rs::kResponseExtrasSize, opaque_, 0, 0});
    storeBe32(frame + mcbp::kHeaderSize, flagsOf(*scan_));
    inbox_->push({frame, kSize, &freeBuffer, frame}, false);
  }
  if (status != Status::RangeScanMore) scan_->cancel();
  complete(status);
}

void ContinueJob::complete(Status status) {
  gate_.finish();
  if (status == Status::RangeScanMore) {
    scan_->endContinue(steadyNowMs());
  } else {
    registry_.remove(scan_->id());
  }
  inbox_->setOnResume(nullptr);
  loop_.post([on_complete = std::move(on_complete_), totals = totals_] { on_complete(totals); });
}

}  // namespace memkv::server
