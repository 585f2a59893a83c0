#pragma once
// ContinueJob: one RANGE_SCAN_CONTINUE, run on the ExecutorPool in turns.
//
// A turn encodes response frames from the scan's snapshot and pushes them
// into the connection's Inbox (docs/architecture.md invariant 2). When a push
// reaches the Inbox budget (the client reads slowly) the turn ends after its
// frame is whole and the job parks; the owner thread resumes it through the
// Inbox's resume callback once the Inbox has drained, and a new turn is
// submitted. The job ends with a final frame (RANGE_SCAN_MORE, _COMPLETE,
// _CANCELLED or an error), settles the scan in the registry and posts its
// completion to the owner loop. If the connection closes meanwhile, the job
// ends without a completion: the Inbox drops its resume callback (the only
// reference to a parked job) and the session's close cancels the scan.
//
// Copies: a value under kCopyValueThreshold is copied once, from its item
// into the frame; a larger one travels by reference to its item, released
// when the kernel has taken the bytes. The Inbox is told not to copy scan
// frames again.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "engine/executor_pool.h"
#include "net/event_loop.h"
#include "net/inbox.h"
#include "protocol/status.h"
#include "server/range_scan.h"

namespace memkv::server {

// The turn discipline of a producer paused by an Inbox: one turn runs at a
// time; a turn that filled the Inbox parks only at its end, after its frame
// is whole; a resume that arrives while a turn still runs is remembered and
// the turn carries on instead of parking. So frames never interleave, the job
// never runs twice at once, and a resume is never lost. Thread-safe (the pool
// thread parks, the owner thread resumes).
class TurnGate final {
 public:
  // A turn is running when the gate is made (the first one is submitted).
  // Owner thread: true if the job was parked and the caller must submit a
  // turn; false if a turn is running (it will carry on) or the job is done.
  bool resume();
  // Pool thread, at the end of a turn that filled the Inbox: true if the job
  // is parked now (the turn stops); false if a resume came during the turn
  // (the turn carries on).
  bool park();
  // Any state -> done: later resumes do nothing.
  void finish() { phase_.store(kDone, std::memory_order_release); }

 private:
  enum Phase : uint8_t { kRunning, kPaused, kResumeRequested, kDone };
  std::atomic<uint8_t> phase_{kRunning};
};

// Limits of one CONTINUE, as the client sent them; 0 means none.
struct ContinueLimits {
  uint32_t items = 0;
  uint32_t time_ms = 0;
  uint32_t bytes = 0;
};

// What one CONTINUE sent of its documents' values (STAT bytes_copied and
// bytes_referenced, as the GET path counts them).
struct ContinueTotals {
  uint64_t bytes_copied = 0;
  uint64_t bytes_referenced = 0;
};

class ContinueJob final : public std::enable_shared_from_this<ContinueJob> {
 public:
  // Runs on the owner loop once the job has ended, unless the connection
  // closed first.
  using OnComplete = std::function<void(const ContinueTotals&)>;

  // Made with std::make_shared, then start()ed. The caller has moved the
  // scan into its continuing state (RangeScan::beginContinue). The registry,
  // pool and loop outlive every job (they are the server's).
  ContinueJob(RangeScanHandle scan, RangeScanRegistry& registry, engine::ExecutorPool& pool,
              std::shared_ptr<net::Inbox> inbox, net::EventLoop& loop, OnComplete on_complete,
              uint32_t opaque, ContinueLimits limits, bool json);

  // Owner thread: installs the resume callback and submits the first turn.
  void start();

 private:
  enum class Turn : uint8_t { kMore, kPaused, kDone };

  void resume();
  void submit();
  void run();
  // Encodes and queues one response frame.
  Turn sendFrame();
  bool limitReached() const;
  // An ending frame with no items (cancelled, failed).
  void finish(mcbp::Status status);
  // The CONTINUE is over: settle the scan, then let the connection go on.
  void complete(mcbp::Status status);

  const RangeScanHandle scan_;
  RangeScanRegistry& registry_;
  engine::ExecutorPool& pool_;
  const std::shared_ptr<net::Inbox> inbox_;
  net::EventLoop& loop_;
  OnComplete on_complete_;
  const uint32_t opaque_;
  const ContinueLimits limits_;
  const int64_t deadline_ms_;
  const uint8_t datatype_mask_;
  // Written by the one running turn; turns are ordered by the pool's queue.
  uint64_t items_sent_ = 0;
  uint64_t bytes_sent_ = 0;
  ContinueTotals totals_;
  TurnGate gate_;
};

}  // namespace memkv::server
