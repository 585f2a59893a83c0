#include "net/tls.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <chrono>
#include <utility>

namespace memkv::net {

namespace {

int64_t steadySeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The first queued OpenSSL error as text, and the queue emptied (errors
// stay in a thread's queue and would be blamed on the next call).
std::string takeOpenSslError() {
  char text[256] = "unknown error";
  if (const unsigned long code = ERR_get_error(); code != 0) {
    ERR_error_string_n(code, text, sizeof(text));
  }
  ERR_clear_error();
  return text;
}

int protocolVersion(int min_version) {
  switch (min_version) {
    case 0:
      return TLS1_VERSION;
    case 1:
      return TLS1_1_VERSION;
    case 3:
      return TLS1_3_VERSION;
    default:
      return TLS1_2_VERSION;
  }
}

int verifyFlags(int verify_mode) {
  switch (verify_mode) {
    case 1:
      return SSL_VERIFY_PEER;
    case 2:
      return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    case 3:
      return SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE;
    default:
      return SSL_VERIFY_NONE;
  }
}

}  // namespace

std::shared_ptr<const TlsContext> TlsContext::create(const TlsOptions& o, std::string* error) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) {
    *error = "cannot create a TLS context: " + takeOpenSslError();
    return nullptr;
  }
  auto fail = [&](const std::string& what) {
    *error = what + ": " + takeOpenSslError();
    SSL_CTX_free(ctx);
    return nullptr;
  };
  // Renegotiation is refused (a client-driven CPU sink and the source of
  // old attacks); no session resumption: no tickets, no cache, so nothing
  // per session outlives its connection (kv_engine and memcached agree).
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET |
                               SSL_OP_CIPHER_SERVER_PREFERENCE |
                               // Both protocols frame every request with its
                               // length, so a truncated stream is detected
                               // without close_notify; most clients never send it.
                               SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  // PARTIAL_WRITE: one record per SSL_write, so output is released record by
  // record as the kernel takes it; MOVING: a retry may come from the staging
  // buffer or the slice itself (same bytes); RELEASE: no idle buffers.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  // Read whole socket reads, not record header then body (half the recvs).
  SSL_CTX_set_read_ahead(ctx, 1);
  if (SSL_CTX_set_min_proto_version(ctx, protocolVersion(o.min_version)) != 1) {
    return fail("ssl_min_version");
  }
  if (!o.ciphers.empty() && SSL_CTX_set_cipher_list(ctx, o.ciphers.c_str()) != 1) {
    return fail("ssl_ciphers '" + o.ciphers + "'");
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, o.chain_cert.c_str()) != 1) {
    return fail("ssl_chain_cert '" + o.chain_cert + "'");
  }
  const std::string& key = o.key.empty() ? o.chain_cert : o.key;
  if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return fail("ssl_key '" + key + "'");
  }
  if (SSL_CTX_check_private_key(ctx) != 1) return fail("ssl_key does not match ssl_chain_cert");
  if (!o.ca_cert.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, o.ca_cert.c_str(), nullptr) != 1) {
      return fail("ssl_ca_cert '" + o.ca_cert + "'");
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.ca_cert.c_str());
    if (names == nullptr) return fail("ssl_ca_cert '" + o.ca_cert + "'");
    SSL_CTX_set_client_CA_list(ctx, names);
  } else if (o.verify_mode != 0) {
    SSL_CTX_free(ctx);
    *error = "ssl_verify_mode needs ssl_ca_cert";
    return nullptr;
  }
  SSL_CTX_set_verify(ctx, verifyFlags(o.verify_mode), nullptr);
  return std::shared_ptr<const TlsContext>(new TlsContext(ctx));
}

TlsContext::~TlsContext() {
  SSL_CTX_free(ctx_);
}

TlsConfig::TlsConfig(TlsOptions options, std::shared_ptr<const TlsContext> ctx)
    : options_(std::move(options)), current_(std::move(ctx)), refreshed_s_(steadySeconds()) {}

std::unique_ptr<TlsConfig> TlsConfig::create(const TlsOptions& options, std::string* error) {
  auto ctx = TlsContext::create(options, error);
  if (!ctx) return nullptr;
  return std::unique_ptr<TlsConfig>(new TlsConfig(options, std::move(ctx)));
}

std::shared_ptr<const TlsContext> TlsConfig::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

bool TlsConfig::reload(std::string* error) {
  auto ctx = TlsContext::create(options_, error);
  if (!ctx) return false;
  std::lock_guard lock(mutex_);
  current_ = std::move(ctx);
  refreshed_s_ = steadySeconds();
  return true;
}

