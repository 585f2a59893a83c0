#include "support/server_process.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>
#include <utility>

#include "support/mcbp_client.h"

namespace memkv::test {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kStartupTimeout{10000};
constexpr milliseconds kPollInterval{10};
constexpr const char* kMemcachedPath = "/usr/bin/memcached";

// A free loopback port below the usual ephemeral range (32768+), so that neither an outgoing
// connection nor a concurrently started server's port-0 probe is likely to grab it.
uint16_t pickFreePort() {
  static std::mt19937 rng(static_cast<uint32_t>(::getpid()) ^
                          static_cast<uint32_t>(Clock::now().time_since_epoch().count()));
  std::uniform_int_distribution<int> dist(20000, 32000);
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(dist(rng)));
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    if (ok) return ntohs(addr.sin_port);
  }
  return 0;
}

bool probeConnect(const ServerProcess::Connector& connector, McbpClient* c, uint16_t port,
                  milliseconds timeout) {
  return connector ? connector(c, port, timeout) : c->connect(port, timeout);
}

bool canConnect(const ServerProcess::Connector& connector, uint16_t port) {
  McbpClient c;
  return probeConnect(connector, &c, port, milliseconds(500));
}

// True if the server on `port` reports `pid` in STAT: guards against having connected to
// another test's server that won a race for the same port.
bool serverHasPid(const ServerProcess::Connector& connector, uint16_t port, pid_t pid) {
  McbpClient c;
  if (!probeConnect(connector, &c, port, milliseconds(1000))) return false;
  if (!c.send(makeKeyOnly(op::kStat, "", 0))) return false;
  bool match = false;
  for (int i = 0; i < 1000; ++i) {
    Response r;
    if (c.read(&r, milliseconds(2000)) != ReadStatus::kOk || r.status != status::kSuccess) {
      return false;
    }
    if (r.key.empty()) return match;
    if (r.key == "pid") match = r.value == std::to_string(pid);
  }
  return false;
}

std::string describeStatus(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

}  // namespace

ServerKind targetFromEnv() {
  const char* t = std::getenv("MEMKV_TEST_TARGET");
  if (t != nullptr && std::string_view(t) == "memcached") return ServerKind::kMemcached;
  return ServerKind::kMemkv;
}

const char* toString(ServerKind kind) {
  return kind == ServerKind::kMemcached ? "memcached" : "memkv";
}

ServerProcess::ServerProcess(std::vector<std::string> extra_args)
    : kind_(targetFromEnv()), extra_args_(std::move(extra_args)) {}

ServerProcess::~ServerProcess() {
  stop();
  if (!temp_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(temp_dir_, ec);
  }
}

bool ServerProcess::start(std::string* error) {
  if (running()) return true;
  if (kind_ == ServerKind::kMemkv) return startMemkv(error);
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (startMemcachedOnce(error)) return true;
  }
  return false;
}

bool ServerProcess::startMemkv(std::string* error) {
  const char* bin = std::getenv("MEMKV_BIN");
  if (bin == nullptr || *bin == '\0') {
    *error = "MEMKV_BIN is not set (set MEMKV_TEST_TARGET=memcached to test the reference)";
    return false;
  }
  std::string tmpl = (std::filesystem::temp_directory_path() / "memkv-test-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    *error = std::string("mkdtemp: ") + std::strerror(errno);
    return false;
  }
  temp_dir_ = tmpl;
  const std::string port_file = temp_dir_ + "/port";
  argv_ = {bin, "-p", "0", "--port-file", port_file, "-l", "127.0.0.1", "-t", "2"};
  argv_.insert(argv_.end(), extra_args_.begin(), extra_args_.end());
  if (!spawn(error)) return false;
  const auto deadline = Clock::now() + kStartupTimeout;
  while (Clock::now() < deadline) {
    if (exitedEarly(error)) return false;
    std::ifstream in(port_file);
    unsigned long port = 0;
    if (in >> port && port > 0 && port < 65536) {
      port_ = static_cast<uint16_t>(port);
      return true;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  *error = "memkv did not write its port file within 10 s";
  killAndReap();
  return false;
}

bool ServerProcess::startMemcachedOnce(std::string* error) {
  const uint16_t port = pickFreePort();
  if (port == 0) {
    *error = "could not pick a free port";
    return false;
  }
  argv_ = {kMemcachedPath,       "-u", "root", "-l", "127.0.0.1", "-p",
           std::to_string(port), "-U", "0",    "-t", "2"};
  argv_.insert(argv_.end(), extra_args_.begin(), extra_args_.end());
  if (!spawn(error)) return false;
  const auto deadline = Clock::now() + kStartupTimeout;
  while (Clock::now() < deadline) {
    if (exitedEarly(error)) return false;
    if (canConnect(connector_, port)) {
      if (!serverHasPid(connector_, port, pid_)) {
        *error = "port " + std::to_string(port) + " is served by another process";
        killAndReap();
        return false;
      }
      port_ = port;
      return true;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  *error = "memcached did not accept connections within 10 s";
  killAndReap();
  return false;
}

bool ServerProcess::spawn(std::string* error) {
  // Everything the child touches is prepared before fork(): the parent may be multithreaded.
  std::vector<char*> cargv;
  cargv.reserve(argv_.size() + 1);
  for (std::string& a : argv_) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    *error = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  if (pid == 0) {
    // Do not outlive a crashed test binary.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  pid_ = pid;
  return true;
}

bool ServerProcess::exitedEarly(std::string* error) {
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r != pid_) return false;
  pid_ = -1;
  *error = argv_[0] + " " + describeStatus(status) + " during startup";
  return true;
}

void ServerProcess::killAndReap() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

int ServerProcess::terminate(milliseconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return status;
    }
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(milliseconds(5));
  }
  killAndReap();
  return -1;
}

void ServerProcess::stop() {
  if (running()) terminate();
}

}  // namespace memkv::test
