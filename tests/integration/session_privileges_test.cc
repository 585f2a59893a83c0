// Privileges per command against the real server with a users file: a command that answers
// any part of a document (its value, a counter's value, its flags) needs read, one that
// changes a document needs write, and a write-only user can no longer read through the
// commands that do both (INCREMENT and DECREMENT with delta 0 used to answer the value).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "integration/server_fixture.h"
#include "support/couchbase_client.h"

#ifndef MEMKV_ADMIN_BIN
#error "MEMKV_ADMIN_BIN must name the memkv-admin binary"
#endif

namespace memkv::test {
namespace {

namespace cb = couchbase;

const cb::TestUser kUsers[] = {
    {"admin", "admin-pw", "admin"},
    {"writer", "writer-pw", "write[default]"},
    {"app", "app-pw", "read[default],write[default]"},
    {"monitor", "monitor-pw", "stats[default]"},
};
const cb::TestUser& kAdmin = kUsers[0];
const cb::TestUser& kWriter = kUsers[1];
const cb::TestUser& kApp = kUsers[2];
const cb::TestUser& kMonitor = kUsers[3];

const cb::UsersFile& sharedUsers(std::string* error) {
  return cb::sharedUsersFile(MEMKV_ADMIN_BIN, kUsers, error);
}

class SessionPrivilegesTest : public ServerTest {
 protected:
  SessionPrivilegesTest() : ServerTest(args()) {}

  static std::vector<std::string> args() {
    std::string error;
    return {"--users-file", sharedUsers(&error).path()};
  }

  void SetUp() override {
    if (targetFromEnv() == ServerKind::kMemcached) GTEST_SKIP() << "memkv-only: SASL users";
    std::string error;
    sharedUsers(&error);
    ASSERT_TRUE(error.empty()) << error;
    ServerTest::SetUp();
    admin_ = loggedIn(kAdmin);
    // A number and a text, as the admin stored them.
    ASSERT_EQ(admin_.set("secret", "4242", 9).status, status::kSuccess);
    ASSERT_EQ(admin_.set("text", "not a number").status, status::kSuccess);
    secret_cas_ = admin_.get("secret").cas;
  }

  McbpClient loggedIn(const cb::TestUser& user) {
    McbpClient c = newClient();
    EXPECT_EQ(cb::saslPlain(c, user.name, user.password).status, status::kSuccess)
        << "PLAIN as " << user.name;
    return c;
  }

  // A quiet request followed by a NOOP: the quiet one's answer, if any, comes first.
  static std::vector<Response> quietThenNoop(McbpClient& c, Request quiet) {
    quiet.opaque = 1;
    EXPECT_TRUE(c.send(quiet));
    EXPECT_TRUE(c.send(makeKeyOnly(op::kNoop, "", 2)));
    std::vector<Response> out;
    for (;;) {
      out.push_back(c.next());
      if (out.back().opcode == op::kNoop) return out;
    }
  }

  void expectUnchanged() {
    const Response secret = admin_.get("secret");
    EXPECT_EQ(secret.value, "4242");
    EXPECT_EQ(secret.cas, secret_cas_) << "the document was not written";
    EXPECT_EQ(admin_.get("text").value, "not a number");
    EXPECT_EQ(admin_.get("fresh").status, status::kKeyEnoent) << "no counter was created";
  }

