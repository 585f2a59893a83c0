// SIGHUP reloads the users file of a running server: new users log in, a
// removed user's open connection loses access on its next command, changed
// privileges apply to open connections, and a file that does not load
// changes nothing. The file is changed by the real memkv-admin, the signal
// is real, and the connections stay open throughout.
#include <gtest/gtest.h>

#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/dcp_client.h"
#include "integration/server_fixture.h"
#include "support/couchbase_client.h"
#include "support/scram_client.h"
#include "support/test_env.h"

#ifndef MEMKV_ADMIN_BIN
#error "MEMKV_ADMIN_BIN must name the memkv-admin binary"
#endif

namespace memkv::test {
namespace {

namespace cb = couchbase;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// The users file (this test's own: it changes) and a log file, made before
// ServerTest's constructor takes the arguments that name them.
class ReloadFiles {
 protected:
  ReloadFiles() : users_(MEMKV_ADMIN_BIN) {
    char tmpl[] = "/tmp/memkv-users-reload-XXXXXX";
    const char* dir = ::mkdtemp(tmpl);
    dir_ = dir ? dir : "";
    log_path_ = dir_ + "/memkv.log";
    if (users_.addUser("admin", "admin-pw", "admin", &setup_error_)) {
      users_.addUser("app", "app-pw", "read[default],write[default]", &setup_error_);
    }
  }
  ~ReloadFiles() {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  cb::UsersFile users_;
  std::string dir_;
  std::string log_path_;
  std::string setup_error_;
};

class UsersReloadTest : protected ReloadFiles, public ServerTest {
 protected:
  UsersReloadTest()
      : ServerTest({"--users-file", users_.path(), "--log-file", log_path_, "-v", "--auth-timeout",
                    "3"}) {}

  void SetUp() override {
    if (targetFromEnv() == ServerKind::kMemcached) GTEST_SKIP() << "memkv-only: users file";
    ASSERT_FALSE(dir_.empty());
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    ServerTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_EQ(cb::saslPlain(client_, "admin", "admin-pw").status, status::kSuccess);
    ASSERT_EQ(client_.set("doc", "v1").status, status::kSuccess);
  }

  McbpClient loggedIn(const std::string& user, const std::string& password) {
    McbpClient c = newClient();
    EXPECT_EQ(cb::saslPlain(c, user, password).status, status::kSuccess) << "PLAIN as " << user;
    return c;
  }

  // SIGHUP, then waits until STAT says the reload happened: `reloads`
  // successful ones and `errors` failed ones in all.
  void reload(uint64_t reloads, uint64_t errors) {
    ASSERT_EQ(::kill(server_->pid(), SIGHUP), 0);
    const auto deadline = Clock::now() + scaled(std::chrono::seconds(10));
    while (statU64(client_, "users_reloads") < reloads ||
           statU64(client_, "users_reload_errors") < errors) {
      ASSERT_LT(Clock::now(), deadline) << "no reload in time";
      std::this_thread::sleep_for(milliseconds(10));
    }
    EXPECT_EQ(statU64(client_, "users_reloads"), reloads);
    EXPECT_EQ(statU64(client_, "users_reload_errors"), errors);
  }

