#pragma once
// Inbox: the only way a thread other than a connection's owner hands it
// output (docs/architecture.md invariant 2). Producers (range scans, DCP, stats
// tasks) push complete, self-owned frames; the owner loop is woken and moves
// them into the connection's OutputChain. Nobody but the owner ever touches
// the OutputChain or the socket, so the seeds' races (a background thread
// appending while the front end sends) cannot happen.
//
// Budget: the bytes queued here are bounded. A push that takes the Inbox to
// its budget is still accepted but answered kPause: the producer must stop
// and wait for its resume callback, which the owner runs (on the owner
// thread) once the Inbox has drained below half the budget. The owner drains
// only while the connection's output is below its high watermark, so a slow
// client stops the producer instead of growing memory.
//
// Lifetime: shared by the connection and its producers. When the connection
// closes, the Inbox is closed: later pushes are refused (kClosed) and their
// fragments released at once, and frames still queued are released.
#include <atomic>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include "net/fragment.h"
#include "net/owner_check.h"

namespace memkv::net {

class EventLoop;
class OutputChain;

class Inbox final : public std::enable_shared_from_this<Inbox> {
 public:
  enum class Push : uint8_t {
    kOk,     // queued
    kPause,  // queued, and the budget is reached: stop until resumed
    kClosed  // the connection is gone: the fragment was released
  };

  // deliver: runs on the owner loop when frames are waiting (the owning
  // connection pulls them). Called with the Inbox alive; never after close().
  Inbox(EventLoop& loop, size_t budget_bytes, std::function<void()> deliver);
  ~Inbox();
  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;

  // Any thread. Takes ownership of the fragment (released exactly once,
  // after its bytes were sent or when the connection goes away). A small
  // fragment is copied into the output unless may_copy is false (a producer
  // that already copied the bytes once, e.g. a range scan's values).
  Push push(const Fragment& fragment, bool may_copy = true);
  // Any thread: what to run (on the owner thread) when a paused producer may
  // continue. Replaces any earlier callback.
  void setOnResume(std::function<void()> on_resume);

  // Owner thread only. Moves queued frames into `out` while it holds less
  // than `out_limit` bytes; returns the bytes moved. Small frames are copied
  // into the chain's tail buffer and released at once; large ones are
  // appended by reference.
  size_t drainInto(OutputChain& out, size_t out_limit);
  // Owner thread only: refuse further pushes and release what is queued.
  void close();

  // Any thread, without the lock: the owner's hot path asks this on every
  // event. A push that races with it also posts a wake-up, so an owner that
  // read 0 still pulls the frame.
  size_t queuedBytes() const { return bytes_.load(std::memory_order_acquire); }
  // The most bytes ever queued at once (a producer that ignored kPause
  // would show here).
  size_t peakQueuedBytes() const;
  uint64_t pauses() const;

 private:
  void runDeliver();

  EventLoop& loop_;
  const size_t budget_bytes_;
  std::function<void()> deliver_;  // owner thread only
  mutable std::mutex mutex_;
  struct Queued {
    Fragment fragment;
    bool may_copy;
  };
  std::deque<Queued> frames_;        // guarded by mutex_
  std::atomic<size_t> bytes_{0};     // written under mutex_, read without it
  size_t peak_bytes_ = 0;            // guarded by mutex_
  bool closed_ = false;              // guarded by mutex_
  bool wake_pending_ = false;        // guarded by mutex_
  bool producer_paused_ = false;     // guarded by mutex_
  uint64_t pauses_ = 0;              // guarded by mutex_
  std::function<void()> on_resume_;  // guarded by mutex_
};

}  // namespace memkv::net
