// Fixture for the /metrics tests: a memkv with --metrics-port 0, its metrics
// port read from --metrics-port-file, and a scrape that parses the
// exposition into series -> value.
#pragma once

#include <gtest/gtest.h>

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <httplib.h>

#include "integration/server_fixture.h"
#include "support/test_env.h"

namespace memkv::test {

// One scrape: the response and its samples keyed by the series as written,
// e.g. `memcached_current_items{bucket="default"}`.
struct Scrape {
  int status = 0;
  std::string content_type;
  std::string body;
  std::map<std::string, double> samples;

  bool has(const std::string& series) const { return samples.count(series) != 0; }
  double at(const std::string& series) const {
    const auto it = samples.find(series);
    return it == samples.end() ? -1 : it->second;
  }
};

inline std::map<std::string, double> parseExposition(const std::string& body) {
  std::map<std::string, double> out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find('\n', pos);
    if (end == std::string::npos) end = body.size();
    const std::string line = body.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    const std::string value = line.substr(space + 1);
    out[line.substr(0, space)] = value == "+Inf" ? 1e308 : std::strtod(value.c_str(), nullptr);
  }
  return out;
}

class MetricsServerTest : public ServerTest {
 protected:
  explicit MetricsServerTest(std::vector<std::string> extra = {})
      : ServerTest(withMetrics(std::move(extra))) {}

  void SetUp() override {
    if (targetFromEnv() == ServerKind::kMemcached) GTEST_SKIP() << "memkv-only: /metrics";
    for (size_t i = 0; i + 1 < server_args_.size(); ++i) {
      if (server_args_[i] == "--metrics-port-file") port_file_ = server_args_[i + 1];
    }
    dir_ = std::filesystem::path(port_file_).parent_path().string();
    ServerTest::SetUp();
    if (HasFatalFailure()) return;
    // main() writes the metrics port file just before its workers start;
    // the server has accepted a connection, so it is there or about to be.
    const auto deadline = std::chrono::steady_clock::now() + scaled(std::chrono::seconds(5));
    while (metrics_port_ == 0 && std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(port_file_);
      int port = 0;
      if (in >> port && port > 0) {
        metrics_port_ = static_cast<uint16_t>(port);
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    ASSERT_NE(metrics_port_, 0) << "no metrics port in " << port_file_;
  }

  void TearDown() override {
    ServerTest::TearDown();
    std::error_code ec;
    if (dir_.rfind("/tmp/memkv-metrics-", 0) == 0) std::filesystem::remove_all(dir_, ec);
  }

  // GET /metrics; `accept` is the Accept header ("" for none), `user` and
  // `password` HTTP Basic credentials when user is not empty.
  Scrape scrape(const std::string& accept = "", const std::string& user = "",
                const std::string& password = "") {
    httplib::Client http("127.0.0.1", metrics_port_);
    http.set_read_timeout(scaled(std::chrono::seconds(10)).count() / 1000, 0);
    httplib::Headers headers;
    if (!accept.empty()) headers.emplace("Accept", accept);
    if (!user.empty()) http.set_basic_auth(user.c_str(), password.c_str());
    Scrape s;
    auto res = http.Get("/metrics", headers);
    if (!res) {
      ADD_FAILURE() << "GET /metrics: " << httplib::to_string(res.error());
      return s;
    }
    s.status = res->status;
    s.content_type = res->get_header_value("Content-Type");
    s.body = res->body;
    if (s.status == 200) s.samples = parseExposition(s.body);
    return s;
  }

  uint16_t metricsPort() const { return metrics_port_; }

 private:
  // Static: runs before this class's members exist; SetUp() finds the
  // port file again in server_args_.
  static std::vector<std::string> withMetrics(std::vector<std::string> extra) {
    char tmpl[] = "/tmp/memkv-metrics-XXXXXX";
    const char* made = ::mkdtemp(tmpl);
    const std::string port_file = std::string(made != nullptr ? made : "/tmp") + "/metrics-port";
    extra.insert(extra.end(), {"--metrics-port", "0", "--metrics-port-file", port_file});
    return extra;
  }

  std::string dir_;
  std::string port_file_;
  uint16_t metrics_port_ = 0;
};

}  // namespace memkv::test
