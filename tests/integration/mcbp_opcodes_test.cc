// One test (or a few) per classic MCBP opcode, checked against memcached 1.6 behaviour.
#include <gtest/gtest.h>

#include <string>

#include "integration/server_fixture.h"
#include "support/test_env.h"

namespace memkv::test {
namespace {

using std::chrono::milliseconds;

class OpcodesTest : public ServerTest {};

uint64_t counterValue(const Response& r) {
  EXPECT_EQ(r.value.size(), 8u) << "incr/decr body must be an 8-byte big-endian counter";
  return readBe64(r.value);
}

std::string trimRight(std::string s) {
  s.erase(s.find_last_not_of(' ') + 1);
  return s;
}

TEST_F(OpcodesTest, GetMissIsKeyEnoentWithNotFoundBody) {
  const Response r = client_.call(makeKeyOnly(op::kGet, "missing", 0x1234));
  EXPECT_EQ(r.magic, kResponseMagic);
  EXPECT_EQ(r.opcode, op::kGet);
  EXPECT_EQ(r.status, status::kKeyEnoent);
  EXPECT_EQ(r.opaque, 0x1234u);
  EXPECT_EQ(r.cas, 0u);
  EXPECT_TRUE(r.extras.empty());
  EXPECT_TRUE(r.key.empty());
  EXPECT_EQ(r.value, "Not found");
}

TEST_F(OpcodesTest, SetThenGetReturnsValueFlagsAndCas) {
  const Response s = client_.call(makeStore(op::kSet, "k", "hello", 0xdeadbeef, 0, 0, 7));
  EXPECT_EQ(s.opcode, op::kSet);
  EXPECT_EQ(s.status, status::kSuccess);
  EXPECT_EQ(s.opaque, 7u);
  EXPECT_NE(s.cas, 0u);
  EXPECT_TRUE(s.extras.empty());
  EXPECT_TRUE(s.key.empty());
  EXPECT_TRUE(s.value.empty());

  const Response g = client_.call(makeKeyOnly(op::kGet, "k", 8));
  EXPECT_EQ(g.opcode, op::kGet);
  EXPECT_EQ(g.status, status::kSuccess);
  EXPECT_EQ(g.opaque, 8u);
  EXPECT_EQ(g.cas, s.cas);
  EXPECT_EQ(g.extras, be32(0xdeadbeef));
  EXPECT_TRUE(g.key.empty()) << "GET must not echo the key";
  EXPECT_EQ(g.value, "hello");
}

TEST_F(OpcodesTest, GetKEchoesKeyOnHitAndMiss) {
  const Response miss = client_.call(makeKeyOnly(op::kGetK, "nokey", 1));
  EXPECT_EQ(miss.opcode, op::kGetK);
  EXPECT_EQ(miss.status, status::kKeyEnoent);
  EXPECT_EQ(miss.key, "nokey");
  EXPECT_TRUE(miss.value.empty()) << "GETK miss carries the key and no 'Not found' text";

  ASSERT_EQ(client_.set("k", "v", 42).status, status::kSuccess);
  const Response hit = client_.call(makeKeyOnly(op::kGetK, "k", 2));
  EXPECT_EQ(hit.status, status::kSuccess);
  EXPECT_EQ(hit.opaque, 2u);
  EXPECT_EQ(hit.key, "k");
  EXPECT_EQ(hit.extras, be32(42));
  EXPECT_EQ(hit.value, "v");
}

TEST_F(OpcodesTest, SetOverwritesAndChangesCas) {
  const Response a = client_.set("k", "one");
  const Response b = client_.set("k", "two", 5);
  ASSERT_EQ(b.status, status::kSuccess);
  EXPECT_NE(a.cas, b.cas);
  const Response g = client_.get("k");
  EXPECT_EQ(g.value, "two");
  EXPECT_EQ(g.extras, be32(5));
  EXPECT_EQ(g.cas, b.cas);
}

TEST_F(OpcodesTest, CasMatchSucceedsMismatchIsKeyEexistsMissingIsKeyEnoent) {
  const uint64_t cas = client_.set("k", "v1").cas;
  const Response stale = client_.set("k", "x", 0, 0, cas + 1000);
  EXPECT_EQ(stale.status, status::kKeyEexists);
  EXPECT_EQ(stale.value, "Data exists for key.");
  EXPECT_EQ(client_.get("k").value, "v1");

  const Response ok = client_.set("k", "v2", 0, 0, cas);
  EXPECT_EQ(ok.status, status::kSuccess);
  EXPECT_NE(ok.cas, cas);
  EXPECT_EQ(client_.get("k").value, "v2");

  const Response missing = client_.set("nokey", "x", 0, 0, 1234);
  EXPECT_EQ(missing.status, status::kKeyEnoent);
  EXPECT_EQ(missing.value, "Not found");
  EXPECT_EQ(client_.get("nokey").status, status::kKeyEnoent);
}

TEST_F(OpcodesTest, AddOnlyStoresMissingKeys) {
  const Response first = client_.add("k", "v1");
  EXPECT_EQ(first.opcode, op::kAdd);
  EXPECT_EQ(first.status, status::kSuccess);
  EXPECT_NE(first.cas, 0u);
  const Response second = client_.add("k", "v2");
  EXPECT_EQ(second.status, status::kKeyEexists);
  EXPECT_EQ(second.value, "Data exists for key.");
  EXPECT_EQ(client_.get("k").value, "v1");
}

TEST_F(OpcodesTest, ReplaceOnlyStoresExistingKeys) {
  const Response missing = client_.replace("k", "v");
  EXPECT_EQ(missing.opcode, op::kReplace);
  EXPECT_EQ(missing.status, status::kKeyEnoent);
  EXPECT_EQ(missing.value, "Not found");
  EXPECT_EQ(client_.get("k").status, status::kKeyEnoent);

  ASSERT_EQ(client_.set("k", "old").status, status::kSuccess);
  const Response ok = client_.replace("k", "new", 9);
  EXPECT_EQ(ok.status, status::kSuccess);
  const Response g = client_.get("k");
  EXPECT_EQ(g.value, "new");
  EXPECT_EQ(g.extras, be32(9));
}

TEST_F(OpcodesTest, DeleteHitMissAndCas) {
  const uint64_t cas = client_.set("k", "v").cas;
  const Response bad_cas = client_.remove("k", cas + 1000);
  EXPECT_EQ(bad_cas.status, status::kKeyEexists);
  const Response hit = client_.call(makeKeyOnly(op::kDelete, "k", 3));
  EXPECT_EQ(hit.opcode, op::kDelete);
  EXPECT_EQ(hit.status, status::kSuccess);
  EXPECT_EQ(hit.opaque, 3u);
  EXPECT_TRUE(hit.value.empty());
  EXPECT_EQ(client_.get("k").status, status::kKeyEnoent);
  const Response miss = client_.remove("k");
  EXPECT_EQ(miss.status, status::kKeyEnoent);
  EXPECT_EQ(miss.value, "Not found");
}

TEST_F(OpcodesTest, AppendAndPrependConcatenateAndKeepFlags) {
  ASSERT_EQ(client_.set("k", "mid", 77).status, status::kSuccess);
  const Response a = client_.append("k", "_end");
  EXPECT_EQ(a.opcode, op::kAppend);
  EXPECT_EQ(a.status, status::kSuccess);
  EXPECT_NE(a.cas, 0u);
  const Response p = client_.prepend("k", "start_");
  EXPECT_EQ(p.opcode, op::kPrepend);
  EXPECT_EQ(p.status, status::kSuccess);
  const Response g = client_.get("k");
  EXPECT_EQ(g.value, "start_mid_end");
  EXPECT_EQ(g.extras, be32(77));
  EXPECT_EQ(g.cas, p.cas);
}

TEST_F(OpcodesTest, AppendAndPrependOnMissingKeyAreNotStored) {
  const Response a = client_.append("nokey", "x");
  EXPECT_EQ(a.status, status::kNotStored);
  EXPECT_EQ(a.value, "Not stored.");
  const Response p = client_.prepend("nokey", "x");
  EXPECT_EQ(p.status, status::kNotStored);
  EXPECT_EQ(client_.get("nokey").status, status::kKeyEnoent);
}

TEST_F(OpcodesTest, AppendWithStaleCasIsKeyEexists) {
  const uint64_t cas = client_.set("k", "v").cas;
  EXPECT_EQ(client_.append("k", "x", cas + 1000).status, status::kKeyEexists);
  EXPECT_EQ(client_.append("k", "x", cas).status, status::kSuccess);
  EXPECT_EQ(client_.get("k").value, "vx");
}

TEST_F(OpcodesTest, IncrementCreatesWithInitialThenAdds) {
  const Response created = client_.call(makeArith(op::kIncrement, "n", 5, 10, 0, 11));
  EXPECT_EQ(created.opcode, op::kIncrement);
  EXPECT_EQ(created.status, status::kSuccess);
  EXPECT_EQ(created.opaque, 11u);
  EXPECT_NE(created.cas, 0u);
  EXPECT_TRUE(created.extras.empty());
  EXPECT_EQ(counterValue(created), 10u) << "creation stores the initial value, not initial+delta";

  const Response added = client_.incr("n", 5);
  EXPECT_EQ(counterValue(added), 15u);
  EXPECT_NE(added.cas, created.cas);
  const Response g = client_.get("n");
  EXPECT_EQ(g.value, "15") << "the stored value is decimal ASCII";
  EXPECT_EQ(g.cas, added.cas);
}

TEST_F(OpcodesTest, IncrementOnExistingDecimalValue) {
  ASSERT_EQ(client_.set("n", "100", 3).status, status::kSuccess);
  EXPECT_EQ(counterValue(client_.incr("n", 23)), 123u);
  const Response g = client_.get("n");
  EXPECT_EQ(g.value, "123");
  EXPECT_EQ(g.extras, be32(3)) << "incr keeps the flags";
}

TEST_F(OpcodesTest, IncrementWrapsAt64Bits) {
  ASSERT_EQ(client_.set("n", "18446744073709551615").status, status::kSuccess);
  EXPECT_EQ(counterValue(client_.incr("n", 2)), 1u);
  // memcached rewrites a shorter result in place, padding with spaces ("1" + 19 spaces);
  // memkv need not copy the padding, so only the trimmed text is checked.
  EXPECT_EQ(trimRight(client_.get("n").value), "1");
}

TEST_F(OpcodesTest, DecrementFloorsAtZero) {
  const Response created = client_.call(makeArith(op::kDecrement, "n", 1, 7, 0, 4));
  EXPECT_EQ(created.opcode, op::kDecrement);
  EXPECT_EQ(counterValue(created), 7u);
  EXPECT_EQ(counterValue(client_.decr("n", 3)), 4u);
  EXPECT_EQ(counterValue(client_.decr("n", 500)), 0u);
  EXPECT_EQ(client_.get("n").value, "0");
  ASSERT_EQ(client_.set("m", "100").status, status::kSuccess);
  EXPECT_EQ(counterValue(client_.decr("m", 1)), 99u);
  EXPECT_EQ(trimRight(client_.get("m").value), "99") << "memcached stores \"99 \" (padded)";
}

TEST_F(OpcodesTest, ArithExpiryAllOnesDoesNotCreate) {
  for (const uint8_t opcode : {op::kIncrement, op::kDecrement}) {
    const Response r = client_.call(makeArith(opcode, "n", 1, 5, 0xffffffff, 9));
    EXPECT_EQ(r.opcode, opcode);
    EXPECT_EQ(r.status, status::kKeyEnoent);
    EXPECT_EQ(r.value, "Not found");
    EXPECT_EQ(client_.get("n").status, status::kKeyEnoent);
  }
}

TEST_F(OpcodesTest, ArithOnNonNumericValueIsDeltaBadval) {
  ASSERT_EQ(client_.set("t", "abc").status, status::kSuccess);
  const Response r = client_.incr("t", 1);
  EXPECT_EQ(r.status, status::kDeltaBadval);
  EXPECT_EQ(r.value, "Non-numeric server-side value for incr or decr");
  EXPECT_EQ(client_.decr("t", 1).status, status::kDeltaBadval);
  EXPECT_EQ(client_.get("t").value, "abc");
}

TEST_F(OpcodesTest, TouchReturnsFlagsOnlyAndMissIsKeyEnoent) {
  const uint64_t cas = client_.set("k", "v", 0xabcd).cas;
  const Response t = client_.call(makeTouch(op::kTouch, "k", 100, 5));
  EXPECT_EQ(t.opcode, op::kTouch);
  EXPECT_EQ(t.status, status::kSuccess);
  EXPECT_EQ(t.opaque, 5u);
  EXPECT_EQ(t.cas, cas);
  EXPECT_EQ(t.extras, be32(0xabcd));
  EXPECT_TRUE(t.key.empty());
  EXPECT_TRUE(t.value.empty()) << "TOUCH does not return the value";

  const Response miss = client_.touch("nokey", 100);
  EXPECT_EQ(miss.status, status::kKeyEnoent);
  EXPECT_EQ(miss.value, "Not found");
}

TEST_F(OpcodesTest, GatReturnsValueAndFlags) {
  const uint64_t cas = client_.set("k", "value", 12).cas;
  const Response r = client_.call(makeTouch(op::kGat, "k", 100, 6));
  EXPECT_EQ(r.opcode, op::kGat);
  EXPECT_EQ(r.status, status::kSuccess);
  EXPECT_EQ(r.opaque, 6u);
  EXPECT_EQ(r.cas, cas);
  EXPECT_EQ(r.extras, be32(12));
  EXPECT_TRUE(r.key.empty());
  EXPECT_EQ(r.value, "value");

  const Response miss = client_.gat("nokey", 100);
  EXPECT_EQ(miss.status, status::kKeyEnoent);
  EXPECT_EQ(miss.value, "Not found");
}

TEST_F(OpcodesTest, GatQIsSilentOnMissAndAnswersOnHit) {
  ASSERT_EQ(client_.set("k", "v", 1).status, status::kSuccess);
  ASSERT_TRUE(client_.send(makeTouch(op::kGatQ, "nokey", 100, 1)));
  ASSERT_TRUE(client_.send(makeTouch(op::kGatQ, "k", 100, 2)));
  ASSERT_TRUE(client_.send(makeKeyOnly(op::kNoop, "", 3)));
  const Response hit = client_.next();
  EXPECT_EQ(hit.opcode, op::kGatQ);
  EXPECT_EQ(hit.opaque, 2u);
  EXPECT_EQ(hit.status, status::kSuccess);
  EXPECT_EQ(hit.extras, be32(1));
  EXPECT_EQ(hit.value, "v");
  EXPECT_EQ(client_.next().opcode, op::kNoop);
}

TEST_F(OpcodesTest, FlushRemovesEverything) {
  for (int i = 0; i < 10; ++i) ASSERT_EQ(client_.set("k" + std::to_string(i), "v").status, 0);
  const Response f = client_.call(makeFlush(op::kFlush, std::nullopt, 21));
  EXPECT_EQ(f.opcode, op::kFlush);
  EXPECT_EQ(f.status, status::kSuccess);
  EXPECT_EQ(f.opaque, 21u);
  EXPECT_TRUE(f.value.empty());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(client_.get("k" + std::to_string(i)).status, 1);
  EXPECT_EQ(client_.set("after", "v").status, status::kSuccess);
  EXPECT_EQ(client_.get("after").value, "v") << "items stored after a flush are visible";
}

TEST_F(OpcodesTest, AfterFlushAddSucceedsAndOnlyNewItemsCount) {
  for (int i = 0; i < 100; ++i) ASSERT_EQ(client_.set("k" + std::to_string(i), "v").status, 0);
  ASSERT_EQ(client_.flush().status, status::kSuccess);
  EXPECT_EQ(client_.add("k1", "new").status, status::kSuccess);
  EXPECT_EQ(client_.replace("k2", "new").status, status::kKeyEnoent);
  EXPECT_EQ(client_.get("k1").value, "new");
  uint64_t items = 0;
  EXPECT_TRUE(waitForStat(
      client_, "curr_items", [](uint64_t n) { return n == 1; }, scaled(milliseconds(5000)), &items))
      << "curr_items " << items;
}

TEST_F(OpcodesTest, FlushWithZeroDelayExtrasFlushesAtOnce) {
  ASSERT_EQ(client_.set("k", "v").status, status::kSuccess);
  const Response f = client_.flush(0);
  EXPECT_EQ(f.status, status::kSuccess);
  EXPECT_EQ(client_.get("k").status, status::kKeyEnoent);
}

TEST_F(OpcodesTest, FlushQIsSilentAndFlushes) {
  ASSERT_EQ(client_.set("k", "v").status, status::kSuccess);
  ASSERT_TRUE(client_.send(makeFlush(op::kFlushQ, std::nullopt, 1)));
  const Response n = client_.noop();
  EXPECT_EQ(n.opcode, op::kNoop) << "FLUSHQ success must be silent";
  EXPECT_EQ(client_.get("k").status, status::kKeyEnoent);
}

TEST_F(OpcodesTest, NoopAndVersion) {
  const Response n = client_.call(makeKeyOnly(op::kNoop, "", 0xcafe));
  EXPECT_EQ(n.opcode, op::kNoop);
  EXPECT_EQ(n.status, status::kSuccess);
  EXPECT_EQ(n.opaque, 0xcafeu);
  EXPECT_EQ(n.cas, 0u);
  EXPECT_TRUE(n.extras.empty() && n.key.empty() && n.value.empty());

  const Response v = client_.call(makeKeyOnly(op::kVersion, "", 0xbeef));
  EXPECT_EQ(v.opcode, op::kVersion);
  EXPECT_EQ(v.status, status::kSuccess);
  EXPECT_EQ(v.opaque, 0xbeefu);
  EXPECT_TRUE(v.extras.empty() && v.key.empty());
  ASSERT_FALSE(v.value.empty());
  EXPECT_EQ(v.value.find_first_not_of("0123456789."), std::string::npos) << v.value;
}

TEST_F(OpcodesTest, QuitAnswersThenCloses) {
  const Response q = client_.call(makeKeyOnly(op::kQuit, "", 5));
  EXPECT_EQ(q.opcode, op::kQuit);
  EXPECT_EQ(q.status, status::kSuccess);
  EXPECT_EQ(q.opaque, 5u);
  EXPECT_TRUE(client_.connectionClosed());
}

TEST_F(OpcodesTest, QuitQClosesSilently) {
  ASSERT_TRUE(client_.send(makeKeyOnly(op::kQuitQ, "", 5)));
  Response r;
  EXPECT_EQ(client_.read(&r), ReadStatus::kClosed);
}

TEST_F(OpcodesTest, VerbosityAnswersSuccess) {
  // memcached 1.6.18 mishandles binary VERBOSITY: no reply until the next packet arrives, then
  // UNKNOWN_COMMAND, then the connection stalls. memkv implements the documented behaviour.
  MEMKV_ONLY("binary VERBOSITY is broken in memcached 1.6.18");
  Request r;
  r.opcode = op::kVerbosity;
  r.opaque = 3;
  r.extras = be32(1);
  const Response v = client_.call(r);
  EXPECT_EQ(v.opcode, op::kVerbosity);
  EXPECT_EQ(v.status, status::kSuccess);
  EXPECT_EQ(v.opaque, 3u);
  EXPECT_EQ(client_.noop().status, status::kSuccess);
}

}  // namespace
}  // namespace memkv::test
