#pragma once
// One load-generating thread: its own epoll loop, its own connections, its own
// random stream and statistics, so threads share nothing while running. A
// run is: connect, optional prefill (each thread sets the keys i with
// i % threads == its index), a barrier so every thread starts the measured
// phase together, then warmup and the measured window (or a request budget).
//
// Hit-ratio workloads ride on the same loop: a one-time sweep over cold keys
// (each thread takes the sweep keys i with i % threads == its index, in
// order, on every other new request once --sweep-start passed), and a shift
// to a fresh key space with other value sizes at --shift-at. A key's index
// says its space (KeySpaces), so a reply is attributed without more state.
#include <array>
#include <atomic>
#include <barrier>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bench_options.h"
#include "connection.h"
#include "key_chooser.h"
#include "run_stats.h"
#include "split_mix.h"
#include "tls_client.h"

namespace memkv::bench {

struct PlannedRequest {
  mcbp::Opcode opcode;
  uint64_t key_index;
  uint32_t value_length;  // SET only
  uint16_t vbucket = 0;   // the header's vbucket: the key's with --cluster-map
};

// --cluster-map: where every vbucket lives.
struct Routing {
  struct Node {
    std::string host;
    uint16_t port;
  };
  std::vector<Node> nodes;
  std::array<uint16_t, 1024> owner{};  // node index by vbucket
};

// What the reply to one request said, in any protocol. A GET's keys are
// hits or misses, unless an error reply cut it short (errors are counted as
// they arrive, through onErrorStatus / onErrorReply; the keys still count as
// gets, as an error status to a binary GET always has).
struct Answer {
  uint32_t keys = 0;  // keys the request asked for (0 for a SET)
  uint32_t hits = 0;
  uint32_t misses = 0;
};

// What all workers share, read-only while they run (plus the stop flag and
// the barrier, which are made for sharing).
struct SharedRun {
  const BenchOptions& options;
  const KeyChooser& keys;
  std::span<const uint8_t> filler;  // value bytes when not verifying
  const std::atomic<bool>& stop;
  std::barrier<>& start_line;
  const TlsClient* tls;    // null without --tls
  const Routing* routing;  // null without --cluster-map
};

uint64_t monotonicNanos();

class Worker final {
 public:
  Worker(const SharedRun& shared, int index);

  // The thread body: returns when the run is over. Never throws.
  void run();
  const RunStats& stats() const { return stats_; }

  // For this worker's connections.
  const BenchOptions& options() const { return shared_.options; }
  std::span<const uint8_t> filler() const { return shared_.filler; }
  uint64_t nextVersion() { return (static_cast<uint64_t>(index_ + 1) << 48) | ++version_seq_; }
  // The next request to send at now_ns on a connection to `node` (its index
  // in the cluster map; -1 without one), or false when there is none.
  bool planNext(uint64_t now_ns, int node, PlannedRequest* out);
  // Another key from the key distribution (a multiget's keys after its first).
  uint64_t drawKey() { return shared_.keys.next(rng_); }
  // The request is done: latency, and counts if it falls in the window.
  void onResponse(const InFlight& request, const Answer& answer, uint64_t now_ns);
  // One key of a GET missed (--set-on-miss queues a SET of it).
  void onMiss(uint64_t key_index);
  // --verify: checks a hit's value; flags empty when the reply had none.
  void checkHit(uint64_t key_index, std::optional<uint32_t> flags, std::span<const uint8_t> value);
  void onErrorStatus(uint16_t status) { ++stats_.errors_by_status[status]; }
  // An SSL_write wanted the socket (or a read) first and will be retried.
  void onTlsWriteBlocked() { ++stats_.tls_write_retries; }
  void onErrorReply(std::string_view line);
  void onConnectionFailed(bool protocol_error, const char* why, int error);

 private:
  enum class Phase : uint8_t { kPrefill, kRun, kDone };

  bool connectAll();
  void startRun(uint64_t now_ns);
  void loop();
  void updateInterest(size_t slot);
  // --cluster-map: planNext for a connection to `node`, and a key's vbucket.
  bool planRouted(int node, PlannedRequest* out);
  // Every key of this thread's prefill was sent (on every node's connections).
  bool prefillIssued() const;
  uint16_t vbucketOfKey(uint64_t key_index) const;
  // A value length for a SET of this key: the shifted space has its own sizes.
  uint32_t valueLength(uint64_t key_index);
  // Whether this new request is the sweep's (every other one while it runs).
  bool takeSweepTurn(uint64_t now_ns);
  // Marks the end of this worker's part of the sweep once all of it was answered.
  void noteSweepEnd(uint64_t now_ns);
  void countInterval(const InFlight& request, const Answer& answer, bool sweep);
  bool inWindow(uint64_t sent_ns, uint64_t now_ns) const {
    return phase_ == Phase::kRun && sent_ns >= measure_start_ns_ && now_ns <= measure_end_ns_;
  }

  const SharedRun& shared_;
  const KeySpaces spaces_;
  int index_;
  SplitMix rng_;
  int epoll_fd_ = -1;
  std::vector<std::unique_ptr<Connection>> conns_;
  std::vector<bool> polling_out_;               // by connection slot: EPOLLOUT registered
  std::vector<uint64_t> prefill_next_by_node_;  // --cluster-map: each node's prefill cursor
  std::vector<uint64_t> missed_keys_;           // --set-on-miss: keys to SET next
  RunStats stats_;

  Phase phase_ = Phase::kPrefill;
  uint64_t prefill_next_ = 0;
  uint64_t budget_left_ = UINT64_MAX;  // requests still to issue (--requests)
  uint64_t version_seq_ = 0;
  uint64_t measure_start_ns_ = 0;
  uint64_t measure_end_ns_ = UINT64_MAX;
  uint64_t hard_deadline_ns_ = UINT64_MAX;
  uint64_t run_start_ns_ = 0;  // the clock --sweep-start, --shift-at and intervals count on
  uint64_t sweep_start_ns_ = UINT64_MAX;
  uint64_t sweep_next_ = 0;         // the next sweep key (an offset into the sweep's space)
  uint64_t sweep_outstanding_ = 0;  // sweep GETs in flight, plus their SETs queued or in flight
  uint64_t sweep_end_ns_ = 0;       // 0 until this worker's part of the sweep ended
  bool sweep_turn_ = false;
  uint64_t shift_ns_ = UINT64_MAX;
  uint64_t interval_ns_ = 0;  // 0: no --report-interval
  uint64_t cpu_at_start_ns_ = 0;
  bool cpu_started_ = false;
  uint64_t last_response_ns_ = 0;
  int verify_reports_left_ = 10;
};

}  // namespace memkv::bench