int64_t TlsConfig::secondsSinceRefresh() const {
  std::lock_guard lock(mutex_);
  return steadySeconds() - refreshed_s_;
}

std::unique_ptr<TlsStream> TlsStream::accept(const TlsContext& context, int fd) {
  ERR_clear_error();
  SSL* ssl = SSL_new(context.get());
  if (ssl == nullptr) {
    ERR_clear_error();
    return nullptr;
  }
  if (SSL_set_fd(ssl, fd) != 1) {
    SSL_free(ssl);
    ERR_clear_error();
    return nullptr;
  }
  SSL_set_accept_state(ssl);
  return std::make_unique<TlsStream>(ssl);
}

TlsStream::~TlsStream() {
  SSL_free(ssl_);
}

void TlsStream::watchReads() {
  // A callback on the SSL's read BIO sees each socket read's size asked and
  // got; nothing else is affected (the BIO's own behaviour is unchanged).
  BIO* bio = SSL_get_rbio(ssl_);
  if (bio == nullptr) return;
  BIO_set_callback_arg(bio, reinterpret_cast<char*>(this));
  BIO_set_callback_ex(bio, &TlsStream::onBioEvent);
}

long TlsStream::onBioEvent(BIO* bio, int oper, const char* /*argp*/, size_t len, int /*argi*/,
                           long /*argl*/, int ret, size_t* processed) {
  if (oper == (BIO_CB_READ | BIO_CB_RETURN)) {
    auto* self = reinterpret_cast<TlsStream*>(BIO_get_callback_arg(bio));
    const size_t got = ret > 0 && processed != nullptr ? *processed : 0;
    // A failed read (EAGAIN) also means empty; a full read may have left more.
    self->socket_drained_ = got < len;
  }
  return ret;
}

TlsStream::Result TlsStream::classify(int ret) {
  const int err = SSL_get_error(ssl_, ret);
  switch (err) {
    case SSL_ERROR_WANT_READ:
      return Result::kWantRead;
    case SSL_ERROR_WANT_WRITE:
      return Result::kWantWrite;
    case SSL_ERROR_ZERO_RETURN:
      return Result::kClosed;
    default:
      // SSL_ERROR_SSL (a protocol error, a refused handshake) or
      // SSL_ERROR_SYSCALL (the socket failed): no more SSL calls but free.
      failed_ = true;
      ERR_clear_error();
      return Result::kError;
  }
}

TlsStream::Result TlsStream::handshake() {
  ERR_clear_error();
  const int ret = SSL_do_handshake(ssl_);
  if (ret == 1) {
    established_ = true;
    return Result::kDone;
  }
  const Result r = classify(ret);
  // A peer that closes mid-handshake failed it.
  return r == Result::kClosed ? Result::kError : r;
}

TlsStream::Result TlsStream::read(uint8_t* buf, size_t cap, size_t* got) {
  *got = 0;
  ERR_clear_error();
  if (SSL_read_ex(ssl_, buf, cap, got) == 1) return Result::kDone;
  return classify(0);
}

TlsStream::Result TlsStream::write(const void* data, size_t len, size_t* wrote) {
  *wrote = 0;
  // SSL_write with nothing is an error in OpenSSL's eyes, and a retry with
  // fewer bytes than the pending record fails with "bad length": both are
  // the caller's bug, answered by dropping the connection, not a crash.
  if (len == 0) return Result::kDone;
  if (len < retry_len_) {
    failed_ = true;
    return Result::kError;
  }
  ERR_clear_error();
  if (SSL_write_ex(ssl_, data, len, wrote) == 1) {
    retry_len_ = 0;
    return Result::kDone;
  }
  const Result r = classify(0);
  if (r == Result::kWantRead || r == Result::kWantWrite) retry_len_ = len;
  return r;
}

void TlsStream::shutdown() {
  if (failed_ || shut_ || !established_) return;
  shut_ = true;
  ERR_clear_error();
  // One non-blocking attempt: close_notify goes out if the socket takes it;
  // the peer's answer is not awaited (the socket closes next).
  SSL_shutdown(ssl_);
  ERR_clear_error();
}

std::string TlsStream::verifiedPeerName() const {
  X509* cert = SSL_get0_peer_certificate(ssl_);
  if (cert == nullptr || SSL_get_verify_result(ssl_) != X509_V_OK) return {};
  char name[256];
  const int n =
      X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, name, sizeof(name));
  if (n <= 0) return {};
  return std::string(name, static_cast<size_t>(n));
}

}  // namespace memkv::net
