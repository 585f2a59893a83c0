// Binary (MCBP) and text clients share one store: flags, values and CAS agree both ways, and a
// CAS read with text gets works in a binary CAS set.
#include <gtest/gtest.h>

#include <string>

#include "integration/text_fixture.h"

namespace memkv::test {
namespace {

class TextMixedTest : public TextServerTest {};

TEST_F(TextMixedTest, BinarySetIsReadByTextGetsWithSameFlagsAndCas) {
  const Response set = client_.set("mix", "binary value", 0xDEADBEEF);
  ASSERT_EQ(set.status, status::kSuccess);
  ASSERT_NE(set.cas, 0u);
  EXPECT_EQ(fetch("gets mix\r\n"),
            "VALUE mix 3735928559 12 " + std::to_string(set.cas) + "\r\nbinary value\r\nEND\r\n");
  EXPECT_EQ(text_.callUntil("mg mix f c v\r\n", "value\r\n"),
            "VA 12 f3735928559 c" + std::to_string(set.cas) + "\r\nbinary value\r\n");
}

TEST_F(TextMixedTest, TextSetIsReadByBinaryGet) {
  EXPECT_EQ(text_.call("set mix 4294967295 0 4\r\ntext\r\n"), "STORED\r\n");
  const uint64_t cas = casOf("mix");
  const Response get = client_.get("mix");
  ASSERT_EQ(get.status, status::kSuccess);
  EXPECT_EQ(get.value, "text");
  ASSERT_EQ(get.extras.size(), 4u);
  EXPECT_EQ(readBe32(get.extras), 0xFFFFFFFFu);
  EXPECT_EQ(get.cas, cas);
}

TEST_F(TextMixedTest, TextCasWorksInABinaryCasSet) {
  EXPECT_EQ(text_.call("set mix 1 0 2\r\nv1\r\n"), "STORED\r\n");
  const uint64_t cas = casOf("mix");
  EXPECT_EQ(client_.set("mix", "stale", 0, 0, cas + 1000).status, status::kKeyEexists);
  const Response ok = client_.set("mix", "v2", 2, 0, cas);
  ASSERT_EQ(ok.status, status::kSuccess);
  EXPECT_EQ(fetch("gets mix\r\n"), "VALUE mix 2 2 " + std::to_string(ok.cas) + "\r\nv2\r\nEND\r\n");
  // And the other way: a binary CAS in a text cas.
  EXPECT_EQ(text_.call("cas mix 3 0 2 " + std::to_string(ok.cas) + "\r\nv3\r\n"), "STORED\r\n");
  const Response get = client_.get("mix");
  EXPECT_EQ(get.value, "v3");
  EXPECT_EQ(readBe32(get.extras), 3u);
}

TEST_F(TextMixedTest, TextIncrIsSeenByBinaryAndBack) {
  EXPECT_EQ(text_.call("set n 0 0 2\r\n10\r\n"), "STORED\r\n");
  const Response r = client_.incr("n", 5);
  ASSERT_EQ(r.status, status::kSuccess);
  ASSERT_EQ(r.value.size(), 8u);
  EXPECT_EQ(readBe64(r.value), 15u);
  EXPECT_EQ(text_.call("incr n 1\r\n"), "16\r\n");
  EXPECT_EQ(client_.get("n").value.substr(0, 2), "16");
}

TEST_F(TextMixedTest, TextDeleteAndFlushAreSeenByBinary) {
  ASSERT_EQ(client_.set("a", "1").status, status::kSuccess);
  ASSERT_EQ(client_.set("b", "2").status, status::kSuccess);
  EXPECT_EQ(text_.call("delete a\r\n"), "DELETED\r\n");
  EXPECT_EQ(client_.get("a").status, status::kKeyEnoent);
  EXPECT_EQ(text_.call("flush_all\r\n"), "OK\r\n");
  EXPECT_EQ(client_.get("b").status, status::kKeyEnoent);
}

}  // namespace
}  // namespace memkv::test
