// The server as a process: startup, flags, and shutdown on SIGTERM.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <chrono>
#include <string>

#include "integration/server_fixture.h"
#include "support/test_env.h"

namespace memkv::test {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

class ServerProcessTest : public ServerTest {};

TEST_F(ServerProcessTest, StartsListeningOnLoopback) {
  EXPECT_TRUE(server_->running());
  EXPECT_GT(server_->pid(), 0);
  EXPECT_NE(server_->port(), 0);
  EXPECT_EQ(client_.noop().status, status::kSuccess);
  EXPECT_EQ(client_.stats("settings").at("tcpport"), std::to_string(server_->port()));
}

TEST_F(ServerProcessTest, SigtermWithIdleClientExitsZeroPromptly) {
  ASSERT_EQ(client_.set("k", "v").status, status::kSuccess);
  const auto start = Clock::now();
  const int st = server_->terminate(scaled(milliseconds(5000)));
  ASSERT_NE(st, -1) << "no exit within scaled 5 s of SIGTERM";
  EXPECT_LT(Clock::now() - start, scaled(milliseconds(3000)));
  ASSERT_TRUE(WIFEXITED(st)) << "raw wait status " << st;
  EXPECT_EQ(WEXITSTATUS(st), 0);
  EXPECT_TRUE(client_.connectionClosed(milliseconds(2000)));
}

TEST_F(ServerProcessTest, SigtermWithoutClientsExitsZero) {
  client_.close();
  const int st = server_->terminate(scaled(milliseconds(5000)));
  ASSERT_NE(st, -1) << "no exit within scaled 5 s of SIGTERM";
  ASSERT_TRUE(WIFEXITED(st)) << "raw wait status " << st;
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

TEST_F(ServerProcessTest, SigtermWithHalfSentRequestExitsZero) {
  const std::string frame = encode(makeStore(op::kSet, "k", std::string(4096, 'x')));
  ASSERT_TRUE(client_.sendRaw(std::string_view(frame).substr(0, 100)));
  const int st = server_->terminate(scaled(milliseconds(5000)));
  ASSERT_NE(st, -1) << "no exit within scaled 5 s of SIGTERM";
  ASSERT_TRUE(WIFEXITED(st)) << "raw wait status " << st;
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

class TwoServersTest : public ServerTest {};

TEST_F(TwoServersTest, IndependentInstancesDoNotShareData) {
  ServerProcess second({"-m", "8"});
  std::string error;
  ASSERT_TRUE(second.start(&error)) << error;
  EXPECT_NE(second.port(), server_->port());
  McbpClient other;
  ASSERT_TRUE(other.connect(second.port()));
  ASSERT_EQ(client_.set("k", "first").status, status::kSuccess);
  EXPECT_EQ(other.get("k").status, status::kKeyEnoent);
  EXPECT_EQ(other.stats().at("limit_maxbytes"), "8388608") << "extra args reach the server";
}

}  // namespace
}  // namespace memkv::test
