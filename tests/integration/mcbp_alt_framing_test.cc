// The alternative request format (magic 0x08, frame infos in "framing
// extras"), which Couchbase clients use for durability and preserve-TTL.
// memcached 1.6 does not speak it (it closes), so these tests are memkv-only.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "integration/server_fixture.h"

namespace memkv::test {
namespace {

constexpr uint8_t kAltRequestMagic = 0x08;
constexpr uint16_t kUnknownFrameInfo = 0x80;
constexpr uint16_t kDurabilityInvalidLevel = 0xa0;

std::string altFrame(uint8_t opcode, const std::string& framing, const std::string& extras,
                     const std::string& key, const std::string& value, uint32_t opaque) {
  std::string f;
  f.push_back(static_cast<char>(kAltRequestMagic));
  f.push_back(static_cast<char>(opcode));
  f.push_back(static_cast<char>(framing.size()));
  f.push_back(static_cast<char>(key.size()));
  f.push_back(static_cast<char>(extras.size()));
  f.push_back(0);  // datatype
  f += be16(0);    // vbucket
  f += be32(static_cast<uint32_t>(framing.size() + extras.size() + key.size() + value.size()));
  f += be32(opaque);
  f += be64(0);
  return f + framing + extras + key + value;
}

std::string setExtras(uint32_t flags, uint32_t expiry) {
  return be32(flags) + be32(expiry);
}

const std::string kBarrier("\x00", 1);
const std::string kPreserveTtl("\x50", 1);
const std::string kDurabilityMajority("\x11\x01", 2);

class AltFramingTest : public ServerTest {
 protected:
  Response altCall(const std::string& frame) {
    EXPECT_TRUE(client_.sendRaw(frame));
    Response r;
    EXPECT_EQ(client_.read(&r), ReadStatus::kOk);
    return r;
  }
  void expectStillOpen() { EXPECT_EQ(client_.noop().status, status::kSuccess); }
};

TEST_F(AltFramingTest, SetAndGetWithFrameInfosWork) {
  MEMKV_ONLY("memcached closes on magic 0x08");
  const Response set =
      altCall(altFrame(op::kSet, kBarrier + kDurabilityMajority, setExtras(7, 0), "k", "v1", 11));
  EXPECT_EQ(set.magic, kResponseMagic);
  EXPECT_EQ(set.status, status::kSuccess);
  EXPECT_EQ(set.opaque, 11u);
  EXPECT_NE(set.cas, 0u);
  const Response get = altCall(altFrame(op::kGet, kBarrier, "", "k", "", 12));
  EXPECT_EQ(get.status, status::kSuccess);
  EXPECT_EQ(get.value, "v1");
  EXPECT_EQ(readBe32(get.extras), 7u);
  EXPECT_EQ(client_.get("k").value, "v1");  // the same document, seen classically
}

TEST_F(AltFramingTest, PreserveTtlKeepsTheExistingExpiry) {
  MEMKV_ONLY("memcached closes on magic 0x08");
  ASSERT_EQ(client_.set("kept", "a", 0, 1).status, status::kSuccess);
  ASSERT_EQ(client_.set("reset", "a", 0, 1).status, status::kSuccess);
  EXPECT_EQ(altCall(altFrame(op::kSet, kPreserveTtl, setExtras(0, 0), "kept", "b", 1)).status,
            status::kSuccess);
  EXPECT_EQ(altCall(altFrame(op::kSet, kBarrier, setExtras(0, 0), "reset", "b", 2)).status,
            status::kSuccess);
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  EXPECT_EQ(client_.get("kept").status, status::kKeyEnoent) << "preserve-TTL kept the 1 s expiry";
  EXPECT_EQ(client_.get("reset").value, "b") << "a plain SET replaces the expiry with 0";
}

TEST_F(AltFramingTest, UnknownFrameInfoIsRefusedAndTheConnectionStays) {
  MEMKV_ONLY("memcached closes on magic 0x08");
  const std::string unknown("\xf0\x20", 2);  // escaped id 15 + 32
  const Response r = altCall(altFrame(op::kSet, unknown, setExtras(0, 0), "k", "v", 3));
  EXPECT_EQ(r.status, kUnknownFrameInfo);
  EXPECT_EQ(r.opaque, 3u);
  EXPECT_EQ(client_.get("k").status, status::kKeyEnoent) << "refused request had no effect";
  expectStillOpen();
}

TEST_F(AltFramingTest, MalformedOrMisplacedFrameInfosAreEinvalAndTheConnectionStays) {
  MEMKV_ONLY("memcached closes on magic 0x08");
  const std::string overrun("\x13\x01", 2);    // durability claims 3 bytes, 1 follows
  const std::string bad_level("\x11\x07", 2);  // durability level 7
  EXPECT_EQ(altCall(altFrame(op::kSet, overrun, setExtras(0, 0), "k", "v", 4)).status,
            status::kEinval);
  expectStillOpen();
  EXPECT_EQ(altCall(altFrame(op::kSet, bad_level, setExtras(0, 0), "k", "v", 5)).status,
            status::kEinval);
  expectStillOpen();
  EXPECT_EQ(altCall(altFrame(op::kGet, kPreserveTtl, "", "k", "", 6)).status, status::kEinval);
  expectStillOpen();
  EXPECT_EQ(client_.get("k").status, status::kKeyEnoent);
}

TEST_F(AltFramingTest, MajorityDurabilityIsMetByTheOneNode) {
  MEMKV_ONLY("memcached closes on magic 0x08");
  const std::string majority_with_timeout("\x13\x01\x03\xe8", 4);  // level 1, 1000 ms
  EXPECT_EQ(altCall(altFrame(op::kSet, kDurabilityMajority, setExtras(0, 0), "a", "v1", 1)).status,
            status::kSuccess);
  EXPECT_EQ(
      altCall(altFrame(op::kSet, majority_with_timeout, setExtras(0, 0), "b", "v2", 2)).status,
      status::kSuccess);
  EXPECT_EQ(client_.get("a").value, "v1");
  EXPECT_EQ(client_.get("b").value, "v2");
}

TEST_F(AltFramingTest, PersistenceDurabilityIsRefused) {
  MEMKV_ONLY("memcached closes on magic 0x08");
  // memkv keeps nothing on disk: "persisted" would be a lie. Couchbase's ephemeral buckets
  // answer DURABILITY_INVALID_LEVEL for these levels, and so does memkv.
  ASSERT_EQ(client_.set("existing", "old").status, status::kSuccess);
  const std::string counter_extras = be64(5) + be64(0) + be32(0);
  uint32_t opaque = 20;
  for (const std::string& level :
       {std::string("\x11\x02", 2),             // majorityAndPersistOnMaster
        std::string("\x11\x03", 2),             // persistToMajority
        std::string("\x13\x03\x03\xe8", 4)}) {  // the same, with a timeout
    SCOPED_TRACE(static_cast<int>(level[1]));
    Response r = altCall(altFrame(op::kSet, level, setExtras(0, 0), "new", "v", ++opaque));
    EXPECT_EQ(r.status, kDurabilityInvalidLevel);
    EXPECT_EQ(r.opaque, opaque);
    r = altCall(altFrame(op::kSet, level, setExtras(0, 0), "existing", "v", ++opaque));
    EXPECT_EQ(r.status, kDurabilityInvalidLevel);
    r = altCall(altFrame(op::kDelete, level, "", "existing", "", ++opaque));
    EXPECT_EQ(r.status, kDurabilityInvalidLevel);
    r = altCall(altFrame(op::kIncrement, level, counter_extras, "counter", "", ++opaque));
    EXPECT_EQ(r.status, kDurabilityInvalidLevel);
    expectStillOpen();
  }
  EXPECT_EQ(client_.get("new").status, status::kKeyEnoent) << "a refused SET stored nothing";
  EXPECT_EQ(client_.get("existing").value, "old") << "nor replaced or deleted anything";
  EXPECT_EQ(client_.get("counter").status, status::kKeyEnoent) << "nor created a counter";
}

TEST_F(AltFramingTest, FramingLongerThanTheBodyClosesTheConnection) {
  MEMKV_ONLY("memcached closes on magic 0x08");
  std::string frame = altFrame(op::kGet, kBarrier, "", "k", "", 7);
  frame[11] = 1;  // body length 1 < framing 1 + key 1
  ASSERT_TRUE(client_.sendRaw(frame));
  Response r;
  ASSERT_EQ(client_.read(&r), ReadStatus::kOk);
  EXPECT_EQ(r.status, status::kEinval);
  EXPECT_TRUE(client_.connectionClosed());
}

}  // namespace
}  // namespace memkv::test
