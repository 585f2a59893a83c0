#include "support/tls_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cerrno>
#include <csignal>
#include <cstring>

#include <algorithm>
#include <mutex>
#include <thread>

#include "support/deadline.h"

namespace memkv::test {

namespace {

using Clock = std::chrono::steady_clock;

// OpenSSL's error queue as one line (and emptied, so the next failure starts clean).
std::string drainErrors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

// A socket BIO writes with write(2), which raises SIGPIPE on a connection the server reset: a
// test process that talks TLS ignores it, as every TLS client does (errors come back as EPIPE).
void ignoreSigpipe() {
  static std::once_flag once;
  std::call_once(once, [] { std::signal(SIGPIPE, SIG_IGN); });
}

// A connected non-blocking TCP socket to 127.0.0.1:port, or -1. rcvbuf > 0 is set before
// connect() (the first advertised window and the window scale follow it).
int connectTcp(uint16_t port, int rcvbuf, std::chrono::milliseconds timeout) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  if (rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  if (rc < 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) {
      ::close(fd);
      return -1;
    }
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    rc = err == 0 ? 0 : -1;
  }
  if (rc < 0) {
    ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

SSL_CTX* makeContext(const TlsClientConfig& config, std::string* error) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) {
    *error = "SSL_CTX_new: " + drainErrors();
    return nullptr;
  }
  // Partial writes and a buffer that may move between retries: the loops below retry with
  // the same unsent bytes, but the std::string holding them can grow (and reallocate).
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  bool ok = true;
  if (!config.ca_file.empty()) {
    ok = SSL_CTX_load_verify_locations(ctx, config.ca_file.c_str(), nullptr) == 1;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  }
  if (ok && !config.cert_file.empty()) {
    ok = SSL_CTX_use_certificate_chain_file(ctx, config.cert_file.c_str()) == 1 &&
         SSL_CTX_use_PrivateKey_file(ctx, config.key_file.c_str(), SSL_FILETYPE_PEM) == 1;
  }
  if (!ok) {
    *error = "loading certificates: " + drainErrors();
    SSL_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}

}  // namespace

std::unique_ptr<TlsLayer> TlsLayer::handshake(int fd, const TlsClientConfig& config,
                                              std::chrono::milliseconds timeout,
                                              std::string* error) {
  ignoreSigpipe();
  ERR_clear_error();
  SSL_CTX* ctx = makeContext(config, error);
  if (ctx == nullptr) return nullptr;
  SSL* ssl = SSL_new(ctx);
  if (ssl == nullptr) {
    *error = "SSL_new: " + drainErrors();
    SSL_CTX_free(ctx);
    return nullptr;
  }
  std::unique_ptr<TlsLayer> layer(new TlsLayer(ssl, ctx));
  SSL_set_fd(ssl, fd);  // a socket BIO without BIO_CLOSE: the fd stays the caller's
  // The test certificate's SAN carries IP:127.0.0.1, which is what the tests dial.
  if (!config.ca_file.empty()) X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const int rc = SSL_connect(ssl);
    if (rc == 1) return layer;
    const int err = SSL_get_error(ssl, rc);
    short events = 0;
    if (err == SSL_ERROR_WANT_READ) events = POLLIN;
    if (err == SSL_ERROR_WANT_WRITE) events = POLLOUT;
    if (events == 0) {
      const long verify = SSL_get_verify_result(ssl);
      *error = "handshake failed: " + drainErrors();
      if (verify != X509_V_OK)
        *error += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
      if (err == SSL_ERROR_SYSCALL) *error += std::string(" (") + std::strerror(errno) + ")";
      layer->abandon();
      return nullptr;
    }
    pollfd p{fd, events, 0};
    const int prc = ::poll(&p, 1, msLeft(deadline));
    if (prc == 0) {
      *error = "handshake did not finish within " + std::to_string(timeout.count()) + " ms";
      layer->abandon();
      return nullptr;
    }
  }
}

TlsLayer::~TlsLayer() {
  // One non-blocking attempt: close_notify goes out if the socket has room, as a well-behaved
  // client that closes does; the test never waits for the server's close_notify.
  if (send_close_notify_ && SSL_is_init_finished(ssl_)) SSL_shutdown(ssl_);
  SSL_free(ssl_);
  SSL_CTX_free(ctx_);
  ERR_clear_error();
}

