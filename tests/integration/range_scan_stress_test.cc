// Bounded stress of range scans beside ordinary traffic.
//
// ManyScannersBesideVerifiedTraffic: 50 connections run scans of a few vbuckets each with tiny
// byte limits (many CONTINUEs, each a round trip through the ExecutorPool and the Inbox) while
// 50 others run SET/GET/DELETE on keys of their own and verify every read. Some scanners
// disconnect mid-scan (with a CONTINUE unread, or a scan idle). At the end: every completed
// scan returned its vbucket's preloaded documents exactly once, in key order, with their
// values; every verified read was right; the server answers; no connection ever had more than
// the high watermark plus one buffer of output queued.
//
// SlowReadersOfLargeScansStayBounded: a few connections scan a dense vbucket without limits
// while reading slowly (small receive buffer, small random reads): the scan must pause on the
// full Inbox instead of queueing the vbucket in memory, and still deliver everything.
//
// The first test keeps its 50 + 50 connections under sanitizers (TSan is the point: scans
// hand frames across threads); documents and durations are scaled (test_env.h).
// MEMKV_STRESS_SECONDS overrides the duration of the first test.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "integration/server_fixture.h"
#include "support/couchbase_client.h"
#include "support/range_scan_client.h"
#include "support/slow_reader.h"
#include "support/test_env.h"

namespace memkv::test {
namespace {

namespace cb = couchbase;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Default --output-high-watermark, and the slack of one buffer beyond it.
constexpr uint64_t kOutputBound = (1u << 20) + (64u << 10);

// Checks one CONTINUE response; appends its items. Returns "" or what is wrong.
std::string takeResponse(const Response& r, uint32_t opaque, bool key_only,
                         std::vector<ScanItem>* items) {
  if (r.opcode != scan_op::kContinue || r.opaque != opaque) {
    return "unexpected response opcode " + std::to_string(r.opcode) + " opaque " +
           std::to_string(r.opaque);
  }
  if (r.status != 0 && r.status != scan_status::kMore && r.status != scan_status::kComplete) {
    return "CONTINUE status " + std::to_string(r.status);
  }
  if (r.extras != be32(key_only ? 0 : 1)) return "bad CONTINUE extras";
  std::string error;
  if (!parseItems(r.value, key_only, items, &error)) return "malformed CONTINUE value: " + error;
  return "";
}

// The preloaded documents ("s:<n>") by vbucket, in key order.
struct Dataset {
  std::map<uint16_t, std::vector<ScanItem>> by_vbucket;
  std::vector<std::pair<std::string, std::string>> all;
};

Dataset makeDataset(size_t count) {
  Dataset d;
  std::map<uint16_t, std::map<std::string, std::string>> sorted;
  for (size_t i = 0; i < count; ++i) {
    std::string key = "s:" + std::to_string(i);
    const size_t size = 20 + (i * 37) % 500 + (i % 50 == 0 ? 6000 : 0);
    std::string value = valueBytes(i, size);
    sorted[cb::vbucketOf(key)][key] = value;
    d.all.emplace_back(std::move(key), std::move(value));
  }
  for (auto& [vb, docs] : sorted) {
    for (auto& [k, v] : docs) d.by_vbucket[vb].push_back({.key = k, .value = v});
  }
  return d;
}

class Failures {
 public:
  void add(std::string what) {
    std::lock_guard guard(mutex_);
    ++count_;
    if (first_.size() < 20) first_.push_back(std::move(what));
  }
  size_t count() const {
    std::lock_guard guard(mutex_);
    return count_;
  }
  std::string report() const {
    std::lock_guard guard(mutex_);
    std::string s;
    for (const std::string& f : first_) s += "  " + f + "\n";
    return s;
  }

 private:
  mutable std::mutex mutex_;
  size_t count_ = 0;
  std::vector<std::string> first_;
};

class RangeScanStressTest : public ServerTest {
 protected:
  RangeScanStressTest() : ServerTest({"-m", "512", "-c", "4096"}) {}

  void SetUp() override {
    if (targetFromEnv() == ServerKind::kMemcached) GTEST_SKIP() << "memkv-only: range scans";
    raiseFileLimit(1024);
    ServerTest::SetUp();
  }

