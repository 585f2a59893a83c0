// Meta set, delete and arithmetic (ms, md, ma) and mn against a real server: modes, CAS,
// return flags, quiet mode. Replies are memcached 1.6.18's, byte for byte.
#include <gtest/gtest.h>

#include <string>

#include "integration/text_fixture.h"

namespace memkv::test {
namespace {

class MetaMutationTest : public TextServerTest {};

TEST_F(MetaMutationTest, MsReturnsCasKeyAndOpaque) {
  const std::string r = text_.call("ms foo 2 T90 F5 c k O9\r\nhi\r\n");
  const std::string cas = std::to_string(casOf("foo"));
  EXPECT_EQ(r, "HD c" + cas + " kfoo O9\r\n");
  EXPECT_EQ(fetch("get foo\r\n"), "VALUE foo 5 2\r\nhi\r\nEND\r\n");
  EXPECT_EQ(text_.call("mg foo t\r\n"), "HD t90\r\n");
}

TEST_F(MetaMutationTest, MsDefaultsFlagsZeroAndNoExpiry) {
  EXPECT_EQ(text_.call("ms foo 2 T90 F5\r\nhi\r\n"), "HD\r\n");
  EXPECT_EQ(text_.call("ms foo 2\r\nho\r\n"), "HD\r\n");
  EXPECT_EQ(text_.call("mg foo f t\r\n"), "HD f0 t-1\r\n") << "ms does not keep the old TTL";
}

TEST_F(MetaMutationTest, MsModes) {
  EXPECT_EQ(text_.call("ms a 2 ME\r\nhi\r\n"), "HD\r\n");
  EXPECT_EQ(text_.call("ms a 2 ME\r\nho\r\n"), "NS\r\n") << "add finds an item";
  EXPECT_EQ(text_.call("ms a 1 MA\r\n!\r\n"), "HD\r\n");
  EXPECT_EQ(text_.call("ms a 1 MP\r\n<\r\n"), "HD\r\n");
  EXPECT_EQ(text_.callUntil("mg a v\r\n", "!\r\n"), "VA 4\r\n<hi!\r\n");
  EXPECT_EQ(text_.call("ms zz 1 MA\r\n!\r\n"), "NS\r\n");
  EXPECT_EQ(text_.call("ms zz 1 MP\r\n!\r\n"), "NS\r\n");
  EXPECT_EQ(text_.call("ms zz 1 MR\r\n!\r\n"), "NS\r\n");
  EXPECT_EQ(text_.call("ms a 1 MR F7 T0\r\nr\r\n"), "HD\r\n");
  EXPECT_EQ(text_.callUntil("mg a v f t\r\n", "r\r\n"), "VA 1 f7 t-1\r\nr\r\n");
  EXPECT_EQ(text_.call("ms a 1 MS\r\ns\r\n"), "HD\r\n");
  EXPECT_EQ(fetch("get a zz\r\n"), "VALUE a 0 1\r\ns\r\nEND\r\n");
}

TEST_F(MetaMutationTest, MsModeErrorsSwallowThePayload) {
  EXPECT_EQ(text_.call("ms a 1 MX\r\nx\r\nmn\r\n"), "CLIENT_ERROR invalid mode for ms M token\r\n");
  EXPECT_EQ(text_.readLine(), "MN\r\n");
  EXPECT_EQ(text_.call("ms a 1 Ms\r\nx\r\nmn\r\n"), "CLIENT_ERROR invalid mode for ms M token\r\n");
  EXPECT_EQ(text_.readLine(), "MN\r\n");
  EXPECT_EQ(text_.call("ms a 1 MSS\r\nx\r\nmn\r\n"),
            "CLIENT_ERROR incorrect length for M token\r\n");
  EXPECT_EQ(text_.readLine(), "MN\r\n");
  EXPECT_EQ(fetch("get a\r\n"), "END\r\n");
}

TEST_F(MetaMutationTest, MsCompareAndSwap) {
  EXPECT_EQ(text_.call("ms a 2\r\nhi\r\n"), "HD\r\n");
  const uint64_t cas = casOf("a");
  EXPECT_EQ(text_.call("ms a 2 C" + std::to_string(cas + 1000) + "\r\nxx\r\n"), "EX\r\n");
  EXPECT_EQ(text_.call("ms a 2 c C" + std::to_string(cas + 1000) + "\r\nxx\r\n"), "EX c0\r\n");
  EXPECT_EQ(text_.call("ms nope 2 C1\r\nxx\r\n"), "NF\r\n");
  EXPECT_EQ(text_.call("ms nope 2 C1 MR\r\nxx\r\n"), "NF\r\n");
  EXPECT_EQ(text_.call("ms a 2 C" + std::to_string(cas) + "\r\nok\r\n"), "HD\r\n");
  EXPECT_EQ(fetch("get a nope\r\n"), "VALUE a 0 2\r\nok\r\nEND\r\n");
}

TEST_F(MetaMutationTest, MsNegativeTtlIsStoredButInvisible) {
  EXPECT_EQ(text_.call("ms a 2 T-1\r\nzz\r\n"), "HD\r\n");
  EXPECT_EQ(text_.call("mg a v\r\n"), "EN\r\n");
}

TEST_F(MetaMutationTest, MsIgnoresFlagsItDoesNotUse) {
  // 1.6.18 accepts v and s on ms and returns neither (s is returned from 1.6.20).
  EXPECT_EQ(text_.call("ms a 2 v s O1 k\r\nxy\r\n"), "HD O1 ka\r\n");
}

TEST_F(MetaMutationTest, MsDataErrors) {
  EXPECT_EQ(text_.call("ms a 2\r\nhi\r\n"), "HD\r\n");
  // A bad chunk is reported even with q, the old value stays, and the leftover "\r\n" is an
  // empty command.
  EXPECT_EQ(text_.call("ms a 2 q\r\nabcd\r\n"), "CLIENT_ERROR bad data chunk\r\n");
  EXPECT_EQ(text_.readLine(), "ERROR\r\n");
  EXPECT_EQ(text_.callUntil("mg a v\r\n", "hi\r\n"), "VA 2\r\nhi\r\n");
  // Too large: reported, payload swallowed, old value deleted.
  const std::string big(2 * 1024 * 1024, 'z');
  EXPECT_EQ(text_.call("ms a " + std::to_string(big.size()) + " q\r\n" + big + "\r\nmn\r\n"),
            "SERVER_ERROR object too large for cache\r\n");
  EXPECT_EQ(text_.readLine(), "MN\r\n");
  EXPECT_EQ(text_.call("mg a v\r\n"), "EN\r\n");
}

TEST_F(MetaMutationTest, MsLineErrorsAndWhetherThePayloadIsSwallowed) {
  // Understood line, bad flag argument: error, payload swallowed (mn answers next).
  EXPECT_EQ(text_.call("ms a 2 Fx q\r\nhi\r\nmn\r\n"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(text_.readLine(), "MN\r\n");
  EXPECT_EQ(text_.call("ms a 2 Tx q\r\nhi\r\nmn\r\n"),
            "CLIENT_ERROR bad token in command line format\r\n");
  EXPECT_EQ(text_.readLine(), "MN\r\n");
  EXPECT_EQ(text_.call("ms a 2 Cx q\r\nhi\r\nmn\r\n"),
            "CLIENT_ERROR bad token in command line format\r\n");
  EXPECT_EQ(text_.readLine(), "MN\r\n");
  EXPECT_EQ(text_.call("ms a 2 S2\r\nhi\r\nmn\r\n"), "CLIENT_ERROR invalid flag\r\n");
  EXPECT_EQ(text_.readLine(), "MN\r\n");
  // Bad length or overlong key: the payload is not swallowed (it is parsed as a command).
  EXPECT_EQ(text_.call("ms a x q\r\nhi\r\nmn\r\n"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(text_.readLine(), "ERROR\r\n");
  EXPECT_EQ(text_.readLine(), "MN\r\n");
  EXPECT_EQ(text_.call("ms " + std::string(251, 'k') + " 2 q\r\nhi\r\nmn\r\n"),
            "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(text_.readLine(), "ERROR\r\n");
  EXPECT_EQ(text_.readLine(), "MN\r\n");
  EXPECT_EQ(text_.call("mg a\r\n"), "EN\r\n") << "none of them stored";
}

TEST_F(MetaMutationTest, MdReplies) {
  EXPECT_EQ(text_.call("ms a 2\r\nhi\r\n"), "HD\r\n");
  EXPECT_EQ(text_.call("md a k O5\r\n"), "HD ka O5\r\n");
  EXPECT_EQ(text_.call("md a k O5\r\n"), "NF ka O5\r\n");
  EXPECT_EQ(text_.call("md a\r\n"), "NF\r\n");
}

TEST_F(MetaMutationTest, MdQuietHidesOnlyHd) {
  EXPECT_EQ(text_.call("ms a 2\r\nhi\r\n"), "HD\r\n");
  ASSERT_TRUE(text_.send("md a q\r\nmd a q\r\nmd a k O5 q\r\nmn\r\n"));
  EXPECT_EQ(text_.readUntil("MN\r\n"), "NF\r\nNF ka O5\r\nMN\r\n");
}

TEST_F(MetaMutationTest, MdCompareCas) {
  EXPECT_EQ(text_.call("ms a 2\r\nhi\r\n"), "HD\r\n");
  const uint64_t cas = casOf("a");
  EXPECT_EQ(text_.call("md a C" + std::to_string(cas + 1000) + "\r\n"), "EX\r\n");
  EXPECT_EQ(text_.call("md a C" + std::to_string(cas + 1000) + " q\r\nmn\r\n"), "EX\r\n")
      << "q does not hide EX";
  EXPECT_EQ(text_.readLine(), "MN\r\n");
  EXPECT_EQ(text_.call("md a C" + std::to_string(cas) + "\r\n"), "HD\r\n");
  EXPECT_EQ(text_.call("mg a\r\n"), "EN\r\n");
}

TEST_F(MetaMutationTest, MdInvalidateKeepsTheItemWithANewCas) {
  EXPECT_EQ(text_.call("ms a 2 T90\r\nhi\r\n"), "HD\r\n");
  const uint64_t cas = casOf("a");
  EXPECT_EQ(text_.call("md a I T30\r\n"), "HD\r\n");
  EXPECT_NE(casOf("a"), cas);
  EXPECT_EQ(text_.call("mg a t s\r\n"), "HD t30 s2 X W\r\n");
}

TEST_F(MetaMutationTest, MaSeedsIncrementsAndDecrements) {
  EXPECT_EQ(text_.callUntil("ma cnt N0 J10 v\r\n", "10\r\n"), "VA 2\r\n10\r\n")
      << "the created item holds J, not J+D";
  EXPECT_EQ(text_.callUntil("ma cnt v MD D3 t\r\n", "7\r\n"), "VA 1 t-1\r\n7\r\n");
  EXPECT_EQ(text_.call("ma cnt\r\n"), "HD\r\n");
  EXPECT_EQ(text_.callUntil("ma cnt M+ v\r\n", "9\r\n"), "VA 1\r\n9\r\n");
  EXPECT_EQ(text_.callUntil("ma cnt M- D100 v\r\n", "0\r\n"), "VA 1\r\n0\r\n") << "floor 0";
  EXPECT_EQ(text_.callUntil("ma cnt MI D5 v k O9\r\n", "5\r\n"), "VA 1 kcnt O9\r\n5\r\n");
  const uint64_t cas = casOf("cnt");
  const std::string reply = text_.callUntil("ma cnt v c\r\n", "6\r\n");
  const uint64_t new_cas = casOf("cnt");
  EXPECT_NE(new_cas, cas);
  EXPECT_EQ(reply, "VA 1 c" + std::to_string(new_cas) + "\r\n6\r\n") << "c returns the new CAS";
  EXPECT_EQ(text_.callUntil("ma cnt T30 t v\r\n", "7\r\n"), "VA 1 t30\r\n7\r\n");
  // The value was rewritten in place (space-padded) or replaced; memcached does either,
  // depending on whether another thread holds a reference to the item at that moment.
  const std::string got = fetch("get cnt\r\n");
  EXPECT_TRUE(got == "VALUE cnt 0 1\r\n7\r\nEND\r\n" || got == "VALUE cnt 0 2\r\n7 \r\nEND\r\n")
      << got;
}

TEST_F(MetaMutationTest, MaWrapsAndErrors) {
  EXPECT_EQ(text_.call("ms big 20\r\n18446744073709551615\r\n"), "HD\r\n");
  EXPECT_EQ(text_.callUntil("ma big v\r\n", "0\r\n"), "VA 1\r\n0\r\n");
  EXPECT_EQ(text_.call("ma none\r\n"), "NF\r\n");
  EXPECT_EQ(text_.call("ma none q k\r\n"), "NF knone\r\n") << "q does not hide NF";
  EXPECT_EQ(text_.call("ms nn 2\r\nhi\r\n"), "HD\r\n");
  EXPECT_EQ(text_.call("ma nn\r\n"),
            "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
  EXPECT_EQ(text_.call("ma big MX\r\n"), "CLIENT_ERROR invalid mode for ma M token\r\n");
  EXPECT_EQ(text_.call("ma big Dabc\r\n"), "CLIENT_ERROR invalid or duplicate flag\r\n");
  EXPECT_EQ(text_.call("ma big Jabc N0\r\n"), "CLIENT_ERROR invalid or duplicate flag\r\n");
  EXPECT_EQ(text_.call("ma big C1 v\r\n"), "EX\r\n");
}

TEST_F(MetaMutationTest, MaQuietHidesEvenTheValue) {
  EXPECT_EQ(text_.call("ms cnt 1\r\n1\r\n"), "HD\r\n");
  ASSERT_TRUE(text_.send("ma cnt q D1 v\r\nma cnt q\r\nma none q\r\nmn\r\n"));
  EXPECT_EQ(text_.readUntil("MN\r\n"), "NF\r\nMN\r\n");
  EXPECT_EQ(fetch("get cnt\r\n"), "VALUE cnt 0 1\r\n3\r\nEND\r\n");
}

TEST_F(MetaMutationTest, Base64KeysOnMdAndMa) {
  // "Zm9vYg==" is "foob", "Y250" is "cnt".
  EXPECT_EQ(text_.call("ms Zm9vYg== 2 b\r\nhi\r\n"), "HD\r\n");
  EXPECT_EQ(fetch("get foob\r\n"), "VALUE foob 0 2\r\nhi\r\nEND\r\n");
  EXPECT_EQ(text_.call("md Zm9vYg== b k q\r\nmd Zm9vYg== b k\r\n"), "NF kZm9vYg== b\r\n");
  EXPECT_EQ(text_.call("ms Y250 1 b\r\n5\r\n"), "HD\r\n");
  EXPECT_EQ(text_.callUntil("ma Y250 b k v\r\n", "6\r\n"), "VA 1 kY250 b\r\n6\r\n");
  EXPECT_EQ(fetch("get cnt\r\n"), "VALUE cnt 0 1\r\n6\r\nEND\r\n");
}

TEST_F(MetaMutationTest, MnFlushesAndIgnoresTokens) {
  EXPECT_EQ(text_.call("mn\r\n"), "MN\r\n");
  EXPECT_EQ(text_.call("mn a b c\r\n"), "MN\r\n");
}

}  // namespace
}  // namespace memkv::test
