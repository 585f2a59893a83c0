// What an operator reads in --log-file: a real server writing to a temporary file, driven
// through real sockets. SIGUSR1 reopens the file after logrotate's rename; hostile frames and
// stalled readers leave a warning naming the connection and its peer; a flood of failed
// logins leaves a few lines and a count of the rest, and never a password.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/server_fixture.h"
#include "support/couchbase_client.h"
#include "support/scram_client.h"
#include "support/slow_reader.h"
#include "support/test_env.h"

#ifndef MEMKV_ADMIN_BIN
#error "MEMKV_ADMIN_BIN must name the memkv-admin binary"
#endif

namespace memkv::test {
namespace {

namespace cb = couchbase;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

size_t countOf(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

std::string localPeer(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "?";
  return "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
}

// The lines of `log` that contain every one of `parts`.
std::vector<std::string> linesWith(const std::string& log,
                                   std::initializer_list<std::string> parts) {
  std::vector<std::string> out;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    bool all = true;
    for (const auto& p : parts) all = all && line.find(p) != std::string::npos;
    if (all) out.push_back(line);
  }
  return out;
}

// The temporary directory and log path; a base class so it exists before ServerTest's
// constructor takes the arguments that name it.
class LogDir {
 protected:
  LogDir() {
    char tmpl[] = "/tmp/memkv-logging-test-XXXXXX";
    const char* dir = ::mkdtemp(tmpl);
    dir_ = dir ? dir : "/tmp";
    log_path_ = dir_ + "/memkv.log";
  }
  ~LogDir() {
    std::error_code ec;
    if (dir_ != "/tmp") std::filesystem::remove_all(dir_, ec);
  }
  std::string dir_;
  std::string log_path_;
};

class LoggingTest : protected LogDir, public ServerTest {
 protected:
  explicit LoggingTest(std::vector<std::string> extra = {}) : ServerTest(args(std::move(extra))) {}

  std::vector<std::string> args(std::vector<std::string> extra) {
    extra.insert(extra.begin(), {"--log-file", log_path_});
    return extra;
  }

  void SetUp() override {
    if (targetFromEnv() == ServerKind::kMemcached) GTEST_SKIP() << "memkv-only: --log-file";
    ServerTest::SetUp();
  }

