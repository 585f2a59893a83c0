// Text protocol storage commands against a real server: set/add/replace/append/prepend/cas,
// noreply, bad data chunks, too-large values, delete, incr/decr, touch, flags and expiry.
// Every reply is asserted byte for byte; the expectations are memcached 1.6.18's answers.
#include <gtest/gtest.h>

#include <ctime>
#include <string>
#include <thread>

#include "integration/text_fixture.h"

namespace memkv::test {
namespace {

using std::chrono::milliseconds;

class TextStorageTest : public TextServerTest {};

TEST_F(TextStorageTest, SetThenGetRoundTripsValueAndFlags) {
  EXPECT_EQ(text_.call("set k 5 0 2\r\nhi\r\n"), "STORED\r\n");
  EXPECT_EQ(fetch("get k\r\n"), "VALUE k 5 2\r\nhi\r\nEND\r\n");
  // A second set replaces the flags too.
  EXPECT_EQ(text_.call("set k 9 0 3\r\nhey\r\n"), "STORED\r\n");
  EXPECT_EQ(fetch("get k\r\n"), "VALUE k 9 3\r\nhey\r\nEND\r\n");
}

TEST_F(TextStorageTest, FlagsRoundTripUpTo32BitMax) {
  EXPECT_EQ(text_.call("set f 4294967295 0 1\r\nx\r\n"), "STORED\r\n");
  EXPECT_EQ(fetch("get f\r\n"), "VALUE f 4294967295 1\r\nx\r\nEND\r\n");
  EXPECT_EQ(text_.call("set g 0 0 1\r\nx\r\n"), "STORED\r\n");
  EXPECT_EQ(fetch("get g\r\n"), "VALUE g 0 1\r\nx\r\nEND\r\n");
}

TEST_F(TextStorageTest, NegativeFlagsAreABadCommandLineAndTheDataIsParsedAsACommand) {
  EXPECT_EQ(text_.call("set f -1 0 1\r\nx\r\n"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(text_.readLine(), "ERROR\r\n") << "the data line 'x' is read as a command";
  EXPECT_EQ(fetch("get f\r\n"), "END\r\n");
}

TEST_F(TextStorageTest, ZeroLengthValue) {
  EXPECT_EQ(text_.call("set e 0 0 0\r\n\r\n"), "STORED\r\n");
  EXPECT_EQ(fetch("get e\r\n"), "VALUE e 0 0\r\n\r\nEND\r\n");
}

TEST_F(TextStorageTest, AddReplaceAppendPrependReplies) {
  EXPECT_EQ(text_.call("add k 1 0 1\r\na\r\n"), "STORED\r\n");
  EXPECT_EQ(text_.call("add k 2 0 1\r\nb\r\n"), "NOT_STORED\r\n");
  EXPECT_EQ(text_.call("replace nope 0 0 1\r\nc\r\n"), "NOT_STORED\r\n");
  EXPECT_EQ(text_.call("replace k 3 0 1\r\nr\r\n"), "STORED\r\n");
  EXPECT_EQ(text_.call("append k 77 0 2\r\n>>\r\n"), "STORED\r\n");
  EXPECT_EQ(text_.call("prepend k 88 0 2\r\n<<\r\n"), "STORED\r\n");
  EXPECT_EQ(text_.call("append nope 0 0 1\r\nx\r\n"), "NOT_STORED\r\n");
  EXPECT_EQ(text_.call("prepend nope 0 0 1\r\nx\r\n"), "NOT_STORED\r\n");
  // append/prepend keep the flags of the item they extend.
  EXPECT_EQ(fetch("get k nope\r\n"), "VALUE k 3 5\r\n<<r>>\r\nEND\r\n");
}

TEST_F(TextStorageTest, CasStoresOnMatchOnly) {
  store("k", "v1");
  const uint64_t cas = casOf("k");
  ASSERT_NE(cas, 0u);
  EXPECT_EQ(text_.call("cas k 0 0 2 " + std::to_string(cas + 1000) + "\r\nv2\r\n"), "EXISTS\r\n");
  EXPECT_EQ(text_.call("cas k 0 0 1 0\r\nz\r\n"), "EXISTS\r\n");
  EXPECT_EQ(text_.call("cas nope 0 0 2 1\r\nv2\r\n"), "NOT_FOUND\r\n");
  EXPECT_EQ(text_.call("cas k 4 0 2 " + std::to_string(cas) + "\r\nv3\r\n"), "STORED\r\n");
  EXPECT_EQ(fetch("get k\r\n"), "VALUE k 4 2\r\nv3\r\nEND\r\n");
  const uint64_t after = casOf("k");
  EXPECT_NE(after, cas) << "a successful cas gives the item a new CAS";
  EXPECT_EQ(text_.call("cas k 0 0 2 " + std::to_string(cas) + "\r\nv4\r\n"), "EXISTS\r\n")
      << "the old CAS is stale now";
}

TEST_F(TextStorageTest, EveryMutationGetsANewCas) {
  store("a", "1");
  store("b", "1");
  const uint64_t a = casOf("a");
  const uint64_t b = casOf("b");
  ASSERT_NE(a, 0u);
  // memcached draws CAS values from one global counter; memkv keeps one per vbucket
  // (docs/protocol-errors.md), so two keys may share a value there.
  if (isMemcached()) {
    EXPECT_NE(a, b);
  }
  const uint64_t first_b = b;
  store("b", "2");
  EXPECT_NE(casOf("b"), first_b) << "a set changes the CAS";
  EXPECT_EQ(text_.call("incr a 1\r\n"), "2\r\n");
  EXPECT_NE(casOf("a"), a) << "incr changes the CAS";
  const uint64_t before_touch = casOf("b");
  EXPECT_EQ(text_.call("touch b 100\r\n"), "TOUCHED\r\n");
  EXPECT_EQ(casOf("b"), before_touch) << "touch does not change the CAS";
}

// noreply produces zero bytes: the next command's reply is the first thing read.
TEST_F(TextStorageTest, NoreplyStorageCommandsSendNothing) {
  ASSERT_TRUE(
      text_.send("set k 1 0 2 noreply\r\nab\r\n"
                 "add k 0 0 1 noreply\r\nx\r\n"       // NOT_STORED, suppressed
                 "replace zz 0 0 1 noreply\r\nx\r\n"  // NOT_STORED, suppressed
                 "append k 0 0 1 noreply\r\nc\r\n"
                 "prepend k 0 0 1 noreply\r\nd\r\n"
                 "cas k 0 0 1 999999 noreply\r\ne\r\n"  // EXISTS, suppressed
                 "cas zz 0 0 1 1 noreply\r\ne\r\n"      // NOT_FOUND, suppressed
                 "get k zz\r\n"));
  EXPECT_EQ(fetch(text_, ""), "VALUE k 1 4\r\ndabc\r\nEND\r\n")
      << "nothing may precede the get's reply";
  EXPECT_TRUE(text_.silentFor(scaled(milliseconds(100))));
}

// 1.6.18 sets noreply before it parses the rest of the line, so even line errors are silent.
TEST_F(TextStorageTest, NoreplySuppressesErrorsToo) {
  store("k", "x");
  const std::string big(2 * 1024 * 1024, 'z');
  ASSERT_TRUE(
      text_.send("set k 0 0 abc noreply\r\n"
                 "set k abc 0 1 noreply\r\n"
                 "set " +
                 std::string(251, 'k') +
                 " 0 0 1 noreply\r\n"
                 "touch k abc noreply\r\n"
                 "delete k 5 noreply\r\n"
                 "flush_all abc noreply\r\n"
                 "verbosity abc noreply\r\n"
                 "mn\r\n"));
  EXPECT_EQ(text_.readLine(), "MN\r\n");
  // Too large under noreply: silent, swallowed, and the old value is gone.
  EXPECT_EQ(
      text_.call("set k 0 0 " + std::to_string(big.size()) + " noreply\r\n" + big + "\r\nmn\r\n"),
      "MN\r\n");
  EXPECT_EQ(fetch("get k\r\n"), "END\r\n");
}

TEST_F(TextStorageTest, NoreplyCasStoresOnMatch) {
  store("k", "v1");
  const uint64_t cas = casOf("k");
  EXPECT_EQ(text_.call("cas k 2 0 2 " + std::to_string(cas) + " noreply\r\nv2\r\nget k\r\n"),
            "VALUE k 2 2\r\n");
  EXPECT_EQ(text_.readUntil("END\r\n"), "v2\r\nEND\r\n");
}

TEST_F(TextStorageTest, ExtraSixthTokenIsIgnoredButSevenTokensAreAnError) {
  EXPECT_EQ(text_.call("set k 0 0 2 junk\r\nab\r\n"), "STORED\r\n");
  // 7 tokens: ERROR for the line, then the data line is an unknown command.
  EXPECT_EQ(text_.call("set k 0 0 2 noreply extra\r\nzz\r\n"), "ERROR\r\n");
  EXPECT_EQ(text_.readLine(), "ERROR\r\n");
  EXPECT_EQ(fetch("get k\r\n"), "VALUE k 0 2\r\nab\r\nEND\r\n");
}

TEST_F(TextStorageTest, BadDataChunkKeepsOldValueAndStreamInSync) {
  store("k", "old");
  // 3 bytes announced, 5 sent: memcached consumes 3+2 bytes ("abcde"), finds no \r\n at the
  // end, and then parses the leftover "\r\n" as an (empty, unknown) command.
  EXPECT_EQ(text_.call("set k 0 0 3\r\nabcde\r\n"), "CLIENT_ERROR bad data chunk\r\n");
  EXPECT_EQ(text_.readLine(), "ERROR\r\n");
  EXPECT_EQ(fetch("get k\r\n"), "VALUE k 0 3\r\nold\r\nEND\r\n");
  // Data ending in a bare \n (one byte short of \r\n) is bad too.
  EXPECT_EQ(text_.call("set k 0 0 2\r\nxyz\nget k\r\n"), "CLIENT_ERROR bad data chunk\r\n");
  EXPECT_EQ(fetch(text_, ""), "VALUE k 0 3\r\nold\r\nEND\r\n");
}

TEST_F(TextStorageTest, BadDataChunkUnderNoreplyIsSilent) {
  store("k", "hi");
  EXPECT_EQ(text_.call("set k 0 0 1 noreply\r\nabc\r\n"), "ERROR\r\n")
      << "only the leftover \\r\\n answers";
  EXPECT_EQ(fetch("get k\r\n"), "VALUE k 0 2\r\nhi\r\nEND\r\n");
}

TEST_F(TextStorageTest, TooLargeValueIsSwallowedAndDeletesTheOldValue) {
  store("k", "old");
  const std::string big(2 * 1024 * 1024, 'z');
  EXPECT_EQ(text_.call("set k 0 0 " + std::to_string(big.size()) + "\r\n" + big + "\r\n"),
            "SERVER_ERROR object too large for cache\r\n");
  EXPECT_EQ(fetch("get k\r\n"), "END\r\n") << "a failed set must not leave stale data";
  // The connection is in sync: the 2 MiB were swallowed, not parsed as commands.
  EXPECT_EQ(text_.call("set k 0 0 2\r\nok\r\n"), "STORED\r\n");
  EXPECT_TRUE(text_.silentFor(scaled(milliseconds(100))));
}

TEST_F(TextStorageTest, TooLargeAppendKeepsTheOldValue) {
  store("k", "hi");
  const std::string big(2 * 1024 * 1024, 'z');
  EXPECT_EQ(text_.call("append k 0 0 " + std::to_string(big.size()) + "\r\n" + big + "\r\n"),
            "SERVER_ERROR object too large for cache\r\n");
  EXPECT_EQ(fetch("get k\r\n"), "VALUE k 0 2\r\nhi\r\nEND\r\n");
}

TEST_F(TextStorageTest, LargestValueThatFitsTheDefaultItemSize) {
  // memcached's t/getset.t: with -I 1m, a 1047552-byte value fits.
  const std::string v(1047552, 'v');
  EXPECT_EQ(text_.call("set big 0 0 " + std::to_string(v.size()) + "\r\n" + v + "\r\n"),
            "STORED\r\n");
  EXPECT_EQ(text_.call("get big\r\n"), "VALUE big 0 1047552\r\n");
  EXPECT_EQ(text_.readExact(v.size() + 2), v + "\r\n");
  EXPECT_EQ(text_.readLine(), "END\r\n");
}

TEST_F(TextStorageTest, BadLengthIsAClientErrorAndDataIsNotSwallowed) {
  EXPECT_EQ(text_.call("set k 0 0 -1\r\n"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(text_.call("set k 0 0 abc\r\n"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(text_.call("set k 0 0 4294967295\r\nx\r\n"),
            "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(text_.readLine(), "ERROR\r\n");
}

TEST_F(TextStorageTest, KeyTooLongOnSetIsAClientErrorAndDataIsParsedAsCommand) {
  EXPECT_EQ(text_.call("set " + std::string(251, 'a') + " 0 0 1\r\nx\r\n"),
            "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(text_.readLine(), "ERROR\r\n");
  EXPECT_EQ(text_.call("set " + std::string(250, 'a') + " 0 0 1\r\nx\r\n"), "STORED\r\n");
}

TEST_F(TextStorageTest, Delete) {
  store("k", "v");
  EXPECT_EQ(text_.call("delete k\r\n"), "DELETED\r\n");
  EXPECT_EQ(text_.call("delete k\r\n"), "NOT_FOUND\r\n");
  store("k", "v");
  EXPECT_EQ(text_.call("delete k noreply\r\ndelete k noreply\r\nget k\r\n"), "END\r\n");
}

TEST_F(TextStorageTest, DeleteLegacyZeroTimeAndUsageError) {
  store("k", "v");
  EXPECT_EQ(text_.call("delete k 0\r\n"), "DELETED\r\n");
  store("k", "v");
  EXPECT_EQ(text_.call("delete k 0 noreply\r\nget k\r\n"), "END\r\n");
  store("k", "v");
  EXPECT_EQ(text_.call("delete k 10\r\n"),
            "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n");
  EXPECT_EQ(text_.call("delete k a b c\r\n"), "ERROR\r\n");
  EXPECT_EQ(text_.call("delete\r\n"), "ERROR\r\n");
  EXPECT_EQ(fetch("get k\r\n"), "VALUE k 0 1\r\nv\r\nEND\r\n") << "nothing deleted k";
}

TEST_F(TextStorageTest, IncrDecrBasics) {
  store("n", "10");
  EXPECT_EQ(text_.call("incr n 5\r\n"), "15\r\n");
  EXPECT_EQ(text_.call("decr n 3\r\n"), "12\r\n");
  EXPECT_EQ(text_.call("decr n 100\r\n"), "0\r\n") << "decr stops at 0";
  EXPECT_EQ(text_.call("incr nope 1\r\n"), "NOT_FOUND\r\n");
  EXPECT_EQ(text_.call("decr nope 1\r\n"), "NOT_FOUND\r\n");
  EXPECT_EQ(fetch("get nope\r\n"), "END\r\n") << "incr does not create";
}

TEST_F(TextStorageTest, IncrWrapsAt64Bits) {
  store("m", "18446744073709551615");
  EXPECT_EQ(text_.call("incr m 1\r\n"), "0\r\n");
  EXPECT_EQ(text_.call("incr m 18446744073709551615\r\n"), "18446744073709551615\r\n");
  EXPECT_EQ(text_.call("incr m 2\r\n"), "1\r\n");
}

TEST_F(TextStorageTest, IncrDecrRewritesInPlaceWithSpacePadding) {
  store("n", "10", 3);
  EXPECT_EQ(text_.call("decr n 1\r\n"), "9\r\n") << "the reply carries no padding";
  EXPECT_EQ(fetch("get n\r\n"), "VALUE n 3 2\r\n9 \r\nEND\r\n");
  EXPECT_EQ(text_.call("incr n 1\r\n"), "10\r\n") << "a padded value still parses";
  EXPECT_EQ(text_.call("incr n 990\r\n"), "1000\r\n");
  EXPECT_EQ(fetch("get n\r\n"), "VALUE n 3 4\r\n1000\r\nEND\r\n")
      << "a longer result is a new item, keeping the flags";
}

TEST_F(TextStorageTest, IncrDeltaIsParsedLikeStrtoull) {
  // 1.6.18 reads the delta with strtoull: a leading '+' passes; trailing junk and values
  // above 2^64-1 do not.
  store("n", "1");
  EXPECT_EQ(text_.call("incr n +1\r\n"), "2\r\n");
  EXPECT_EQ(text_.call("incr n 1x\r\n"), "CLIENT_ERROR invalid numeric delta argument\r\n");
  EXPECT_EQ(text_.call("incr n 18446744073709551616\r\n"),
            "CLIENT_ERROR invalid numeric delta argument\r\n");
}

TEST_F(TextStorageTest, IncrDecrErrors) {
  store("t", "hi");
  EXPECT_EQ(text_.call("incr t 1\r\n"),
            "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
  EXPECT_EQ(text_.call("decr t 1\r\n"),
            "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
  store("n", "1");
  EXPECT_EQ(text_.call("incr n abc\r\n"), "CLIENT_ERROR invalid numeric delta argument\r\n");
  EXPECT_EQ(text_.call("incr n -1\r\n"), "CLIENT_ERROR invalid numeric delta argument\r\n");
  EXPECT_EQ(text_.call("incr n 1 noreply\r\nincr n x noreply\r\nget n\r\n"), "VALUE n 0 1\r\n");
  EXPECT_EQ(text_.readUntil("END\r\n"), "2\r\nEND\r\n");
  EXPECT_EQ(text_.call("incr n\r\n"), "ERROR\r\n");
  EXPECT_EQ(text_.call("incr n 1 2 3\r\n"), "ERROR\r\n");
}

TEST_F(TextStorageTest, Touch) {
  store("t", "v");
  EXPECT_EQ(text_.call("touch t 100\r\n"), "TOUCHED\r\n");
  EXPECT_EQ(text_.call("touch nope 1\r\n"), "NOT_FOUND\r\n");
  EXPECT_EQ(text_.call("touch t abc\r\n"), "CLIENT_ERROR invalid exptime argument\r\n");
  EXPECT_EQ(text_.call("touch t 100 noreply\r\ntouch nope 100 noreply\r\nget t\r\n"),
            "VALUE t 0 1\r\n");
  EXPECT_EQ(text_.readUntil("END\r\n"), "v\r\nEND\r\n");
  EXPECT_EQ(text_.call("touch t\r\n"), "ERROR\r\n");
  // A negative TTL answers TOUCHED and the item is gone at once.
  EXPECT_EQ(text_.call("touch t -1\r\n"), "TOUCHED\r\n");
  EXPECT_EQ(fetch("get t\r\n"), "END\r\n");
}

TEST_F(TextStorageTest, NegativeExptimeIsStoredButInvisible) {
  EXPECT_EQ(text_.call("set neg 0 -1 1\r\nx\r\n"), "STORED\r\n");
  EXPECT_EQ(fetch("get neg\r\n"), "END\r\n");
  EXPECT_EQ(text_.call("add neg 0 0 1\r\ny\r\n"), "STORED\r\n") << "the expired item is not there";
}

TEST_F(TextStorageTest, ExptimeAbove30DaysIsAnAbsoluteUnixTime) {
  // Server and test share the machine's clock.
  const long now = static_cast<long>(std::time(nullptr));
  EXPECT_EQ(text_.call("set future 0 " + std::to_string(now + 100) + " 1\r\nx\r\n"), "STORED\r\n");
  EXPECT_EQ(text_.call("set past 0 " + std::to_string(now - 100) + " 1\r\ny\r\n"), "STORED\r\n");
  EXPECT_EQ(fetch("get future past\r\n"), "VALUE future 0 1\r\nx\r\nEND\r\n");
  const std::string ttl = text_.call("mg future t\r\n");
  EXPECT_TRUE(ttl == "HD t100\r\n" || ttl == "HD t99\r\n" || ttl == "HD t98\r\n") << ttl;
  // 30 days exactly is still relative.
  EXPECT_EQ(text_.call("set month 0 2592000 1\r\nz\r\n"), "STORED\r\n");
  EXPECT_EQ(fetch("get month\r\n"), "VALUE month 0 1\r\nz\r\nEND\r\n");
}

TEST_F(TextStorageTest, ShortTtlExpires) {
  EXPECT_EQ(text_.call("set s 0 1 1\r\nx\r\n"), "STORED\r\n");
  EXPECT_EQ(text_.call("set l 0 100 1\r\ny\r\n"), "STORED\r\n");
  // The clock ticks once a second, so a TTL of 1 ends within about 2 s.
  const auto deadline = std::chrono::steady_clock::now() + scaled(milliseconds(4000));
  std::string r;
  while (std::chrono::steady_clock::now() < deadline) {
    r = fetch("get s\r\n");
    if (r == "END\r\n") break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_EQ(r, "END\r\n");
  EXPECT_EQ(fetch("get l\r\n"), "VALUE l 0 1\r\ny\r\nEND\r\n");
}

TEST_F(TextStorageTest, GatSetsANewTtl) {
  store("g", "v", 0, 100);
  EXPECT_EQ(fetch("gat 1 g\r\n"), "VALUE g 0 1\r\nv\r\nEND\r\n");
  const auto deadline = std::chrono::steady_clock::now() + scaled(milliseconds(4000));
  std::string r;
  while (std::chrono::steady_clock::now() < deadline) {
    r = fetch("get g\r\n");
    if (r == "END\r\n") break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_EQ(r, "END\r\n");
}

}  // namespace
}  // namespace memkv::test
