#pragma once
// Three memkv processes serving one cluster map made by the real memkv-admin
// (docs/cluster.md), for cluster_serve_test and cluster_push_test: a map
// naming three ports the kernel just handed out, one node per entry, and
// clients of each node. memkv only.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/couchbase_client.h"
#include "support/mcbp_client.h"
#include "support/server_process.h"
#include "support/test_env.h"

namespace memkv::test {

namespace cb = couchbase;
namespace fs = std::filesystem;

inline constexpr uint16_t kNotMyVbucket = 0x07;
inline constexpr size_t kNodes = 3;
inline constexpr size_t kVBuckets = 1024;

// The exit status and everything printed of a command run to its end (bounded: a command
// still running after `timeout` is killed and reported as status -1).
struct Finished {
  int status = -1;
  std::string output;
};

inline Finished runToExit(const std::vector<std::string>& args, const std::string& output_path,
                          std::chrono::milliseconds timeout) {
  Finished run;
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
    }
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  if (pid < 0) return run;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  pid_t done = 0;
  while ((done = ::waitpid(pid, &status, WNOHANG)) == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (done == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  } else {
    run.status = status;
  }
  std::ifstream in(output_path);
  std::stringstream text;
  text << in.rdbuf();
  run.output = text.str();
  return run;
}

// Ports the kernel just handed out and took back: the map must name every node's port before
// any node starts. Another process could take one meanwhile; the fixture then tries again.
inline std::vector<uint16_t> freePorts(size_t count) {
  std::vector<int> fds;
  std::vector<uint16_t> ports;
  for (size_t i = 0; i < count; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      if (fd >= 0) ::close(fd);
      break;
    }
    fds.push_back(fd);  // held until all are picked: three different ports
    ports.push_back(ntohs(addr.sin_port));
  }
  for (const int fd : fds) ::close(fd);
  return ports;
}

class ClusterServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (targetFromEnv() == ServerKind::kMemcached) GTEST_SKIP() << "memkv-only: cluster map";
    std::string tmpl = (fs::temp_directory_path() / "memkv-cluster-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    map_path_ = dir_ + "/map.json";
    std::string error;
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (startCluster(&error)) break;
      stopCluster();
    }
    ASSERT_EQ(servers_.size(), kNodes) << error;
  }

  void TearDown() override {
    for (auto& server : servers_) {
      const int status = server->terminate(std::chrono::seconds(20));
      EXPECT_TRUE(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
          << "a node did not exit cleanly on SIGTERM (wait status " << status << ")";
    }
    servers_.clear();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  bool startCluster(std::string* error) {
    ports_ = freePorts(kNodes);
    if (ports_.size() != kNodes) {
      *error = "no free ports";
      return false;
    }
    std::string nodes;
    for (const uint16_t port : ports_) {
      nodes += (nodes.empty() ? "" : ",") + std::string("127.0.0.1:") + std::to_string(port);
    }
    const Finished made =
        runToExit({MEMKV_ADMIN_BIN, "cluster-map", "--nodes", nodes, "--out", map_path_},
                  dir_ + "/admin.out", scaled(std::chrono::seconds(30)));
    if (made.status != 0) {
      *error = "memkv-admin cluster-map failed: " + made.output;
      return false;
    }
    if (!editMap(error)) return false;
    for (size_t i = 0; i < kNodes; ++i) {
      std::vector<std::string> args = {
          "-p",           std::to_string(ports_[i]), "--cluster-map", map_path_,
          "--node-index", std::to_string(i)};
      const std::vector<std::string> extra = extraArgs();
      args.insert(args.end(), extra.begin(), extra.end());
      auto server = std::make_unique<ServerProcess>(std::move(args));
      if (!server->start(error)) return false;
      if (server->port() != ports_[i]) {
        *error = "node " + std::to_string(i) + " listens on another port";
        return false;
      }
      servers_.push_back(std::move(server));
    }
    return true;
  }

  // For subclasses: more server options, and a change to memkv-admin's map before any node
  // reads it.
  virtual std::vector<std::string> extraArgs() { return {}; }
  virtual bool editMap(std::string* /*error*/) { return true; }

  void stopCluster() {
    for (auto& server : servers_) server->stop();
    servers_.clear();
  }

  // A client of node i that negotiated JSON (as the SDK does) and Collections if asked.
  McbpClient connect(size_t node, bool collections = false) {
    McbpClient c;
    EXPECT_TRUE(c.connect(ports_[node]));
    std::vector<uint16_t> features = {cb::feature::kJson, cb::feature::kXerror};
    if (collections) features.push_back(cb::feature::kCollections);
    cb::hello(c, features);
    return c;
  }

  static nlohmann::json clusterConfig(McbpClient& c) {
    const Response r = c.call(cb::makeRequest(cb::op::kGetClusterConfig));
    EXPECT_EQ(r.status, status::kSuccess);
    EXPECT_EQ(r.data_type, cb::datatype::kJson);
    return nlohmann::json::parse(r.value, nullptr, false);
  }

  // The owners the file gives bucket "default", as memkv-admin wrote them.
  std::vector<int> fileOwners() const {
    std::ifstream in(map_path_);
    const nlohmann::json file = nlohmann::json::parse(in, nullptr, false);
    std::vector<int> owners;
    if (file.is_discarded() || !file["vbuckets"].is_array()) return owners;
    for (const auto& owner : file["vbuckets"]) owners.push_back(owner.get<int>());
    return owners;
  }

  // Every vbucket's owner from a config's vBucketMap ([[owner], ...]).
  static std::vector<int> configOwners(const nlohmann::json& config) {
    std::vector<int> owners;
    const nlohmann::json& map = config["vBucketServerMap"]["vBucketMap"];
    if (!map.is_array()) return owners;
    for (const auto& row : map) owners.push_back(row.size() == 1 ? row[0].get<int>() : -2);
    return owners;
  }

  // Keys whose vbucket node `node` owns, and keys owned by another node.
  std::string keyOwnedBy(size_t node, int salt = 0) const {
    const std::vector<int> owners = fileOwners();
    for (int i = 0; i < 10000; ++i) {
      const std::string key = "key-" + std::to_string(salt) + "-" + std::to_string(i);
      if (owners.size() == kVBuckets && owners[cb::vbucketOf(key)] == static_cast<int>(node)) {
        return key;
      }
    }
    return "";
  }

  std::string dir_;
  std::string map_path_;
  std::vector<uint16_t> ports_;
  std::vector<std::unique_ptr<ServerProcess>> servers_;
};

}  // namespace memkv::test
