// Bounded stress: 200 hostile connections send a mix of valid and invalid frames, a quarter of
// them memcached text and meta commands instead, valid and malformed (reconnecting whenever the
// server closes them), while 8 verifying clients run SET/GET/DELETE on keys of
// their own and check every read exactly. At the end nothing was lost or corrupted, the
// server answers STAT, and every per-connection resource is released once all clients leave.
//
// The run lasts MEMKV_STRESS_SECONDS (default 30 in optimized builds, 20 under sanitizers,
// where everything is several times slower and the minimum counts are scaled down).
// MEMKV_TEST_SEED=<seed> replays the random choices of the hostile clients.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "integration/server_fixture.h"
#include "support/hostile.h"
#include "support/test_env.h"

namespace memkv::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kHostileThreads = 4;
constexpr int kHostilePerThread = 50;  // 200 hostile connections
constexpr int kVerifiers = 8;
constexpr int kKeysPerVerifier = 32;
constexpr int kHostileKeys = 256;  // values of at most 1 KiB
constexpr int kGrowingKeys = 8;    // APPEND/PREPEND and large SETs go here only
constexpr std::size_t kKiB = 1024;

// The hostile byte streams never contain 0x80 or 0x08 (the two request magics) except as the
// first byte of a frame the generator meant to be one. Whatever misframing a lying length
// causes, the server therefore parses a header either at a real frame start or at a byte that
// is no magic (and closes). Together with never generating FLUSH and with keys of their own
// (first byte 'x'), hostile clients cannot legitimately touch the verifiers' data.
bool isMagicByte(uint8_t b) {
  return b == kRequestMagic || b == kAltRequestMagic;
}

std::string cleanBytes(std::mt19937_64& rng, std::size_t n) {
  std::string s = randomBytes(rng, n);
  for (char& c : s) {
    if (isMagicByte(static_cast<uint8_t>(c))) c = static_cast<char>(static_cast<uint8_t>(c) ^ 1);
  }
  return s;
}

uint32_t cleanU32(std::mt19937_64& rng) {
  return readBe32(cleanBytes(rng, 4));
}

std::vector<std::string> makeKeys(std::mt19937_64& rng, int n) {
  std::vector<std::string> keys;
  keys.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    std::string k = cleanBytes(rng, uniform(rng, 1, 249));
    k.insert(k.begin(), 'x');
    keys.push_back(std::move(k));
  }
  return keys;
}

class HostileGenerator {
 public:
  HostileGenerator(uint64_t seed, const std::vector<std::string>& keys,
                   const std::vector<std::string>& growing)
      : rng_(seed), keys_(keys), growing_(growing) {}

  std::mt19937_64& rng() { return rng_; }

  // One item of a hostile batch: a valid frame, an invalid one, or plain junk.
  // One item for a connection that speaks memcached's text protocol: valid
  // text and meta commands on keys of their own ("x<n>"), and the malformed
  // kinds (bad data chunks, values over -I, junk lines, long lines, HTTP
  // probes, truncated lines). Never flush_all.
  std::string nextText() {
    const std::string k = "x" + std::to_string(uniform(rng_, 0, 255));
    const uint64_t pick = uniform(rng_, 0, 99);
    const auto data = [&](size_t n) { return std::string(n, static_cast<char>('a' + n % 26)); };
    if (pick < 50) {
      const size_t n = uniform(rng_, 0, 2000);
      switch (uniform(rng_, 0, 12)) {
        case 0:
          return "set " + k + " 5 0 " + std::to_string(n) + "\r\n" + data(n) + "\r\n";
        case 1:
          return "get " + k + " x1 x2 " + k + "\r\n";
        case 2:
          return "gets " + k + "\r\ngat 100 " + k + "\r\n";
        case 3:
          return "delete " + k + "\r\n";
        case 4:
          return "incr " + k + " 5\r\ndecr " + k + " 7 noreply\r\n";
        case 5:
          return "touch " + k + " 10\r\n";
        case 6:
          return "append " + k + " 0 0 3 noreply\r\nabc\r\n";
        case 7:
          return "cas " + k + " 0 0 1 12345\r\nz\r\n";
        case 8:
          return "mg " + k + " v k s t c f h l O123 q\r\nmn\r\n";
        case 9:
          return "ms " + k + " " + std::to_string(n) + " T0 F3 I C9\r\n" + data(n) + "\r\n";
        case 10:
          return "md " + k + " q I T30\r\nmg " + k + " N30 R10 v\r\n";
        case 11:
          return "ma " + k + " N0 J1 D2 v t\r\n";
        default:
          return "stats\r\nversion\r\nstats detail dump\r\n";
      }
    }
    if (pick < 62) return "set " + k + " 0 0 5\r\nabcdefgh\r\n";         // bad data chunk
    if (pick < 68) return "set " + k + " 0 0 2000000\r\n" + data(1000);  // over -I: swallowed
    if (pick < 80) {
      std::string junk = cleanBytes(rng_, uniform(rng_, 1, 300));
      if (!junk.empty() && isMagicByte(static_cast<uint8_t>(junk[0]))) junk[0] = 'j';
      return junk + "\r\n";
    }
    if (pick < 85) return std::string(3000, 'a');  // > 2048 without a newline: closed
    if (pick < 90) {                               // a long multiget line, read whole
      std::string line = "get";
      for (int i = 0; i < 3000; ++i) line += " x" + std::to_string(i % 300);
      return line + "\r\n";
    }
    if (pick < 93) return "GET / HTTP/1.1\r\n";           // closed silently
    if (pick < 97) return "ms " + k + " 10 T0 b\r\nabc";  // bad base64 key, payload swallowed
    return "set " + k + " 0 0";                           // a truncated line
  }

