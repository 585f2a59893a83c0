// OutputChain under a fault-injecting "socket": random short writes. The
// bytes that come out must equal the bytes that went in, in order, and every
// slice and fragment must be released exactly once, and only after all its
// bytes were taken (the bug of seeds/002: a buffer freed while iovecs still
// pointed into it).
#include "net/output_chain.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace memkv::net {
namespace {

struct TrackedFragment {
  std::string bytes;
  int releases = 0;
  size_t taken_when_released = 0;
  size_t end_offset = 0;  // stream offset just past this fragment
  size_t* stream_taken = nullptr;
};

void releaseTracked(void* ctx) {
  auto* f = static_cast<TrackedFragment*>(ctx);
  ++f->releases;
  f->taken_when_released = *f->stream_taken;
}

// Pulls up to `max_bytes` out of the chain like a socket accepting a short
// write; `stream_taken` counts bytes accepted so far, updated before drain()
// so release hooks see what the "kernel" has taken.
size_t shortWrite(OutputChain& chain, size_t max_bytes, std::string& sink,
                  size_t* stream_taken = nullptr) {
  iovec iov[IOV_MAX];
  const size_t count = chain.gather(iov, 64);
  size_t taken = 0;
  for (size_t i = 0; i < count && taken < max_bytes; ++i) {
    const size_t n = std::min(iov[i].iov_len, max_bytes - taken);
    sink.append(static_cast<const char*>(iov[i].iov_base), n);
    taken += n;
  }
  if (stream_taken) *stream_taken += taken;
  chain.drain(taken);
  return taken;
}

TEST(OutputChainTest, ReserveCommitIsContiguousAndGathered) {
  BufferPool pool;
  OutputChain chain(pool);
  uint8_t* p = chain.reserve(5);
  ASSERT_NE(p, nullptr);
  std::memcpy(p, "hello", 5);
  chain.commit(5);
  p = chain.reserve(6);
  std::memcpy(p, " world", 6);
  chain.commit(6);
  EXPECT_EQ(chain.size(), 11u);
  EXPECT_EQ(chain.sliceCount(), 1u);  // both in the same tail buffer
  std::string out;
  shortWrite(chain, 100, out);
  EXPECT_EQ(out, "hello world");
  EXPECT_TRUE(chain.empty());
  EXPECT_EQ(pool.buffersOut(), 0u);
}

TEST(OutputChainTest, RandomPipelinesWithShortWritesAreByteExactAndReleaseOnce) {
  std::mt19937_64 rng(12345);
  BufferPool pool;
  for (int round = 0; round < 2000; ++round) {
    OutputChain chain(pool);
    std::string expected;
    std::string received;
    size_t taken_total = 0;
    std::vector<std::unique_ptr<TrackedFragment>> fragments;
    const int parts = 1 + static_cast<int>(rng() % 20);
    for (int i = 0; i < parts; ++i) {
      const size_t header = 24 + rng() % 280;
      std::string h(header, static_cast<char>('a' + rng() % 26));
      for (auto& c : h) c = static_cast<char>(c + (rng() % 3));
      uint8_t* p = chain.reserve(header);
      ASSERT_NE(p, nullptr);
      std::memcpy(p, h.data(), header);
      chain.commit(header);
      expected += h;
      if (rng() % 2) {
        // Values from 0 B to 256 KiB here (the server test goes to 2 MiB).
        const size_t size = (rng() % 4 == 0) ? rng() % (256 << 10) : rng() % 5000;
        auto f = std::make_unique<TrackedFragment>();
        f->bytes.resize(size);
        for (auto& c : f->bytes) c = static_cast<char>(rng());
        f->stream_taken = &taken_total;
        expected += f->bytes;
        f->end_offset = expected.size();
        chain.appendFragment(
            {reinterpret_cast<const uint8_t*>(f->bytes.data()), size, &releaseTracked, f.get()});
        fragments.push_back(std::move(f));
      }
      // Interleave sending with encoding, as a connection does.
      if (rng() % 3 == 0) shortWrite(chain, 1 + rng() % 70000, received, &taken_total);
    }
    while (!chain.empty()) shortWrite(chain, 1 + rng() % 70000, received, &taken_total);
    ASSERT_EQ(received, expected) << "round " << round;
    for (const auto& f : fragments) {
      ASSERT_EQ(f->releases, 1);
      if (!f->bytes.empty()) {
        // Released only once every byte up to its end had been taken.
        ASSERT_GE(f->taken_when_released, f->end_offset);
      }
    }
    ASSERT_EQ(pool.buffersOut(), 0u) << "round " << round;
  }
}

TEST(OutputChainTest, ClearReleasesEverythingUnsent) {
  BufferPool pool;
  size_t taken = 0;
  TrackedFragment f;
  f.bytes = std::string(100000, 'x');
  f.stream_taken = &taken;
  {
    OutputChain chain(pool);
    chain.appendCopy({reinterpret_cast<const uint8_t*>("abc"), 3});
    chain.appendFragment(
        {reinterpret_cast<const uint8_t*>(f.bytes.data()), f.bytes.size(), &releaseTracked, &f});
    std::string sink;
    shortWrite(chain, 10, sink);
    EXPECT_EQ(f.releases, 0);
  }  // destroyed with bytes pending: a client that went away
  EXPECT_EQ(f.releases, 1);
  EXPECT_EQ(pool.buffersOut(), 0u);
}

TEST(OutputChainTest, AppendCopySpansBuffers) {
  BufferPool pool;
  OutputChain chain(pool);
  std::string big(3 * BufferPool::kBufferSize + 17, 'q');
  ASSERT_TRUE(chain.appendCopy({reinterpret_cast<const uint8_t*>(big.data()), big.size()}));
  EXPECT_EQ(chain.size(), big.size());
  EXPECT_EQ(pool.buffersOut(), 4u);
  std::string out;
  while (!chain.empty()) shortWrite(chain, 5000, out);
  EXPECT_EQ(out, big);
  EXPECT_EQ(pool.buffersOut(), 0u);
}

}  // namespace
}  // namespace memkv::net
