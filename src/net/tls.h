#pragma once
// TLS for connections (docs/architecture.md section 6.4), on OpenSSL 3.
//
// TlsConfig holds the server's SSL_CTX, built from memcached's ssl_* options
// and swapped whole on a reload (SIGHUP, `refresh_certs`): a connection takes
// the current context when it is accepted and keeps it, so a reload reaches
// new connections only. Any thread.
//
// TlsStream is one connection's TLS state. Every call happens on the
// connection's owner thread, as SSL_get_error reads the calling thread's error
// queue (invariant 1; the Connection calls it only from its own methods).
// The socket BIO writes ciphertext straight to the kernel, so OpenSSL's
// record buffer is the only ciphertext copy; with SSL_MODE_RELEASE_BUFFERS
// that buffer, and the read one, exist only while a record is in flight, so
// an idle TLS connection holds no TLS buffers.
//
// Why OpenSSL's socket BIO and not a memory BIO: a memory BIO would copy every
// record once more (OpenSSL's buffer -> the BIO's) to gain one sendmsg per
// several records; a record is 16 KiB, so the syscall it saves is the smaller
// cost. kTLS would go where TlsStream writes (SSL_OP_ENABLE_KTLS, then
// SSL_sendfile for Fragments); this machine's kernel has no TLS module, so it
// is not built (docs/architecture.md section 6.4).
#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace memkv::net {

// memcached's -o ssl_* options, with memcached's meanings.
struct TlsOptions {
  std::string chain_cert;  // PEM: the certificate, then its chain
  std::string key;         // PEM private key; empty: inside chain_cert
  std::string ca_cert;     // CAs for client certificates (and the list sent to clients)
  int verify_mode = 0;     // 0 none, 1 request, 2 require, 3 once
  int min_version = 2;     // 0 TLS 1.0, 1 TLS 1.1, 2 TLS 1.2, 3 TLS 1.3
  std::string ciphers;     // TLS <= 1.2 cipher list (OpenSSL syntax); empty: default
};

// One immutable SSL_CTX.
class TlsContext final {
 public:
  // nullptr and a message naming the option at fault if the files or
  // options are unusable.
  static std::shared_ptr<const TlsContext> create(const TlsOptions& options, std::string* error);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  SSL_CTX* get() const { return ctx_; }

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

// The current context and how it was made. Thread-safe.
class TlsConfig final {
 public:
  // Builds the first context; nullptr and a message if it cannot.
  static std::unique_ptr<TlsConfig> create(const TlsOptions& options, std::string* error);
  const TlsOptions& options() const { return options_; }
  std::shared_ptr<const TlsContext> current() const;
  // Re-reads the files; on failure the old context stays and `error` says why.
  bool reload(std::string* error);
  // Seconds since the context in use was made.
  int64_t secondsSinceRefresh() const;

 private:
  TlsConfig(TlsOptions options, std::shared_ptr<const TlsContext> ctx);
  const TlsOptions options_;
  mutable std::mutex mutex_;
  std::shared_ptr<const TlsContext> current_;  // guarded by mutex_
  int64_t refreshed_s_;                        // guarded by mutex_ (steady clock)
};

class TlsStream final {
 public:
  enum class Result : uint8_t {
    kDone,       // progress: the handshake ended, or n bytes moved
    kWantRead,   // wait for the socket to be readable
    kWantWrite,  // wait for the socket to be writable
    kClosed,     // the peer closed the TLS session (close_notify or plain EOF)
    kError,      // fatal: drop the connection
  };

  // A server-side stream on `fd` (not owned) with the context's settings;
  // nullptr if OpenSSL cannot make one.
  static std::unique_ptr<TlsStream> accept(const TlsContext& context, int fd);
  // Takes an SSL set up by the caller (tests put a fault-injecting BIO under
  // it); it must be in accept state.
  explicit TlsStream(SSL* ssl) : ssl_(ssl) { watchReads(); }
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  bool established() const { return established_; }
  Result handshake();
  // Decrypts up to cap bytes into buf.
  Result read(uint8_t* buf, size_t cap, size_t* got);
  // Encrypts and sends from data, at most one record (16 KiB) per call
  // (partial writes). After kWantWrite/kWantRead the next call must pass
  // the same bytes again, at least retryLength() of them (OpenSSL's rule:
  // the record is already encrypted and waits in its buffer).
  Result write(const void* data, size_t len, size_t* wrote);
  size_t retryLength() const { return retry_len_; }
  // Decrypted bytes OpenSSL already holds: the socket may have no more to
  // announce, so the reader must come back without an epoll edge.
  bool hasBuffered() const { return SSL_has_pending(ssl_) == 1; }
  // The last socket read returned fewer bytes than asked for: the socket was
  // empty then, so new bytes raise a new epoll edge (edge-triggered readers
  // may stop without a read that only says EAGAIN).
  bool socketDrained() const { return socket_drained_; }
  // Sends close_notify, best effort, once; not after a fatal error.
  void shutdown();
  // The subject CN of a verified client certificate; "" if none.
  std::string verifiedPeerName() const;

  // When the connection was accepted (its handshake timeout counts from it).
  int64_t accepted_ms = 0;

 private:
  Result classify(int ret);
  void watchReads();
  static long onBioEvent(BIO* bio, int oper, const char* argp, size_t len, int argi, long argl,
                         int ret, size_t* processed);
  SSL* ssl_;
  size_t retry_len_ = 0;
  bool established_ = false;
  bool failed_ = false;
  bool shut_ = false;
  bool socket_drained_ = false;
};

}  // namespace memkv::net