  std::string next() {
    for (;;) {
      std::string item = candidate();
      // Header bytes after the magic must not look like a magic (see cleanBytes()).
      bool clean = true;
      for (std::size_t i = 1; i < std::min(item.size(), kHeaderSize) && clean; ++i) {
        clean = !isMagicByte(static_cast<uint8_t>(item[i]));
      }
      if (clean) return item;
    }
  }

 private:
  const std::string& key() { return keys_[uniform(rng_, 0, keys_.size() - 1)]; }

  std::string candidate() {
    const uint64_t pick = uniform(rng_, 0, 99);
    if (pick < 55) return valid();
    if (pick < 70) return randomFrame();
    if (pick < 74) return withBadMagic();
    if (pick < 78) return keyLongerThanBody();
    if (pick < 81) return hugeBody();
    if (pick < 85) return overstatedBody();
    if (pick < 90) return truncated();
    if (pick < 94) return badShape();
    if (pick < 97) return unknownWithLargeBody();
    return cleanBytes(rng_, uniform(rng_, 1, 512));  // junk
  }

  Request base(uint8_t opcode) {
    Request r;
    r.opcode = opcode;
    r.opaque = cleanU32(rng_);
    return r;
  }

  std::string valid() {
    static constexpr uint8_t kOps[] = {
        op::kGet,    op::kGetQ,     op::kGetK,      op::kGetKQ,   op::kSet,       op::kSetQ,
        op::kAdd,    op::kReplace,  op::kDelete,    op::kDeleteQ, op::kIncrement, op::kDecrement,
        op::kAppend, op::kPrependQ, op::kNoop,      op::kVersion, op::kStat,      op::kTouch,
        op::kGat,    op::kGatQ,     op::kVerbosity, op::kQuit,    op::kQuitQ};
    const uint8_t opcode = kOps[uniform(rng_, 0, sizeof kOps - 1)];
    if ((opcode == op::kQuit || opcode == op::kQuitQ) && !chance(rng_, 100)) return valid();
    Request r = base(opcode);
    switch (opcode) {
      case op::kSet:
      case op::kSetQ:
      case op::kAdd:
      case op::kReplace:
        r.extras = be32(cleanU32(rng_)) + be32(chance(rng_, 500) ? 0 : uniform(rng_, 1, 100000));
        if (chance(rng_, 30)) {  // a frame larger than a pool buffer
          r.key = growing_[uniform(rng_, 0, growing_.size() - 1)];
          r.value = cleanBytes(rng_, uniform(rng_, 16 * kKiB, 128 * kKiB));
        } else {
          r.key = key();
          r.value = cleanBytes(rng_, uniform(rng_, 0, kKiB - r.key.size() - 8));
        }
        break;
      case op::kAppend:
      case op::kPrependQ:
        r.key = growing_[uniform(rng_, 0, growing_.size() - 1)];
        r.value = cleanBytes(rng_, uniform(rng_, 0, 512));
        break;
      case op::kIncrement:
      case op::kDecrement:
        r.extras = cleanBytes(rng_, 20);
        r.key = key();
        break;
      case op::kTouch:
      case op::kGat:
      case op::kGatQ:
      case op::kVerbosity:
        r.extras = cleanBytes(rng_, 4);
        if (opcode != op::kVerbosity) r.key = key();
        break;
      case op::kStat:
        if (chance(rng_, 500)) r.key = key();  // an unknown group
        break;
      case op::kNoop:
      case op::kVersion:
      case op::kQuit:
      case op::kQuitQ:
        break;
      default:  // the GETs and DELETEs
        r.key = chance(rng_, 100) ? growing_[uniform(rng_, 0, growing_.size() - 1)] : key();
        break;
    }
    std::string bytes = encode(r);
    if (chance(rng_, 100) && r.key.size() < 256) {
      // The alternative format, with no framing extras.
      bytes[0] = static_cast<char>(kAltRequestMagic);
      bytes[2] = 0;
      bytes[3] = static_cast<char>(r.key.size());
    }
    return bytes;
  }

