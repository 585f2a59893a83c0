#include "protocol/text_request.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

// Expected replies are memcached 1.6.18's, as a real 1.6.18 server sent them
// for the same bytes.
namespace memkv::text {
namespace {

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

ParseResult parse(std::string_view s, TextCommand* c) {
  return parseTextCommand(bytes(s), c);
}

TextCommand commandOf(std::string_view s) {
  TextCommand c;
  const ParseResult r = parse(s, &c);
  EXPECT_EQ(r.status, ParseStatus::kCommand) << s << " replied " << r.reply;
  return c;
}

std::vector<std::string> keysOf(const TextCommand& c) {
  std::vector<std::string> keys;
  KeyCursor cursor(c.keys);
  std::string_view key;
  while (cursor.next(&key)) keys.emplace_back(key);
  return keys;
}

struct ErrorCase {
  std::string input;
  std::string_view reply;  // empty: noreply hides it
  size_t consumed = 0;     // 0: the first line
  size_t swallow = 0;
};

void expectError(const ErrorCase& e) {
  TextCommand c;
  const ParseResult r = parse(e.input, &c);
  ASSERT_EQ(r.status, ParseStatus::kError) << e.input;
  EXPECT_EQ(r.reply, e.reply) << e.input;
  const size_t line = e.input.find('\n') + 1;
  EXPECT_EQ(r.consumed, e.consumed ? e.consumed : line) << e.input;
  EXPECT_EQ(r.swallow, e.swallow) << e.input;
}

const std::string kLongKey(251, 'k');

TEST(TextParserTest, RetrievalCommandsGiveTheirKeys) {
  TextCommand c = commandOf("get foo bar\r\n");
  EXPECT_EQ(c.kind, CommandKind::kGet);
  EXPECT_EQ(keysOf(c), (std::vector<std::string>{"foo", "bar"}));
  EXPECT_EQ(commandOf("gets a\r\n").kind, CommandKind::kGets);
  EXPECT_EQ(commandOf("bget a\r\n").kind, CommandKind::kGet);
  // Leading, trailing and repeated spaces; a bare \n; a tab belongs to the key.
  EXPECT_EQ(keysOf(commandOf("  get  k1   k2 \r\n")), (std::vector<std::string>{"k1", "k2"}));
  EXPECT_EQ(keysOf(commandOf("get k\n")), std::vector<std::string>{"k"});
  EXPECT_EQ(keysOf(commandOf("get k\tb\r\n")), std::vector<std::string>{"k\tb"});
  EXPECT_EQ(keysOf(commandOf("get k\rfoo\r\n")), std::vector<std::string>{"k\rfoo"});
  EXPECT_EQ(keysOf(commandOf("get " + std::string(250, 'k') + "\r\n")).at(0).size(), 250u);

  c = commandOf("gats -5 a b\r\n");
  EXPECT_EQ(c.kind, CommandKind::kGats);
  EXPECT_EQ(c.exptime, -5);
  EXPECT_EQ(keysOf(c), (std::vector<std::string>{"a", "b"}));
  c = commandOf("gat 10\r\n");  // memcached answers END
  EXPECT_EQ(c.kind, CommandKind::kGat);
  EXPECT_TRUE(keysOf(c).empty());
}

TEST(TextParserTest, RetrievalErrors) {
  expectError({"get\r\n", kErrorLine});
  expectError({"get \r\n", kErrorLine});
  expectError({"gets\r\n", kErrorLine});
  expectError({"gat\r\n", kErrorLine});
  expectError({"gat abc k\r\n", kBadExptime});
  expectError({"get a " + kLongKey + " b\r\n", kBadFormat});
  expectError({"gat 1 " + kLongKey + "\r\n", kBadFormat});
}

// The 250-byte rule is checked a word at a time over the whole key list: a
// key of 250 passes and one of 251 fails wherever it starts and ends.
TEST(TextParserTest, LongKeyAnywhereInAMultigetFailsTheLine) {
  for (size_t offset = 0; offset < 16; ++offset) {
    for (const size_t spaces : {1u, 2u, 9u}) {
      const std::string before = std::string(offset, 'a') + std::string(spaces, ' ');
      const std::string gap(spaces, ' ');
      for (const std::string& tail : {std::string(), gap + "b", gap + std::string(20, 'c') + " "}) {
        const std::string ok = "get " + before + std::string(250, 'k') + tail + "\r\n";
        EXPECT_EQ(keysOf(commandOf(ok)).size(), (offset ? 1u : 0u) + 1 + (tail.empty() ? 0 : 1))
            << offset << " " << spaces;
        expectError({"get " + before + kLongKey + tail + "\r\n", kBadFormat});
      }
    }
  }
}

TEST(TextParserTest, MultigetOfTenThousandKeys) {
  std::string line = "get";
  for (int i = 0; i < 10000; ++i) line += " key" + std::to_string(i);
  line += "\r\n";
  TextCommand c;
  const ParseResult r = parse(line, &c);
  ASSERT_EQ(r.status, ParseStatus::kCommand);
  EXPECT_EQ(r.consumed, line.size());
  const std::vector<std::string> keys = keysOf(c);
  ASSERT_EQ(keys.size(), 10000u);
  EXPECT_EQ(keys.front(), "key0");
  EXPECT_EQ(keys.back(), "key9999");
}

TEST(TextParserTest, StorageCommandsParseTheLineAndTheDataBlock) {
  const std::string in = "set k 5 -1 3 noreply\r\nabc\r\nget k\r\n";
  TextCommand c;
  ParseResult r = parse(in, &c);
  ASSERT_EQ(r.status, ParseStatus::kCommand);
  EXPECT_EQ(c.kind, CommandKind::kSet);
  EXPECT_EQ(c.key, "k");
  EXPECT_EQ(c.flags, 5u);
  EXPECT_EQ(c.exptime, -1);
  EXPECT_TRUE(c.noreply);
  EXPECT_EQ(c.value_length, 3u);
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(c.value(bytes(in)).data()), 3), "abc");
  EXPECT_EQ(r.consumed, in.find("get"));