  void expectServerHealthy() {
    McbpClient c = newClient();
    ASSERT_TRUE(c.connected());
    EXPECT_EQ(c.noop().status, status::kSuccess);
    const uint64_t queued_max = statU64(c, "output_bytes_queued_max");
    std::cout << "output_bytes_queued_max " << queued_max << "\n";
    EXPECT_LT(queued_max, kOutputBound)
        << "a connection queued more than the high watermark plus one buffer";
  }
};

// One scan of `vb` on `c` with random limits; checks it against the preloaded documents.
// Returns false if the connection is unusable afterwards.
bool scanAndVerify(McbpClient& c, uint16_t vb, const std::vector<ScanItem>& expected, bool key_only,
                   uint32_t byte_limit, uint32_t item_limit, uint32_t* opaque, Failures& failures,
                   std::atomic<uint64_t>& continues) {
  const std::string where = "vbucket " + std::to_string(vb) + ": ";
  const Response created = c.call(makeCreate(vb, fullRangeJson(key_only), ++*opaque));
  if (created.status == status::kKeyEnoent && expected.empty()) return true;
  if (created.status != status::kSuccess || created.value.size() != 16) {
    failures.add(where + "CREATE status " + std::to_string(created.status));
    return false;
  }
  std::vector<ScanItem> items;
  for (int n = 0;; ++n) {
    if (n > 100000) {
      failures.add(where + "too many CONTINUEs");
      return false;
    }
    const uint32_t op = ++*opaque;
    if (!c.send(makeContinue(created.value, item_limit, 0, byte_limit, op, vb))) return false;
    continues.fetch_add(1, std::memory_order_relaxed);
    const size_t before = items.size();
    uint16_t final_status = 0;
    while (final_status == 0) {
      Response r;
      const ReadStatus st = c.read(&r, scaled(milliseconds(10000)));
      if (st != ReadStatus::kOk) {
        failures.add(where + "CONTINUE read " + toString(st));
        return false;
      }
      if (const std::string e = takeResponse(r, op, key_only, &items); !e.empty()) {
        failures.add(where + e);
        return false;
      }
      final_status = r.status;
    }
    if (items.size() == before && final_status == scan_status::kMore) {
      failures.add(where + "a CONTINUE returned no item");
    }
    if (final_status == scan_status::kComplete) break;
  }
  // Complete and ordered: the preloaded keys exactly once, other keys ("w:") allowed.
  size_t next = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0 && !(items[i - 1].key < items[i].key)) {
      failures.add(where + "keys out of order: " + items[i - 1].key + " then " + items[i].key);
      return true;
    }
    if (items[i].key.rfind("s:", 0) != 0) {
      if (items[i].key.rfind("w:", 0) != 0) failures.add(where + "unknown key " + items[i].key);
      continue;
    }
    if (next >= expected.size() || items[i].key != expected[next].key) {
      failures.add(where + "unexpected or missing document near " + items[i].key);
      return true;
    }
    if (!key_only && items[i].value != expected[next].value) {
      failures.add(where + "wrong value for " + items[i].key);
    }
    ++next;
  }
  if (next != expected.size()) {
    failures.add(where + "scan returned " + std::to_string(next) + " of " +
                 std::to_string(expected.size()) + " documents");
  }
  return true;
}