  // Random opcode (never FLUSH), random lengths within 1 KiB that agree with each other.
  std::string randomFrame() {
    uint8_t opcode = 0;
    do {
      opcode = static_cast<uint8_t>(uniform(rng_, 0, 255));
    } while (opcode == op::kFlush || opcode == op::kFlushQ || isMagicByte(opcode));
    Request r = base(opcode);
    if (chance(rng_, 100)) r.data_type = static_cast<uint8_t>(uniform(rng_, 0, 255));
    if (chance(rng_, 100)) r.vbucket = static_cast<uint16_t>(cleanU32(rng_));
    r.extras = cleanBytes(rng_, chance(rng_, 500) ? 0 : uniform(rng_, 0, 40));
    if (chance(rng_, 800)) r.key = key();
    r.value = cleanBytes(rng_, uniform(rng_, 0, kKiB - r.extras.size() - r.key.size()));
    return encode(r);
  }

  std::string withBadMagic() {
    Request r = base(op::kGet);
    r.key = key();
    std::string bytes = encode(r);
    do {
      bytes[0] = static_cast<char>(uniform(rng_, 0, 255));
    } while (isMagicByte(static_cast<uint8_t>(bytes[0])));
    return bytes;
  }

  std::string keyLongerThanBody() {
    Request r = base(chance(rng_, 500) ? op::kGet : op::kSet);
    if (r.opcode == op::kSet) r.extras = std::string(8, '\0');
    r.key = key();
    r.body_length_override =
        static_cast<uint32_t>(r.extras.size() + uniform(rng_, 0, r.key.size() - 1));
    return encode(r);
  }

  std::string hugeBody() {
    static constexpr uint32_t kLengths[] = {0x7fffffff, 0xffffffff, 0x7ffffff0, 64u << 20};
    Request r = base(chance(rng_, 500) ? op::kSet : 0xee);
    if (r.opcode == op::kSet) r.extras = std::string(8, '\0');
    r.key = key();
    r.body_length_override = kLengths[uniform(rng_, 0, 3)];
    return encode(r) + cleanBytes(rng_, uniform(rng_, 0, 4096));
  }

  // A body length a little longer than the body: the next frames are eaten as its body.
  std::string overstatedBody() {
    Request r = base(op::kSet);
    r.extras = std::string(8, '\0');
    r.key = key();
    r.value = cleanBytes(rng_, uniform(rng_, 0, 200));
    r.body_length_override =
        static_cast<uint32_t>(8 + r.key.size() + r.value.size() + uniform(rng_, 1, 300));
    return encode(r);
  }

  // The start of a valid frame only (cut after the key, so that the bytes that complete it
  // can only land in its value); the next item completes it.
  std::string truncated() {
    std::string bytes = valid();
    if (static_cast<uint8_t>(bytes[0]) != kRequestMagic) return bytes;
    const std::size_t head =
        kHeaderSize + static_cast<uint8_t>(bytes[4]) + readBe16(bytes.substr(2));
    if (bytes.size() <= head + 1) return bytes.substr(0, uniform(rng_, 1, kHeaderSize - 1));
    return bytes.substr(0, uniform(rng_, head, bytes.size() - 1));
  }

