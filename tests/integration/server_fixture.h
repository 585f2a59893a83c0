// Shared gtest fixture: every test gets its own server process and one connected client.
// Subclasses pass memcached-style flags through the constructor (e.g. {"-m", "2"}).
#pragma once

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "support/mcbp_client.h"
#include "support/server_process.h"

namespace memkv::test {

class ServerTest : public ::testing::Test {
 protected:
  explicit ServerTest(std::vector<std::string> server_args = {})
      : server_args_(std::move(server_args)) {}

  void SetUp() override {
    server_ = std::make_unique<ServerProcess>(server_args_);
    std::string error;
    ASSERT_TRUE(server_->start(&error)) << toString(server_->kind()) << ": " << error;
    ASSERT_TRUE(client_.connect(server_->port())) << "cannot connect to port " << server_->port();
  }

  void TearDown() override {
    client_.close();
    if (server_ && server_->running()) {
      // Every test ends with a clean SIGTERM exit: a crash, a sanitizer report or a leak
      // (LeakSanitizer runs at exit) shows up here as a failure of the test that caused it.
      const int status = server_->terminate(std::chrono::seconds(20));
      EXPECT_TRUE(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
          << toString(server_->kind()) << " did not exit cleanly on SIGTERM (wait status " << status
          << ")";
    }
    server_.reset();
  }

  // A further connection to the same server.
  McbpClient newClient() {
    McbpClient c;
    EXPECT_TRUE(c.connect(server_->port()));
    return c;
  }

  bool isMemcached() const { return server_->kind() == ServerKind::kMemcached; }

  std::vector<std::string> server_args_;
  std::unique_ptr<ServerProcess> server_;
  McbpClient client_;
};

// Skips a test that checks a behaviour where memkv deliberately differs from memcached 1.6.18.
#define MEMKV_ONLY(reason)                                                           \
  do {                                                                               \
    if (isMemcached()) GTEST_SKIP() << "memkv-only (memcached differs): " << reason; \
  } while (0)

}  // namespace memkv::test