TEST_F(RangeScanStressTest, ManyScannersBesideVerifiedTraffic) {
  const bool sanitized = sanitizedBuild();
  const int scanners = 50;
  const int verifiers = 50;
  const size_t doc_count = sanitized ? 2000 : 6000;
  const auto duration = std::chrono::seconds(envInt("MEMKV_STRESS_SECONDS", sanitized ? 8 : 3));
  const uint64_t seed = static_cast<uint64_t>(envInt("MEMKV_TEST_SEED", 20240601));

  const Dataset data = makeDataset(doc_count);
  ASSERT_TRUE(bulkSet(client_, data.all));
  std::vector<uint16_t> vbuckets;  // with documents
  for (const auto& [vb, docs] : data.by_vbucket) vbuckets.push_back(vb);
  static const std::vector<ScanItem> kNone;

  Failures failures;
  std::atomic<uint64_t> scans_done{0}, continues{0}, disconnects{0}, verified_ops{0};
  const auto deadline = Clock::now() + duration;
  std::vector<std::thread> threads;

  for (int id = 0; id < scanners; ++id) {
    threads.emplace_back([&, id] {
      std::mt19937_64 rng(seed + static_cast<uint64_t>(id));
      McbpClient c;
      if (!c.connect(server_->port())) {
        failures.add("scanner cannot connect");
        return;
      }
      uint32_t opaque = 0;
      while (Clock::now() < deadline) {
        if (rng() % 8 == 0) {
          // Leave mid-scan: a scan partly read, another CONTINUE (no limits) unread, then
          // close. Or leave a scan idle.
          const uint16_t vb = vbuckets[rng() % vbuckets.size()];
          const Response created = c.call(makeCreate(vb, fullRangeJson(rng() % 2 == 0), ++opaque));
          if (created.status == status::kSuccess) {
            if (rng() % 2 == 0) {
              c.send(makeContinue(created.value, 1, 0, 0, ++opaque, vb));
              if (rng() % 2 == 0) c.send(makeContinue(created.value, 0, 0, 0, ++opaque, vb));
            }
          } else {
            failures.add("CREATE before a disconnect: status " + std::to_string(created.status));
          }
          c.close();
          disconnects.fetch_add(1, std::memory_order_relaxed);
          if (!c.connect(server_->port())) {
            failures.add("scanner cannot reconnect");
            return;
          }
          continue;
        }
        // A few vbuckets, one after another, as the SDK does with concurrency 1; sometimes an
        // empty one.
        const int count = 1 + static_cast<int>(rng() % 3);
        for (int i = 0; i < count && Clock::now() < deadline; ++i) {
          const uint16_t vb = static_cast<uint16_t>(rng() % 1024);
          const auto it = data.by_vbucket.find(vb);
          const std::vector<ScanItem>& expected = it == data.by_vbucket.end() ? kNone : it->second;
          const bool key_only = rng() % 2 == 0;
          static constexpr uint32_t kByteLimits[] = {1, 100, 100, 100, 300, 0};
          const uint32_t bytes = kByteLimits[rng() % 6];
          const uint32_t items = bytes == 0 ? 2 : 0;
          if (!scanAndVerify(c, vb, expected, key_only, bytes, items, &opaque, failures,
                             continues)) {
            c.close();
            if (!c.connect(server_->port())) return;
            continue;
          }
          scans_done.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }

  for (int id = 0; id < verifiers; ++id) {
    threads.emplace_back([&, id] {
      std::mt19937_64 rng(seed * 31 + static_cast<uint64_t>(id));
      McbpClient c;
      if (!c.connect(server_->port())) {
        failures.add("verifier cannot connect");
        return;
      }
      constexpr int kKeys = 16;
      std::vector<std::string> keys;
      std::vector<std::string> current(kKeys);  // "" = absent
      for (int k = 0; k < kKeys; ++k) {
        keys.push_back("w:" + std::to_string(id) + ":" + std::to_string(k));
      }
      uint64_t version = 0;
      try {
        while (Clock::now() < deadline) {
          const int k = static_cast<int>(rng() % kKeys);
          const int action = static_cast<int>(rng() % 10);
          if (action < 5) {
            const std::string v = valueBytes((uint64_t(id) << 40) | ++version, 8 + rng() % 3000);
            if (c.set(keys[k], v).status != status::kSuccess) failures.add("SET failed");
            current[k] = v;
          } else if (action < 6) {
            c.remove(keys[k]);
            current[k].clear();
          } else {
            const Response g = c.get(keys[k]);
            if (current[k].empty()) {
              if (g.status != status::kKeyEnoent) failures.add("GET of a deleted key found it");
            } else if (g.status != status::kSuccess || g.value != current[k]) {
              failures.add("GET " + keys[k] + " returned status " + std::to_string(g.status) +
                           " or a wrong value");
            }
          }
          verified_ops.fetch_add(1, std::memory_order_relaxed);
        }
      } catch (const McbpError& e) {
        failures.add(std::string("verifier: ") + e.what());
      }
    });
  }
  for (std::thread& t : threads) t.join();

  std::cout << "scans " << scans_done << ", continues " << continues << ", disconnects "
            << disconnects << ", verified ops " << verified_ops << "\n";
  EXPECT_EQ(failures.count(), 0u) << failures.report();
  EXPECT_GT(scans_done.load(), static_cast<uint64_t>(scanners));
  EXPECT_GT(disconnects.load(), 0u);
  EXPECT_GT(verified_ops.load(), static_cast<uint64_t>(verifiers) * 10);
  expectServerHealthy();
  // Every scan a closed connection left behind is gone: a full scan of one vbucket still works.
  McbpClient c = newClient();
  uint32_t opaque = 0;
  const uint16_t vb = vbuckets.front();
  EXPECT_TRUE(
      scanAndVerify(c, vb, data.by_vbucket.at(vb), false, 0, 0, &opaque, failures, continues));
  EXPECT_EQ(failures.count(), 0u) << failures.report();
}

TEST_F(RangeScanStressTest, SlowReadersOfLargeScansStayBounded) {
  const bool sanitized = sanitizedBuild();
  const int readers = sanitized ? 2 : 4;
  const size_t docs = sanitized ? 300 : 600;
  constexpr uint16_t kVb = 123;
  // A dense vbucket: ~600 documents of 8-16 KiB (about 7 MB; several times what the Inbox,
  // the output buffer and the socket buffers hold together).
  std::vector<std::pair<std::string, std::string>> all;
  std::map<std::string, std::string> expected;
  for (uint64_t n = 0; all.size() < docs; ++n) {
    std::string key = "dense:" + std::to_string(n);
    if (cb::vbucketOf(key) != kVb) continue;
    std::string value = valueBytes(n, 8192 + (n * 977) % 8192);
    expected[key] = value;
    all.emplace_back(std::move(key), std::move(value));
  }
  ASSERT_TRUE(bulkSet(client_, all));

  Failures failures;
  std::vector<std::thread> threads;
  for (int id = 0; id < readers; ++id) {
    threads.emplace_back([&, id] {
      McbpClient c;
      if (!c.connect(server_->port())) {
        failures.add("cannot connect");
        return;
      }
      const Response created = c.call(makeCreate(kVb, fullRangeJson(false), 1));
      if (created.status != status::kSuccess) {
        failures.add("CREATE status " + std::to_string(created.status));
        return;
      }
      // The scan id works from any connection of its user: continue it from a slow reader.
      SlowReaderOptions options;
      options.rcvbuf = 4096;
      options.min_chunk = 512;
      options.max_chunk = 16384;
      options.sleep_per_mille = 20;
      options.max_sleep = std::chrono::microseconds(2000);
      options.seed = 7 + static_cast<uint64_t>(id);
      SlowReader slow;
      if (!slow.connect(server_->port(), options)) {
        failures.add("slow reader cannot connect");
        return;
      }
      std::vector<ScanItem> items;
      bool sent = false;
      bool done = false;
      uint16_t final_status = 0;
      std::string error;
      const ReadStatus st = slow.stream(
          [&](std::string* queue) {
            if (!sent) *queue += encode(makeContinue(created.value, 0, 0, 0, 9, kVb));
            sent = true;
          },
          [&] { return done; },
          [&](Response&& r) {
            error = takeResponse(r, 9, false, &items);
            if (!error.empty()) return false;
            if (r.status != 0) {
              final_status = r.status;
              done = true;
            }
            return true;
          },
          scaled(milliseconds(10000)));
      if (st != ReadStatus::kOk) {
        failures.add("slow reader " + std::to_string(id) + ": " + toString(st) + " " + error + " " +
                     slow.lastError() + " after " + std::to_string(items.size()) + " items");
        return;
      }
      if (final_status != scan_status::kComplete)
        failures.add("final status " + std::to_string(final_status));
      if (items.size() != expected.size()) {
        failures.add("got " + std::to_string(items.size()) + " items");
        return;
      }
      auto it = expected.begin();
      for (const ScanItem& d : items) {
        if (d.key != it->first || d.value != it->second) {
          failures.add("wrong document " + d.key);
          return;
        }
        ++it;
      }
    });
  }
  // Meanwhile the server stays responsive to others.
  McbpClient probe = newClient();
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(probe.noop().status, status::kSuccess);
    std::this_thread::sleep_for(milliseconds(20));
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.count(), 0u) << failures.report();
  expectServerHealthy();
  const int64_t rss = residentBytes(server_->pid());
  std::cout << "server RSS " << rss / (1 << 20) << " MiB\n";
}

}  // namespace
}  // namespace memkv::test