  std::string badShape() {
    Request r = base(op::kGet);
    switch (uniform(rng_, 0, 3)) {
      case 0:  // GET with extras
        r.key = key();
        r.extras = cleanBytes(rng_, 4);
        break;
      case 1:  // SET without extras
        r.opcode = op::kSet;
        r.key = key();
        r.value = "v";
        break;
      case 2:  // NOOP with a key
        r.opcode = op::kNoop;
        r.key = key();
        break;
      default:  // GET of a key over 250 bytes
        r.key = key() + std::string(260, 'y');
        break;
    }
    return encode(r);
  }

  std::string unknownWithLargeBody() {
    Request r = base(0xee);
    r.value = cleanBytes(rng_, uniform(rng_, 16 * kKiB, 96 * kKiB));
    return encode(r);
  }

  std::mt19937_64 rng_;
  const std::vector<std::string>& keys_;
  const std::vector<std::string>& growing_;
};

struct Totals {
  std::atomic<uint64_t> hostile_items{0};
  std::atomic<uint64_t> hostile_bytes{0};
  std::atomic<uint64_t> hostile_responses{0};
  std::atomic<uint64_t> server_closes{0};
  std::atomic<uint64_t> client_closes{0};
  std::atomic<uint64_t> reconnects{0};
  std::atomic<uint64_t> send_stalls{0};
  std::atomic<uint64_t> connect_failures{0};
  std::atomic<uint64_t> malformed{0};
  std::atomic<uint64_t> verified_ops{0};
  std::atomic<uint64_t> verified_reads{0};
  std::atomic<uint64_t> failures{0};
  std::mutex mu;
  std::string first_failure;

  void fail(const std::string& what) {
    if (failures.fetch_add(1) == 0) {
      std::lock_guard<std::mutex> lock(mu);
      first_failure = what;
    }
  }
};

struct HostileConn {
  int fd = -1;
  AnyResponseStream replies;
  // The first byte sent was no request magic: the server speaks memcached's
  // text protocol on this connection, so its replies are text, not frames.
  bool text = false;
  bool started = false;      // a first byte was sent
  bool speaks_text = false;  // sends text and meta commands on purpose
};

void closeConn(HostileConn& c, bool reset) {
  if (reset) {
    resetClose(c.fd);
  } else {
    ::close(c.fd);
  }
  c.fd = -1;
  c.replies = AnyResponseStream();
  c.text = false;
  c.started = false;
  c.speaks_text = false;
}

void hostileThread(uint16_t port, uint64_t seed, Clock::time_point deadline,
                   const std::vector<std::string>& keys, const std::vector<std::string>& growing,
                   Totals& totals) {
  HostileGenerator gen(seed, keys, growing);
  std::mt19937_64& rng = gen.rng();
  std::array<HostileConn, kHostilePerThread> conns;
  const auto drainConn = [&](HostileConn& c) {
    const DrainResult dr = drain(c.fd, c.replies, milliseconds(0), [] { return false; });
    if (c.text) {
      // Junk as text: ERROR and CLIENT_ERROR lines, a close at worst; what
      // matters is that the verifiers never notice.
      c.replies = AnyResponseStream();
      if (dr == DrainResult::kClosed || dr == DrainResult::kError) {
        totals.server_closes.fetch_add(1);
        closeConn(c, false);
      }
      return;
    }
    Response r;
    while (c.replies.pop(&r)) totals.hostile_responses.fetch_add(1);
    if (c.replies.malformed()) {
      totals.malformed.fetch_add(1);
      totals.fail("a hostile connection received bytes that are no response: " +
                  std::string(c.replies.head()));
      closeConn(c, true);
    } else if (dr == DrainResult::kClosed || dr == DrainResult::kError) {
      totals.server_closes.fetch_add(1);
      closeConn(c, false);
    }
  };
  while (Clock::now() < deadline) {
    for (HostileConn& c : conns) {
      if (c.fd < 0) {
        c.fd = connectRaw(port, milliseconds(2000));
        if (c.fd < 0) {
          totals.connect_failures.fetch_add(1);
          continue;
        }
        totals.reconnects.fetch_add(1);
      }
      std::string batch;
      const auto items = uniform(rng, 1, 6);
      if (!c.started) c.speaks_text = chance(rng, 250);  // a quarter speak text
      for (uint64_t i = 0; i < items; ++i) batch += c.speaks_text ? gen.nextText() : gen.next();
      if (!c.started && !batch.empty()) {
        c.started = true;
        c.text = c.speaks_text || !isMagicByte(static_cast<uint8_t>(batch[0]));
      }
      totals.hostile_items.fetch_add(items);
      totals.hostile_bytes.fetch_add(batch.size());
      const SendResult sr = sendAll(c.fd, batch, milliseconds(100));
      if (sr == SendResult::kTimeout) {
        // The server paused reading (its output to us is above the high watermark and we
        // were slow to read) or is waiting for nothing: legitimate either way; leave.
        totals.send_stalls.fetch_add(1);
      }
      drainConn(c);
      if (c.fd < 0) continue;
      if (sr != SendResult::kSent) {
        closeConn(c, true);
        totals.client_closes.fetch_add(1);
      } else if (chance(rng, 20)) {
        // Mostly resets: FINs leave TIME_WAIT ports behind on this side.
        closeConn(c, !chance(rng, 250));
        totals.client_closes.fetch_add(1);
      }
    }
  }
  for (HostileConn& c : conns) {
    if (c.fd >= 0) closeConn(c, chance(rng, 500));
  }
}

