// Starts a server under test (memkv or the reference memcached) as a child process.
//
// The target is chosen by MEMKV_TEST_TARGET: unset or "memkv" runs $MEMKV_BIN with
// "-p 0 --port-file <file> -l 127.0.0.1 -t 2"; "memcached" runs /usr/bin/memcached with
// "-u root -l 127.0.0.1 -p <free port> -U 0 -t 2". Extra arguments (memcached-style flags such as
// "-m 64") are appended in both cases.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace memkv::test {

class McbpClient;

enum class ServerKind { kMemkv, kMemcached };

// The target named by MEMKV_TEST_TARGET.
ServerKind targetFromEnv();
const char* toString(ServerKind kind);

class ServerProcess {
 public:
  explicit ServerProcess(std::vector<std::string> extra_args = {});
  ~ServerProcess();  // stop()
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Starts the server and waits until it accepts connections. On failure returns false and
  // fills *error.
  bool start(std::string* error);

  // Sends SIGTERM and waits up to `timeout` for the exit. Returns the waitpid() status, or -1
  // if the process did not exit in time (it is then killed with SIGKILL and reaped).
  int terminate(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

  // terminate() if still running; quietly.
  void stop();

  // How memcached's startup probe connects (default: plain TCP). A TLS test sets a TLS connect:
  // memcached -Z answers nothing in clear text. memkv is found through its port file instead.
  using Connector =
      std::function<bool(McbpClient* client, uint16_t port, std::chrono::milliseconds timeout)>;
  void setConnector(Connector connector) { connector_ = std::move(connector); }

  ServerKind kind() const { return kind_; }
  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  // The full command line of the last start attempt (for diagnostics).
  const std::vector<std::string>& argv() const { return argv_; }

 private:
  bool startMemkv(std::string* error);
  bool startMemcachedOnce(std::string* error);
  bool spawn(std::string* error);
  bool exitedEarly(std::string* error);  // reaps and reports if the child already exited
  void killAndReap();

  ServerKind kind_;
  std::vector<std::string> extra_args_;
  std::vector<std::string> argv_;
  Connector connector_;
  std::string temp_dir_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

}  // namespace memkv::test