  c = commandOf("cas k 0 0 1 18446744073709551615\r\na\r\n");
  EXPECT_EQ(c.kind, CommandKind::kCas);
  EXPECT_EQ(c.cas, 18446744073709551615u);
  EXPECT_FALSE(c.noreply);
  EXPECT_EQ(commandOf("add k 0 0 0\r\n\r\n").value_length, 0u);
  EXPECT_EQ(commandOf("replace k 0 0 0\r\n\r\n").kind, CommandKind::kReplace);
  EXPECT_EQ(commandOf("append k 0 0 0\r\n\r\n").kind, CommandKind::kAppend);
  EXPECT_EQ(commandOf("prepend k 0 0 0\r\n\r\n").kind, CommandKind::kPrepend);
  // memcached's strtoul/strtol quirks: truncation to 32 bits, a '+' sign,
  // any 6th token, noreply only as the last token.
  EXPECT_EQ(commandOf("set k 4294967296 0 1\r\na\r\n").flags, 0u);
  EXPECT_EQ(commandOf("set k +5 0 1\r\na\r\n").flags, 5u);
  EXPECT_EQ(commandOf("set k 0 0 4294967297\r\na\r\n").value_length, 1u);
  EXPECT_EQ(commandOf("set k 0 4294967297 1\r\na\r\n").exptime, 1);
  EXPECT_FALSE(commandOf("set k 0 0 1 junk\r\na\r\n").noreply);
}

TEST(TextParserTest, StorageWaitsForTheWholeDataBlock) {
  TextCommand c;
  ParseResult r = parse("set k 1 0 2147483645\r\n", &c);
  EXPECT_EQ(r.status, ParseStatus::kNeedMore);
  EXPECT_EQ(r.needed, 22u + 2147483645u + 2u);
  EXPECT_EQ(c.key, "k");  // the line is parsed already
  EXPECT_EQ(c.value_length, 2147483645u);
  r = parse("set k 0 0 5\r\nabcde\r", &c);
  EXPECT_EQ(r.status, ParseStatus::kNeedMore);
  EXPECT_EQ(r.needed, 20u);
}

