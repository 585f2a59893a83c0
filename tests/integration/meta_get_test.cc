// Meta get (mg) against a real server: every flag memcached 1.6.18 documents, return flags in
// request order, EN reflections, base64 keys, and the win/stale/recache flow (W, X, Z).
#include <gtest/gtest.h>

#include <string>

#include "integration/text_fixture.h"

namespace memkv::test {
namespace {

class MetaGetTest : public TextServerTest {
 protected:
  // ms that must answer HD.
  void mset(const std::string& key, const std::string& value, const std::string& flags = "") {
    ASSERT_EQ(text_.call("ms " + key + " " + std::to_string(value.size()) +
                         (flags.empty() ? "" : " " + flags) + "\r\n" + value + "\r\n"),
              "HD\r\n");
  }
};

TEST_F(MetaGetTest, BareMgIsHdOrEn) {
  mset("foo", "hi");
  EXPECT_EQ(text_.call("mg foo\r\n"), "HD\r\n");
  EXPECT_EQ(text_.call("mg nokey\r\n"), "EN\r\n");
}

TEST_F(MetaGetTest, ValueAndReturnFlagsInRequestOrder) {
  EXPECT_EQ(text_.call("ms foo 2 T90 F5\r\nhi\r\n"), "HD\r\n");
  const std::string cas = std::to_string(casOf("foo"));
  EXPECT_EQ(text_.callUntil("mg foo v f t s c k O123\r\n", "hi\r\n"),
            "VA 2 f5 t90 s2 c" + cas + " kfoo O123\r\nhi\r\n");
  EXPECT_EQ(text_.callUntil("mg foo O1 k c s t f v\r\n", "hi\r\n"),
            "VA 2 O1 kfoo c" + cas + " s2 t90 f5\r\nhi\r\n");
  EXPECT_EQ(text_.call("mg foo s f\r\n"), "HD s2 f5\r\n") << "no v: HD, no data";
  EXPECT_EQ(text_.callUntil("mg foo v\r\n", "hi\r\n"), "VA 2\r\nhi\r\n");
}

TEST_F(MetaGetTest, TtlMinusOneWhenNoExpiry) {
  mset("foo", "hi");
  EXPECT_EQ(text_.call("mg foo t\r\n"), "HD t-1\r\n");
}

TEST_F(MetaGetTest, MissReflectsOpaqueAndKey) {
  EXPECT_EQ(text_.call("mg nokey v O7 k\r\n"), "EN O7 knokey\r\n");
  EXPECT_EQ(text_.call("mg nokey k v s t f c O8\r\n"), "EN knokey O8\r\n");
}

TEST_F(MetaGetTest, QuietHidesOnlyTheMiss) {
  mset("foo", "hi");
  ASSERT_TRUE(text_.send("mg nokey v q O8 k\r\nmg foo v q k\r\nmg nokey2 q\r\nmn\r\n"));
  EXPECT_EQ(text_.readUntil("MN\r\n"), "VA 2 kfoo\r\nhi\r\nMN\r\n");
}

TEST_F(MetaGetTest, HitBeforeAndLastAccess) {
  mset("foo", "hi");
  EXPECT_EQ(text_.call("mg foo h\r\n"), "HD h0\r\n") << "never fetched before";
  EXPECT_EQ(text_.call("mg foo h l\r\n"), "HD h1 l0\r\n");
}

TEST_F(MetaGetTest, NoBumpDoesNotMarkFetched) {
  mset("foo", "hi");
  EXPECT_EQ(text_.call("mg foo u h\r\n"), "HD h0\r\n");
  EXPECT_EQ(text_.call("mg foo h\r\n"), "HD h0\r\n") << "u left the item unfetched";
  EXPECT_EQ(text_.call("mg foo h\r\n"), "HD h1\r\n");
}

TEST_F(MetaGetTest, ClassicGetsMarkTheItemFetched) {
  for (const char* get : {"get k\r\n", "gets k\r\n", "gat 0 k\r\n", "gats 0 k\r\n"}) {
    mset("k", "v");
    EXPECT_EQ(fetch(get).rfind("VALUE k 0 1", 0), 0u) << get;
    EXPECT_EQ(text_.call("mg k h\r\n"), "HD h1\r\n") << "after " << get;
  }
}

TEST_F(MetaGetTest, TouchOrderMattersForTheReturnedTtl) {
  mset("foo", "hi", "T90");
  EXPECT_EQ(text_.call("mg foo t T30 t\r\n"), "CLIENT_ERROR duplicate flag\r\n");
  EXPECT_EQ(text_.call("mg foo t T30\r\n"), "HD t90\r\n") << "t before T: the old TTL";
  EXPECT_EQ(text_.call("mg foo T60 t\r\n"), "HD t60\r\n") << "T before t: the new TTL";
  EXPECT_EQ(text_.call("mg foo t\r\n"), "HD t60\r\n");
}

TEST_F(MetaGetTest, Base64Keys) {
  // "Zm9v" is base64 for "foo".
  EXPECT_EQ(text_.call("ms Zm9v 2 b k\r\nhi\r\n"), "HD kZm9v b\r\n");
  EXPECT_EQ(text_.callUntil("mg Zm9v b k v\r\n", "hi\r\n"), "VA 2 kZm9v b\r\nhi\r\n");
  EXPECT_EQ(fetch("get foo\r\n"), "VALUE foo 0 2\r\nhi\r\nEND\r\n")
      << "stored under the decoded key";
  EXPECT_EQ(text_.call("mg !!!! b v\r\n"), "CLIENT_ERROR error decoding key\r\n");
  EXPECT_EQ(text_.call("mg YmFy b k\r\n"), "EN kYmFy b\r\n");
}

TEST_F(MetaGetTest, ProxyHintsAreIgnored) {
  mset("foo", "hi");
  EXPECT_EQ(text_.call("mg foo Pabc Lxyz s\r\n"), "HD s2\r\n");
}

TEST_F(MetaGetTest, VivifyOnMissWinsOnceThenOthersSeeZ) {
  EXPECT_EQ(text_.callUntil("mg nv s N30 t v\r\n", "\r\n\r\n"), "VA 0 s0 t30 W\r\n\r\n");
  EXPECT_EQ(text_.callUntil("mg nv s t v\r\n", "\r\n\r\n"), "VA 0 s0 t30 Z\r\n\r\n");
  EXPECT_EQ(text_.call("ms nv 2\r\nxx\r\n"), "HD\r\n");
  EXPECT_EQ(text_.callUntil("mg nv v\r\n", "xx\r\n"), "VA 2\r\nxx\r\n") << "the store cleared Z";
}

TEST_F(MetaGetTest, VivifyIsNotHiddenByQuiet) {
  ASSERT_TRUE(text_.send("mg q1 s N30 t q\r\nmn\r\n"));
  EXPECT_EQ(text_.readUntil("MN\r\n"), "HD s0 t30 W\r\nMN\r\n");
}

TEST_F(MetaGetTest, RecacheWinsWhenTtlIsBelowTheThreshold) {
  mset("r1", "hi", "T5");
  EXPECT_EQ(text_.callUntil("mg r1 R30 v t\r\n", "hi\r\n"), "VA 2 t5 W\r\nhi\r\n");
  EXPECT_EQ(text_.callUntil("mg r1 R30 v t\r\n", "hi\r\n"), "VA 2 t5 Z\r\nhi\r\n");
  mset("r2", "hi", "T100");
  EXPECT_EQ(text_.callUntil("mg r2 R30 v\r\n", "hi\r\n"), "VA 2\r\nhi\r\n") << "TTL above R";
  mset("r3", "hi");
  EXPECT_EQ(text_.callUntil("mg r3 R30 v\r\n", "hi\r\n"), "VA 2\r\nhi\r\n") << "no expiry";
}

TEST_F(MetaGetTest, InvalidatedItemServesStaleAndOneClientWins) {
  mset("s1", "hi", "T90");
  EXPECT_EQ(text_.call("md s1 I T30\r\n"), "HD\r\n");
  const std::string cas = std::to_string(casOf("s1"));
  // casOf used gets, which does not touch the win state.
  EXPECT_EQ(text_.callUntil("mg s1 v c t\r\n", "hi\r\n"), "VA 2 c" + cas + " t30 X W\r\nhi\r\n");
  EXPECT_EQ(text_.callUntil("mg s1 v c\r\n", "hi\r\n"), "VA 2 c" + cas + " Z X\r\nhi\r\n");
  EXPECT_EQ(text_.call("ms s1 2 C1\r\nok\r\n"), "EX\r\n") << "a wrong CAS does not replace";
  EXPECT_EQ(text_.call("ms s1 2 C" + cas + " T90\r\nok\r\n"), "HD\r\n");
  EXPECT_EQ(text_.callUntil("mg s1 v\r\n", "ok\r\n"), "VA 2\r\nok\r\n") << "no X, W or Z any more";
}

// t/metaget.t "serve stale": ms I with a CAS lower than the item's stores the value but keeps
// the item stale, its TTL and its win token.
TEST_F(MetaGetTest, SetWithInvalidateFlagKeepsTheItemStale) {
  mset("toinv", "hi", "T90");
  EXPECT_EQ(text_.call("md toinv I T30\r\n"), "HD\r\n");
  const uint64_t stale_cas = casOf("toinv");
  EXPECT_EQ(text_.call("mg toinv s\r\n"), "HD s2 X W\r\n");
  EXPECT_EQ(text_.call("ms toinv 3 I C" + std::to_string(stale_cas - 1) + " T90\r\nnew\r\n"),
            "HD\r\n");
  const uint64_t new_cas = casOf("toinv");
  EXPECT_NE(new_cas, stale_cas);
  EXPECT_EQ(text_.callUntil("mg toinv s c v t\r\n", "new\r\n"),
            "VA 3 s3 c" + std::to_string(new_cas) + " t30 Z X\r\nnew\r\n");
  EXPECT_EQ(text_.call("ms toinv 3 C" + std::to_string(new_cas) + " T90\r\nfin\r\n"), "HD\r\n");
  EXPECT_EQ(text_.callUntil("mg toinv v t\r\n", "fin\r\n"), "VA 3 t90\r\nfin\r\n");
}

TEST_F(MetaGetTest, MetaDebug) {
  mset("foo", "hi");
  const std::string me = text_.call("me foo\r\n");
  EXPECT_EQ(me.rfind("ME foo exp=-1 la=", 0), 0u) << me;
  EXPECT_NE(me.find(" cas=" + std::to_string(casOf("foo")) + " "), std::string::npos) << me;
  EXPECT_EQ(me.substr(me.size() - 2), "\r\n");
  EXPECT_EQ(text_.call("me nokey\r\n"), "EN\r\n");
}

}  // namespace
}  // namespace memkv::test
