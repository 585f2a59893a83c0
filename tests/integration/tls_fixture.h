// The fixture of the TLS data-path tests: a server whose port speaks only TLS (memkv or, with
// MEMKV_TEST_TARGET=memcached, memcached -Z with the same flags) and one TLS client.
//
// Certificates come from tests/tls/make_certs.sh, run once per test binary into the build
// tree's tls-certs directory (the script is idempotent and takes a lock, so the CTest fixture
// that makes the same directory and concurrent test binaries do not race). No key is committed.
#pragma once

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "support/mcbp_client.h"
#include "support/server_process.h"
#include "support/tls_socket.h"

#ifndef MEMKV_TLS_CERT_DIR
#error "MEMKV_TLS_CERT_DIR (where make_certs.sh writes) must be defined by the build"
#endif
#ifndef MEMKV_MAKE_CERTS
#error "MEMKV_MAKE_CERTS (tests/tls/make_certs.sh) must be defined by the build"
#endif

namespace memkv::test {

// The certificate directory, made on first use; "" if make_certs.sh failed.
inline const std::string& tlsCertDir() {
  static const std::string dir = [] {
    const std::string cmd =
        std::string("bash '") + MEMKV_MAKE_CERTS + "' '" + MEMKV_TLS_CERT_DIR + "' >/dev/null";
    return std::system(cmd.c_str()) == 0 ? std::string(MEMKV_TLS_CERT_DIR) : std::string();
  }();
  return dir;
}

// What a client that trusts the test CA (and checks the server's SAN) uses.
inline TlsClientConfig trustingClient() {
  TlsClientConfig config;
  config.ca_file = tlsCertDir() + "/ca.pem";
  return config;
}

// The server flags that turn every listener into a TLS one: memcached's -Z, which memkv shares.
inline std::vector<std::string> tlsServerArgs() {
  const std::string& dir = tlsCertDir();
  return {"-Z", "-o", "ssl_chain_cert=" + dir + "/server.pem,ssl_key=" + dir + "/server.key"};
}

class TlsServerTest : public ::testing::Test {
 protected:
  explicit TlsServerTest(std::vector<std::string> server_args = {})
      : server_args_(std::move(server_args)) {}

  void SetUp() override {
    ASSERT_FALSE(tlsCertDir().empty()) << "tests/tls/make_certs.sh failed";
    std::vector<std::string> args = tlsServerArgs();
    args.insert(args.end(), server_args_.begin(), server_args_.end());
    server_ = std::make_unique<ServerProcess>(args);
    server_->setConnector([](McbpClient* c, uint16_t port, std::chrono::milliseconds timeout) {
      std::string ignored;
      return connectTls(c, port, trustingClient(), &ignored, timeout);
    });
    std::string error;
    ASSERT_TRUE(server_->start(&error)) << toString(server_->kind()) << ": " << error;
    client_ = newClient();
    ASSERT_TRUE(client_.connected());
  }

  void TearDown() override {
    client_.close();
    if (server_ && server_->running()) {
      // A crash, a sanitizer report or a leak at exit fails the test that caused it.
      const int status = server_->terminate(std::chrono::seconds(20));
      EXPECT_TRUE(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
          << toString(server_->kind()) << " did not exit cleanly on SIGTERM (wait status " << status
          << ")";
    }
    server_.reset();
  }

  // A further TLS connection to the server (unconnected, with a test failure, if that fails).
  McbpClient newClient() {
    McbpClient c;
    std::string error;
    EXPECT_TRUE(connectTls(&c, server_->port(), trustingClient(), &error))
        << "TLS connect to port " << server_->port() << ": " << error;
    return c;
  }

  bool isMemcached() const { return server_->kind() == ServerKind::kMemcached; }

  std::vector<std::string> server_args_;
  std::unique_ptr<ServerProcess> server_;
  McbpClient client_;
};

// Skips a test (or its remainder) that checks what only memkv has (its statistics, scans).
#define MEMKV_TLS_ONLY(reason)                                                       \
  do {                                                                               \
    if (isMemcached()) GTEST_SKIP() << "memkv-only (memcached differs): " << reason; \
  } while (0)

}  // namespace memkv::test