ssize_t TlsLayer::fail(int rc) {
  const int err = SSL_get_error(ssl_, rc);
  switch (err) {
    case SSL_ERROR_WANT_READ:
      retry_events_ = POLLIN;
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_WANT_WRITE:
      retry_events_ = POLLOUT;
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_ZERO_RETURN:
      return 0;
    case SSL_ERROR_SYSCALL:
      if (errno == 0) return 0;  // EOF without close_notify (OpenSSL before 3.0)
      last_error_ = std::string("TLS: ") + std::strerror(errno);
      ERR_clear_error();
      return -1;  // errno as the socket left it (ECONNRESET, EPIPE: the peer is gone)
    default:
      last_error_ = "TLS error " + std::to_string(err) + ": " + drainErrors();
      errno = EPROTO;
      return -1;
  }
}

ssize_t TlsLayer::send(const char* data, std::size_t n) {
  if (n == 0) return 0;
  ERR_clear_error();
  errno = 0;
  const int len = static_cast<int>(std::min<std::size_t>(n, 1 << 30));
  const int rc = SSL_write(ssl_, data, len);
  if (rc > 0) return rc;
  return fail(rc);
}

ssize_t TlsLayer::recv(char* data, std::size_t n) {
  ERR_clear_error();
  errno = 0;
  const int len = static_cast<int>(std::min<std::size_t>(n, 1 << 30));
  const int rc = SSL_read(ssl_, data, len);
  if (rc > 0) return rc;
  return fail(rc);
}

short TlsLayer::waitEvents(short wanted) const {
  return retry_events_ != 0 ? retry_events_ : wanted;
}

bool TlsLayer::pending() const {
  return SSL_has_pending(ssl_) == 1;
}

bool connectTls(McbpClient* client, uint16_t port, const TlsClientConfig& config,
                std::string* error, std::chrono::milliseconds timeout) {
  if (!client->connect(port, timeout)) {
    *error = "cannot connect to port " + std::to_string(port);
    return false;
  }
  std::unique_ptr<TlsLayer> layer = TlsLayer::handshake(client->fd(), config, timeout, error);
  if (!layer) {
    client->close();
    return false;
  }
  client->setLayer(std::move(layer));
  return true;
}

TlsSlowReader::~TlsSlowReader() {
  close();
}

void TlsSlowReader::close(bool orderly) {
  if (tls_ && !orderly) tls_->abandon();
  tls_.reset();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool TlsSlowReader::connect(uint16_t port, const TlsClientConfig& config,
                            const SlowReaderOptions& options, std::string* error,
                            std::chrono::milliseconds timeout) {
  close();
  options_ = options;
  options_.min_chunk = std::max<std::size_t>(1, options_.min_chunk);
  options_.max_chunk = std::max(options_.min_chunk, options_.max_chunk);
  rng_.seed(options_.seed);
  stream_ = ResponseStream();
  const int fd = connectTcp(port, options_.rcvbuf, timeout);
  if (fd < 0) {
    *error = "cannot connect to port " + std::to_string(port);
    return false;
  }
  tls_ = TlsLayer::handshake(fd, config, timeout, error);
  if (!tls_) {
    ::close(fd);
    return false;
  }
  fd_ = fd;
  return true;
}

ReadStatus TlsSlowReader::loop(std::string* queue, const std::function<void(std::string*)>& more,
                               const std::function<bool()>& done,
                               const std::function<bool(const char*, std::size_t)>& sink,
                               bool receive, std::chrono::milliseconds idle_timeout) {
  if (fd_ < 0) return ReadStatus::kError;
  std::size_t sent = 0;
  std::string chunk(options_.max_chunk, '\0');
  short read_wait = POLLIN;
  short write_wait = POLLOUT;
  auto deadline = Clock::now() + idle_timeout;
  auto closedOrError = [&](const char* what) {
    last_error_ = std::string(what) + ": " +
                  (tls_->lastError().empty() ? std::strerror(errno) : tls_->lastError());
    return (errno == ECONNRESET || errno == EPIPE) ? ReadStatus::kClosed : ReadStatus::kError;
  };
  for (;;) {
    if (sent == queue->size()) {
      queue->clear();
      sent = 0;
      more(queue);
    }
    if (sent == queue->size() && done()) return ReadStatus::kOk;

    // Decrypted bytes already inside OpenSSL do not make the socket readable.
    if (!receive || !tls_->pending()) {
      const short events =
          static_cast<short>((receive ? read_wait : 0) | (sent < queue->size() ? write_wait : 0));
      pollfd p{fd_, events, 0};
      const int rc = ::poll(&p, 1, msLeft(deadline));
      if (rc < 0 && errno == EINTR) continue;
      if (rc < 0) {
        last_error_ = std::string("poll: ") + std::strerror(errno);
        return ReadStatus::kError;
      }
      if (rc == 0) {
        last_error_ = "nothing moved for " + std::to_string(idle_timeout.count()) + " ms (" +
                      std::to_string(queue->size() - sent) + " bytes left to send, " +
                      std::to_string(stream_.buffered()) + " bytes of a response buffered)";
        return ReadStatus::kTimeout;
      }
    }
    // Both directions are tried whatever poll() reported: a TLS write may have waited for a
    // read and the other way round, and a call that cannot proceed just says EAGAIN.
    if (sent < queue->size()) {
      const ssize_t n = tls_->send(queue->data() + sent, queue->size() - sent);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
        write_wait = POLLOUT;
        deadline = Clock::now() + idle_timeout;
      } else if (n < 0 && errno == EAGAIN) {
        write_wait = tls_->waitEvents(POLLOUT);
      } else {
        return closedOrError("send");
      }
    }
    if (!receive) continue;
    const std::size_t want =
        std::uniform_int_distribution<std::size_t>(options_.min_chunk, options_.max_chunk)(rng_);
    const ssize_t n = tls_->recv(chunk.data(), want);
    ++recv_calls_;
    if (n > 0) {
      read_wait = POLLIN;
      deadline = Clock::now() + idle_timeout;
      if (!sink(chunk.data(), static_cast<std::size_t>(n))) return ReadStatus::kError;
      if (options_.sleep_per_mille > 0 &&
          std::uniform_int_distribution<unsigned>(0, 999)(rng_) < options_.sleep_per_mille) {
        const auto us = std::uniform_int_distribution<int64_t>(0, options_.max_sleep.count())(rng_);
        std::this_thread::sleep_for(std::chrono::microseconds(us));
      }
    } else if (n == 0) {
      last_error_ = "peer closed the connection";
      return ReadStatus::kClosed;
    } else if (errno == EAGAIN) {
      read_wait = tls_->waitEvents(POLLIN);
    } else {
      return closedOrError("recv");
    }
  }
}