  McbpClient admin_;
  uint64_t secret_cas_ = 0;
};

TEST_F(SessionPrivilegesTest, WriteOnlyUserCannotReadThroughCounters) {
  McbpClient writer = loggedIn(kWriter);
  ASSERT_EQ(writer.get("secret").status, cb::status::kEaccess) << "GET is refused";

  for (const uint8_t opcode : {op::kIncrement, op::kDecrement}) {
    SCOPED_TRACE(static_cast<int>(opcode));
    // Delta 0 would be a plain read of the value.
    Response r = writer.call(makeArith(opcode, "secret", 0, 0, 0));
    EXPECT_EQ(r.status, cb::status::kEaccess);
    EXPECT_TRUE(r.value.empty()) << "no value with the refusal";
    // KEY_ENOENT or DELTA_BADVAL would tell whether a key exists and holds a number.
    EXPECT_EQ(writer.call(makeArith(opcode, "text", 1, 0, 0)).status, cb::status::kEaccess);
    EXPECT_EQ(writer.call(makeArith(opcode, "missing", 1, 0, 0xffffffff)).status,
              cb::status::kEaccess);
    // Nor may it create a counter (initial value, expiry 0 creates).
    EXPECT_EQ(writer.call(makeArith(opcode, "fresh", 1, 7, 0)).status, cb::status::kEaccess);
  }
  // The quiet variants: the refusal is an error, so it is sent.
  for (const uint8_t opcode : {op::kIncrementQ, op::kDecrementQ}) {
    SCOPED_TRACE(static_cast<int>(opcode));
    const std::vector<Response> answers =
        quietThenNoop(writer, makeArith(opcode, "secret", 0, 0, 0));
    ASSERT_EQ(answers.size(), 2u);
    EXPECT_EQ(answers[0].opcode, opcode);
    EXPECT_EQ(answers[0].status, cb::status::kEaccess);
    EXPECT_TRUE(answers[0].value.empty());
    EXPECT_EQ(answers[1].status, status::kSuccess);
  }
  expectUnchanged();
  EXPECT_EQ(writer.noop().status, status::kSuccess) << "the connection stays usable";
}

TEST_F(SessionPrivilegesTest, WriteOnlyUserCannotReadThroughTouchGatOrGetLocked) {
  McbpClient writer = loggedIn(kWriter);
  const Response touch = writer.touch("secret", 0);
  EXPECT_EQ(touch.status, cb::status::kEaccess);
  EXPECT_TRUE(touch.extras.empty()) << "TOUCH answers the flags when allowed";
  const Response gat = writer.gat("secret", 0);
  EXPECT_EQ(gat.status, cb::status::kEaccess);
  EXPECT_TRUE(gat.value.empty());
  const Response locked = writer.call(cb::makeGetLocked("secret", 15));
  EXPECT_EQ(locked.status, cb::status::kEaccess);
  EXPECT_TRUE(locked.value.empty());
  const std::vector<Response> gatq = quietThenNoop(writer, makeTouch(op::kGatQ, "secret", 0));
  ASSERT_EQ(gatq.size(), 2u);
  EXPECT_EQ(gatq[0].status, cb::status::kEaccess);
  EXPECT_TRUE(gatq[0].value.empty());
  // Not locked: the admin can still write it.
  expectUnchanged();
  EXPECT_EQ(admin_.set("secret", "4243").status, status::kSuccess);
}

TEST_F(SessionPrivilegesTest, WriteOnlyUserStillWrites) {
  McbpClient writer = loggedIn(kWriter);
  EXPECT_EQ(writer.set("w", "1").status, status::kSuccess);
  EXPECT_EQ(writer.add("w2", "a").status, status::kSuccess);
  EXPECT_EQ(writer.replace("w", "2").status, status::kSuccess);
  EXPECT_EQ(writer.append("w", "3").status, status::kSuccess);
  EXPECT_EQ(writer.prepend("w", "1").status, status::kSuccess);
  EXPECT_EQ(writer.remove("w2").status, status::kSuccess);
  EXPECT_EQ(admin_.get("w").value, "123");
  EXPECT_EQ(admin_.get("w2").status, status::kKeyEnoent);
}

// A monitoring account: the bucket's statistics and nothing of its documents.
TEST_F(SessionPrivilegesTest, StatsOnlyUserReadsStatisticsButNoDocument) {
  McbpClient monitor = loggedIn(kMonitor);
  const std::map<std::string, std::string> stats = monitor.stats();
  EXPECT_EQ(stats.count("curr_items"), 1u);
  EXPECT_EQ(monitor.stats("settings").count("maxbytes"), 1u);
  EXPECT_EQ(monitor.get("secret").status, cb::status::kEaccess);
  EXPECT_EQ(monitor.set("secret", "1").status, cb::status::kEaccess);
  EXPECT_EQ(monitor.incr("secret", 0).status, cb::status::kEaccess);
  EXPECT_EQ(monitor.touch("secret", 0).status, cb::status::kEaccess);
  uint16_t reset_status = 0;
  monitor.statRaw("reset", &reset_status);
  EXPECT_EQ(reset_status, cb::status::kEaccess) << "resetting needs an administrator";
  expectUnchanged();
  // And the writer, with neither read nor stats, gets no statistics.
  McbpClient writer = loggedIn(kWriter);
  uint16_t writer_status = 0;
  writer.statRaw("", &writer_status);
  EXPECT_EQ(writer_status, cb::status::kEaccess);
}

TEST_F(SessionPrivilegesTest, ReadWriteUserStillUsesCounters) {
  McbpClient app = loggedIn(kApp);
  Response r = app.incr("secret", 0);
  ASSERT_EQ(r.status, status::kSuccess);
  EXPECT_EQ(r.value, be64(4242));
  r = app.incr("secret", 8);
  ASSERT_EQ(r.status, status::kSuccess);
  EXPECT_EQ(r.value, be64(4250));
  r = app.decr("secret", 50);
  ASSERT_EQ(r.status, status::kSuccess);
  EXPECT_EQ(r.value, be64(4200));
  r = app.incr("fresh", 1, 7);
  ASSERT_EQ(r.status, status::kSuccess);
  EXPECT_EQ(r.value, be64(7)) << "created with the initial value";
  EXPECT_EQ(app.incr("text", 1).status, status::kDeltaBadval);

  // Quiet variants: success is silent, and the change is made.
  std::vector<Response> answers = quietThenNoop(app, makeArith(op::kIncrementQ, "secret", 5, 0, 0));
  ASSERT_EQ(answers.size(), 1u) << "only the NOOP answers";
  answers = quietThenNoop(app, makeArith(op::kDecrementQ, "secret", 1, 0, 0));
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(admin_.get("secret").value, "4204");

  const Response touch = app.touch("secret", 0);
  EXPECT_EQ(touch.status, status::kSuccess);
  EXPECT_EQ(touch.extras, be32(9)) << "TOUCH answers the flags to a reader";
}

}  // namespace
}  // namespace memkv::test
