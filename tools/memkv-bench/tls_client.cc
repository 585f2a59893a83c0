#include "tls_client.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <cstring>

namespace memkv::bench {
namespace {

bool isIpAddress(const std::string& host) {
  in6_addr scratch{};
  return inet_pton(AF_INET, host.c_str(), &scratch) == 1 ||
         inet_pton(AF_INET6, host.c_str(), &scratch) == 1;
}

void setSocketTimeouts(int fd, double seconds) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(seconds);
  tv.tv_usec = static_cast<suseconds_t>((seconds - static_cast<double>(tv.tv_sec)) * 1e6);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace

std::unique_ptr<TlsClient> TlsClient::create(const BenchOptions& options, std::string* error) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) {
    *error = "SSL_CTX_new: " + tlsFailure(nullptr);
    return nullptr;
  }
  std::unique_ptr<TlsClient> client(new TlsClient(ctx, options));
  const int version = options.tls_version == 12 ? TLS1_2_VERSION : TLS1_3_VERSION;
  SSL_CTX_set_min_proto_version(ctx, version);
  SSL_CTX_set_max_proto_version(ctx, version);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  // A server that closes without close_notify has still closed: the
  // protocols' own framing shows truncation.
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  // Partial writes: SSL_write returns per record, as write(2) would. Moving
  // buffer: the output arena may grow (and move) between a write that
  // wanted a retry and the retry, with the same bytes at its front.
  long mode = SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER;
  // Held connections number thousands: keep the client's own idle ones small.
  if (options.holdMode()) mode |= SSL_MODE_RELEASE_BUFFERS;
  SSL_CTX_set_mode(ctx, mode);
  if (client->verify_) {
    if (SSL_CTX_load_verify_locations(ctx, options.tls_ca.c_str(), nullptr) != 1) {
      *error = "--tls-ca " + options.tls_ca + ": " + tlsFailure(nullptr);
      return nullptr;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  return client;
}

TlsClient::TlsClient(SSL_CTX* ctx, const BenchOptions& options)
    : ctx_(ctx),
      host_(options.host),
      verify_(!options.tls_ca.empty()),
      host_is_ip_(isIpAddress(options.host)) {}

TlsClient::~TlsClient() {
  SSL_CTX_free(ctx_);
}

SslPtr TlsClient::newSsl(int fd) const {
  SslPtr ssl(SSL_new(ctx_));
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1) return nullptr;
  // SNI: SSL_set_tlsext_host_name spelled out (the macro casts C-style).
  if (!host_is_ip_) {
    SSL_ctrl(ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(host_.c_str()));
  }
  if (verify_) {
    const int named = host_is_ip_
                          ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), host_.c_str())
                          : SSL_set1_host(ssl.get(), host_.c_str());
    if (named != 1) return nullptr;
  }
  return ssl;
}

TlsStep tlsStep(const SSL* ssl, int ret) {
  switch (SSL_get_error(ssl, ret)) {
    case SSL_ERROR_NONE:
      return TlsStep::kDone;
    case SSL_ERROR_WANT_READ:
      return TlsStep::kWantRead;
    case SSL_ERROR_WANT_WRITE:
      return TlsStep::kWantWrite;
    case SSL_ERROR_ZERO_RETURN:
      return TlsStep::kClosed;
    default:
      return TlsStep::kFailed;
  }
}

std::string tlsFailure(const SSL* ssl) {
  const int saved_errno = errno;
  std::string text;
  if (const unsigned long e = ERR_get_error(); e != 0) {
    char buffer[256];
    ERR_error_string_n(e, buffer, sizeof buffer);
    text = buffer;
  } else if (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK) {
    text = "timed out";
  } else if (saved_errno != 0) {
    text = std::strerror(saved_errno);
  } else {
    text = "connection closed";
  }
  if (ssl != nullptr) {
    const long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
      text += std::string(" (certificate: ") + X509_verify_cert_error_string(verify) + ")";
    }
  }
  ERR_clear_error();
  return text;
}

bool handshakeBlocking(SSL* ssl, int fd, double timeout_s, std::string* error) {
  setSocketTimeouts(fd, timeout_s);
  ERR_clear_error();
  errno = 0;
  const int ret = SSL_connect(ssl);
  if (ret != 1) *error = tlsFailure(ssl);
  setSocketTimeouts(fd, 0);
  return ret == 1;
}

}  // namespace memkv::bench
