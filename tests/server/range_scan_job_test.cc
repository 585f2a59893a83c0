// ContinueJob (one RANGE_SCAN_CONTINUE in turns on the ExecutorPool) against a real pool, a
// real Inbox and a real EventLoop that stands in for the connection's owner thread. The test
// plays the connection: it drains the Inbox when it chooses, so where the job pauses and
// resumes is decided by the test, not by a socket. The TurnGate tests cover the one
// interleaving the test cannot force from outside: a resume that arrives during a turn.
#include "server/range_scan_job.h"

#include <sys/uio.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/byte_order.h"
#include "common/clock.h"
#include "common/crc32.h"
#include "engine/vbucket.h"
#include "net/buffer_pool.h"
#include "net/output_chain.h"
#include "protocol/leb128.h"
#include "protocol/range_scan.h"
#include "protocol/status.h"
#include "support/test_env.h"

namespace memkv::server {
namespace {

using mcbp::Status;
using std::chrono::milliseconds;
namespace rs = mcbp::range_scan;

// ---------------------------------------------------------------------------------------------
// TurnGate: every interleaving of park and resume, single-threaded.

TEST(TurnGateTest, AParkedJobIsResubmittedByOneResume) {
  TurnGate gate;
  EXPECT_TRUE(gate.park()) << "a turn that filled the Inbox parks";
  EXPECT_TRUE(gate.resume()) << "the resume submits the next turn";
  EXPECT_FALSE(gate.resume()) << "a second resume while that turn runs submits nothing more";
}

TEST(TurnGateTest, AResumeDuringATurnMakesTheTurnCarryOn) {
  TurnGate gate;
  EXPECT_FALSE(gate.resume()) << "a turn runs: nothing to submit";
  EXPECT_FALSE(gate.park()) << "the resume is remembered: the turn carries on";
  EXPECT_TRUE(gate.park()) << "the next full Inbox parks as usual";
  EXPECT_TRUE(gate.resume());
}

TEST(TurnGateTest, NothingResumesAFinishedJob) {
  TurnGate gate;
  gate.finish();
  EXPECT_FALSE(gate.resume());
  TurnGate parked;
  ASSERT_TRUE(parked.park());
  parked.finish();
  EXPECT_FALSE(parked.resume());
}

// ---------------------------------------------------------------------------------------------
// ContinueJob

// The connection's owner thread: a real EventLoop on its own thread.
class OwnerLoop {
 public:
  OwnerLoop() : thread_([this] { loop_.run(); }) {
    sync([] {});  // running (and owning) before the test starts
  }
  ~OwnerLoop() {
    loop_.stop();
    thread_.join();
  }
  net::EventLoop& loop() { return loop_; }
  // Runs fn on the owner thread and waits for it.
  void sync(const std::function<void()>& fn) {
    std::promise<void> done;
    loop_.post([&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }

 private:
  net::EventLoop loop_;
  std::thread thread_;
};

bool waitUntil(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + test::scaled(milliseconds(5000));
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return true;
}

struct Frame {
  uint16_t status;
  uint32_t opaque;
  std::string extras;
  std::vector<std::pair<std::string, std::string>> docs;  // key, value
};

// Splits what the connection would have sent into CONTINUE responses (document mode).
std::vector<Frame> parseFrames(const std::string& bytes) {
  std::vector<Frame> frames;
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  size_t at = 0;
  while (at + mcbp::kHeaderSize <= bytes.size()) {
    const uint8_t* h = p + at;
    Frame f;
    const uint8_t extlen = h[4];
    f.status = loadBe16(h + 6);
    const uint32_t body = loadBe32(h + 8);
    f.opaque = loadBe32(h + 12);
    EXPECT_LE(at + mcbp::kHeaderSize + body, bytes.size()) << "frames are whole";
    const uint8_t* b = h + mcbp::kHeaderSize;
    f.extras.assign(reinterpret_cast<const char*>(b), extlen);
    std::span<const uint8_t> v(b + extlen, body - extlen);
    while (!v.empty()) {
      v = v.subspan(rs::kDocumentMetaSize);
      const auto key = mcbp::decodeLeb128(v);
      EXPECT_TRUE(key.has_value());
      v = v.subspan(key->length);
      std::string k(reinterpret_cast<const char*>(v.data()), key->value);
      v = v.subspan(key->value);
      const auto value = mcbp::decodeLeb128(v);
      EXPECT_TRUE(value.has_value());
      v = v.subspan(value->length);
      f.docs.emplace_back(std::move(k),
                          std::string(reinterpret_cast<const char*>(v.data()), value->value));
      v = v.subspan(value->value);
    }
    frames.push_back(std::move(f));
    at += mcbp::kHeaderSize + body;
  }
  EXPECT_EQ(at, bytes.size());
  return frames;
}

class ContinueJobTest : public ::testing::Test {
 protected:
  static constexpr uint16_t kVb = 0;
  static constexpr uint32_t kOpaque = 0xc0ffee;
  // Small against a frame (about 32 KiB): the first frame reaches it.
  static constexpr size_t kInboxBudget = 16 << 10;

  void SetUp() override {
    bucket_ = std::make_shared<BucketEntry>("default", engine::BucketConfig{}, clock_, "uuid");
    // Documents of vbucket 0 whose values are copied (2 KiB) or referenced (8 KiB).
    for (uint64_t n = 0; expected_.size() < 64; ++n) {
      std::string key = "doc-" + std::to_string(n);
      const uint32_t crc = crc32(key.data(), key.size());
      if (engine::vbucketOf(crc, engine::kVBucketCount) != kVb) continue;
      std::string value(expected_.size() % 4 == 0 ? 8192 : 2048, static_cast<char>('a' + n % 26));
      engine::StoreRequest req;
      req.key = key;
      req.value = {reinterpret_cast<const uint8_t*>(value.data()), value.size()};
      ASSERT_EQ(bucket_->bucket.store(req).status, engine::EngineStatus::kSuccess);
      expected_.emplace_back(std::move(key), std::move(value));
    }
    std::sort(expected_.begin(), expected_.end());
    engine::KeyRange all;
    all.end = "\xff";
    std::vector<engine::ScanItem> items = bucket_->bucket.snapshotRange(kVb, all);
    ASSERT_EQ(items.size(), expected_.size());
    ScanId id{};
    ASSERT_TRUE(newScanId(&id));
    scan_ = std::make_shared<RangeScan>(id, bucket_, kVb, false, std::move(items),
                                        ScanOwner{this, ""}, 0);
    ASSERT_TRUE(registry_.add(scan_));
    owner_.sync([this] {
      buffers_ = std::make_unique<net::BufferPool>();
      out_ = std::make_unique<net::OutputChain>(*buffers_);
    });
    inbox_ = std::make_shared<net::Inbox>(owner_.loop(), kInboxBudget, [] {});
  }

  void TearDown() override {
    owner_.sync([this] {
      inbox_->close();
      out_.reset();
      buffers_.reset();
    });
    pool_.shutdown();
  }

  // CONTINUE with these limits, as the executor starts it.
  void startJob(ContinueLimits limits = {}) {
    ASSERT_TRUE(scan_->beginContinue());
    job_ = std::make_shared<ContinueJob>(
        scan_, registry_, pool_, inbox_, owner_.loop(),
        [this](const ContinueTotals& t) {
          totals_ = t;
          completions_.fetch_add(1);
        },
        kOpaque, limits, false);
    owner_.sync([this] { job_->start(); });
  }

  // The first turn has ended, paused by the Inbox: the task returned without completing.
  void expectPausedAfterFirstTurn() {
    ASSERT_TRUE(waitUntil([this] { return pool_.tasksRun() == 1; }));
    EXPECT_EQ(completions_.load(), 0) << "a paused job has not completed";
    EXPECT_EQ(pool_.queued(), 0u) << "a paused job has no turn waiting";
    EXPECT_GE(inbox_->queuedBytes(), kInboxBudget);
    EXPECT_EQ(inbox_->pauses(), 1u);
  }

  // The connection drains what the Inbox holds into its output and "sends" it.
  void drain() {
    owner_.sync([this] {
      inbox_->drainInto(*out_, SIZE_MAX);
      iovec iov[64];
      while (!out_->empty()) {
        const size_t n = out_->gather(iov, 64);
        size_t bytes = 0;
        for (size_t i = 0; i < n; ++i) {
          sent_.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
          bytes += iov[i].iov_len;
        }
        out_->drain(bytes);
      }
    });
  }

  // Drains until the job has completed and its last frame is drained too (the job queues
  // its last frame before it posts its completion).
  bool drainToCompletion() {
    return waitUntil([this] {
      const bool completed = completions_.load() == 1;
      drain();
      return completed;
    });
  }

  SystemClock clock_;
  BucketHandle bucket_;
  std::vector<std::pair<std::string, std::string>> expected_;  // sorted
  RangeScanRegistry registry_;
  RangeScanHandle scan_;
  engine::ExecutorPool pool_{1};
  OwnerLoop owner_;
  std::unique_ptr<net::BufferPool> buffers_;  // owner thread
  std::unique_ptr<net::OutputChain> out_;     // owner thread
  std::shared_ptr<net::Inbox> inbox_;
  std::shared_ptr<ContinueJob> job_;
  std::string sent_;
  std::atomic<int> completions_{0};
  ContinueTotals totals_;  // written on the owner thread before completions_
};

TEST_F(ContinueJobTest, PausesAtTheInboxBudgetAndResumesWhenDrained) {
  startJob();
  expectPausedAfterFirstTurn();
  ASSERT_TRUE(drainToCompletion());
  EXPECT_GT(pool_.tasksRun(), 1u) << "resumed in further turns";
  EXPECT_GT(inbox_->pauses(), 1u);

  const std::vector<Frame> frames = parseFrames(sent_);
  ASSERT_GE(frames.size(), 2u);
  std::vector<std::pair<std::string, std::string>> docs;
  for (size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i].opaque, kOpaque);
    EXPECT_EQ(frames[i].extras, std::string("\0\0\0\1", 4)) << "document flags on every frame";
    EXPECT_EQ(frames[i].status, i + 1 == frames.size()
                                    ? static_cast<uint16_t>(Status::RangeScanComplete)
                                    : static_cast<uint16_t>(Status::Success));
    docs.insert(docs.end(), frames[i].docs.begin(), frames[i].docs.end());
  }
  EXPECT_EQ(docs, expected_) << "every document once, in key order, across the pauses";
  EXPECT_EQ(registry_.size(), 0u) << "a complete scan is forgotten";
  size_t copied = 0, referenced = 0;
  for (const auto& [key, value] : expected_)
    (value.size() < 4096 ? copied : referenced) += value.size();
  EXPECT_EQ(totals_.bytes_copied, copied);
  EXPECT_EQ(totals_.bytes_referenced, referenced);
}

TEST_F(ContinueJobTest, AnItemLimitEndsWithMoreAndLeavesTheScanIdle) {
  startJob({5, 0, 0});
  ASSERT_TRUE(drainToCompletion());
  const std::vector<Frame> frames = parseFrames(sent_);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].status, static_cast<uint16_t>(Status::RangeScanMore));
  ASSERT_EQ(frames[0].docs.size(), 5u);
  EXPECT_EQ(frames[0].docs.front(), expected_.front());
  EXPECT_EQ(scan_->state(), RangeScan::State::kIdle);
  EXPECT_EQ(registry_.size(), 1u);
}

