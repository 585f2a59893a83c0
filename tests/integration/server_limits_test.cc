// Resource limits: memory (-m, with and without -M) and connections (-c).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "integration/server_fixture.h"

namespace memkv::test {
namespace {

using std::chrono::milliseconds;

constexpr int kValues = 1024;  // 1024 x 10 KiB = 10 MiB
constexpr std::size_t kValueSize = 10 * 1024;

std::string valueFor(int i) {
  std::string v(kValueSize, static_cast<char>('a' + i % 26));
  const std::string tag = std::to_string(i);
  v.replace(0, tag.size(), tag);
  return v;
}

class MemoryLimitTest : public ServerTest {
 protected:
  MemoryLimitTest() : ServerTest({"-m", "2"}) {}
};

TEST_F(MemoryLimitTest, StoringFiveTimesTheLimitEvictsOldItems) {
  for (int i = 0; i < kValues; ++i) {
    const Response r = client_.set("key" + std::to_string(i), valueFor(i));
    ASSERT_EQ(r.status, status::kSuccess) << "set " << i << " failed: " << r.value;
  }
  const auto s = client_.stats();
  EXPECT_GT(std::atoll(s.at("evictions").c_str()), 0);
  EXPECT_LT(std::atoll(s.at("curr_items").c_str()), kValues);
  EXPECT_LE(std::atoll(s.at("bytes").c_str()), 2 * 1024 * 1024);
  EXPECT_EQ(s.at("limit_maxbytes"), "2097152");
  for (int i = kValues - 10; i < kValues; ++i) {
    const Response g = client_.get("key" + std::to_string(i));
    ASSERT_EQ(g.status, status::kSuccess) << "recent key " << i << " was evicted";
    EXPECT_TRUE(g.value == valueFor(i));
  }
  EXPECT_EQ(client_.get("key0").status, status::kKeyEnoent) << "the oldest key survived";
}

class NoEvictionTest : public ServerTest {
 protected:
  NoEvictionTest() : ServerTest({"-m", "2", "-M"}) {}
};

TEST_F(NoEvictionTest, SetsFailWithEnomemWhenFull) {
  int first_failure = -1;
  for (int i = 0; i < kValues; ++i) {
    const Response r = client_.set("key" + std::to_string(i), valueFor(i));
    if (r.status != status::kSuccess) {
      EXPECT_EQ(r.status, status::kEnomem);
      EXPECT_EQ(r.value, "Out of memory allocating item");
      first_failure = i;
      break;
    }
  }
  ASSERT_GT(first_failure, 0) << "10 MiB fit into -m 2 without evictions";
  const auto s = client_.stats();
  EXPECT_EQ(s.at("evictions"), "0");
  EXPECT_EQ(std::atoll(s.at("curr_items").c_str()), first_failure);
  const Response again = client_.set("another", valueFor(1));
  EXPECT_EQ(again.status, status::kEnomem) << "still full";
  EXPECT_EQ(client_.get("key0").value, valueFor(0)) << "old items are kept, not evicted";
  EXPECT_EQ(client_.remove("key0").status, status::kSuccess);
  EXPECT_EQ(client_.noop().status, status::kSuccess);
}

class ConnectionLimitTest : public ServerTest {
 protected:
  static constexpr int kMaxConns = 20;
  ConnectionLimitTest() : ServerTest({"-c", std::to_string(kMaxConns)}) {}
};

TEST_F(ConnectionLimitTest, ExcessConnectionsAreClosedAndExistingOnesKeepWorking) {
  ASSERT_EQ(client_.set("k", "v").status, status::kSuccess);
  // Enough to exceed -c 20 on memkv. memcached closes rejected connections slowly (about 0.9 s
  // each, one after another), so the count stays modest.
  constexpr int kExtra = 25;
  std::vector<McbpClient> extra(kExtra);
  for (McbpClient& c : extra) {
    // connect() itself succeeds even when the server rejects: the kernel completes it.
    ASSERT_TRUE(c.connect(server_->port()));
  }
  int alive = 0;
  int closed = 0;
  for (McbpClient& c : extra) {
    Response r;
    const bool sent = c.send(makeKeyOnly(op::kNoop, "", 1));
    const ReadStatus st = sent ? c.read(&r, milliseconds(2000)) : ReadStatus::kClosed;
    if (st == ReadStatus::kOk) {
      EXPECT_EQ(r.opcode, op::kNoop);
      ++alive;
    } else {
      EXPECT_EQ(st, ReadStatus::kClosed) << "an excess connection hung instead of being closed";
      ++closed;
    }
  }
  // memcached reserves descriptors for itself, so with -c 20 it keeps fewer than 20 clients.
  EXPECT_LT(alive, kMaxConns);
  EXPECT_GE(closed, kExtra + 1 - kMaxConns);

  const Response g = client_.get("k");
  EXPECT_EQ(g.value, "v") << "the existing client stopped working";
  const auto s = client_.stats();
  EXPECT_EQ(std::atoll(s.at("rejected_connections").c_str()), closed);
  EXPECT_EQ(s.at("max_connections"), std::to_string(kMaxConns));

  // Once the excess clients are gone, new connections are served again.
  extra.clear();
  bool served = false;
  for (int attempt = 0; attempt < 30 && !served; ++attempt) {
    McbpClient c;
    Response r;
    served = c.connect(server_->port()) && c.send(makeKeyOnly(op::kNoop, "", 2)) &&
             c.read(&r, milliseconds(1000)) == ReadStatus::kOk;
    if (!served) std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_TRUE(served);
}

}  // namespace
}  // namespace memkv::test
