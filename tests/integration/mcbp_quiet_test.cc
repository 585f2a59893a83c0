// Quiet opcodes and pipelining: silent successes, silent get misses, errors still reported,
// NOOP as a barrier, and responses in request order.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "integration/server_fixture.h"

namespace memkv::test {
namespace {

using std::chrono::milliseconds;

class QuietTest : public ServerTest {};

TEST_F(QuietTest, QuietSuccessesAreSilent) {
  ASSERT_EQ(client_.set("del", "x").status, status::kSuccess);
  ASSERT_EQ(client_.set("rep", "x").status, status::kSuccess);
  std::string batch;
  batch += encode(makeStore(op::kSetQ, "a", "1", 0, 0, 0, 1));
  batch += encode(makeStore(op::kAddQ, "b", "2", 0, 0, 0, 2));
  batch += encode(makeStore(op::kReplaceQ, "rep", "3", 0, 0, 0, 3));
  batch += encode(makeKeyOnly(op::kDeleteQ, "del", 4));
  batch += encode(makeArith(op::kIncrementQ, "a", 10, 0, 0, 5));
  batch += encode(makeArith(op::kDecrementQ, "a", 1, 0, 0, 6));
  batch += encode(makeArith(op::kIncrementQ, "created", 1, 42, 0, 7));
  batch += encode(makeConcat(op::kAppendQ, "b", "z", 0, 8));
  batch += encode(makeConcat(op::kPrependQ, "b", "y", 0, 9));
  batch += encode(makeKeyOnly(op::kNoop, "", 10));
  ASSERT_TRUE(client_.sendRaw(batch));
  const Response n = client_.next();
  EXPECT_EQ(n.opcode, op::kNoop) << "a quiet success produced a response";
  EXPECT_EQ(n.opaque, 10u);
  // The quiet operations really happened.
  EXPECT_EQ(client_.get("a").value, "10");
  EXPECT_EQ(client_.get("b").value, "y2z");
  EXPECT_EQ(client_.get("rep").value, "3");
  EXPECT_EQ(client_.get("del").status, status::kKeyEnoent);
  EXPECT_EQ(client_.get("created").value, "42");
}

TEST_F(QuietTest, QuietGetMissesAreSilentHitsAnswer) {
  ASSERT_EQ(client_.set("hit", "v", 5).status, status::kSuccess);
  std::string batch;
  batch += encode(makeKeyOnly(op::kGetQ, "miss1", 1));
  batch += encode(makeKeyOnly(op::kGetKQ, "miss2", 2));
  batch += encode(makeKeyOnly(op::kGetQ, "hit", 3));
  batch += encode(makeKeyOnly(op::kGetKQ, "hit", 4));
  batch += encode(makeKeyOnly(op::kNoop, "", 5));
  ASSERT_TRUE(client_.sendRaw(batch));

  const Response q = client_.next();
  EXPECT_EQ(q.opcode, op::kGetQ);
  EXPECT_EQ(q.opaque, 3u);
  EXPECT_EQ(q.status, status::kSuccess);
  EXPECT_TRUE(q.key.empty()) << "GETQ does not echo the key";
  EXPECT_EQ(q.extras, be32(5));
  EXPECT_EQ(q.value, "v");
  EXPECT_NE(q.cas, 0u);

  const Response kq = client_.next();
  EXPECT_EQ(kq.opcode, op::kGetKQ);
  EXPECT_EQ(kq.opaque, 4u);
  EXPECT_EQ(kq.key, "hit") << "GETKQ echoes the key";
  EXPECT_EQ(kq.value, "v");

  const Response n = client_.next();
  EXPECT_EQ(n.opcode, op::kNoop);
  EXPECT_EQ(n.opaque, 5u);
}

TEST_F(QuietTest, QuietMutationErrorsAreStillSentInOrder) {
  ASSERT_EQ(client_.set("exists", "1").status, status::kSuccess);
  ASSERT_EQ(client_.set("text", "abc").status, status::kSuccess);
  std::string batch;
  batch += encode(makeStore(op::kSetQ, "ok", "1", 0, 0, 0, 1));               // silent
  batch += encode(makeStore(op::kAddQ, "exists", "1", 0, 0, 0, 2));           // KEY_EEXISTS
  batch += encode(makeKeyOnly(op::kDeleteQ, "nokey", 3));                     // KEY_ENOENT
  batch += encode(makeArith(op::kIncrementQ, "ok", 1, 0, 0, 4));              // silent
  batch += encode(makeArith(op::kIncrementQ, "nokey", 1, 0, 0xffffffff, 5));  // KEY_ENOENT
  batch += encode(makeArith(op::kDecrementQ, "text", 1, 0, 0, 6));            // DELTA_BADVAL
  batch += encode(makeConcat(op::kAppendQ, "nokey", "1", 0, 7));              // NOT_STORED
  batch += encode(makeConcat(op::kPrependQ, "nokey", "1", 0, 8));             // NOT_STORED
  batch += encode(makeStore(op::kReplaceQ, "nokey", "1", 0, 0, 0, 9));        // KEY_ENOENT
  batch += encode(makeStore(op::kSetQ, "exists", "1", 0, 0, 12345, 10));      // KEY_EEXISTS
  batch += encode(makeKeyOnly(op::kNoop, "", 11));
  ASSERT_TRUE(client_.sendRaw(batch));

  struct Expected {
    uint8_t opcode;
    uint32_t opaque;
    uint16_t status;
  };
  const std::vector<Expected> expected = {
      {op::kAddQ, 2, status::kKeyEexists},      {op::kDeleteQ, 3, status::kKeyEnoent},
      {op::kIncrementQ, 5, status::kKeyEnoent}, {op::kDecrementQ, 6, status::kDeltaBadval},
      {op::kAppendQ, 7, status::kNotStored},    {op::kPrependQ, 8, status::kNotStored},
      {op::kReplaceQ, 9, status::kKeyEnoent},   {op::kSetQ, 10, status::kKeyEexists},
      {op::kNoop, 11, status::kSuccess},
  };
  for (const Expected& e : expected) {
    const Response r = client_.next();
    EXPECT_EQ(r.opcode, e.opcode) << "opaque " << e.opaque;
    EXPECT_EQ(r.opaque, e.opaque);
    EXPECT_EQ(r.status, e.status) << "opaque " << e.opaque;
  }
  EXPECT_EQ(client_.get("ok").value, "2");
}

TEST_F(QuietTest, QuietResponsesAreNotHeldBackIndefinitely) {
  // Without a NOOP, a quiet get hit is still delivered (memcached flushes at the end of a read).
  ASSERT_EQ(client_.set("k", "v").status, status::kSuccess);
  ASSERT_TRUE(client_.send(makeKeyOnly(op::kGetQ, "k", 1)));
  const Response r = client_.next();
  EXPECT_EQ(r.opcode, op::kGetQ);
  EXPECT_EQ(r.value, "v");
}

TEST_F(QuietTest, QuietGetMissProducesNothing) {
  ASSERT_TRUE(client_.send(makeKeyOnly(op::kGetQ, "nokey", 1)));
  ASSERT_TRUE(client_.send(makeKeyOnly(op::kGetKQ, "nokey", 2)));
  EXPECT_TRUE(client_.silentFor(milliseconds(300)));
  EXPECT_EQ(client_.noop().opcode, op::kNoop);
}

TEST_F(QuietTest, ThousandPipelinedRequestsInOneWriteAnswerInOrder) {
  // Sets and gets interleaved: request i (0-based) is a SET of key (i/2) when even, and a GET
  // of the key just set when odd; every 10th GET asks for a key that was never stored.
  constexpr int kRequests = 1000;
  std::string batch;
  for (int i = 0; i < kRequests; ++i) {
    const uint32_t opaque = static_cast<uint32_t>(i + 1);
    const std::string key = "key" + std::to_string(i / 2);
    if (i % 2 == 0) {
      batch += encode(makeStore(op::kSet, key, "value-" + std::to_string(i / 2),
                                static_cast<uint32_t>(i), 0, 0, opaque));
    } else if (i % 20 == 19) {
      batch += encode(makeKeyOnly(op::kGetK, "absent" + std::to_string(i), opaque));
    } else {
      batch += encode(makeKeyOnly(op::kGet, key, opaque));
    }
  }
  ASSERT_TRUE(client_.sendRaw(batch));
  for (int i = 0; i < kRequests; ++i) {
    const Response r = client_.next();
    ASSERT_EQ(r.opaque, static_cast<uint32_t>(i + 1)) << "response out of order at " << i;
    if (i % 2 == 0) {
      ASSERT_EQ(r.opcode, op::kSet);
      ASSERT_EQ(r.status, status::kSuccess);
    } else if (i % 20 == 19) {
      ASSERT_EQ(r.opcode, op::kGetK);
      ASSERT_EQ(r.status, status::kKeyEnoent);
      ASSERT_EQ(r.key, "absent" + std::to_string(i));
    } else {
      ASSERT_EQ(r.opcode, op::kGet);
      ASSERT_EQ(r.status, status::kSuccess);
      ASSERT_EQ(r.value, "value-" + std::to_string(i / 2));
      ASSERT_EQ(r.extras, be32(static_cast<uint32_t>(i - 1)));
    }
  }
  EXPECT_TRUE(client_.silentFor(milliseconds(100)));
}

TEST_F(QuietTest, PipelinedQuietSetsThenNoopThenGets) {
  constexpr int kKeys = 500;
  std::string batch;
  for (int i = 0; i < kKeys; ++i) {
    batch += encode(makeStore(op::kSetQ, "q" + std::to_string(i), std::to_string(i * 7), 0, 0, 0,
                              static_cast<uint32_t>(i)));
  }
  batch += encode(makeKeyOnly(op::kNoop, "", 0xffff));
  for (int i = 0; i < kKeys; ++i) {
    batch += encode(makeKeyOnly(op::kGetKQ, "q" + std::to_string(i), static_cast<uint32_t>(i)));
  }
  batch += encode(makeKeyOnly(op::kNoop, "", 0xfffe));
  ASSERT_TRUE(client_.sendRaw(batch));
  const Response first = client_.next();
  EXPECT_EQ(first.opcode, op::kNoop);
  EXPECT_EQ(first.opaque, 0xffffu);
  for (int i = 0; i < kKeys; ++i) {
    const Response r = client_.next();
    ASSERT_EQ(r.opcode, op::kGetKQ);
    ASSERT_EQ(r.opaque, static_cast<uint32_t>(i));
    ASSERT_EQ(r.key, "q" + std::to_string(i));
    ASSERT_EQ(r.value, std::to_string(i * 7));
  }
  const Response last = client_.next();
  EXPECT_EQ(last.opcode, op::kNoop);
  EXPECT_EQ(last.opaque, 0xfffeu);
}

}  // namespace
}  // namespace memkv::test