TEST(TextParserTest, StorageErrors) {
  // Data not ending in \r\n: all bytes+2 consumed, the rest is a new command.
  expectError({"set k 0 0 3\r\nabcde\r\n", kBadDataChunk, 18});
  expectError({"set k 0 0 2\r\nab\r\r\n", kBadDataChunk, 17});
  expectError({"set k 0 0 3 noreply\r\nabcde\r\n", "", 26});
  // Bad line: only the line is consumed, the data is then parsed as commands.
  expectError({"set k -1 0 1\r\na\r\n", kBadFormat});
  expectError({"set k 0 0 1x\r\na\r\n", kBadFormat});
  expectError({"set k 0 x 1\r\na\r\n", kBadFormat});
  expectError({"add k x 0 1\r\na\r\n", kBadFormat});
  expectError({"set k 0 0 -1\r\n", kBadFormat});
  expectError({"set k 0 0 2147483646\r\n", kBadFormat});
  expectError({"set k 0 0 4294967295\r\n", kBadFormat});
  expectError({"set " + kLongKey + " 0 0 1\r\na\r\n", kBadFormat});
  expectError({"set " + kLongKey + " 0 0 1 noreply\r\na\r\n", ""});
  expectError({"set k 0 0 1x noreply\r\na\r\n", ""});
  expectError({"cas k 0 0 1 x\r\na\r\n", kBadFormat});
  expectError({"cas k 0 0 1 -1\r\na\r\n", kBadFormat});
  // Token counts.
  expectError({"set k 0 0\r\n", kErrorLine});
  expectError({"set k 0 0 1 noreply extra\r\na\r\n", kErrorLine});
  expectError({"cas k 0 0 1\r\na\r\n", kErrorLine});
}

TEST(TextParserTest, DeleteKeepsTheLegacyZeroForm) {
  TextCommand c = commandOf("delete k\r\n");
  EXPECT_EQ(c.kind, CommandKind::kDelete);
  EXPECT_EQ(c.key, "k");
  EXPECT_FALSE(c.noreply);
  EXPECT_TRUE(commandOf("delete k noreply\r\n").noreply);
  EXPECT_FALSE(commandOf("delete k 0\r\n").noreply);
  EXPECT_TRUE(commandOf("delete k 0 noreply\r\n").noreply);
  expectError({"delete k 10\r\n", kDeleteUsage});
  expectError({"delete k 10 noreply\r\n", ""});
  expectError({"delete\r\n", kErrorLine});
  expectError({"delete a b c d\r\n", kErrorLine});
  expectError({"delete " + kLongKey + "\r\n", kBadFormat});
}

TEST(TextParserTest, IncrDecrAndTouch) {
  TextCommand c = commandOf("incr k 18446744073709551615\r\n");
  EXPECT_EQ(c.kind, CommandKind::kIncr);
  EXPECT_EQ(c.delta, 18446744073709551615u);
  EXPECT_EQ(commandOf("decr k +7 noreply\r\n").delta, 7u);
  EXPECT_TRUE(commandOf("decr k 7 noreply\r\n").noreply);
  EXPECT_FALSE(commandOf("incr k 1 0\r\n").noreply);
  expectError({"incr k -1\r\n", kBadDelta});
  expectError({"incr k 18446744073709551616\r\n", kBadDelta});
  expectError({"incr k x noreply\r\n", ""});
  expectError({"incr k\r\n", kErrorLine});
  expectError({"incr k 1 2 3\r\n", kErrorLine});
  expectError({"incr " + kLongKey + " 1\r\n", kBadFormat});

  c = commandOf("touch k -3 noreply\r\n");
  EXPECT_EQ(c.kind, CommandKind::kTouch);
  EXPECT_EQ(c.exptime, -3);
  EXPECT_TRUE(c.noreply);
  EXPECT_EQ(commandOf("touch k 9999999999\r\n").exptime, static_cast<int32_t>(9999999999));
  expectError({"touch k abc\r\n", kBadExptime});
  expectError({"touch k\r\n", kErrorLine});
  expectError({"touch " + kLongKey + " 1\r\n", kBadFormat});
}

