// TLS connections end to end over a socketpair, with faults injected under
// OpenSSL: a BIO between the SSL and the socket writes only part of what it
// is given, and answers "try again" whenever the kernel still holds unsent
// bytes (a stricter kernel: the EPOLLOUT edge still comes, when the reader
// takes them). So every record is written in pieces and most SSL_writes end
// in WANT_WRITE with a record pending: the retry rule (same bytes, at least
// as many) and "release a slice only once its record left" are exercised on
// every response. The client reads slowly in small pieces and checks every
// byte. The handler echoes length-prefixed frames (echo_handler.h).
#include <fcntl.h>
#include <linux/sockios.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/byte_order.h"
#include "echo_handler.h"
#include "net/tls.h"
#include "net/worker.h"

namespace memkv::net {
namespace {

// A self-signed EC certificate and key written to a temporary directory, so
// TlsContext::create reads files as the server does.
class TestCertificate {
 public:
  TestCertificate() {
    dir_ = std::filesystem::temp_directory_path() /
           ("memkv-tls-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600L * 24 * 365);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("memkv-net-test"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509_sign(cert, key, EVP_sha256());
    FILE* f = std::fopen(certPath().c_str(), "w");
    PEM_write_X509(f, cert);
    std::fclose(f);
    f = std::fopen(keyPath().c_str(), "w");
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    X509_free(cert);
    EVP_PKEY_free(key);
  }
  ~TestCertificate() { std::filesystem::remove_all(dir_); }
  std::string certPath() const { return (dir_ / "cert.pem").string(); }
  std::string keyPath() const { return (dir_ / "key.pem").string(); }

 private:
  static inline std::atomic<int> counter_{0};
  std::filesystem::path dir_;
};

// The fault injector: a filter BIO over the socket BIO.
struct Faults {
  std::atomic<uint64_t> short_writes{0};
  std::atomic<uint64_t> refused_writes{0};
  uint32_t seed = 1;
};

int faultyWrite(BIO* bio, const char* data, int len) {
  auto* faults = static_cast<Faults*>(BIO_get_data(bio));
  BIO* next = BIO_next(bio);
  BIO_clear_retry_flags(bio);
  int queued = 0;
  const int fd = static_cast<int>(BIO_get_fd(next, nullptr));
  if (::ioctl(fd, SIOCOUTQ, &queued) == 0 && queued > 2048 && (faults->seed++ % 3) != 0) {
    // Unsent bytes in the kernel: their reader's progress brings an EPOLLOUT
    // edge, so "try again" here cannot strand the connection. Only with more
    // than 2 KiB unsent: refusing with a few bytes queued, this AF_UNIX pair
    // was seen (kernel 6.18, at 824d235 as well) to leave the writer without
    // that edge about once in twenty runs, and the exchange hung until its
    // 60 s deadline. A real kernel refuses only a full buffer (16 KiB here),
    // far above this, and wakes the writer when it drains.
    faults->refused_writes++;
    BIO_set_retry_write(bio);
    return -1;
  }
  int n = len;
  if (len > 1) {
    n = 1 + static_cast<int>((faults->seed = faults->seed * 1103515245u + 12345u) % len);
    if (n < len) faults->short_writes++;
  }
  const int wrote = BIO_write(next, data, n);
  BIO_copy_next_retry(bio);
  return wrote;
}

int faultyRead(BIO* bio, char* data, int len) {
  BIO* next = BIO_next(bio);
  BIO_clear_retry_flags(bio);
  const int n = BIO_read(next, data, len);
  BIO_copy_next_retry(bio);
  return n;
}

long faultyCtrl(BIO* bio, int cmd, long num, void* ptr) {
  return BIO_ctrl(BIO_next(bio), cmd, num, ptr);
}

BIO_METHOD* faultyMethod() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_FILTER, "memkv test faults");
    BIO_meth_set_write(m, faultyWrite);
    BIO_meth_set_read(m, faultyRead);
    BIO_meth_set_ctrl(m, faultyCtrl);
    BIO_meth_set_create(m, [](BIO* b) {
      BIO_set_init(b, 1);
      return 1;
    });
    return m;
  }();
  return method;
}

class TlsConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // OpenSSL writes with write(2), which raises SIGPIPE on a closed peer;
    // the server ignores it (app/main.cc), so must its stand-in here.
    ::signal(SIGPIPE, SIG_IGN);
    TlsOptions options;
    options.chain_cert = cert_.certPath();
    options.key = cert_.keyPath();
    std::string error;
    server_ctx_ = TlsContext::create(options, &error);
    ASSERT_TRUE(server_ctx_) << error;
    limits_.output_high_watermark = 256 << 10;
    limits_.output_low_watermark = 64 << 10;
    worker_ = std::make_unique<Worker>(limits_, 0, live_);
    worker_->setHandlerFactory([](Connection&) { return std::make_unique<EchoHandler>(); });
    worker_->start();
    client_ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(client_ctx_, SSL_VERIFY_NONE, nullptr);
  }
  void TearDown() override {
    if (client_ssl_) SSL_free(client_ssl_);
    if (client_fd_ >= 0) ::close(client_fd_);
    SSL_CTX_free(client_ctx_);
    worker_->shutdown(1000);
    worker_->join();
  }

  // A TLS connection whose server side writes through the fault injector;
  // the client is blocking.
  void connect(int max_version) {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    ::fcntl(fds[1], F_SETFL, O_NONBLOCK);
    const int sndbuf = 8 << 10;  // output backs up at once
    ::setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    SSL* ssl = SSL_new(server_ctx_->get());
    BIO* socket_bio = BIO_new_socket(fds[1], BIO_NOCLOSE);
    BIO* faulty = BIO_new(faultyMethod());
    BIO_set_data(faulty, &faults_);
    BIO_push(faulty, socket_bio);
    SSL_set_bio(ssl, faulty, faulty);
    SSL_set_accept_state(ssl);
    live_++;
    worker_->adoptTls(fds[1], std::make_unique<TlsStream>(ssl));

    client_fd_ = fds[0];
    SSL_CTX_set_max_proto_version(client_ctx_, max_version);
    // A retried write may resume from the same place with the same length.
    SSL_CTX_set_mode(client_ctx_,
                     SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    client_ssl_ = SSL_new(client_ctx_);
    SSL_set_fd(client_ssl_, client_fd_);
    ASSERT_EQ(SSL_connect(client_ssl_), 1);
  }

  // Sends `request` while reading `n` bytes, on this thread only (an SSL
  // is not for two threads at once): the server stops reading at its high
  // watermark until this side reads. Reads come in small pieces with a pause
  // now and then, so the server meets a full socket in mid-record.
  std::string exchange(const std::string& request, size_t n) {
    ::fcntl(client_fd_, F_SETFL, O_NONBLOCK);
    std::string out;
    out.reserve(n);
    char buf[3000];
    size_t off = 0;
    size_t reads = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while ((out.size() < n || off < request.size()) &&
           std::chrono::steady_clock::now() < deadline) {
      bool progress = false;
      if (off < request.size()) {
        size_t wrote = 0;
        if (SSL_write_ex(client_ssl_, request.data() + off, request.size() - off, &wrote) == 1) {
          off += wrote;
          progress = true;
        } else if (const int e = SSL_get_error(client_ssl_, 0);
                   e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
          break;
        }
      }
      if (out.size() < n) {
        size_t got = 0;
        const size_t want = std::min(sizeof buf, n - out.size());
        if (SSL_read_ex(client_ssl_, buf, want, &got) == 1) {
          out.append(buf, got);
          progress = true;
          if (++reads % 64 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        } else if (const int e = SSL_get_error(client_ssl_, 0);
                   e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
          break;
        }
      }
      if (!progress) {
        pollfd p{client_fd_, static_cast<short>(POLLIN | (off < request.size() ? POLLOUT : 0)), 0};
        ::poll(&p, 1, 20);
      }
    }
    ::fcntl(client_fd_, F_SETFL, 0);
    return out;
  }

  // A worker's counters, read once its loop has run everything posted.
  uint64_t counter(const Counter WorkerCounters::*which) {
    std::atomic<bool> done{false};
    worker_->post([&] { done = true; });
    while (!done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return (worker_->counters().*which).get();
  }

  TestCertificate cert_;
  std::shared_ptr<const TlsContext> server_ctx_;
  ConnectionLimits limits_;
  std::atomic<size_t> live_{0};
  std::unique_ptr<Worker> worker_;
  Faults faults_;
  SSL_CTX* client_ctx_ = nullptr;
  SSL* client_ssl_ = nullptr;
  int client_fd_ = -1;
};

class TlsVersions : public TlsConnectionTest, public ::testing::WithParamInterface<int> {};

TEST_P(TlsVersions, RandomPipelinesThroughShortAndRefusedWritesAreByteExact) {
  connect(GetParam());
  std::mt19937 rng(GetParam());
  // Sizes around the record and staging limits, small ones, and up to 2 MiB.
  const std::vector<size_t> interesting = {0,     1,     20,    4095,  4096,      16379,
                                           16380, 16384, 16385, 32768, 100 << 10, 2 << 20};
  size_t total_frames = 0;
  for (int round = 0; round < 6; ++round) {
    std::string request;
    std::string expected;
    const size_t frames = 1 + rng() % 40;
    for (size_t i = 0; i < frames; ++i) {
      const size_t size = (rng() % 3 == 0) ? interesting[rng() % interesting.size()]
                                           : rng() % (rng() % 2 ? 300 : 70000);
      std::string payload(size, '\0');
      for (size_t j = 0; j < size; j += 64) payload[j] = static_cast<char>(rng());
      request += echoFrame(payload);
    }
    expected = request;  // the echo handler answers each frame with itself
    total_frames += frames;
    const std::string got = exchange(request, expected.size());
    ASSERT_EQ(got.size(), expected.size()) << "round " << round;
    ASSERT_TRUE(got == expected) << "round " << round << ": bytes differ";
  }
  EXPECT_GT(faults_.short_writes.load(), 0u);
  EXPECT_GT(faults_.refused_writes.load(), 0u);
  EXPECT_EQ(counter(&WorkerCounters::tls_stream_errors), 0u);
  EXPECT_EQ(counter(&WorkerCounters::tls_handshakes), 1u);
  EXPECT_GT(counter(&WorkerCounters::tls_records_written), total_frames / 4);
  // The client leaves: nothing stays queued or counted.
  SSL_shutdown(client_ssl_);
  ::close(client_fd_);
  client_fd_ = -1;
  for (int i = 0; i < 500 && counter(&WorkerCounters::tls_connections) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(counter(&WorkerCounters::tls_connections), 0u);
  EXPECT_EQ(counter(&WorkerCounters::output_queued), 0u);
}

INSTANTIATE_TEST_SUITE_P(Tls, TlsVersions, ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION),
                         [](const ::testing::TestParamInfo<int>& p) {
                           return p.param == TLS1_3_VERSION ? std::string("Tls13")
                                                            : std::string("Tls12");
                         });

TEST_F(TlsConnectionTest, SmallResponsesShareRecords) {
  connect(TLS1_3_VERSION);
  // 200 small frames in one write: answered from one pool buffer, so far
  // fewer records than frames.
  std::string request;
  for (int i = 0; i < 200; ++i) request += echoFrame("value-" + std::to_string(i));
  ASSERT_EQ(exchange(request, request.size()), request);
  EXPECT_LT(counter(&WorkerCounters::tls_records_written), 50u);
}

TEST_F(TlsConnectionTest, AClientThatLeavesWithOutputPendingReleasesEverything) {
  connect(TLS1_3_VERSION);
  // 64 x 1 MiB requested, nothing read: the server fills the socket, stops
  // at its watermark, then the client vanishes without close_notify.
  const std::string frame = echoFrame(std::string(1 << 20, 'x'));
  std::thread writer([&] {
    for (int i = 0; i < 64; ++i) {
      size_t n = 0;
      size_t off = 0;
      while (off < frame.size() &&
             SSL_write_ex(client_ssl_, frame.data() + off, frame.size() - off, &n) == 1) {
        off += n;
      }
      if (off < frame.size()) return;  // the socket went away
    }
  });
  for (int i = 0; i < 500 && counter(&WorkerCounters::output_queued) < (200u << 10); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(counter(&WorkerCounters::output_queued), 200u << 10);
  ::shutdown(client_fd_, SHUT_RDWR);
  writer.join();
  ::close(client_fd_);
  client_fd_ = -1;
  for (int i = 0; i < 500 && counter(&WorkerCounters::tls_connections) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(counter(&WorkerCounters::tls_connections), 0u);
  EXPECT_EQ(counter(&WorkerCounters::output_queued), 0u);
  EXPECT_EQ(counter(&WorkerCounters::curr_connections), 0u);
}

TEST_F(TlsConnectionTest, GarbageInsteadOfAClientHelloClosesOnlyThatConnection) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  ::fcntl(fds[1], F_SETFL, O_NONBLOCK);
  live_++;
  worker_->adopt(fds[1], server_ctx_);
  const char garbage[] = "get foo\r\nGET / HTTP/1.1\r\n\r\n";
  ASSERT_GT(::send(fds[0], garbage, sizeof garbage, MSG_NOSIGNAL), 0);
  // The server closes: EOF (possibly after an alert).
  char buf[512];
  ssize_t n;
  while ((n = ::recv(fds[0], buf, sizeof buf, 0)) > 0) {
  }
  EXPECT_EQ(n, 0);
  ::close(fds[0]);
  EXPECT_EQ(counter(&WorkerCounters::tls_handshake_errors), 1u);
  // A real client on the same worker is served.
  connect(TLS1_3_VERSION);
  const std::string frame = echoFrame("still here");
  EXPECT_EQ(exchange(frame, frame.size()), frame);
}

TEST_F(TlsConnectionTest, ACorruptRecordAfterTheHandshakeClosesOnlyThatConnection) {
  connect(TLS1_3_VERSION);
  const std::string frame = echoFrame("before");
  ASSERT_EQ(exchange(frame, frame.size()), frame);
  // An application-data record whose ciphertext fails authentication.
  std::string record = "\x17\x03\x03";
  record += '\0';
  record += static_cast<char>(64);
  record += std::string(64, '\x5a');
  ASSERT_EQ(::send(client_fd_, record.data(), record.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(record.size()));
  char buf[512];
  ssize_t n;
  while ((n = ::recv(client_fd_, buf, sizeof buf, 0)) > 0) {  // an alert, then EOF
  }
  EXPECT_EQ(n, 0);
  EXPECT_EQ(counter(&WorkerCounters::tls_stream_errors), 1u);
  for (int i = 0; i < 500 && counter(&WorkerCounters::tls_connections) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(counter(&WorkerCounters::tls_connections), 0u);
}

}  // namespace
}  // namespace memkv::net
