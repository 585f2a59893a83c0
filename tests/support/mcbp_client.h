// Blocking MCBP client over TCP for the integration tests. Every read and write is bounded by a
// timeout so that a misbehaving server fails a test instead of hanging it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "support/mcbp.h"

namespace memkv::test {

inline constexpr std::chrono::milliseconds kDefaultIoTimeout{5000};

enum class ReadStatus {
  kOk,       // a full response was read
  kClosed,   // the peer closed (EOF or reset) before a full response arrived
  kTimeout,  // nothing complete arrived within the timeout
  kError,    // a local socket error
};

const char* toString(ReadStatus s);

// Thrown by the convenience calls when no response can be read.
class McbpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A byte layer between a client and its connected non-blocking socket (TLS:
// tests/support/tls_socket.h). send() and recv() behave as send(2)/recv(2) on that socket:
// bytes moved, 0 on EOF (recv only), or -1 with errno; EAGAIN means "call again with the same
// arguments once poll() reports waitEvents()".
class StreamLayer {
 public:
  virtual ~StreamLayer() = default;
  virtual ssize_t send(const char* data, std::size_t n) = 0;
  virtual ssize_t recv(char* data, std::size_t n) = 0;
  // What to wait for after an EAGAIN from an operation that wanted `wanted` (a TLS read may
  // have to write first, and the other way round).
  virtual short waitEvents(short wanted) const { return wanted; }
};

class McbpClient {
 public:
  McbpClient() = default;
  ~McbpClient();
  McbpClient(const McbpClient&) = delete;
  McbpClient& operator=(const McbpClient&) = delete;
  McbpClient(McbpClient&& other) noexcept;
  McbpClient& operator=(McbpClient&& other) noexcept;

  // Connects to 127.0.0.1:port. Returns false (and leaves the client unconnected) on failure.
  bool connect(uint16_t port, std::chrono::milliseconds timeout = kDefaultIoTimeout);
  bool connected() const { return fd_ >= 0; }
  void close();
  int fd() const { return fd_; }
  // Puts `layer` between this client and its (connected) socket: every later send and recv
  // goes through it. close() destroys the layer before it closes the socket.
  void setLayer(std::unique_ptr<StreamLayer> layer) { layer_ = std::move(layer); }

  // Writes all bytes; false if the peer is gone or the write does not finish within the timeout.
  bool sendRaw(std::string_view bytes, std::chrono::milliseconds timeout = kDefaultIoTimeout);
  bool send(const Request& req) { return sendRaw(encode(req)); }

  // Reads exactly one response (header + body).
  ReadStatus read(Response* out, std::chrono::milliseconds timeout = kDefaultIoTimeout);

  // True if the peer closes the connection within the timeout. Any bytes that arrive first
  // are discarded (use read() when the bytes before the close matter).
  bool connectionClosed(std::chrono::milliseconds timeout = kDefaultIoTimeout);

  // True if no byte at all arrives within the timeout (and the connection is not closed).
  bool silentFor(std::chrono::milliseconds timeout);

  // send() + read(); throws McbpError when the response cannot be read.
  Response call(const Request& req);
  // read(); throws McbpError when the response cannot be read.
  Response next();

  // Convenience operations (all throw McbpError on a closed connection or timeout).
  Response get(const std::string& key, uint8_t opcode = op::kGet);
  Response set(const std::string& key, const std::string& value, uint32_t flags = 0,
               uint32_t exptime = 0, uint64_t cas = 0);
  Response add(const std::string& key, const std::string& value, uint32_t flags = 0,
               uint32_t exptime = 0);
  Response replace(const std::string& key, const std::string& value, uint32_t flags = 0,
                   uint32_t exptime = 0, uint64_t cas = 0);
  Response remove(const std::string& key, uint64_t cas = 0);
  Response append(const std::string& key, const std::string& value, uint64_t cas = 0);
  Response prepend(const std::string& key, const std::string& value, uint64_t cas = 0);
  Response incr(const std::string& key, uint64_t delta, uint64_t initial = 0, uint32_t exptime = 0);
  Response decr(const std::string& key, uint64_t delta, uint64_t initial = 0, uint32_t exptime = 0);
  Response touch(const std::string& key, uint32_t exptime);
  Response gat(const std::string& key, uint32_t exptime);
  Response flush(std::optional<uint32_t> delay = std::nullopt);
  Response noop();
  Response version();

  // STAT with a group ("" for the general stats). Reads responses up to the terminating
  // empty-key one. Returns the non-empty-key ones in order; *final_status gets the status of
  // the terminating (or only) response.
  std::vector<Response> statRaw(const std::string& group, uint16_t* final_status = nullptr);
  // Same, as a map name -> value. Throws McbpError unless the final status is success.
  std::map<std::string, std::string> stats(const std::string& group = "");

 private:
  bool readExact(char* buf, std::size_t n, std::chrono::steady_clock::time_point deadline,
                 ReadStatus* st);

  ssize_t ioSend(const char* data, std::size_t n);
  ssize_t ioRecv(char* data, std::size_t n);
  short ioEvents(short wanted) const { return layer_ ? layer_->waitEvents(wanted) : wanted; }

  int fd_ = -1;
  std::unique_ptr<StreamLayer> layer_;
};

}  // namespace memkv::test