TEST(TextParserTest, AdminCommands) {
  TextCommand c = commandOf("flush_all\r\n");
  EXPECT_EQ(c.kind, CommandKind::kFlushAll);
  EXPECT_EQ(c.exptime, 0);
  EXPECT_EQ(commandOf("flush_all \r\n").exptime, 0);  // libmemcached's trailing space
  c = commandOf("flush_all 0 noreply\r\n");
  EXPECT_TRUE(c.noreply);
  EXPECT_TRUE(commandOf("flush_all noreply\r\n").noreply);
  EXPECT_EQ(commandOf("flush_all 1 2\r\n").exptime, 1);
  EXPECT_EQ(commandOf("flush_all -1\r\n").exptime, -1);
  expectError({"flush_all abc\r\n", kBadExptime});
  expectError({"flush_all 1 noreply extra\r\n", kErrorLine});

  c = commandOf("verbosity 5 6\r\n");
  EXPECT_EQ(c.kind, CommandKind::kVerbosity);
  EXPECT_EQ(c.number, 5u);
  expectError({"verbosity\r\n", kErrorLine});
  expectError({"verbosity x\r\n", kBadFormat});
  expectError({"verbosity noreply\r\n", ""});  // memcapable expects silence

  EXPECT_EQ(commandOf("cache_memlimit 64\r\n").number, 64u);
  expectError({"cache_memlimit x\r\n", kErrorLine});

  EXPECT_EQ(commandOf("shutdown\r\n").shutdown, ShutdownMode::kImmediate);
  EXPECT_EQ(commandOf("shutdown graceful\r\n").shutdown, ShutdownMode::kGraceful);
  EXPECT_EQ(commandOf("shutdown foo\r\n").shutdown, ShutdownMode::kInvalid);

  EXPECT_EQ(commandOf("version foo bar\r\n").kind, CommandKind::kVersion);
  EXPECT_EQ(commandOf("quit foo\r\n").kind, CommandKind::kQuit);
  c = commandOf("stats\r\n");
  EXPECT_EQ(c.kind, CommandKind::kStats);
  EXPECT_TRUE(c.args.empty());
  EXPECT_EQ(commandOf("stats  cachedump 1 2 \r\n").args, "cachedump 1 2");
}

TEST(TextParserTest, UnknownCommandsAndHttpProbes) {
  expectError({"\r\n", kErrorLine});
  expectError({" \r\n", kErrorLine});
  expectError({"x\r\n", kErrorLine});
  expectError({"boguscommand x noreply\r\n", kErrorLine});
  expectError({"GET\r\n", kErrorLine});
  expectError({"foo xHTTP/1.1\r\n", kErrorLine});
  TextCommand c;
  for (std::string_view probe : {"GET / HTTP/1.0\r\n", "PUT /asdf/asd/fdfd/asdf HTTP/1.1\r\n",
                                 "DELETE HTTP/1.1\r\n", "foo HTTP/\r\n"}) {
    EXPECT_EQ(parse(probe, &c).status, ParseStatus::kClose) << probe;
  }
  // A known command ending in HTTP/ is just a command.
  EXPECT_EQ(keysOf(commandOf("get k HTTP/1.1\r\n")).size(), 2u);
}

TEST(TextParserTest, LongLinesWithoutNewlineCloseUnlessTheyAreGets) {
  TextCommand c;
  const std::string set = "set " + std::string(2045, 'k');
  ASSERT_EQ(set.size(), 2049u);
  EXPECT_EQ(parse(set.substr(0, 2048), &c).status, ParseStatus::kNeedMore);
  EXPECT_EQ(parse(set, &c).status, ParseStatus::kClose);
  const std::string incr = "incr " + std::string(2048, ' ') + "manyspaces 1";
  EXPECT_EQ(parse(incr, &c).status, ParseStatus::kClose);
  // A multiget keeps being read, and then parses (memcached's t/getset.t).
  const std::string get = "get " + std::string(2048, ' ') + "manyspaces";
  EXPECT_EQ(parse(get, &c).status, ParseStatus::kNeedMore);
  EXPECT_EQ(keysOf(commandOf(get + "\r\n")), std::vector<std::string>{"manyspaces"});
  EXPECT_EQ(parse("gets " + std::string(3000, 'k'), &c).status, ParseStatus::kNeedMore);
  EXPECT_EQ(parse(std::string(100, ' ') + "get " + std::string(3000, 'k'), &c).status,
            ParseStatus::kNeedMore);
  EXPECT_EQ(parse(std::string(101, ' ') + "get " + std::string(3000, 'k'), &c).status,
            ParseStatus::kClose);
  EXPECT_EQ(parse("getx " + std::string(3000, 'k'), &c).status, ParseStatus::kClose);
  // A long line that arrived whole is parsed: its key is then too long.
  expectError({set + " 0 0 1\r\na\r\n", kBadFormat});
}

