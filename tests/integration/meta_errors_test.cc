// Meta protocol error handling and quiet pipelines: invalid and duplicate flags, long opaques,
// too many tokens, errors that q never hides, and mn-terminated quiet batches.
#include <gtest/gtest.h>

#include <string>

#include "integration/text_fixture.h"

namespace memkv::test {
namespace {

class MetaErrorsTest : public TextServerTest {
 protected:
  // `count` distinct, valid mg/ms flags that return nothing on a miss.
  static std::string manyFlags(int count) {
    static const char* const kFlags[] = {"v", "k",  "s",  "t",  "c",  "f",  "h",  "l",
                                         "u", "O1", "T9", "N9", "R9", "P1", "L1", "q",
                                         "b", "I",  "F1", "C1", "M",  "D1", "J1"};
    std::string out;
    for (int i = 0; i < count; ++i) out += std::string(i ? " " : "") + kFlags[i];
    return out;
  }
};

TEST_F(MetaErrorsTest, InvalidFlag) {
  EXPECT_EQ(text_.call("mg foo m o o o\r\n"), "CLIENT_ERROR invalid flag\r\n");
  EXPECT_EQ(text_.call("mg foo noreply\r\n"), "CLIENT_ERROR invalid flag\r\n")
      << "noreply is not a meta flag";
  EXPECT_EQ(text_.call("md foo z\r\n"), "CLIENT_ERROR invalid or duplicate flag\r\n");
  EXPECT_EQ(text_.call("ma foo z\r\n"), "CLIENT_ERROR invalid or duplicate flag\r\n");
}

TEST_F(MetaErrorsTest, DuplicateFlag) {
  EXPECT_EQ(text_.call("mg foo v v\r\n"), "CLIENT_ERROR duplicate flag\r\n");
  EXPECT_EQ(text_.call("mg foo T1 T2\r\n"), "CLIENT_ERROR duplicate flag\r\n");
  EXPECT_EQ(text_.call("ms foo 1 k k\r\nx\r\nmn\r\n"), "CLIENT_ERROR duplicate flag\r\n");
  EXPECT_EQ(text_.readLine(), "MN\r\n") << "the ms payload is swallowed";
  EXPECT_EQ(text_.call("md foo q q\r\n"), "CLIENT_ERROR invalid or duplicate flag\r\n");
  EXPECT_EQ(text_.call("ma foo v v\r\n"), "CLIENT_ERROR invalid or duplicate flag\r\n");
}

TEST_F(MetaErrorsTest, BadNumericTokens) {
  EXPECT_EQ(text_.call("mg foo Tabc\r\n"), "CLIENT_ERROR bad token in command line format\r\n");
  EXPECT_EQ(text_.call("mg foo Nx\r\n"), "CLIENT_ERROR bad token in command line format\r\n");
  EXPECT_EQ(text_.call("mg foo Rx\r\n"), "CLIENT_ERROR bad token in command line format\r\n");
}

TEST_F(MetaErrorsTest, OpaqueUpTo32BytesWithItsLetter) {
  const std::string ok = "O" + std::string(31, 'x');
  const std::string too_long = "O" + std::string(32, 'x');
  EXPECT_EQ(text_.call("mg foo " + ok + "\r\n"), "EN " + ok + "\r\n");
  EXPECT_EQ(text_.call("mg foo " + too_long + "\r\n"), "CLIENT_ERROR opaque token too long\r\n");
  EXPECT_EQ(text_.call("mg foo k q " + too_long + "\r\n"), "CLIENT_ERROR opaque token too long\r\n")
      << "q does not hide errors";
}

TEST_F(MetaErrorsTest, TooManyTokens) {
  const std::string flags = manyFlags(20);
  EXPECT_EQ(text_.call("mg foo " + flags + "\r\n"), "CLIENT_ERROR options flags are too long\r\n");
  EXPECT_EQ(text_.call("md foo " + flags + "\r\n"), "CLIENT_ERROR options flags too long\r\n");
  EXPECT_EQ(text_.call("ma foo " + flags + "\r\n"), "CLIENT_ERROR options flags too long\r\n");
  // For ms the line is not understood, so the payload is read as a command.
  EXPECT_EQ(text_.call("ms foo 2 " + flags + "\r\nhi\r\n"),
            "CLIENT_ERROR options flags too long\r\n");
  EXPECT_EQ(text_.readLine(), "ERROR\r\n");
  // 16 flags are fine.
  EXPECT_EQ(text_.call("mg foo v k s t c f h l u O1 T9 R9 P1 L1 q b\r\nmn\r\n"),
            "CLIENT_ERROR error decoding key\r\n")
      << "the line is parsed (and 'foo' is not base64)";
  EXPECT_EQ(text_.readLine(), "MN\r\n");
}

TEST_F(MetaErrorsTest, AllFlagsTogetherOnAHit) {
  const std::string stored = text_.call("ms a 2 T100 c\r\nhi\r\n");
  ASSERT_EQ(stored.rfind("HD c", 0), 0u) << stored;
  const std::string cas = stored.substr(4, stored.size() - 6);
  // The first fetch: h0. The T9 comes after t, so t shows the old TTL (100, or 99 if the
  // server's clock ticked a second between the two commands: seen under TSan).
  const std::string got =
      text_.callUntil("mg a v k f s t c h l u O1 T9 N9 R9 P1 L1 q\r\n", "hi\r\n");
  const std::string rest = " c" + cas + " h0 l0 O1\r\nhi\r\n";
  EXPECT_TRUE(got == "VA 2 ka f0 s2 t100" + rest || got == "VA 2 ka f0 s2 t99" + rest) << got;
}

TEST_F(MetaErrorsTest, KeyTooLong) {
  EXPECT_EQ(text_.call("mg " + std::string(251, 'k') + " v\r\n"),
            "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(text_.call("mg " + std::string(250, 'k') + " v\r\n"), "EN\r\n");
}

// memcached's t/metaget.t "testing quiet flag": the first reply is the error of the bad line.
TEST_F(MetaErrorsTest, QuietSuccessesThenAnErrorArrivesFirst) {
  ASSERT_TRUE(text_.send("ms quiet 2 q\r\nbo\r\nmd quiet q\r\nmg quiet s v q\r\nms quiet\r\n"));
  EXPECT_EQ(text_.readLine(), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_TRUE(text_.silentFor(scaled(std::chrono::milliseconds(100))));
}

TEST_F(MetaErrorsTest, QuietPipelineReturnsOnlyInterestingRepliesInOrder) {
  ASSERT_TRUE(
      text_.send("ms quiet 2 q\r\nbo\r\n"
                 "mg quiet v q\r\n"
                 "mg quiet v q k\r\n"
                 "mg quietmiss v q\r\n"
                 "md quietmiss q O3\r\n"              // NF: shown
                 "ms quiet 2 q MR C999999\r\nxx\r\n"  // EX: shown
                 "ms absent 1 q ME\r\nx\r\n"          // stored: hidden
                 "ms absent 1 q ME\r\nx\r\n"          // NS: shown
                 "mg quiet Tx q\r\n"                  // error: shown
                 "ma quiet q\r\n"                     // non-numeric error: shown
                 "md quiet q\r\n"                     // hidden
                 "mn\r\n"));
  EXPECT_EQ(text_.readUntil("MN\r\n"),
            "VA 2\r\nbo\r\n"
            "VA 2 kquiet\r\nbo\r\n"
            "NF O3\r\n"
            "EX\r\n"
            "NS\r\n"
            "CLIENT_ERROR bad token in command line format\r\n"
            "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
            "MN\r\n");
  EXPECT_TRUE(text_.silentFor(scaled(std::chrono::milliseconds(100))));
}

// Dalli's meta get_multi: "mg <key> v f k q s" per key, then mn.
TEST_F(MetaErrorsTest, DalliStyleMultiGet) {
  EXPECT_EQ(text_.call("ms k1 2 F3\r\nv1\r\n"), "HD\r\n");
  EXPECT_EQ(text_.call("ms k3 3\r\nv33\r\n"), "HD\r\n");
  ASSERT_TRUE(text_.send("mg k1 v f k q s\r\nmg k2 v f k q s\r\nmg k3 v f k q s\r\nmn\r\n"));
  EXPECT_EQ(text_.readUntil("MN\r\n"), "VA 2 f3 kk1 s2\r\nv1\r\nVA 3 f0 kk3 s3\r\nv33\r\nMN\r\n");
}

// Flags memcached added after 1.6.18 (mg E, md x: 1.6.27) that memkv's parser accepts.
TEST_F(MetaErrorsTest, LaterFlagsAreInvalidIn1618) {
  if (!isMemcached()) GTEST_SKIP() << "memkv accepts the 1.6.27 E and x flags";
  EXPECT_EQ(text_.call("mg foo E5\r\n"), "CLIENT_ERROR invalid flag\r\n");
  EXPECT_EQ(text_.call("md foo x\r\n"), "CLIENT_ERROR invalid or duplicate flag\r\n");
}

TEST_F(MetaErrorsTest, LaterFlagsAreAccepted) {
  MEMKV_ONLY("memkv's parser accepts the 1.6.27 mg E / md x flags; 1.6.18 rejects them");
  EXPECT_EQ(text_.call("mg foo E5\r\n"), "EN\r\n");
  EXPECT_EQ(text_.call("ms foo 2 F4\r\nhi\r\n"), "HD\r\n");
  EXPECT_EQ(text_.call("md foo x\r\n"), "HD\r\n");
  EXPECT_EQ(text_.call("mg foo s\r\n"), "HD s0\r\n") << "x empties the value but keeps the item";
}

}  // namespace
}  // namespace memkv::test
