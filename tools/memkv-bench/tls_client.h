#pragma once
// --tls: memkv-bench's OpenSSL client side. One TlsClient (an SSL_CTX) per
// run, made in main before any thread starts and read-only afterwards (
// SSL_new on a shared SSL_CTX is thread-safe); each connection owns its SSL
// and touches it only from its own thread, so OpenSSL's per-thread error
// queue always belongs to the call being judged.
//
// Offered: exactly one protocol version (--tls-version, 1.3 unless told).
// No session is ever offered back (client session cache off, no
// SSL_set_session), so every handshake is a full one. With --tls-ca the
// server's chain must verify
// against that file and its certificate must name the --server host (IP SAN
// or DNS name); without it nothing is verified, as `openssl s_client` does.
#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "bench_options.h"

namespace memkv::bench {

struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using SslPtr = std::unique_ptr<SSL, SslFree>;

// What an SSL_* call that returned `ret` means for a non-blocking caller.
enum class TlsStep : uint8_t { kDone, kWantRead, kWantWrite, kClosed, kFailed };

class TlsClient final {
 public:
  // Null on a bad --tls-ca file or an OpenSSL failure, with the reason in *error.
  static std::unique_ptr<TlsClient> create(const BenchOptions& options, std::string* error);
  ~TlsClient();
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  // A client SSL on fd (not owned: the caller closes fd after freeing the
  // SSL), set to check the server's name when verifying. Null if OpenSSL
  // could not make one.
  SslPtr newSsl(int fd) const;

 private:
  TlsClient(SSL_CTX* ctx, const BenchOptions& options);

  SSL_CTX* ctx_;
  std::string host_;
  bool verify_;
  bool host_is_ip_;
};

// Call ERR_clear_error() before the SSL_* call whose result this judges.
// kClosed: the server ended the stream (close_notify or plain EOF).
TlsStep tlsStep(const SSL* ssl, int ret);

// Why the last SSL_* call on this thread failed, for a message (verify
// results included), and clears the error queue.
std::string tlsFailure(const SSL* ssl);

// A full handshake on a connected blocking socket, bounded by timeout_s
// (socket timeouts, removed afterwards). False with the reason in *error.
bool handshakeBlocking(SSL* ssl, int fd, double timeout_s, std::string* error);

}  // namespace memkv::bench