  // Polls the log for a line holding `text`.
  bool logHas(const std::string& text) {
    std::string log;
    return waitForFile(
        log_path_, [&](const std::string& l) { return l.find(text) != std::string::npos; },
        scaled(std::chrono::seconds(10)), &log);
  }
};

TEST_F(UsersReloadTest, ANewUserLogsInAfterTheReload) {
  EXPECT_EQ(statU64(client_, "users"), 2u);
  std::string error;
  ASSERT_TRUE(users_.addUser("newbie", "newbie-pw", "read[default]", &error)) << error;
  {
    // Not before the signal: the server reads the file only then.
    McbpClient early = newClient();
    EXPECT_EQ(cb::saslPlain(early, "newbie", "newbie-pw").status, cb::status::kAuthError);
  }
  reload(1, 0);
  EXPECT_EQ(statU64(client_, "users"), 3u);
  McbpClient newbie = loggedIn("newbie", "newbie-pw");
  EXPECT_EQ(newbie.get("doc").value, "v1");
  EXPECT_EQ(newbie.set("doc", "v2").status, cb::status::kEaccess) << "read only, as the file says";
  EXPECT_TRUE(logHas("3 users reloaded from " + users_.path()));
}

TEST_F(UsersReloadTest, ARemovedUsersOpenConnectionLosesAccessOnItsNextCommand) {
  McbpClient app = loggedIn("app", "app-pw");
  ASSERT_EQ(app.get("doc").value, "v1");
  std::string error;
  ASSERT_TRUE(users_.removeUser("app", &error)) << error;
  reload(1, 0);
  EXPECT_EQ(app.get("doc").status, cb::status::kEaccess);
  EXPECT_EQ(app.set("doc", "stolen").status, cb::status::kEaccess);
  uint16_t stat_status = 0;
  app.statRaw("", &stat_status);
  EXPECT_EQ(stat_status, cb::status::kEaccess);
  // Still connected, as an anonymous connection: it may log in again, but
  // not as the removed user.
  EXPECT_EQ(app.noop().status, status::kSuccess);
  EXPECT_EQ(cb::saslPlain(app, "app", "app-pw").status, cb::status::kAuthError);
  EXPECT_EQ(client_.get("doc").value, "v1");
  EXPECT_TRUE(logHas("event=user_revoked user=\"app\" reason=\"removed from the users file\""));
  // A new connection cannot log in as it either; the others are untouched.
  McbpClient again = newClient();
  EXPECT_EQ(cb::saslPlain(again, "app", "app-pw").status, cb::status::kAuthError);
  EXPECT_EQ(client_.set("doc", "v3").status, status::kSuccess);
}

TEST_F(UsersReloadTest, ChangedPrivilegesApplyToOpenConnections) {
  McbpClient app = loggedIn("app", "app-pw");
  ASSERT_EQ(app.set("doc", "v2").status, status::kSuccess);
  std::string error;
  // Read only now (set-roles keeps the password: the session stays).
  ASSERT_TRUE(users_.setRoles("app", "read[default]", &error)) << error;
  reload(1, 0);
  EXPECT_EQ(app.set("doc", "v3").status, cb::status::kEaccess);
  EXPECT_EQ(app.get("doc").value, "v2");
  // Statistics only: no document any more, the statistics still.
  ASSERT_TRUE(users_.setRoles("app", "stats[default]", &error)) << error;
  reload(2, 0);
  EXPECT_EQ(app.get("doc").status, cb::status::kEaccess);
  EXPECT_EQ(app.stats().count("curr_items"), 1u);
  // And back: the same connection reads and writes again.
  ASSERT_TRUE(users_.setRoles("app", "read[default],write[default]", &error)) << error;
  reload(3, 0);
  EXPECT_EQ(app.set("doc", "v4").status, status::kSuccess);
  EXPECT_EQ(client_.get("doc").value, "v4");
  // No privilege left on the selected bucket: it is let go, as SELECT_BUCKET
  // would refuse it, and the cluster config no longer names it.
  ASSERT_TRUE(users_.setRoles("app", "read[other]", &error)) << error;
  reload(4, 0);
  EXPECT_EQ(app.get("doc").status, cb::status::kNoBucket);
  const Response config = app.call(cb::makeRequest(cb::op::kGetClusterConfig));
  ASSERT_EQ(config.status, status::kSuccess);
  EXPECT_EQ(config.value.find("\"name\""), std::string::npos) << config.value;
  EXPECT_EQ(cb::selectBucket(app, "default").status, cb::status::kEaccess);
}

// A new password (add-user again: new credentials under the same name, as
// after a leaked password) ends the sessions that logged in with the old one.
TEST_F(UsersReloadTest, NewCredentialsEndTheOldSessions) {
  McbpClient app = loggedIn("app", "app-pw");
  std::string error;
  ASSERT_TRUE(users_.addUser("app", "new-pw", "read[default],write[default]", &error)) << error;
  reload(1, 0);
  EXPECT_EQ(app.get("doc").status, cb::status::kEaccess);
  EXPECT_TRUE(logHas("reason=\"credentials changed\""));
  EXPECT_EQ(cb::saslPlain(app, "app", "app-pw").status, cb::status::kAuthError);
  McbpClient fresh = newClient();
  EXPECT_EQ(cb::saslPlain(fresh, "app", "new-pw").status, status::kSuccess);
  EXPECT_EQ(fresh.get("doc").value, "v1");
}

// An oversized SET is answered before dispatch (E2BIG, and memcached's rule
// drops the old value when the writer may write): it must see the reload too.
TEST_F(UsersReloadTest, AnOversizedSetAfterARemovalDeletesNothing) {
  McbpClient app = loggedIn("app", "app-pw");
  std::string error;
  ASSERT_TRUE(users_.removeUser("app", &error)) << error;
  reload(1, 0);
  // -I is 1 MiB: one byte more is too large for an authenticated writer,
  // and far too large for the anonymous connection this one now is.
  app.sendRaw(encode(makeStore(op::kSet, "doc", std::string((1 << 20) + 1, 'x'))));
  Response answer;
  if (app.read(&answer) == ReadStatus::kOk) {
    EXPECT_EQ(answer.status, status::kE2big);
  }
  EXPECT_EQ(client_.get("doc").value, "v1") << "a revoked user deleted a document";
}

// A removed user's connection that sends nothing more is not left
// authenticated: it loses access at the next tick, and the auth timeout (3 s
// here) closes it.
TEST_F(UsersReloadTest, AnIdleConnectionOfARemovedUserIsClosed) {
  McbpClient app = loggedIn("app", "app-pw");
  McbpClient admin = loggedIn("admin", "admin-pw");
  std::string error;
  ASSERT_TRUE(users_.removeUser("app", &error)) << error;
  reload(1, 0);
  EXPECT_TRUE(app.connectionClosed(scaled(std::chrono::seconds(15))));
  // The administrator's connection, idle as long, stays.
  EXPECT_EQ(admin.get("doc").value, "v1");
}

TEST_F(UsersReloadTest, AFileThatDoesNotLoadKeepsTheUsersInEffect) {
  McbpClient app = loggedIn("app", "app-pw");
  const std::string good = readFile(users_.path());
  {
    std::ofstream out(users_.path(), std::ios::trunc);
    out << "{\"version\": 1, \"users\": [";  // cut short
  }
  reload(0, 1);
  EXPECT_TRUE(logHas("users file reload failed, keeping the users in effect"));
  EXPECT_EQ(app.get("doc").value, "v1");
  McbpClient fresh = loggedIn("app", "app-pw");
  EXPECT_EQ(fresh.set("doc", "v2").status, status::kSuccess);
  EXPECT_EQ(statU64(client_, "users"), 2u);
  // A missing file too.
  std::filesystem::remove(users_.path());
  reload(0, 2);
  EXPECT_EQ(app.get("doc").value, "v2");
  // The file fixed: the next signal loads it.
  {
    std::ofstream out(users_.path(), std::ios::trunc);
    out << good;
  }
  reload(1, 2);
  EXPECT_EQ(app.get("doc").value, "v2");
}

// A SCRAM exchange started before the reload finishes against the users it
// started with (the database stays alive for it, whatever the reload frees),
// and the connection's next command sees the new file.
TEST_F(UsersReloadTest, AnExchangeInProgressOutlivesTheUsersItStartedWith) {
  McbpClient c = newClient();
  ScramClient scram("SCRAM-SHA512");
  const Response first =
      c.call(cb::makeRequest(cb::op::kSaslAuth, "SCRAM-SHA512", scram.clientFirst("app")));
  ASSERT_EQ(first.status, cb::status::kAuthContinue);
  std::string error;
  ASSERT_TRUE(users_.removeUser("app", &error)) << error;
  reload(1, 0);
  const Response final_answer = c.call(
      cb::makeRequest(cb::op::kSaslStep, "SCRAM-SHA512", scram.clientFinal(first.value, "app-pw")));
  ASSERT_EQ(final_answer.status, status::kSuccess);
  EXPECT_TRUE(scram.verifyServerFinal(final_answer.value));
  EXPECT_EQ(c.get("doc").status, cb::status::kEaccess) << "the user is gone by now";
}

// Many reloads while clients log in, abandon exchanges on the auth pool and
// work, and the roles change under them: no connection is dropped, every
// answer is one the file allowed at some point, and nothing the sessions or
// exchanges hold is freed under them (run under the sanitizers in CI).
TEST_F(UsersReloadTest, ReloadsWhileClientsWork) {
  constexpr int kReloads = 20;
  std::atomic<bool> stop{false};
  std::atomic<int> unexpected{0};
  std::atomic<int> commands{0};
  std::thread worker([&] {
    McbpClient app = newClient();
    if (cb::saslPlain(app, "app", "app-pw").status != status::kSuccess) {
      unexpected.fetch_add(1);
      return;
    }
    const auto deadline = Clock::now() + scaled(std::chrono::seconds(30));
    while (!stop.load() && Clock::now() < deadline) {
      // Read in every version of the file; write in every other one.
      const Response r = app.get("doc");
      if (r.status != status::kSuccess || r.value != "v1") unexpected.fetch_add(1);
      const uint16_t set = app.set("other", "x").status;
      if (set != status::kSuccess && set != cb::status::kEaccess) unexpected.fetch_add(1);
      McbpClient other = newClient();
      if (cb::saslPlain(other, "app", "app-pw").status != status::kSuccess) {
        unexpected.fetch_add(1);
      }
      // An exchange left running on the auth pool by a connection that goes.
      McbpClient gone = newClient();
      gone.send(cb::makeRequest(cb::op::kSaslAuth, "PLAIN", plainAuthPayload("app", "app-pw")));
      gone.close();
      commands.fetch_add(1);
    }
  });
  // However the loop below ends (an ASSERT returns early), the worker is
  // stopped and joined.
  struct Join {
    std::atomic<bool>& stop;
    std::thread& thread;
    ~Join() {
      stop.store(true);
      if (thread.joinable()) thread.join();
    }
  } join{stop, worker};
  std::string error;
  for (int i = 1; i <= kReloads; ++i) {
    const char* roles = i % 2 == 0 ? "read[default],write[default]" : "read[default]";
    ASSERT_TRUE(users_.setRoles("app", roles, &error)) << error;
    reload(static_cast<uint64_t>(i), 0);
    if (HasFatalFailure()) return;
  }
  stop.store(true);
  worker.join();
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_GT(commands.load(), 0);
  EXPECT_EQ(client_.get("doc").value, "v1");
}

// Without a users file SIGHUP leaves the open server alone.
class OpenServerReloadTest : protected ReloadFiles, public ServerTest {
 protected:
  OpenServerReloadTest() : ServerTest({"--log-file", log_path_, "-v"}) {}
  void SetUp() override {
    if (targetFromEnv() == ServerKind::kMemcached) GTEST_SKIP() << "memkv-only";
    ServerTest::SetUp();
  }
};

TEST_F(OpenServerReloadTest, SighupChangesNothing) {
  ASSERT_EQ(client_.set("k", "v").status, status::kSuccess);
  ASSERT_EQ(::kill(server_->pid(), SIGHUP), 0);
  std::string log;
  ASSERT_TRUE(waitForFile(
      log_path_,
      [](const std::string& l) { return l.find("SIGHUP: nothing to reload") != std::string::npos; },
      scaled(std::chrono::seconds(10)), &log))
      << log;
  EXPECT_EQ(client_.get("k").value, "v");
  McbpClient other = newClient();
  EXPECT_EQ(other.get("k").value, "v");
  EXPECT_EQ(statU64(client_, "users"), 0u);
  EXPECT_EQ(statU64(client_, "users_reloads"), 0u);
  EXPECT_EQ(statU64(client_, "users_reload_errors"), 0u);
}

// kv_engine checks a producer's privilege before every step: a DCP connection whose user
// loses dcp or read in a reload is closed before its stream sends another document.
TEST_F(UsersReloadTest, AProducerWhoseUserLostItsPrivilegeIsClosed) {
  ASSERT_TRUE(
      users_.addUser("connector", "connector-pw", "dcp[default],read[default]", &setup_error_))
      << setup_error_;
  reload(1, 0);
  McbpClient consumer = loggedIn("connector", "connector-pw");
  ASSERT_EQ(consumer.call(dcp::dcpOpen("revoked", dcp::kProducer)).status, status::kSuccess);
  const uint16_t vb = cb::vbucketOf("doc");
  ASSERT_EQ(consumer.call(dcp::streamReq(vb, 1, 0, dcp::kSeqnoMax, 0)).status, status::kSuccess);
  Response m;
  ASSERT_EQ(consumer.read(&m, scaled(milliseconds(5000))), ReadStatus::kOk);
  ASSERT_EQ(m.opcode, dcp::kSnapshotMarker);
  ASSERT_EQ(consumer.read(&m, scaled(milliseconds(5000))), ReadStatus::kOk);
  ASSERT_EQ(m.opcode, dcp::kMutation);
  EXPECT_EQ(m.value, "v1");
  ASSERT_TRUE(users_.setRoles("connector", "write[default]", &setup_error_)) << setup_error_;
  reload(2, 0);
  ASSERT_EQ(client_.set("doc", "v2-secret").status, status::kSuccess);
  // Whatever arrives before the close must not be the new value.
  const auto deadline = Clock::now() + scaled(std::chrono::seconds(5));
  bool closed = false;
  while (Clock::now() < deadline) {
    const ReadStatus st = consumer.read(&m, milliseconds(200));
    if (st == ReadStatus::kOk) {
      EXPECT_NE(m.value, "v2-secret") << "a revoked user's stream sent a document";
      continue;
    }
    if (st != ReadStatus::kTimeout) {
      closed = true;
      break;
    }
  }
  EXPECT_TRUE(closed) << "the producer connection stayed open";
}
}  // namespace
}  // namespace memkv::test
