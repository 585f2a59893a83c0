// The client side of TLS for the integration tests, written against OpenSSL directly (it shares
// no code with src/net, so a bug there cannot hide in both).
//
// TlsLayer is a StreamLayer: put under a McbpClient (connectTls) every existing helper of the
// support library (STAT, range scans, Couchbase HELLO) speaks TLS unchanged. TlsSlowReader is
// SlowReader's TLS twin: a small receive window and reads of random small sizes, so the server
// meets WANT_WRITE in the middle of its records, retries and partial writes all the time.
//
// Threads: a layer, a client and a reader each belong to the one thread that uses them.
// The first handshake makes the process ignore SIGPIPE (OpenSSL's socket BIO writes with
// write(2); a reset peer then shows as EPIPE instead of killing the test).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>

#include "support/mcbp_client.h"
#include "support/slow_reader.h"

using SSL = struct ssl_st;
using SSL_CTX = struct ssl_ctx_st;

namespace memkv::test {

struct TlsClientConfig {
  std::string ca_file;    // the server's certificate must chain to it ("": no verification)
  std::string cert_file;  // a client certificate and its key (both "" for none)
  std::string key_file;
};

// One TLS client session over a connected non-blocking socket it does not own.
class TlsLayer final : public StreamLayer {
 public:
  // Runs the handshake on `fd` (poll()-driven, many turns are fine). nullptr on failure, with
  // the reason in *error.
  static std::unique_ptr<TlsLayer> handshake(int fd, const TlsClientConfig& config,
                                             std::chrono::milliseconds timeout, std::string* error);
  // Sends close_notify if the socket takes it at once (never waits), then frees the session.
  ~TlsLayer() override;
  TlsLayer(const TlsLayer&) = delete;
  TlsLayer& operator=(const TlsLayer&) = delete;

  // As the socket calls. An orderly close_notify reads as EOF (0), and so does a close without
  // one (what an abrupt peer does; MCBP frames carry their lengths, so truncation shows anyway).
  // A TLS failure is -1 with errno EPROTO, a socket failure -1 with the socket's errno (see
  // lastError()).
  ssize_t send(const char* data, std::size_t n) override;
  ssize_t recv(char* data, std::size_t n) override;
  short waitEvents(short wanted) const override;

  // Drops the session without close_notify: the socket is closed under it like a crashed peer.
  void abandon() { send_close_notify_ = false; }
  // True while decrypted bytes wait inside OpenSSL: recv() returns them without the socket
  // becoming readable, so a poll() loop must call recv() before it waits.
  bool pending() const;
  std::string lastError() const { return last_error_; }

 private:
  TlsLayer(SSL* ssl, SSL_CTX* ctx) : ssl_(ssl), ctx_(ctx) {}
  // The result of a failed SSL_read/SSL_write as a socket call's (-1 with errno, or 0 on EOF).
  ssize_t fail(int rc);

  SSL* ssl_;
  SSL_CTX* ctx_;
  short retry_events_ = 0;  // what the last EAGAIN waits for
  bool send_close_notify_ = true;
  std::string last_error_;
};

// Connects `client` to 127.0.0.1:port and runs the handshake; false (with *error) on failure.
bool connectTls(McbpClient* client, uint16_t port, const TlsClientConfig& config,
                std::string* error, std::chrono::milliseconds timeout = kDefaultIoTimeout);

// A TLS connection that reads like a slow or erratic peer (SlowReaderOptions as for
// SlowReader). Sending and receiving share one poll() loop, so a pipeline larger than the
// socket buffers cannot deadlock against a server that stops reading at its watermark.
class TlsSlowReader {
 public:
  TlsSlowReader() = default;
  ~TlsSlowReader();
  TlsSlowReader(const TlsSlowReader&) = delete;
  TlsSlowReader& operator=(const TlsSlowReader&) = delete;

  bool connect(uint16_t port, const TlsClientConfig& config, const SlowReaderOptions& options,
               std::string* error, std::chrono::milliseconds timeout = kDefaultIoTimeout);
  // Closes with close_notify (orderly) or without (abrupt).
  void close(bool orderly = true);
  bool connected() const { return fd_ >= 0; }

  using OnResponse = SlowReader::OnResponse;
  // As SlowReader::exchange / stream (MCBP responses), except that responses beyond `count`
  // fail the exchange, and exchange() with count 0 only sends (it reads nothing).
  ReadStatus exchange(std::string_view bytes, std::size_t count, const OnResponse& on_response,
                      std::chrono::milliseconds idle_timeout = kDefaultIoTimeout);
  ReadStatus stream(const std::function<void(std::string*)>& more,
                    const std::function<bool()>& done, const OnResponse& on_response,
                    std::chrono::milliseconds idle_timeout = kDefaultIoTimeout);
  // Raw bytes (text protocol): sends `bytes` and reads until `want` bytes arrived; they are
  // appended to *out. kOk, or as exchange().
  ReadStatus exchangeRaw(std::string_view bytes, std::size_t want, std::string* out,
                         std::chrono::milliseconds idle_timeout = kDefaultIoTimeout);

  std::string lastError() const { return last_error_; }
  std::size_t bufferedBytes() const { return stream_.buffered(); }
  uint64_t recvCalls() const { return recv_calls_; }

 private:
  // The common loop: sends what *queue holds (refilled by more() once sent), receives (if
  // `receive`) in chunks of random size into sink(), until done().
  ReadStatus loop(std::string* queue, const std::function<void(std::string*)>& more,
                  const std::function<bool()>& done,
                  const std::function<bool(const char*, std::size_t)>& sink, bool receive,
                  std::chrono::milliseconds idle_timeout);

  int fd_ = -1;
  std::unique_ptr<TlsLayer> tls_;
  SlowReaderOptions options_;
  std::mt19937_64 rng_;
  ResponseStream stream_;
  std::string last_error_;
  uint64_t recv_calls_ = 0;
};

}  // namespace memkv::test