TEST(TextParserTest, MetaGetFlagsKeepTheirOrderAndTokens) {
  TextCommand c = commandOf("mg Zm9v s v t c f k q h l u O1234 T30 N-5 R+9 P1 L2 b\r\n");
  ASSERT_EQ(c.kind, CommandKind::kMetaGet);
  EXPECT_EQ(c.key, "Zm9v");  // still base64: the caller decodes
  EXPECT_EQ(std::string_view(c.meta.order.data(), c.meta.count), "svtcfkqhluOTNRPLb");
  for (char f : std::string_view("svtcfkqhluOTNRPLb")) EXPECT_TRUE(c.meta.has(f)) << f;
  EXPECT_FALSE(c.meta.has('E'));
  EXPECT_FALSE(c.meta.has('x'));
  EXPECT_EQ(c.meta.opaque, "1234");
  EXPECT_EQ(c.meta.ttl, 30);
  EXPECT_EQ(c.meta.vivify_ttl, -5);
  EXPECT_EQ(c.meta.recache_ttl, 9);
  c = commandOf("mg k\r\n");  // bare mg is legal
  EXPECT_EQ(c.meta.count, 0);
  EXPECT_EQ(commandOf("mg  k  v  \r\n").meta.count, 1);
  c = commandOf("mg k v O\r\n");  // an empty opaque is echoed as "O"
  EXPECT_TRUE(c.meta.has('O'));
  EXPECT_TRUE(c.meta.opaque.empty());
  EXPECT_EQ(commandOf("mg k MX D5 J6 F7 C8 E9 x\r\n").meta.mode, 'X');  // mg ignores M
  EXPECT_EQ(commandOf("mg k O1234567890123456789012345678901\r\n").meta.opaque.size(), 31u);
  EXPECT_EQ(commandOf("mn foo bar\r\n").kind, CommandKind::kMetaNoop);
}

TEST(TextParserTest, MetaSetArithmeticDeleteAndDebug) {
  const std::string in = "ms foo 2 T90 F5 c k MA I C7 E8 s N1 q\r\nhi\r\nmn\r\n";
  TextCommand c;
  ParseResult r = parse(in, &c);
  ASSERT_EQ(r.status, ParseStatus::kCommand);
  EXPECT_EQ(r.consumed, in.find("mn"));
  EXPECT_EQ(c.kind, CommandKind::kMetaSet);
  EXPECT_EQ(c.value_length, 2u);
  EXPECT_EQ(c.value_offset, in.find("hi"));
  EXPECT_EQ(c.meta.ttl, 90);
  EXPECT_EQ(c.meta.client_flags, 5u);
  EXPECT_EQ(c.meta.mode, 'A');
  EXPECT_EQ(c.meta.compare_cas, 7u);
  EXPECT_EQ(c.meta.new_cas, 8u);
  EXPECT_EQ(commandOf("ms k 2 F4294967296\r\nab\r\n").meta.client_flags, 0u);
  EXPECT_EQ(commandOf("ms k 4294967297\r\na\r\n").value_length, 1u);
  EXPECT_EQ(parse("ms k 2 T1\r\nab", &c).needed, 15u);

  c = commandOf("ma cnt N0 J10 D3 MD v t\r\n");
  EXPECT_EQ(c.kind, CommandKind::kMetaArithmetic);
  EXPECT_EQ(c.meta.initial, 10u);
  EXPECT_EQ(c.meta.delta, 3u);
  EXPECT_EQ(c.meta.mode, 'D');
  EXPECT_EQ(commandOf("ma k\r\n").meta.delta, 1u);  // the default
  EXPECT_EQ(commandOf("ma k M-\r\n").meta.mode, '-');

  c = commandOf("md foo I T30 C5 x q k O9\r\n");
  EXPECT_EQ(c.kind, CommandKind::kMetaDelete);
  EXPECT_TRUE(c.meta.has('I') && c.meta.has('x') && c.meta.has('q'));

  c = commandOf("me Zm9v b\r\n");
  EXPECT_EQ(c.kind, CommandKind::kMetaDebug);
  EXPECT_TRUE(c.meta.has('b'));
  EXPECT_FALSE(commandOf("me k x\r\n").meta.has('b'));
}