std::size_t verifiedSize(uint64_t version) {
  return version % 50 == 49 ? 200 * kKiB : (version * 2654435761u) % (16 * kKiB);
}

void verifierThread(uint16_t port, int id, Clock::time_point deadline, Totals& totals) {
  std::mt19937_64 rng(static_cast<uint64_t>(id) * 7919 + 1);
  // The last version this client wrote per key; 0 = never written or deleted.
  std::array<uint64_t, kKeysPerVerifier> version{};
  uint64_t next_version = 1;
  McbpClient c;
  const auto io = scaled(milliseconds(5000));
  const auto where = [&](const std::string& key) {
    return "verifier " + std::to_string(id) + " " + key;
  };
  while (Clock::now() < deadline) {
    if (!c.connected() && !c.connect(port, io)) {
      totals.fail("verifier " + std::to_string(id) + " cannot connect");
      std::this_thread::sleep_for(milliseconds(100));
      continue;
    }
    const auto k = static_cast<std::size_t>(uniform(rng, 0, kKeysPerVerifier - 1));
    const std::string key = "v" + std::to_string(id) + ":" + std::to_string(k);
    const uint64_t pick = uniform(rng, 0, 99);
    try {
      if (pick < 40) {
        const uint64_t v = next_version++;
        const std::string value = versionedValue(key, v, verifiedSize(v));
        const Response r = c.call(makeStore(op::kSet, key, value, static_cast<uint32_t>(v)));
        if (r.status != status::kSuccess) {
          totals.fail(where(key) + ": SET status " + std::to_string(r.status) + " " + r.value);
        }
        version[k] = v;
      } else if (pick < 45) {
        const Response r = c.remove(key);
        const uint16_t want = version[k] == 0 ? status::kKeyEnoent : status::kSuccess;
        if (r.status != want) {
          totals.fail(where(key) + ": DELETE status " + std::to_string(r.status) + ", expected " +
                      std::to_string(want));
        }
        version[k] = 0;
      } else {
        const Response r = c.get(key, pick < 70 ? op::kGet : op::kGetK);
        totals.verified_reads.fetch_add(1);
        if (version[k] == 0) {
          if (r.status != status::kKeyEnoent) {
            totals.fail(where(key) + ": exists but was never written or was deleted (status " +
                        std::to_string(r.status) + ")");
          }
        } else if (r.status != status::kSuccess) {
          totals.fail(where(key) + ": version " + std::to_string(version[k]) + " lost (status " +
                      std::to_string(r.status) + " " + r.value + ")");
        } else if (r.value != versionedValue(key, version[k], verifiedSize(version[k])) ||
                   r.extras.size() != 4 || readBe32(r.extras) != version[k]) {
          totals.fail(where(key) + ": version " + std::to_string(version[k]) +
                      " reads back different bytes (" + std::to_string(r.value.size()) + " bytes)");
        }
      }
      totals.verified_ops.fetch_add(1);
    } catch (const McbpError& e) {
      totals.fail(where(key) + ": " + e.what());
      c.close();
    }
  }
}