  // Waits (5 s, scaled) until the log has a line holding every one of `parts`; *log gets
  // the file as last read either way.
  bool waitForLine(std::initializer_list<std::string> parts, std::string* log) {
    return waitForFile(
        log_path_, [&](const std::string& l) { return !linesWith(l, parts).empty(); },
        scaled(milliseconds(5000)), log);
  }
};

class LogReopenTest : public LoggingTest {
 protected:
  LogReopenTest() : LoggingTest({"-v"}) {}
};

TEST_F(LogReopenTest, Sigusr1ReopensTheFileAfterARename) {
  std::string log;
  ASSERT_TRUE(waitForFile(
      log_path_,
      [](const std::string& l) { return l.find("listening on port") != std::string::npos; },
      scaled(milliseconds(5000)), &log))
      << log;
  // Created 0640 (the umask may take more away, never add).
  struct stat st {};
  ASSERT_EQ(::stat(log_path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0137, 0u) << std::oct << st.st_mode;
  // ISO 8601 in UTC with milliseconds, then the level.
  EXPECT_TRUE(std::regex_search(
      log,
      std::regex(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info memkv .* listening on port)")))
      << log;

  // logrotate: rename, then SIGUSR1.
  const std::string rotated = log_path_ + ".1";
  ASSERT_EQ(std::rename(log_path_.c_str(), rotated.c_str()), 0);
  ASSERT_EQ(::kill(server_->pid(), SIGUSR1), 0);
  ASSERT_TRUE(waitForFile(
      log_path_,
      [](const std::string& l) { return l.find("log file reopened") != std::string::npos; },
      scaled(milliseconds(5000)), &log))
      << "no new file with the reopen line: '" << log << "'";

  // A line caused after the reopen goes to the new file only: a bad-magic frame after a NOOP.
  ASSERT_EQ(client_.noop().status, status::kSuccess);
  ASSERT_TRUE(client_.sendRaw(std::string(24, '\x42')));
  EXPECT_TRUE(client_.connectionClosed(scaled(milliseconds(5000))));
  ASSERT_TRUE(waitForFile(
      log_path_,
      [](const std::string& l) { return l.find("event=hostile_frame") != std::string::npos; },
      scaled(milliseconds(5000)), &log))
      << log;
  const std::string old_file = readFile(rotated);
  EXPECT_NE(old_file.find("listening on port"), std::string::npos) << old_file;
  EXPECT_EQ(old_file.find("event=hostile_frame"), std::string::npos) << old_file;
  EXPECT_EQ(log.find("listening on port"), std::string::npos) << log;

  // The server goes on with the new file as the only one being written.
  const size_t old_size = old_file.size();
  ASSERT_EQ(::kill(server_->pid(), SIGUSR1), 0);
  ASSERT_TRUE(waitForFile(
      log_path_, [](const std::string& l) { return countOf(l, "log file reopened") == 2; },
      scaled(milliseconds(5000)), &log))
      << log;
  EXPECT_EQ(readFile(rotated).size(), old_size);
}

TEST_F(LogReopenTest, AReopenThatFailsKeepsWritingToTheOldFile) {
  std::string log;
  ASSERT_TRUE(waitForFile(
      log_path_,
      [](const std::string& l) { return l.find("listening on port") != std::string::npos; },
      scaled(milliseconds(5000)), &log));
  // The file's name now names a directory: open(2) fails with EISDIR.
  const std::string moved = log_path_ + ".moved";
  ASSERT_EQ(std::rename(log_path_.c_str(), moved.c_str()), 0);
  ASSERT_EQ(::mkdir(log_path_.c_str(), 0700), 0);
  ASSERT_EQ(::kill(server_->pid(), SIGUSR1), 0);
  ASSERT_TRUE(waitForFile(
      moved,
      [](const std::string& l) { return l.find("log file reopen failed") != std::string::npos; },
      scaled(milliseconds(5000)), &log))
      << log;
  EXPECT_NE(log.find("error"), std::string::npos) << log;
  // Still served, still logged to the old file.
  EXPECT_EQ(client_.noop().status, status::kSuccess);
  ASSERT_TRUE(client_.sendRaw(std::string(24, '\x42')));
  EXPECT_TRUE(client_.connectionClosed(scaled(milliseconds(5000))));
  EXPECT_TRUE(waitForFile(
      moved,
      [](const std::string& l) { return l.find("event=hostile_frame") != std::string::npos; },
      scaled(milliseconds(5000)), &log))
      << log;
  ::rmdir(log_path_.c_str());
}

TEST_F(LoggingTest, AnUnwritableLogFileStopsStartup) {
  ServerProcess bad({"--log-file", dir_ + "/no-such-dir/memkv.log"});
  std::string error;
  EXPECT_FALSE(bad.start(&error));
}

// Default level (warnings): a hostile frame is logged with its connection's id and peer.
TEST_F(LoggingTest, BadMagicClosesTheConnectionAndLogsAWarningWithIdAndPeer) {
  McbpClient c = newClient();
  ASSERT_EQ(c.noop().status, status::kSuccess);  // the first byte chose MCBP
  const std::string peer = localPeer(c.fd());
  std::string frame(24, '\0');
  frame[0] = '\x42';  // neither request magic
  ASSERT_TRUE(c.sendRaw(frame));
  EXPECT_TRUE(c.connectionClosed(scaled(milliseconds(5000)))) << "framing lost: the server closes";
  std::string log;
  ASSERT_TRUE(waitForLine({"event=hostile_frame", peer}, &log))
      << "no hostile_frame line for " << peer << " in:\n"
      << log;
  const std::string line = linesWith(log, {"event=hostile_frame", peer}).front();
  EXPECT_TRUE(std::regex_search(line, std::regex(" warning conn=[1-9][0-9]* peer=" + peer + " ")))
      << line;
  EXPECT_NE(line.find("bad magic"), std::string::npos) << line;
  // The other client was not affected.
  EXPECT_EQ(client_.noop().status, status::kSuccess);
  // Accept and close are debug lines: not at the default level.
  EXPECT_EQ(log.find("event=accept"), std::string::npos) << log;
}

TEST_F(LoggingTest, AnOversizedBodyIsAHostileFrameToo) {
  McbpClient c = newClient();
  const std::string peer = localPeer(c.fd());
  // A GET announcing a 1 GiB body: answered E2BIG and closed, never buffered.
  std::string frame = encode(makeKeyOnly(op::kGet, "k"));
  frame[8] = '\x40';
  frame[9] = frame[10] = frame[11] = '\0';
  ASSERT_TRUE(c.sendRaw(frame));
  EXPECT_TRUE(c.connectionClosed(scaled(milliseconds(5000))));
  std::string log;
  EXPECT_TRUE(waitForLine({"warning", "event=hostile_frame", "peer=" + peer}, &log)) << log;
}

// -v: startup lines, but no connection or command lines (memcached's -v).
class InfoLevelTest : public LoggingTest {
 protected:
  InfoLevelTest() : LoggingTest({"-v"}) {}
};

TEST_F(InfoLevelTest, NeitherConnectionsNorCommands) {
  McbpClient c = newClient();
  ASSERT_EQ(c.noop().status, status::kSuccess);
  ASSERT_EQ(c.call(makeKeyOnly(op::kGet, "k")).status, status::kKeyEnoent);
  c.close();
  // A line the test can wait for: a hostile frame is a warning at every level.
  McbpClient h = newClient();
  ASSERT_EQ(h.noop().status, status::kSuccess);  // the first byte chose MCBP
  const std::string peer = localPeer(h.fd());
  std::string frame(24, '\0');
  frame[0] = '\x42';
  ASSERT_TRUE(h.sendRaw(frame));
  std::string log;
  ASSERT_TRUE(waitForLine({"event=hostile_frame", peer}, &log)) << log;
  EXPECT_FALSE(linesWith(log, {" info "}).empty()) << "startup lines at -v:\n" << log;
  EXPECT_EQ(log.find("event=accept"), std::string::npos) << log;
  EXPECT_EQ(log.find("event=command"), std::string::npos) << log;
}

// -vv: every connection's accept and its close with the reason, under one id, and (as
// memcached's -vv) one line per command, naming it but never its key.
class ConnectionEventsTest : public LoggingTest {
 protected:
  ConnectionEventsTest() : LoggingTest({"-vv"}) {}
};

TEST_F(ConnectionEventsTest, AcceptAndCloseCarryTheSameIdAndTheReason) {
  McbpClient c = newClient();
  const std::string peer = localPeer(c.fd());
  ASSERT_EQ(c.noop().status, status::kSuccess);
  c.close();
  McbpClient q = newClient();
  const std::string quit_peer = localPeer(q.fd());
  ASSERT_TRUE(q.send(cb::makeRequest(op::kQuit)));
  EXPECT_TRUE(q.connectionClosed(scaled(milliseconds(5000))));
  std::string log;
  ASSERT_TRUE(waitForFile(
      log_path_,
      [&](const std::string& l) {
        return !linesWith(l, {"event=close", "peer=" + peer}).empty() &&
               !linesWith(l, {"event=close", "peer=" + quit_peer}).empty();
      },
      scaled(milliseconds(5000)), &log))
      << log;
  const auto accepted = linesWith(log, {"debug", "event=accept", "peer=" + peer});
  ASSERT_EQ(accepted.size(), 1u) << log;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(accepted[0], m, std::regex("conn=([0-9]+) ")));
  const std::string id = "conn=" + m[1].str() + " ";
  const auto closed = linesWith(log, {"debug", id, "event=close", "peer=" + peer});
  ASSERT_EQ(closed.size(), 1u) << log;
  EXPECT_NE(closed[0].find("reason=\"client closed\""), std::string::npos) << closed[0];
  const auto quit = linesWith(log, {"event=close", "peer=" + quit_peer});
  EXPECT_NE(quit[0].find("reason=\"quit\""), std::string::npos) << quit[0];
  // The NOOP under the connection's id, and the QUIT.
  EXPECT_EQ(linesWith(log, {"trace", id, "event=command", "opcode=NOOP"}).size(), 1u) << log;
  EXPECT_EQ(linesWith(log, {"trace", "event=command", "opcode=QUIT", "peer=" + quit_peer}).size(),
            1u)
      << log;
}

TEST_F(ConnectionEventsTest, ACommandLineNamesTheCommandButNotItsKey) {
  McbpClient c = newClient();
  const std::string peer = localPeer(c.fd());
  ASSERT_EQ(c.call(makeStore(op::kSet, "secret-key-4f1a", "secret-value-9b2c")).status,
            status::kSuccess);
  ASSERT_EQ(c.call(makeKeyOnly(op::kGet, "secret-key-4f1a")).status, status::kSuccess);
  std::string log;
  ASSERT_TRUE(waitForLine({"event=command", "opcode=GET", "peer=" + peer}, &log)) << log;
  const auto set = linesWith(log, {"trace", "event=command", "opcode=SET", "peer=" + peer});
  ASSERT_EQ(set.size(), 1u) << log;
  EXPECT_NE(set[0].find("key=15 "), std::string::npos) << "the key's length: " << set[0];
  EXPECT_EQ(log.find("secret-key"), std::string::npos) << log;
  EXPECT_EQ(log.find("secret-value"), std::string::npos) << log;
}

// A flood of wrong passwords from many connections.
constexpr const char* kUser = "app";
constexpr const char* kPassword = "right-pw-0f6e";
constexpr const char* kWrongPassword = "Wr0ng-PaSsWoRd-7c1d93";

std::vector<std::string> usersArgs() {
  static std::string path, error;
  static std::unique_ptr<cb::UsersFile> file;
  if (!file) {
    file = std::make_unique<cb::UsersFile>(MEMKV_ADMIN_BIN);
    file->addUser(kUser, kPassword, "read[default],write[default]", &error);
    path = file->path();
  }
  // -vvv: if a password were ever formatted into a line, trace would show it.
  return {"--users-file", path, "--auth-threads", "4", "-vvv"};
}

class AuthFloodLogTest : public LoggingTest {
 protected:
  AuthFloodLogTest() : LoggingTest(usersArgs()) {}
};

TEST_F(AuthFloodLogTest, TwoHundredFailuresLeaveFewLinesACountAndNoPassword) {
  constexpr int kFailures = 200;
  constexpr int kThreads = 20;
  const uint16_t port = server_->port();
  const auto deadline = Clock::now() + scaled(milliseconds(60'000));
  std::atomic<int> failures{0};
  std::atomic<int> unexpected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      // One failure per connection: the first answer waits 100 ms, later ones longer.
      for (int attempt = 0; attempt < 1000 && Clock::now() < deadline; ++attempt) {
        if (failures.fetch_add(1) >= kFailures) {
          failures.fetch_sub(1);
          return;
        }
        McbpClient c;
        Response r;
        if (!c.connect(port) ||
            !c.sendRaw(encode(cb::makeRequest(cb::op::kSaslAuth, "PLAIN",
                                              plainAuthPayload(kUser, kWrongPassword)))) ||
            c.read(&r, scaled(milliseconds(10'000))) != ReadStatus::kOk) {
          failures.fetch_sub(1);
          ++unexpected;
          continue;
        }
        if (r.status == cb::status::kEtmpfail) {
          failures.fetch_sub(1);  // the SASL pool was full: not a failure, try again
          std::this_thread::sleep_for(milliseconds(10));
        } else if (r.status != cb::status::kAuthError) {
          ++unexpected;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), kFailures) << "the flood did not finish in time";
  EXPECT_EQ(unexpected.load(), 0);

  // Every failure is either a line or part of a "suppressed" count: the main loop's summary
  // (every second) reports what no later line did.
  auto accounted = [](const std::string& l) {
    size_t total = linesWith(l, {"event=auth_failure", "user=\"app\""}).size();
    const std::regex count(R"(event=auth_failure.*\((\d+) similar messages suppressed\))");
    std::istringstream in(l);
    for (std::string line; std::getline(in, line);) {
      std::smatch m;
      if (std::regex_search(line, m, count)) total += std::stoul(m[1].str());
    }
    return total;
  };
  std::string log;
  EXPECT_TRUE(waitForFile(
      log_path_, [&](const std::string& l) { return accounted(l) >= kFailures; },
      scaled(milliseconds(10'000)), &log))
      << accounted(log) << " of " << kFailures << " failures accounted for in:\n"
      << log.substr(0, 3000);
  EXPECT_EQ(accounted(log), size_t{kFailures});
  const size_t lines = linesWith(log, {"warning", "event=auth_failure", "user=\"app\""}).size();
  EXPECT_GE(lines, 1u);
  EXPECT_LE(lines, 100u) << "a flood of failures must not flood the log";
  EXPECT_NE(log.find("similar messages suppressed"), std::string::npos);
  // The password: in no line, at any level, in no form the test can think of.
  EXPECT_EQ(log.find(kWrongPassword), std::string::npos);
  EXPECT_EQ(log.find("7c1d93"), std::string::npos);
  // The lines name the connection and its peer.
  const auto sample = linesWith(log, {"event=auth_failure", "user=\"app\""});
  ASSERT_FALSE(sample.empty());
  EXPECT_TRUE(
      std::regex_search(sample[0], std::regex("conn=[1-9][0-9]* peer=127\\.0\\.0\\.1:[0-9]+ ")))
      << sample[0];
}

// A client that asks for megabytes and never reads them.
class StallLogTest : public LoggingTest {
 protected:
  StallLogTest() : LoggingTest({"--output-stall-timeout=1", "-I", "2m", "-m", "64"}) {}
};

TEST_F(StallLogTest, AReaderThatStopsIsDisconnectedWithAWarning) {
  ASSERT_EQ(client_.set("big", valueBytes(7, 1 << 20)).status, status::kSuccess);
  SlowReaderOptions options;
  options.rcvbuf = 4096;
  SlowReader staller;
  ASSERT_TRUE(staller.connect(server_->port(), options));
  const std::string peer = localPeer(staller.fd());
  std::string wire;
  for (uint32_t i = 0; i < 8; ++i) wire += encode(makeKeyOnly(op::kGet, "big", i));
  ASSERT_EQ(staller.exchange(wire, 0, [](Response&&) { return true; }), ReadStatus::kOk)
      << staller.lastError();
  std::string log;
  ASSERT_TRUE(waitForFile(
      log_path_,
      [&](const std::string& l) {
        return !linesWith(l, {"event=stall_disconnect", "peer=" + peer}).empty();
      },
      scaled(milliseconds(15'000)), &log))
      << "no stall line for " << peer << ":\n"
      << log;
  const std::string line = linesWith(log, {"event=stall_disconnect", "peer=" + peer}).front();
  EXPECT_TRUE(std::regex_search(line, std::regex(" warning conn=[1-9][0-9]* peer=")));
  EXPECT_NE(line.find("output stall"), std::string::npos) << line;
  EXPECT_TRUE(staller.closedWithin(scaled(milliseconds(5000))));
  EXPECT_EQ(client_.noop().status, status::kSuccess);
}

}  // namespace
}  // namespace memkv::test
