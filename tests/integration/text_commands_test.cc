// Text protocol: flush_all, version, verbosity, quit, shutdown, cache_memlimit, and the
// line-level rules of memcached 1.6.18 (token counts, empty lines, leading spaces, HTTP).
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "integration/text_fixture.h"

namespace memkv::test {
namespace {

using std::chrono::milliseconds;

class TextCommandsTest : public TextServerTest {};

TEST_F(TextCommandsTest, FlushAllInvalidatesEverythingStoredBefore) {
  store("a", "1");
  store("b", "2");
  EXPECT_EQ(text_.call("flush_all\r\n"), "OK\r\n");
  EXPECT_EQ(fetch("get a b\r\n"), "END\r\n");
  store("c", "3");
  EXPECT_EQ(fetch("get c\r\n"), "VALUE c 0 1\r\n3\r\nEND\r\n") << "later stores are unaffected";
  EXPECT_EQ(text_.call("flush_all 0\r\n"), "OK\r\n");
  EXPECT_EQ(fetch("get c\r\n"), "END\r\n");
  EXPECT_EQ(text_.call("flush_all -1\r\n"), "OK\r\n");
}

TEST_F(TextCommandsTest, FlushAllNoreplyIsSilent) {
  store("a", "1");
  EXPECT_EQ(text_.call("flush_all noreply\r\nget a\r\n"), "END\r\n");
  store("b", "1");
  EXPECT_EQ(text_.call("flush_all 0 noreply\r\nget b\r\n"), "END\r\n");
}

TEST_F(TextCommandsTest, FlushAllErrors) {
  EXPECT_EQ(text_.call("flush_all abc\r\n"), "CLIENT_ERROR invalid exptime argument\r\n");
  EXPECT_EQ(text_.call("flush_all 1 2 3\r\n"), "ERROR\r\n");
}

TEST_F(TextCommandsTest, FlushAllWithDelayTakesEffectLater) {
  store("a", "1");
  EXPECT_EQ(text_.call("flush_all 2\r\n"), "OK\r\n");
  EXPECT_EQ(fetch("get a\r\n"), "VALUE a 0 1\r\n1\r\nEND\r\n") << "not yet";
  store("b", "2");  // stored before the deadline: flushed too
  const auto deadline = std::chrono::steady_clock::now() + scaled(milliseconds(5000));
  std::string r;
  while (std::chrono::steady_clock::now() < deadline) {
    r = fetch("get a b\r\n");
    if (r == "END\r\n") break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_EQ(r, "END\r\n");
  // Stores after the deadline stay (1.6.18 flushes by whole seconds, so one made within the
  // deadline's second may still go: retry within a bounded time).
  const auto stay_deadline = std::chrono::steady_clock::now() + scaled(milliseconds(3000));
  while (std::chrono::steady_clock::now() < stay_deadline) {
    store("c", "3");
    r = fetch("get c\r\n");
    if (r != "END\r\n") break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_EQ(r, "VALUE c 0 1\r\n3\r\nEND\r\n");
}

TEST_F(TextCommandsTest, VersionIsA16StyleVersion) {
  const std::string v = text_.call("version\r\n");
  ASSERT_EQ(v.rfind("VERSION 1.6.", 0), 0u) << v;
  EXPECT_EQ(v.substr(v.size() - 2), "\r\n");
  EXPECT_EQ(v.find(' ', 8), std::string::npos) << "one token after VERSION: " << v;
  EXPECT_EQ(text_.call("version foo bar\r\n"), v) << "extra tokens are ignored";
}

TEST_F(TextCommandsTest, Verbosity) {
  EXPECT_EQ(text_.call("verbosity 1\r\n"), "OK\r\n");
  EXPECT_EQ(text_.call("verbosity 5\r\n"), "OK\r\n");
  EXPECT_EQ(text_.call("verbosity abc\r\n"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(text_.call("verbosity\r\n"), "ERROR\r\n");
  // memcapable sends "verbosity noreply" and expects silence.
  EXPECT_EQ(text_.call("verbosity 0 noreply\r\nverbosity noreply\r\nmn\r\n"), "MN\r\n");
}

TEST_F(TextCommandsTest, QuitFlushesRepliesAndRunsNothingAfter) {
  ASSERT_TRUE(text_.send("set k 0 0 2\r\nhi\r\nget k\r\nquit\r\nset k 0 0 3\r\nbye\r\n"));
  EXPECT_EQ(text_.readUntil("END\r\n"), "STORED\r\nVALUE k 0 2\r\nhi\r\nEND\r\n");
  EXPECT_TRUE(text_.closedWithin(scaled(milliseconds(3000))));
  EXPECT_EQ(text_.discardedBeforeClose(), 0u);
  TextClient other = newText();
  EXPECT_EQ(fetch(other, "get k\r\n"), "VALUE k 0 2\r\nhi\r\nEND\r\n") << "the set after quit ran";
}

TEST_F(TextCommandsTest, QuitWithArgumentsStillQuits) {
  ASSERT_TRUE(text_.send("quit now\r\n"));
  EXPECT_TRUE(text_.closedWithin(scaled(milliseconds(3000))));
  EXPECT_EQ(text_.discardedBeforeClose(), 0u);
}

TEST_F(TextCommandsTest, ShutdownIsRefusedWithoutEnableShutdown) {
  EXPECT_EQ(text_.call("shutdown\r\n"), "ERROR: shutdown not enabled\r\n");
  EXPECT_EQ(text_.call("shutdown graceful\r\n"), "ERROR: shutdown not enabled\r\n");
  EXPECT_EQ(text_.call("shutdown foo\r\n"), "ERROR: shutdown not enabled\r\n");
  EXPECT_EQ(text_.call("mn\r\n"), "MN\r\n") << "the server is still up";
}

TEST_F(TextCommandsTest, CacheMemlimit) {
  EXPECT_EQ(text_.call("cache_memlimit 100\r\n"), "OK\r\n");
  EXPECT_EQ(text_.call("cache_memlimit 1\r\n"),
            "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n");
  EXPECT_EQ(text_.call("cache_memlimit 2000000000\r\n"),
            "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes\r\n");
  EXPECT_EQ(text_.call("cache_memlimit abc\r\n"), "ERROR\r\n");
  EXPECT_EQ(text_.call("cache_memlimit -5\r\n"), "ERROR\r\n");
  EXPECT_EQ(text_.call("cache_memlimit\r\n"), "ERROR\r\n");
  EXPECT_EQ(text_.call("cache_memlimit 64 1 2\r\n"), "ERROR\r\n");
  EXPECT_EQ(text_.call("cache_memlimit 64 noreply\r\nmn\r\n"), "MN\r\n");
}

// §1.10: a wrong number of tokens is ERROR in 1.6.18 (the tokens include the command name).
TEST_F(TextCommandsTest, TokenCountRules) {
  const char* const errors[] = {
      "set k 0 0\r\n",
      "set\r\n",
      "add k 0\r\n",
      "replace k\r\n",
      "append k 0 0\r\n",
      "prepend\r\n",
      "cas k 0 0 1\r\n",
      "cas k 0 0 1 1 noreply x\r\n",
      "incr k\r\n",
      "decr\r\n",
      "incr k 1 2 3\r\n",
      "touch k\r\n",
      "touch k 1 2 3\r\n",
      "delete\r\n",
      "delete k 0 noreply x\r\n",
      "flush_all 1 2 3\r\n",
      "verbosity\r\n",
      "verbosity 1 2 3\r\n",
      "get\r\n",
      "gets\r\n",
      "gat\r\n",
      "gats\r\n",
      "mg\r\n",
      "ms\r\n",
      "md\r\n",
      "ma\r\n",
  };
  for (const char* line : errors) {
    EXPECT_EQ(text_.call(line), "ERROR\r\n") << line;
  }
  EXPECT_EQ(text_.call("mn\r\n"), "MN\r\n") << "in sync after all of them";
}

TEST_F(TextCommandsTest, MetaCommandsWithoutKeyThatAreClientErrors) {
  EXPECT_EQ(text_.call("me\r\n"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(text_.call("ms k\r\n"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(text_.call("mn extra tokens\r\n"), "MN\r\n");
}

TEST_F(TextCommandsTest, UnknownCommandsEmptyLinesAndShortNames) {
  EXPECT_EQ(text_.call("boguscommand x\r\n"), "ERROR\r\n");
  EXPECT_EQ(text_.call("\r\n"), "ERROR\r\n");
  EXPECT_EQ(text_.call(" \r\n"), "ERROR\r\n");
  EXPECT_EQ(text_.call("\n"), "ERROR\r\n");
  EXPECT_EQ(text_.call("x\r\n"), "ERROR\r\n");
  EXPECT_EQ(text_.call("GET k\r\n"), "ERROR\r\n") << "commands are case-sensitive";
  EXPECT_EQ(text_.call("boguscommand noreply\r\n"), "ERROR\r\n")
      << "1.6.18 answers an unknown command even with noreply";
}

TEST_F(TextCommandsTest, LeadingSpacesAreSkipped) {
  store("k", "v");
  EXPECT_EQ(fetch("   get k\r\n"), "VALUE k 0 1\r\nv\r\nEND\r\n");
  EXPECT_EQ(text_.call("  set j 0 0 1\r\nw\r\n"), "STORED\r\n");
}

TEST_F(TextCommandsTest, HttpProbeClosesSilently) {
  ASSERT_TRUE(text_.send("GET / HTTP/1.0\r\n\r\n"));
  EXPECT_TRUE(text_.closedWithin(scaled(milliseconds(3000))));
  EXPECT_EQ(text_.discardedBeforeClose(), 0u);
  TextClient put = newText();
  ASSERT_TRUE(put.send("PUT /asdf/asd/fasdfasdf HTTP/1.1\r\n"));
  EXPECT_TRUE(put.closedWithin(scaled(milliseconds(3000))));
  EXPECT_EQ(put.discardedBeforeClose(), 0u);
  TextClient del = newText();
  ASSERT_TRUE(del.send("DELETE HTTP/1.1\r\n"));
  EXPECT_TRUE(del.closedWithin(scaled(milliseconds(3000))));
  EXPECT_EQ(del.discardedBeforeClose(), 0u);
}

TEST_F(TextCommandsTest, HttpAsLastTokenOfAKnownCommandIsJustAKey) {
  store("k", "v");
  EXPECT_EQ(fetch("get k HTTP/1.1\r\n"), "VALUE k 0 1\r\nv\r\nEND\r\n");
}

}  // namespace
}  // namespace memkv::test
