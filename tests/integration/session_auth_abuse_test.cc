// SASL against a client that guesses: failed logins are answered later each time and close the
// connection after five, are counted in STAT; a flood of expensive PLAIN attempts neither
// starves range scans nor hangs a legitimate login; and a made-up user looks like a real one in
// SCRAM's server-first. A real server with a users file made by the real memkv-admin.
//
// These tests measure time (lower bounds on purposely delayed answers, upper bounds on work that
// must not wait behind a flood), so CMake runs them serially.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "integration/server_fixture.h"
#include "support/couchbase_client.h"
#include "support/range_scan_client.h"
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

constexpr const char* kAppName = "app";
constexpr const char* kAppPassword = "app-pw";
constexpr const char* kAdminName = "admin";
constexpr const char* kAdminPassword = "admin-pw";
constexpr uint32_t kMaxFailures = 5;  // the server closes after this many
constexpr uint32_t kMaxIterationsWithAdmin = 4096;

// The users file of this process with every credential at `iterations` (a file has one count);
// ctest runs each test in its own process, so each file is written once.
const std::string& usersFile(uint32_t iterations, std::string* error) {
  static std::map<uint32_t, std::unique_ptr<cb::UsersFile>> files;
  static std::map<uint32_t, std::string> failures;
  auto& file = files[iterations];
  if (!file) {
    file = std::make_unique<cb::UsersFile>(MEMKV_ADMIN_BIN);
    std::string e;
    // At PBKDF2's maximum each credential costs memkv-admin about a second: "app" only.
    if (file->addUser(kAppName, kAppPassword, "read[default],write[default]", &e, iterations) &&
        iterations <= kMaxIterationsWithAdmin) {
      file->addUser(kAdminName, kAdminPassword, "admin", &e, iterations);
    }
    failures[iterations] = e;
  }
  *error = failures[iterations];
  return file->path();
}

Request plainRequest(const std::string& user, const std::string& password) {
  return cb::makeRequest(cb::op::kSaslAuth, "PLAIN", plainAuthPayload(user, password));
}

// send + read within `timeout`; a failure to read is a test failure and status 0xffff.
Response callWithin(McbpClient& c, const Request& request, milliseconds timeout) {
  Response r;
  r.status = 0xffff;
  if (!c.sendRaw(encode(request), timeout)) {
    ADD_FAILURE() << "send failed";
    return r;
  }
  const ReadStatus st = c.read(&r, timeout);
  if (st != ReadStatus::kOk) {
    ADD_FAILURE() << "no response within " << timeout.count() << " ms: " << toString(st);
    r.status = 0xffff;
  }
  return r;
}

uint64_t stat(McbpClient& c, const std::string& name) {
  const auto stats = c.stats();
  const auto it = stats.find(name);
  EXPECT_NE(it, stats.end()) << "no STAT " << name;
  return it == stats.end() ? 0 : std::stoull(it->second);
}

class AuthAbuseTest : public ServerTest {
 protected:
  explicit AuthAbuseTest(uint32_t iterations = 64)
      : ServerTest(args(iterations)), iterations_(iterations) {}

  static std::vector<std::string> args(uint32_t iterations) {
    std::string error;
    return {"--users-file", usersFile(iterations, &error)};
  }

  void SetUp() override {
    if (targetFromEnv() == ServerKind::kMemcached) GTEST_SKIP() << "memkv-only: SASL users";
    std::string error;
    usersFile(iterations_, &error);
    ASSERT_TRUE(error.empty()) << error;
    ServerTest::SetUp();
  }