TEST(TextParserTest, MetaErrors) {
  const std::string ab = "\r\nab\r\n";
  // Line-level errors: an ms payload is not swallowed.
  expectError({"mg\r\n", kErrorLine});
  expectError({"ms\r\n", kErrorLine});
  expectError({"ms k\r\n", kBadFormat});
  expectError({"ms k x" + ab, kBadFormat});
  expectError({"ms k -1\r\n", kBadFormat});
  expectError({"me\r\n", kBadFormat});
  expectError({"me k b c\r\n", kBadFormat});
  expectError({"mg " + kLongKey + " v\r\n", kBadFormat});
  expectError({"ms " + kLongKey + " 2" + ab, kBadFormat});
  expectError({"md " + kLongKey + "\r\n", kBadFormat});
  expectError({"ma " + kLongKey + "\r\n", kBadFormat});
  expectError({"me " + kLongKey + "\r\n", kBadFormat});
  expectError({"mg k a b c d e f g h i j k l m n o p q r\r\n", kMgFlagsTooLong});
  expectError({"ms k 2 a b c d e f g h i j k l m n o p q" + ab, kFlagsTooLong});
  // Flag errors: the ms payload (datalen + 2) is swallowed.
  expectError({"ms k 2 S" + ab, kInvalidFlag, 0, 4});
  expectError({"ms k 2 noreply" + ab, kInvalidFlag, 0, 4});
  expectError({"ms k 2 v v" + ab, kDuplicateFlag, 0, 4});
  expectError({"ms k 2 Fx" + ab, kBadFormat, 0, 4});
  expectError({"ms k 2 Tx q" + ab, kBadToken, 0, 4});
  expectError({"ms k 2 MX" + ab, kBadMsMode, 0, 4});
  expectError({"ms k 2 Ms" + ab, kBadMsMode, 0, 4});
  expectError({"ms k 2 M" + ab, kBadModeLength, 0, 4});
  expectError({"ms k 2 MSS Fx" + ab, kBadModeLength, 0, 4});
  expectError({"ms k 2 Fx MSS" + ab, kBadModeLength, 0, 4});
  expectError({"ms k 2 Fx MX" + ab, kBadFormat, 0, 4});
  expectError({"ms k 2 b" + ab, kBadKeyEncoding, 0, 4});
  expectError({"ms k 2 MX O123456789012345678901234567890123" + ab, kBadMsMode, 0, 4});
  expectError({"ms k 2 O123456789012345678901234567890123" + ab, kOpaqueTooLong, 0, 4});
  expectError({"ms k 2 Dx" + ab, kBadMetaDelta, 0, 4});
  expectError({"ms k 2 Jx" + ab, kBadInitial, 0, 4});
  // The data block is checked even under q.
  expectError({"ms k 2 q\r\nabcd\r\n", kBadDataChunk, 14});
  // mg: the last bad argument wins; invalid or repeated flags win over all.
  expectError({"mg k y\r\n", kInvalidFlag});
  expectError({"mg k q q\r\n", kDuplicateFlag});
  expectError({"mg k \xc3\r\n", kDuplicateFlag});
  expectError({"mg k Cx\r\n", kBadToken});
  expectError({"mg k C-1\r\n", kBadToken});
  expectError({"mg k N\r\n", kBadToken});
  expectError({"mg k Fx\r\n", kBadFormat});
  expectError({"mg k Fx Tx\r\n", kBadToken});
  expectError({"mg k Tx Cx b\r\n", kBadKeyEncoding});
  expectError({"mg k b Tx\r\n", kBadToken});
  expectError({"mg k MXX\r\n", kBadModeLength});
  expectError({"mg k Dx\r\n", kBadMetaDelta});
  expectError({"mg k Jx\r\n", kBadInitial});
  expectError({"mg k Tx O123456789012345678901234567890123\r\n", kBadToken});
  expectError({"mg k y O123456789012345678901234567890123\r\n", kInvalidFlag});
  expectError({"mg k O123456789012345678901234567890123\r\n", kOpaqueTooLong});
  expectError({"mg k s v t c f k q h l u O1 T1 N1 R1 P1 L1 P2\r\n", kDuplicateFlag});
  for (std::string_view key : {"Zm9vYmFy==", "Zm9v=", "Zm9", "Zm9vYg", "===="}) {
    expectError({"mg " + std::string(key) + " b k\r\n", kBadKeyEncoding});
  }
  // md and ma answer one generic string, except for ma's mode and the opaque.
  for (std::string_view line :
       {"md k Cx\r\n", "md k Z\r\n", "md k b\r\n", "md k q q\r\n", "md k Fx\r\n", "ma k Dx\r\n",
        "ma k Jx\r\n", "ma k D-1\r\n", "ma k Z\r\n", "ma k Cx\r\n", "ma k MDD\r\n", "ma k M\r\n"}) {
    expectError({std::string(line), kInvalidOrDuplicateFlag});
  }
  expectError({"ma k Mx\r\n", kBadMaMode});
  expectError({"ma k Mi\r\n", kBadMaMode});
  expectError({"ma k Md\r\n", kBadMaMode});
  expectError({"md k O123456789012345678901234567890123\r\n", kOpaqueTooLong});
  expectError({"ma k O123456789012345678901234567890123\r\n", kOpaqueTooLong});
}