TEST_F(ContinueJobTest, CancelWhilePausedEndsWithCancelledWhenResumed) {
  startJob();
  expectPausedAfterFirstTurn();
  // RANGE_SCAN_CANCEL from another request.
  scan_->cancel();
  registry_.remove(scan_->id());
  ASSERT_TRUE(drainToCompletion());
  const std::vector<Frame> frames = parseFrames(sent_);
  ASSERT_GE(frames.size(), 2u);
  const Frame& last = frames.back();
  EXPECT_EQ(last.status, static_cast<uint16_t>(Status::RangeScanCancelled));
  EXPECT_EQ(last.extras, std::string("\0\0\0\1", 4));
  EXPECT_TRUE(last.docs.empty());
  size_t docs = 0;
  for (const Frame& f : frames) docs += f.docs.size();
  EXPECT_LT(docs, expected_.size()) << "nothing was sent after the cancel was seen";
}

TEST_F(ContinueJobTest, ConnectionClosedWhilePausedDropsTheJobWithoutCompleting) {
  startJob();
  expectPausedAfterFirstTurn();
  std::weak_ptr<ContinueJob> job = job_;
  std::weak_ptr<RangeScan> scan = scan_;
  job_.reset();
  scan_.reset();
  // The connection closes: its Inbox drops the frames and the resume callback (the only
  // holder of a parked job), and the session forgets its scans.
  owner_.sync([this] { inbox_->close(); });
  registry_.cancelOwnedBy(this);
  EXPECT_TRUE(waitUntil([&] { return job.expired() && scan.expired(); }))
      << "the job and the snapshot it pinned are freed";
  EXPECT_EQ(completions_.load(), 0) << "no completion for a closed connection";
  EXPECT_EQ(pool_.tasksRun(), 1u) << "no turn after the close";
  EXPECT_EQ(registry_.size(), 0u);
}

}  // namespace
}  // namespace memkv::server
