// Range scans streamed over TLS while writers run (issue 13; the first seed's failing case:
// output produced by background threads for an encrypted stream). Scan batches are made on the
// ExecutorPool and handed to the connection's owner thread, which alone may call SSL_write; a
// batch written from another thread, or appended while a record was half written, breaks the
// TLS stream (an undecryptable record: the client sees a TLS error or a closed connection) or
// the MCBP stream on top of it (wrong bytes in a document).
//
// Two TLS scanners walk eight vbuckets again and again: one with small byte and item limits
// (many CONTINUEs, each a round trip through the pool), one without limits that reads slowly
// (small window, small reads: the scan's producer meets a full Inbox and the TLS writer meets
// WANT_WRITE mid-record). Two TLS writers meanwhile upsert and delete keys of their own in the
// same vbuckets. Every scan must return each preloaded document exactly once, in key order,
// with its value; a writer's key at most once, with a value that writer stored under it.
// memkv only (memcached has no range scans).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "integration/tls_fixture.h"
#include "support/couchbase_client.h"
#include "support/range_scan_client.h"
#include "support/test_env.h"

namespace memkv::test {
namespace {

namespace cb = couchbase;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr uint16_t kVbuckets[] = {3, 77, 150, 300, 512, 700, 901, 1020};
constexpr int kWriters = 2;
constexpr int kWriterKeysPerVbucket = 6;
// Default --output-high-watermark, and the slack of one buffer beyond it.
constexpr uint64_t kOutputBound = (1u << 20) + (64u << 10);

// A writer's value: valueBytes() of a tag naming the writer and its key (and a version).
uint64_t writerTag(int writer, std::size_t key_index, uint64_t version) {
  return (static_cast<uint64_t>(writer + 1) << 56) | (static_cast<uint64_t>(key_index) << 40) |
         version;
}

struct Keyspace {
  std::map<uint16_t, std::vector<ScanItem>> stable;                // by vbucket, in key order
  std::map<std::string, std::pair<int, std::size_t>> writer_keys;  // key -> (writer, index)
  std::vector<std::vector<std::string>> keys_of_writer;
};

Keyspace makeKeyspace() {
  Keyspace k;
  k.keys_of_writer.resize(kWriters);
  uint64_t n = 0;
  for (const uint16_t vb : kVbuckets) {
    std::map<std::string, std::string> sorted;
    for (const std::string& key : keysInVbucket(vb, "s:", 40)) {
      ++n;
      // Mostly small documents, some beyond one TLS record (16 KiB), some empty.
      std::size_t size = 10 + (n * 97) % 3000;
      if (n % 7 == 0) size = 20000 + (n * 1031) % 50000;
      if (n % 13 == 0) size = 0;
      sorted[key] = valueBytes(n, size);
    }
    for (auto& [key, value] : sorted) k.stable[vb].push_back({.key = key, .value = value});
    for (int w = 0; w < kWriters; ++w) {
      const std::string prefix = "w" + std::to_string(w) + ":";
      for (std::string& key : keysInVbucket(vb, prefix, kWriterKeysPerVbucket)) {
        k.writer_keys[key] = {w, k.keys_of_writer[w].size()};
        k.keys_of_writer[w].push_back(std::move(key));
      }
    }
  }
  return k;
}

class Failures {
 public:
  void add(std::string what) {
    std::lock_guard guard(mutex_);
    ++count_;
    if (first_.size() < 20) first_.push_back(std::move(what));
  }
  std::size_t count() const {
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
  std::size_t count_ = 0;
  std::vector<std::string> first_;
};

// Checks one whole scan of `vb` against the keyspace; "" or the first thing wrong.
std::string verifyScan(const Keyspace& ks, uint16_t vb, const std::vector<ScanItem>& items) {
  const std::vector<ScanItem>& stable = ks.stable.at(vb);
  std::size_t next = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const ScanItem& item = items[i];
    if (i > 0 && !(items[i - 1].key < item.key)) {
      return "keys out of order or repeated: " + items[i - 1].key + " then " + item.key;
    }
    if (cb::vbucketOf(item.key) != vb) return "key " + item.key + " of another vbucket";
    if (const auto w = ks.writer_keys.find(item.key); w != ks.writer_keys.end()) {
      if (item.value.size() < 8) return "writer key " + item.key + " with a short value";
      uint64_t tag = 0;
      for (int b = 7; b >= 0; --b) tag = (tag << 8) | static_cast<uint8_t>(item.value[b]);
      const auto [writer, index] = w->second;
      if ((tag >> 40) != (writerTag(writer, index, 0) >> 40) ||
          item.value != valueBytes(tag, item.value.size())) {
        return "writer key " + item.key + " with a value its writer never stored";
      }
      continue;
    }
    if (next >= stable.size() || item.key != stable[next].key) {
      return "unexpected key or a missing document near " + item.key;
    }
    if (item.value != stable[next].value) return "wrong value for " + item.key;
    ++next;
  }
  if (next != stable.size()) {
    return "returned " + std::to_string(next) + " of " + std::to_string(stable.size()) +
           " documents";
  }
  return "";
}

class TlsRangeScanTest : public TlsServerTest {
 protected:
  TlsRangeScanTest() : TlsServerTest({"-m", "256"}) {}