// A pipelined buffer cut at every byte: each prefix that ends before a
// command's last byte asks for more, and the full command parses the same.
TEST(TextParserTest, EverySplitPointOfAPipelineGivesTheSameResults) {
  const std::string pipeline =
      "set k 1 2 5\r\nhello\r\nget k a b\r\ngets k\r\ndelete k 0 noreply\r\n"
      "incr n 5\r\ntouch k 10\r\ncas k 0 0 1 99\r\nx\r\nms k 3 T5 c\r\nabc\r\n"
      "mg k v f t O9\r\nset k 0 0 3\r\nabcde\r\n\r\nmd k q\r\nma k v MD\r\n"
      "ms k 2 MX\r\nzz\r\nms k 2 S\r\nzz\r\nversion\n\r\nflush_all 0\r\nmn\r\nquit\r\n";
  size_t offset = 0;
  int commands = 0;
  while (offset < pipeline.size()) {
    const std::string_view rest = std::string_view(pipeline).substr(offset);
    TextCommand full_cmd;
    const ParseResult full = parse(rest, &full_cmd);
    ASSERT_TRUE(full.status == ParseStatus::kCommand || full.status == ParseStatus::kError) << rest;
    for (size_t cut = 0; cut < full.consumed; ++cut) {
      TextCommand c;
      EXPECT_EQ(parse(rest.substr(0, cut), &c).status, ParseStatus::kNeedMore)
          << "cut " << cut << " of " << rest.substr(0, full.consumed);
    }
    TextCommand c;
    const ParseResult exact = parse(rest.substr(0, full.consumed), &c);
    EXPECT_EQ(exact.status, full.status);
    EXPECT_EQ(exact.consumed, full.consumed);
    EXPECT_EQ(exact.swallow, full.swallow);
    EXPECT_EQ(exact.reply, full.reply);
    EXPECT_EQ(c.kind, full_cmd.kind);
    EXPECT_EQ(c.key, full_cmd.key);
    offset += full.consumed + full.swallow;
    ++commands;
  }
  EXPECT_EQ(offset, pipeline.size());
  EXPECT_EQ(commands, 21);
}

TEST(TextParserTest, Base64KeysDecode) {
  std::array<uint8_t, 16> out{};
  EXPECT_EQ(decodeBase64Key("Zm9vYmFy", out), 6u);
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(out.data()), 6), "foobar");
  EXPECT_EQ(decodeBase64Key("Zm9vYg==", out), 4u);
  EXPECT_EQ(decodeBase64Key("Zm9vYmE=", out), 5u);
  EXPECT_EQ(decodeBase64Key("AP/+", out), 3u);
  EXPECT_EQ(out[1], 0xff);
  EXPECT_EQ(decodeBase64Key("", out), 0u);
  EXPECT_EQ(decodeBase64Key("Zm=v", out), 0u);
  EXPECT_EQ(decodeBase64Key("Zm9vYmFyYmF6YmF6YmF6YmF6", std::span<uint8_t>(out).first(4)), 0u);
}

}  // namespace
}  // namespace memkv::text
