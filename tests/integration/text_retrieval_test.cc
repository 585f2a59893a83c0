// Text protocol retrieval: get/gets/gat/gats, key-length errors, and the line-length rules
// (a long non-get line without a newline closes; long multigets are served in full).
#include <gtest/gtest.h>

#include <string>

#include "integration/text_fixture.h"

namespace memkv::test {
namespace {

using std::chrono::milliseconds;

class TextRetrievalTest : public TextServerTest {};

TEST_F(TextRetrievalTest, MultiGetAnswersHitsInOrderAndOmitsMisses) {
  store("a", "1", 1);
  store("b", "22", 2);
  EXPECT_EQ(fetch("get b nope a\r\n"), "VALUE b 2 2\r\n22\r\nVALUE a 1 1\r\n1\r\nEND\r\n");
  EXPECT_EQ(fetch("get nope\r\n"), "END\r\n");
  EXPECT_EQ(
      fetch("get a a b a\r\n"),
      "VALUE a 1 1\r\n1\r\nVALUE a 1 1\r\n1\r\nVALUE b 2 2\r\n22\r\nVALUE a 1 1\r\n1\r\nEND\r\n")
      << "a repeated key is answered every time";
}

TEST_F(TextRetrievalTest, GetsCarriesTheCasAndGetDoesNot) {
  store("a", "1");
  store("b", "2");
  const uint64_t ca = casOf("a");
  const uint64_t cb = casOf("b");
  ASSERT_NE(ca, 0u);
  ASSERT_NE(cb, 0u);
  // One global CAS counter in memcached; per-vbucket counters in memkv (docs/protocol-errors.md).
  if (isMemcached()) {
    EXPECT_NE(ca, cb);
  }
  EXPECT_EQ(fetch("gets a nope b a\r\n"),
            "VALUE a 0 1 " + std::to_string(ca) + "\r\n1\r\nVALUE b 0 1 " + std::to_string(cb) +
                "\r\n2\r\nVALUE a 0 1 " + std::to_string(ca) + "\r\n1\r\nEND\r\n");
  EXPECT_EQ(fetch("get a\r\n"), "VALUE a 0 1\r\n1\r\nEND\r\n");
}

TEST_F(TextRetrievalTest, GatAndGatsTouchAndOnlyGatsCarriesTheCas) {
  store("a", "1", 7);
  const uint64_t ca = casOf("a");
  EXPECT_EQ(fetch("gat 100 a nope a\r\n"), "VALUE a 7 1\r\n1\r\nVALUE a 7 1\r\n1\r\nEND\r\n");
  EXPECT_EQ(fetch("gats 0 a\r\n"), "VALUE a 7 1 " + std::to_string(ca) + "\r\n1\r\nEND\r\n")
      << "gat does not change the CAS";
  EXPECT_EQ(fetch("gat 10 nope\r\n"), "END\r\n");
  EXPECT_EQ(fetch("gat 10\r\n"), "END\r\n")
      << "memcached 1.6.18: gat with no key is an empty hit list";
  EXPECT_EQ(text_.call("gat abc a\r\n"), "CLIENT_ERROR invalid exptime argument\r\n");
  EXPECT_EQ(text_.call("gat\r\n"), "ERROR\r\n");
  // gat with a negative TTL returns the item, which then expires at once.
  EXPECT_EQ(fetch("gat -1 a\r\n"), "VALUE a 7 1\r\n1\r\nEND\r\n");
  EXPECT_EQ(fetch("get a\r\n"), "END\r\n");
}

TEST_F(TextRetrievalTest, GetWithoutKeyIsAnError) {
  EXPECT_EQ(text_.call("get\r\n"), "ERROR\r\n");
  EXPECT_EQ(text_.call("gets\r\n"), "ERROR\r\n");
  EXPECT_EQ(text_.call("get \r\n"), "ERROR\r\n") << "a trailing space adds no token";
}

TEST_F(TextRetrievalTest, TrailingAndDoubleSpacesAreHarmless) {
  store("a", "1");
  store("b", "2");
  EXPECT_EQ(fetch("get a  b \r\n"), "VALUE a 0 1\r\n1\r\nVALUE b 0 1\r\n2\r\nEND\r\n");
  EXPECT_EQ(fetch("get a\n"), "VALUE a 0 1\r\n1\r\nEND\r\n") << "a bare \\n ends a line too";
}

// A key over 250 bytes anywhere in the list: the whole reply is one CLIENT_ERROR line.
// (Each request is sent alone: memcached 1.6.18 also drops replies to *earlier* pipelined
// commands that are still unsent, which memkv need not copy.)
TEST_F(TextRetrievalTest, OverlongKeyAnywhereGivesOnlyAClientError) {
  store("k", "hi");
  const std::string longkey(251, 'b');
  EXPECT_EQ(text_.call("get " + longkey + "\r\n"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(text_.call("get k " + longkey + "\r\n"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(text_.call("gets k k " + longkey + " k\r\n"),
            "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(text_.call("gat 0 k " + longkey + "\r\n"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_TRUE(text_.silentFor(scaled(milliseconds(100)))) << "no END or VALUE follows";
  EXPECT_EQ(fetch("get k " + std::string(250, 'b') + "\r\n"), "VALUE k 0 2\r\nhi\r\nEND\r\n");
}

TEST_F(TextRetrievalTest, LongNonGetLineWithoutNewlineClosesTheConnection) {
  // More than 2048 bytes buffered, no newline, not a get: memcached closes silently.
  ASSERT_TRUE(text_.send("set " + std::string(3000, 'a')));
  EXPECT_TRUE(text_.closedWithin(scaled(milliseconds(3000))));
  EXPECT_EQ(text_.discardedBeforeClose(), 0u);
  TextClient other = newText();
  ASSERT_TRUE(other.send("incr " + std::string(2100, ' ') + "manyspaces 1"));
  EXPECT_TRUE(other.closedWithin(scaled(milliseconds(3000))));
  TextClient third = newText();
  EXPECT_EQ(third.call("set k 0 0 1\r\nx\r\n"), "STORED\r\n") << "the server still serves others";
}

TEST_F(TextRetrievalTest, LongGetLineWithoutNewlineWaitsForTheRest) {
  store("manyspaces", "x");
  ASSERT_TRUE(text_.send("get " + std::string(2100, ' ')));
  EXPECT_TRUE(text_.silentFor(scaled(milliseconds(300)))) << "a get line may grow";
  EXPECT_EQ(fetch("manyspaces\r\n"), "VALUE manyspaces 0 1\r\nx\r\nEND\r\n");
}

TEST_F(TextRetrievalTest, HundredKilobyteMultiGet) {
  std::string line = "get";
  std::string expected;
  for (int i = 0; line.size() < 100 * 1024; ++i) {
    const std::string key = "key" + std::to_string(i) + std::string(40, 'p');
    line += " " + key;
    if (i % 100 == 0) {
      store(key, std::to_string(i));
      expected += "VALUE " + key + " 0 " + std::to_string(std::to_string(i).size()) + "\r\n" +
                  std::to_string(i) + "\r\n";
    }
  }
  line += "\r\n";
  expected += "END\r\n";
  EXPECT_EQ(fetch(line), expected);
}

TEST_F(TextRetrievalTest, RepeatedKeyIn128KiBLineReturnsEveryValue) {
  // memcached's t/getset.t: one 128 KiB line of "foobarbaz" keys.
  store("foobarbaz", "some value");
  std::string line = "get";
  std::size_t copies = 0;
  while (line.size() + 10 < 128 * 1024) {
    line += " foobarbaz";
    ++copies;
  }
  line += "\r\n";
  ASSERT_GT(copies, 13000u);
  ASSERT_TRUE(text_.send(line));
  const std::string one = "VALUE foobarbaz 0 10\r\nsome value\r\n";
  std::string expected;
  for (std::size_t i = 0; i < copies; ++i) expected += one;
  expected += "END\r\n";
  EXPECT_EQ(text_.readExact(expected.size(), scaled(milliseconds(10000))) == expected, true)
      << copies << " VALUE blocks expected";
  EXPECT_TRUE(text_.silentFor(scaled(milliseconds(100))));
}

}  // namespace
}  // namespace memkv::test
