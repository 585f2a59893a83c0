#include "app/metrics_http.h"

#include <openssl/evp.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "auth/sasl.h"
#include "auth/users.h"
#include "common/log_rate_limit.h"
#include "common/logging.h"
#include "server/metrics.h"
#include "server/server_context.h"

namespace memkv::app {

namespace {

// One thread; enqueue waits while kMaxQueued connections are queued, so the
// acceptor stops accepting and the backlog holds the rest.
class BoundedQueue final : public httplib::TaskQueue {
 public:
  explicit BoundedQueue(size_t limit) : limit_(limit), thread_([this] { run(); }) {}
  ~BoundedQueue() override = default;

  void enqueue(std::function<void()> fn) override {
    std::unique_lock lock(mutex_);
    room_.wait(lock, [&] { return jobs_.size() < limit_ || shutdown_; });
    jobs_.push_back(std::move(fn));
    work_.notify_one();
  }
  // Runs what is queued (each job closes its socket), then ends the thread.
  void shutdown() override {
    {
      std::lock_guard lock(mutex_);
      shutdown_ = true;
    }
    work_.notify_all();
    room_.notify_all();
    thread_.join();
  }

 private:
  void run() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex_);
        work_.wait(lock, [&] { return !jobs_.empty() || shutdown_; });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      room_.notify_one();
      job();
    }
  }

  const size_t limit_;
  std::mutex mutex_;
  std::condition_variable work_;
  std::condition_variable room_;
  std::deque<std::function<void()>> jobs_;
  bool shutdown_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

// "Basic <base64(user:password)>" -> user and password; false if malformed.
bool parseBasic(const std::string& header, std::string* user, std::string* password) {
  constexpr std::string_view kPrefix = "Basic ";
  if (header.size() <= kPrefix.size() || header.compare(0, kPrefix.size(), kPrefix) != 0 ||
      header.size() > 1024) {
    return false;
  }
  const std::string_view b64 = std::string_view(header).substr(kPrefix.size());
  if (b64.size() % 4 != 0) return false;
  std::string decoded(b64.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                                reinterpret_cast<const unsigned char*>(b64.data()),
                                static_cast<int>(b64.size()));
  if (n < 0) return false;
  size_t len = static_cast<size_t>(n);
  // EVP_DecodeBlock counts the padding's zero bytes too.
  if (b64.ends_with("==")) {
    len -= 2;
  } else if (b64.ends_with("=")) {
    len -= 1;
  }
  decoded.resize(len);
  const size_t colon = decoded.find(':');
  if (colon == std::string::npos) return false;
  *user = decoded.substr(0, colon);
  *password = decoded.substr(colon + 1);
  return true;
}

}  // namespace

struct MetricsHttpServer::Impl {
  explicit Impl(server::ServerContext& s) : server(s) {}

  // With a users file: the HTTP Basic credentials of a user who may read
  // statistics on at least one bucket, checked as SASL PLAIN checks them
  // (same cost for unknown names). Fills `visible` with the buckets whose
  // series that user may see. The client learns only 401 or 403.
  int authorize(const httplib::Request& req, server::MetricsRequest* request) {
    if (!server.authRequired()) return 200;
    // HTTP clients first ask without credentials and answer the challenge:
    // that is not a failed authentication.
    if (!req.has_header("Authorization")) return 401;
    std::string name, password;
    const auth::User* user = nullptr;
    // The snapshot keeps the user alive for the scrape, whatever a reload
    // does meanwhile.
    std::shared_ptr<const auth::UserDatabase> users = server.users().db;
    if (parseBasic(req.get_header_value("Authorization"), &name, &password)) {
      auth::SaslServer sasl(*users);
      std::string plain;
      plain.reserve(name.size() + password.size() + 2);
      plain.append(1, '\0').append(name).append(1, '\0').append(password);
      const auth::SaslResult result = sasl.start("PLAIN", plain);
      if (result.outcome == auth::SaslOutcome::kOk) user = result.user;
    }
    server.countAuthCommand();
    if (user == nullptr) {
      server.countAuthError();
      // Through the auth-failure limiter the sessions use: a scraper with a
      // wrong password, or a flood, cannot fill the log.
      uint64_t suppressed = 0;
      if (logLimiter(LogKind::kAuthFailure).allow(&suppressed)) {
        spdlog::warn("metrics peer={}:{} event=auth_failure user=\"{}\"{}", req.remote_addr,
                     req.remote_port, escapeForLog(name, 128),
                     suppressed == 0
                         ? std::string()
                         : fmt::format(" ({} similar messages suppressed)", suppressed));
      }
      return 401;
    }
    bool any = user->admin();
    for (const auto& [bucket, privileges] : user->buckets()) {
      if ((privileges & auth::kStats) != 0) any = true;
    }
    if (!any) return 403;
    request->bucket_visible = [users = std::move(users), user](std::string_view bucket) {
      return user->has(bucket, auth::kStats);
    };
    return 200;
  }

  void serve(const httplib::Request& req, httplib::Response& res) {
    server::MetricsRequest request;
    const int status = authorize(req, &request);
    if (status != 200) {
      res.status = status;
      if (status == 401) res.set_header("WWW-Authenticate", "Basic realm=\"memkv metrics\"");
      res.set_content(status == 401 ? "authentication required\n" : "forbidden\n", "text/plain");
      return;
    }
    request.openmetrics =
        req.get_header_value("Accept").find("application/openmetrics-text") != std::string::npos;
    std::string body = server::renderMetrics(server, request);
    const std::string_view type =
        request.openmetrics ? server::kOpenMetricsType : server::kPrometheusTextType;
    res.set_content(std::move(body), std::string(type).c_str());
  }

  server::ServerContext& server;
  httplib::Server http;
  std::thread acceptor;
};

MetricsHttpServer::MetricsHttpServer(server::ServerContext& server)
    : impl_(std::make_unique<Impl>(server)) {}

MetricsHttpServer::~MetricsHttpServer() {
  stop();
}

bool MetricsHttpServer::start(const std::string& host, uint16_t port, std::string* error) {
  httplib::Server& http = impl_->http;
  http.new_task_queue = [] { return new BoundedQueue(kMaxQueued); };
  // A scraper asks and reads at once; anything slower gives up its turn.
  http.set_read_timeout(5, 0);
  http.set_write_timeout(5, 0);
  http.set_keep_alive_timeout(5);
  http.set_keep_alive_max_count(100);
  http.set_payload_max_length(4096);
  Impl* impl = impl_.get();
  http.Get("/metrics",
           [impl](const httplib::Request& req, httplib::Response& res) { impl->serve(req, res); });
  const int bound =
      port == 0 ? http.bind_to_any_port(host) : (http.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    *error = "cannot listen for metrics on " + host + ":" + std::to_string(port);
    return false;
  }
  port_ = static_cast<uint16_t>(bound);
  impl_->acceptor = std::thread([&http] { http.listen_after_bind(); });
  // stop() only reaches a server that is running: wait for the loop.
  for (int i = 0; i < 5000 && !http.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

void MetricsHttpServer::stop() {
  if (!impl_->acceptor.joinable()) return;
  impl_->http.stop();
  impl_->acceptor.join();
}

}  // namespace memkv::app