ReadStatus TlsSlowReader::stream(const std::function<void(std::string*)>& more,
                                 const std::function<bool()>& done, const OnResponse& on_response,
                                 std::chrono::milliseconds idle_timeout) {
  std::string queue;
  auto sink = [&](const char* data, std::size_t n) {
    stream_.append(data, n);
    Response r;
    while (stream_.pop(&r)) {
      if (!on_response(std::move(r))) {
        last_error_ = "stopped by the response handler";
        return false;
      }
    }
    if (stream_.malformed()) {
      last_error_ = "malformed response header in the stream";
      return false;
    }
    return true;
  };
  // Responses completed by earlier reads are delivered before anything new is read.
  if (!sink("", 0)) return ReadStatus::kError;
  return loop(&queue, more, done, sink, /*receive=*/true, idle_timeout);
}

ReadStatus TlsSlowReader::exchange(std::string_view bytes, std::size_t count,
                                   const OnResponse& on_response,
                                   std::chrono::milliseconds idle_timeout) {
  std::size_t delivered = 0;
  bool queued = false;
  auto more = [&](std::string* queue) {
    if (!queued) queue->append(bytes);
    queued = true;
  };
  auto counted = [&](Response&& r) {
    if (delivered == count) {
      last_error_ = "more responses than expected";
      return false;
    }
    ++delivered;
    return on_response(std::move(r));
  };
  auto done = [&] { return queued && delivered == count; };
  if (count > 0) return stream(more, done, counted, idle_timeout);
  // Nothing to read: the requests are only sent (a client that never reads its responses).
  std::string queue;
  auto unused = [](const char*, std::size_t) { return true; };
  return loop(&queue, more, done, unused, /*receive=*/false, idle_timeout);
}

ReadStatus TlsSlowReader::exchangeRaw(std::string_view bytes, std::size_t want, std::string* out,
                                      std::chrono::milliseconds idle_timeout) {
  std::string queue;
  bool queued = false;
  const std::size_t target = out->size() + want;
  auto more = [&](std::string* q) {
    if (!queued) q->append(bytes);
    queued = true;
  };
  auto sink = [&](const char* data, std::size_t n) {
    out->append(data, n);
    if (out->size() > target) {
      last_error_ = "more bytes than expected";
      return false;
    }
    return true;
  };
  return loop(
      &queue, more, [&] { return queued && out->size() == target; }, sink,
      /*receive=*/true, idle_timeout);
}

}  // namespace memkv::test
