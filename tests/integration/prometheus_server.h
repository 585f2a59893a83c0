// Debian's Prometheus server for tests: a config scraping one target every
// second, started on a free loopback port, and instant queries against its
// HTTP API with bounded polling.
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

extern char** environ;

namespace memkv::test {

// A port nobody listens on now (Prometheus needs a fixed one in its flags).
inline uint16_t freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

class Prometheus {
 public:
  ~Prometheus() { stop(); }

  // Writes a config scraping `target` every second and starts the server.
  bool start(uint16_t target, const std::string& extra_scrape_config, std::string* error) {
    char tmpl[] = "/tmp/memkv-prometheus-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      *error = "mkdtemp failed";
      return false;
    }
    dir_ = tmpl;
    {
      std::ofstream config(dir_ + "/prometheus.yml");
      config << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
             << "scrape_configs:\n  - job_name: memkv\n"
             << extra_scrape_config
             << "    static_configs:\n      - targets: ['127.0.0.1:" << target << "']\n";
    }
    port_ = freePort();
    const std::vector<std::string> args = {
        "prometheus", "--config.file=" + dir_ + "/prometheus.yml",
        "--storage.tsdb.path=" + dir_ + "/data",
        "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"};
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    if (::posix_spawnp(&pid_, "prometheus", nullptr, nullptr, argv.data(), environ) != 0) {
      pid_ = -1;
      *error = "cannot run prometheus (is Debian's prometheus installed?)";
      return false;
    }
    return true;
  }

  // The first sample of an instant query's result, polled until `accept`
  // holds or the time is up; nullopt if it never did.
  std::optional<nlohmann::json> waitFor(const std::string& query,
                                        const std::function<bool(const nlohmann::json&)>& accept,
                                        std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::optional<nlohmann::json> last;
    while (std::chrono::steady_clock::now() < deadline) {
      httplib::Client http("127.0.0.1", port_);
      http.set_connection_timeout(1, 0);
      auto res = http.Get("/api/v1/query", httplib::Params{{"query", query}}, httplib::Headers{});
      if (res && res->status == 200) {
        const auto body = nlohmann::json::parse(res->body, nullptr, false);
        if (!body.is_discarded() && body.value("status", "") == "success" &&
            !body["data"]["result"].empty()) {
          last = body["data"]["result"][0];
          if (accept(*last)) return last;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return std::nullopt;
  }

  // SIGTERM, and the exit status (-1 if it had to be killed).
  int stop() {
    int status = -1;
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      for (int i = 0; i < 200; ++i) {
        if (::waitpid(pid_, &status, WNOHANG) == pid_) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (i == 199) {
          ::kill(pid_, SIGKILL);
          ::waitpid(pid_, nullptr, 0);
          status = -1;
        }
      }
      pid_ = -1;
    }
    if (dir_.rfind("/tmp/memkv-prometheus-", 0) == 0) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
      dir_.clear();
    }
    return status;
  }

 private:
  std::string dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

inline double sampleValue(const nlohmann::json& sample) {
  return std::stod(sample["value"][1].get<std::string>());
}

inline auto equals(double want) {
  return [want](const nlohmann::json& s) { return sampleValue(s) == want; };
}

}  // namespace memkv::test