  // A new connection authenticated with PLAIN (which may take a while at a high count).
  McbpClient loggedIn(const char* user, const char* password) {
    McbpClient c = newClient();
    EXPECT_EQ(callWithin(c, plainRequest(user, password), scaled(milliseconds(30'000))).status,
              status::kSuccess)
        << "PLAIN as " << user;
    return c;
  }

  const uint32_t iterations_;
};

TEST_F(AuthAbuseTest, FailuresAreAnsweredLaterEachTimeAndTheFifthClosesTheConnection) {
  // The server holds the n-th AUTH_ERROR back for 100 ms x 2^(n-1): lower bounds only.
  const milliseconds at_least[kMaxFailures] = {milliseconds(50), milliseconds(150),
                                               milliseconds(300), milliseconds(700),
                                               milliseconds(1500)};
  for (uint32_t n = 1; n <= kMaxFailures; ++n) {
    SCOPED_TRACE("failure " + std::to_string(n));
    if (n < kMaxFailures) {
      // Still open and answering before the last failure.
      EXPECT_EQ(callWithin(client_, cb::makeRequest(op::kNoop), scaled(milliseconds(5000))).status,
                status::kSuccess);
    }
    const auto t0 = Clock::now();
    const Response r =
        callWithin(client_, plainRequest(kAppName, "wrong"), scaled(milliseconds(10'000)));
    const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
    EXPECT_EQ(r.status, cb::status::kAuthError);
    EXPECT_GE(took, at_least[n - 1]);
  }
  EXPECT_TRUE(client_.connectionClosed(scaled(milliseconds(5000))))
      << "the connection must be closed after " << kMaxFailures << " failures";
  // Other connections are not affected.
  McbpClient other = loggedIn(kAppName, kAppPassword);
  EXPECT_EQ(other.set("k", "v").status, status::kSuccess);
}

TEST_F(AuthAbuseTest, AGoodLoginAfterFailuresWorksAndKeepsTheConnection) {
  for (uint32_t n = 1; n < kMaxFailures; ++n) {
    EXPECT_EQ(
        callWithin(client_, plainRequest(kAppName, "wrong"), scaled(milliseconds(10'000))).status,
        cb::status::kAuthError);
  }
  EXPECT_EQ(callWithin(client_, plainRequest(kAppName, kAppPassword), scaled(milliseconds(10'000)))
                .status,
            status::kSuccess);
  EXPECT_EQ(client_.set("k", "v").status, status::kSuccess);
  EXPECT_EQ(client_.get("k").value, "v");
  EXPECT_FALSE(client_.connectionClosed(milliseconds(300)));
}

TEST_F(AuthAbuseTest, StatCountsAuthCommandsAndErrors) {
  McbpClient admin = loggedIn(kAdminName, kAdminPassword);
  const uint64_t cmds = stat(admin, "auth_cmds");
  const uint64_t errors = stat(admin, "auth_errors");
  EXPECT_GE(cmds, 1u);  // the admin's own login

  // A wrong PLAIN password, then a SCRAM exchange for a made-up user: AUTH then STEP.
  EXPECT_EQ(
      callWithin(client_, plainRequest(kAppName, "wrong"), scaled(milliseconds(10'000))).status,
      cb::status::kAuthError);
  McbpClient other = newClient();
  const cb::ScramOutcome scram = cb::saslScram(other, "SCRAM-SHA512", "nobody", "guess");
  EXPECT_EQ(scram.finalStatus(), cb::status::kAuthError);

  EXPECT_EQ(stat(admin, "auth_cmds"), cmds + 3);
  EXPECT_EQ(stat(admin, "auth_errors"), errors + 2);
}

// A count that is not the default, so a fake that announced a constant would show.
class AuthIterationsTest : public AuthAbuseTest {
 protected:
  AuthIterationsTest() : AuthAbuseTest(4096) {}
};

TEST_F(AuthIterationsTest, AMadeUpUserAnnouncesTheSameIterationsAsARealOne) {
  for (const char* mech : {"SCRAM-SHA512", "SCRAM-SHA256", "SCRAM-SHA1"}) {
    std::string announced[2];
    const char* names[2] = {kAppName, "made-up-user"};
    for (int i = 0; i < 2; ++i) {
      McbpClient c = newClient();
      ScramClient scram(mech);
      const Response first =
          callWithin(c, cb::makeRequest(cb::op::kSaslAuth, mech, scram.clientFirst(names[i])),
                     scaled(milliseconds(10'000)));
      ASSERT_EQ(first.status, cb::status::kAuthContinue) << mech << " " << names[i];
      const size_t at = first.value.find(",i=");
      ASSERT_NE(at, std::string::npos) << first.value;
      announced[i] = first.value.substr(at);
    }
    EXPECT_EQ(announced[0], ",i=4096") << mech;
    EXPECT_EQ(announced[1], announced[0]) << mech;
  }
}

// Every credential at PBKDF2's maximum: each PLAIN attempt costs the server that much.
class AuthFloodTest : public AuthAbuseTest {
 protected:
  AuthFloodTest() : AuthAbuseTest(1'000'000) {}
};

TEST_F(AuthFloodTest, BadPlainFloodStarvesNeitherRangeScansNorLogins) {
  // Authenticated before the flood: a range-scan client of the default bucket.
  McbpClient scanner = loggedIn(kAppName, kAppPassword);
  cb::hello(scanner, {cb::feature::kJson, cb::feature::kXerror});
  ASSERT_EQ(scanner.set("doc", "value").status, status::kSuccess);

  constexpr int kFlooders = 20;
  constexpr int kMaxAttemptsEach = 100;
  const auto flood_deadline = Clock::now() + scaled(milliseconds(60'000));
  std::atomic<bool> stop{false};
  std::atomic<int> auth_errors{0};
  std::atomic<int> tmpfails{0};
  std::atomic<int> unexpected{0};
  const uint16_t port = server_->port();
  std::vector<std::thread> flooders;
  for (int t = 0; t < kFlooders; ++t) {
    flooders.emplace_back([&] {
      McbpClient c;
      for (int i = 0; i < kMaxAttemptsEach && !stop && Clock::now() < flood_deadline; ++i) {
        if (!c.connected() && !c.connect(port)) return;
        Response r;
        if (!c.sendRaw(encode(plainRequest(kAppName, "guess")), scaled(milliseconds(5000))) ||
            c.read(&r, scaled(milliseconds(60'000))) != ReadStatus::kOk) {
          c.close();  // closed after five failures: a new connection starts over
          continue;
        }
        if (r.status == cb::status::kAuthError) {
          ++auth_errors;
        } else if (r.status == cb::status::kEtmpfail) {
          ++tmpfails;
          // A real attacker would not wait; the test keeps its own CPU use modest.
          std::this_thread::sleep_for(milliseconds(20));
        } else {
          ++unexpected;
        }
      }
    });
  }
  // Each flooder waits for at most one answer after `stop`: bounded.
  struct StopFlood {
    std::atomic<bool>& stop;
    std::vector<std::thread>& threads;
    void now() {
      stop = true;
      for (auto& t : threads) {
        if (t.joinable()) t.join();
      }
    }
    ~StopFlood() { now(); }
  } stop_flood{stop, flooders};

  // Until the server-wide bound turns flooders away, the flood is not yet at full strength.
  const auto busy_by = Clock::now() + scaled(milliseconds(10'000));
  while (tmpfails == 0 && Clock::now() < busy_by) std::this_thread::sleep_for(milliseconds(10));
  EXPECT_GT(tmpfails.load(), 0) << "20 concurrent logins must meet the server-wide bound";

  // A range scan runs on the executors, not behind the PBKDF2 queue.
  const Response create =
      callWithin(scanner, makeCreate(cb::vbucketOf("doc"), fullRangeJson(/*key_only=*/true)),
                 scaled(milliseconds(3000)));
  EXPECT_EQ(create.status, status::kSuccess) << create.value;
  EXPECT_EQ(create.value.size(), 16u) << "a scan id";

  // A legitimate SCRAM login either gets in or is told to retry; it never hangs.
  McbpClient login = newClient();
  ScramClient scram("SCRAM-SHA512");
  const milliseconds bound = scaled(milliseconds(20'000));
  const Response first = callWithin(
      login, cb::makeRequest(cb::op::kSaslAuth, "SCRAM-SHA512", scram.clientFirst(kAppName)),
      bound);
  if (first.status == cb::status::kAuthContinue) {
    const Response final = callWithin(login,
                                      cb::makeRequest(cb::op::kSaslStep, "SCRAM-SHA512",
                                                      scram.clientFinal(first.value, kAppPassword)),
                                      bound);
    EXPECT_TRUE(final.status == status::kSuccess || final.status == cb::status::kEtmpfail)
        << "SCRAM step: status " << final.status;
    if (final.status == status::kSuccess) {
      EXPECT_TRUE(scram.verifyServerFinal(final.value));
    }
  } else {
    EXPECT_EQ(first.status, cb::status::kEtmpfail) << "SCRAM first: status " << first.status;
  }

  stop_flood.now();
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_GT(auth_errors.load(), 0) << "the flood's PBKDF2 did run, on its own pool";
}

}  // namespace
}  // namespace memkv::test