class HostileStressTest : public ServerTest {};

TEST_F(HostileStressTest, HostileConnectionsDoNotDisturbVerifiedClients) {
  MEMKV_ONLY("checks memkv's per-connection buffer statistics");
  const long default_seconds = sanitizedBuild() ? 20 : 30;
  const auto duration =
      std::chrono::seconds(std::min(envInt("MEMKV_STRESS_SECONDS", default_seconds), 60L));
  const uint64_t seed = testSeed();
  std::cerr << "[   SEED   ] MEMKV_TEST_SEED=" << seed << ", " << duration.count() << " s\n";
  std::mt19937_64 key_rng(seed);
  const std::vector<std::string> keys = makeKeys(key_rng, kHostileKeys);
  const std::vector<std::string> growing = makeKeys(key_rng, kGrowingKeys);

  const uint64_t buffers_idle = statU64(client_, "read_buffers_in_use");
  Totals totals;
  const auto deadline = Clock::now() + duration;
  std::vector<std::thread> threads;
  for (int i = 0; i < kHostileThreads; ++i) {
    threads.emplace_back(hostileThread, server_->port(), seed + static_cast<uint64_t>(i), deadline,
                         std::cref(keys), std::cref(growing), std::ref(totals));
  }
  for (int i = 0; i < kVerifiers; ++i) {
    threads.emplace_back(verifierThread, server_->port(), i, deadline, std::ref(totals));
  }
  for (std::thread& t : threads) t.join();

  std::cerr << "stress: " << totals.hostile_items << " hostile items (" << totals.hostile_bytes
            << " bytes), " << totals.hostile_responses << " responses, " << totals.reconnects
            << " connections, " << totals.server_closes << " closed by the server, "
            << totals.client_closes << " by the client, " << totals.send_stalls << " send stalls, "
            << totals.connect_failures << " connect failures; " << totals.verified_ops
            << " verified operations (" << totals.verified_reads << " reads)\n";
  EXPECT_EQ(totals.failures, 0u) << "first failure: " << totals.first_failure;
  EXPECT_EQ(totals.malformed, 0u);
  EXPECT_EQ(totals.connect_failures, 0u);
  const double slow = sanitizedBuild() ? 10.0 : 1.0;
  const auto secs = static_cast<double>(duration.count());
  EXPECT_GE(static_cast<double>(totals.verified_ops), 200.0 * secs / slow);
  EXPECT_GE(static_cast<double>(totals.hostile_items), 1000.0 * secs / slow);
  EXPECT_GT(totals.server_closes, 100u) << "the invalid frames closed nothing";
  EXPECT_GT(totals.hostile_responses, 1000u);

  // The server is alive and no client's leftovers hold anything.
  std::map<std::string, std::string> stats;
  ASSERT_NO_THROW(stats = client_.stats());
  EXPECT_EQ(stats["evictions"], "0") << "evictions would make the verifiers' checks unsound";
  uint64_t v = 0;
  const auto settle = scaled(milliseconds(10000));
  EXPECT_TRUE(waitForStat(
      client_, "curr_connections", [](uint64_t n) { return n == 1; }, settle, &v))
      << "curr_connections stays " << v;
  EXPECT_TRUE(waitForStat(
      client_, "read_buffers_in_use", [&](uint64_t n) { return n <= buffers_idle; }, settle, &v))
      << "read_buffers_in_use stays " << v << " (idle: " << buffers_idle << ")";
  EXPECT_TRUE(waitForStat(
      client_, "read_spill_bytes", [](uint64_t n) { return n == 0; }, settle, &v))
      << "read_spill_bytes stays " << v;
  EXPECT_TRUE(waitForStat(
      client_, "large_frame_bytes", [](uint64_t n) { return n == 0; }, settle, &v))
      << "large_frame_bytes stays " << v;
  ASSERT_EQ(client_.flush().status, status::kSuccess);
  EXPECT_TRUE(waitForStat(
      client_, "bytes", [](uint64_t n) { return n == 0; }, settle, &v))
      << "bytes stays " << v << " after FLUSH";
  EXPECT_TRUE(waitForStat(
      client_, "curr_items", [](uint64_t n) { return n == 0; }, settle, &v))
      << "curr_items stays " << v << " after FLUSH";
}

}  // namespace
}  // namespace memkv::test