  void SetUp() override {
    if (targetFromEnv() == ServerKind::kMemcached) GTEST_SKIP() << "memkv-only: range scans";
    TlsServerTest::SetUp();
  }

  // A TLS connection that negotiated what an SDK does for scans (JSON, XERROR).
  McbpClient sdkClient() {
    McbpClient c = newClient();
    if (c.connected()) cb::hello(c, {cb::feature::kJson, cb::feature::kXerror});
    return c;
  }
};

TEST_F(TlsRangeScanTest, ScansOverTlsBesideWritersAreConsistent) {
  const auto duration =
      std::chrono::seconds(envInt("MEMKV_TLS_SCAN_SECONDS", sanitizedBuild() ? 8 : 3));
  const uint64_t seed = static_cast<uint64_t>(envInt("MEMKV_TEST_SEED", 20261201));
  const Keyspace ks = makeKeyspace();
  std::vector<std::pair<std::string, std::string>> docs;
  for (const auto& [vb, items] : ks.stable) {
    for (const ScanItem& item : items) docs.emplace_back(item.key, item.value);
  }
  ASSERT_TRUE(bulkSet(client_, docs));

  Failures failures;
  std::atomic<uint64_t> limited_scans{0}, slow_scans{0}, continues{0}, writes{0};
  const auto deadline = Clock::now() + duration;
  std::vector<std::thread> threads;

  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937_64 rng(seed + 100 + static_cast<uint64_t>(w));
      McbpClient c = sdkClient();
      if (!c.connected()) return failures.add("writer cannot connect");
      const std::vector<std::string>& keys = ks.keys_of_writer[w];
      uint64_t version = 0;
      try {
        while (Clock::now() < deadline) {
          const std::size_t index = rng() % keys.size();
          if (rng() % 10 < 7) {
            const std::size_t size = 8 + rng() % (rng() % 8 == 0 ? 40000 : 2000);
            const Response r = c.set(keys[index], valueBytes(writerTag(w, index, ++version), size));
            if (r.status != status::kSuccess) failures.add("writer SET: " + r.value);
          } else {
            const Response r = c.remove(keys[index]);
            if (r.status != status::kSuccess && r.status != status::kKeyEnoent) {
              failures.add("writer DELETE status " + std::to_string(r.status));
            }
          }
          writes.fetch_add(1, std::memory_order_relaxed);
        }
      } catch (const McbpError& e) {
        failures.add(std::string("writer: ") + e.what());
      }
    });
  }

  // Scanner 1: small limits, many CONTINUEs, reading at full speed.
  threads.emplace_back([&] {
    std::mt19937_64 rng(seed);
    McbpClient c = sdkClient();
    if (!c.connected()) return failures.add("scanner cannot connect");
    try {
      while (Clock::now() < deadline) {
        const uint16_t vb = kVbuckets[rng() % std::size(kVbuckets)];
        static constexpr uint32_t kByteLimits[] = {1, 200, 5000, 40000, 0};
        const uint32_t bytes = kByteLimits[rng() % std::size(kByteLimits)];
        const uint32_t items = bytes == 0 ? 1 + static_cast<uint32_t>(rng() % 7) : 0;
        const ScanResult r = runScan(c, vb, fullRangeJson(), false, items, 0, bytes);
        continues.fetch_add(r.continues.size(), std::memory_order_relaxed);
        const std::string where = "limited scan of vbucket " + std::to_string(vb) + ": ";
        if (r.create_status != status::kSuccess) {
          failures.add(where + "CREATE status " + std::to_string(r.create_status));
        } else if (!r.error.empty()) {
          return failures.add(where + r.error);  // the stream is unusable after this
        } else if (const std::string bad = verifyScan(ks, vb, r.items); !bad.empty()) {
          failures.add(where + bad);
        }
        limited_scans.fetch_add(1, std::memory_order_relaxed);
      }
    } catch (const McbpError& e) {
      failures.add(std::string("limited scanner: ") + e.what());
    }
  });

  // Scanner 2: no limits (one CONTINUE streams the whole vbucket), read slowly.
  threads.emplace_back([&] {
    SlowReaderOptions options;
    options.rcvbuf = 4096;
    options.min_chunk = 1;
    options.max_chunk = 4096;
    options.sleep_per_mille = 50;
    options.max_sleep = std::chrono::microseconds(500);
    options.seed = seed + 7;
    TlsSlowReader reader;
    std::string error;
    if (!reader.connect(server_->port(), trustingClient(), options, &error)) {
      return failures.add("slow scanner cannot connect: " + error);
    }
    uint32_t opaque = 1;
    for (std::size_t n = 0; Clock::now() < deadline; ++n) {
      const uint16_t vb = kVbuckets[n % std::size(kVbuckets)];
      const std::string where = "slow scan of vbucket " + std::to_string(vb) + ": ";
      Response created;
      ReadStatus st = reader.exchange(
          encode(makeCreate(vb, fullRangeJson(), ++opaque)), 1,
          [&](Response&& r) {
            created = std::move(r);
            return true;
          },
          scaled(milliseconds(10000)));
      if (st != ReadStatus::kOk) return failures.add(where + "CREATE: " + reader.lastError());
      if (created.status != status::kSuccess || created.value.size() != 16) {
        failures.add(where + "CREATE status " + std::to_string(created.status));
        continue;
      }
      std::vector<ScanItem> items;
      const uint32_t op = ++opaque;
      bool complete = false;
      std::string bad;
      st = reader.stream(
          [&, sent = false](std::string* q) mutable {
            if (!sent) *q += encode(makeContinue(created.value, 0, 0, 0, op, vb));
            sent = true;
          },
          [&] { return complete || !bad.empty(); },
          [&](Response&& r) {
            if (r.opcode != scan_op::kContinue || r.opaque != op) {
              bad = "unexpected response opcode " + std::to_string(r.opcode);
            } else if (r.status != status::kSuccess && r.status != scan_status::kComplete) {
              bad = "CONTINUE status " + std::to_string(r.status);
            } else if (r.extras != be32(1)) {
              bad = "bad CONTINUE extras";
            } else if (std::string e; !parseItems(r.value, false, &items, &e)) {
              bad = "malformed CONTINUE value: " + e;
            }
            complete = r.status == scan_status::kComplete;
            return bad.empty();
          },
          scaled(milliseconds(10000)));
      continues.fetch_add(1, std::memory_order_relaxed);
      if (!bad.empty()) return failures.add(where + bad);
      if (st != ReadStatus::kOk) return failures.add(where + reader.lastError());
      if (const std::string wrong = verifyScan(ks, vb, items); !wrong.empty()) {
        failures.add(where + wrong);
      }
      slow_scans.fetch_add(1, std::memory_order_relaxed);
    }
  });
  for (std::thread& t : threads) t.join();

  std::cout << "scans over TLS: " << limited_scans << " with limits, " << slow_scans
            << " read slowly, " << continues << " CONTINUEs; " << writes << " writes beside them\n";
  EXPECT_EQ(failures.count(), 0u) << failures.report();
  EXPECT_GE(limited_scans.load(), 3u);
  EXPECT_GE(slow_scans.load(), 1u);
  EXPECT_GE(writes.load(), 100u);

  // The server is whole: no scan left open, no connection above the watermark plus a buffer.
  uint64_t v = 0;
  EXPECT_TRUE(waitForStat(
      client_, "range_scans_open", [](uint64_t n) { return n == 0; }, scaled(milliseconds(3000)),
      &v))
      << "range_scans_open stays at " << v;
  const uint64_t queued_max = statU64(client_, "output_bytes_queued_max");
  std::cout << "output_bytes_queued_max " << queued_max << "\n";
  EXPECT_LT(queued_max, kOutputBound)
      << "a TLS connection queued more than the high watermark plus one buffer";
  EXPECT_TRUE(waitForStat(
      client_, "output_bytes_queued", [](uint64_t b) { return b == 0; }, scaled(milliseconds(3000)),
      &v))
      << "output_bytes_queued stays at " << v;
}

}  // namespace
}  // namespace memkv::test
