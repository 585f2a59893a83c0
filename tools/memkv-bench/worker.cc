#include "worker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

#include "common/crc32.h"

namespace memkv::bench {
namespace {

constexpr int kMaxEvents = 256;
constexpr int kPollMillis = 10;

uint64_t toNanos(const timespec& ts) {
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t threadCpuNanos() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return toNanos(ts);
}

uint64_t secondsToNanos(double s) {
  return static_cast<uint64_t>(s * 1e9);
}

// A blocking connect (startup only) with Nagle off: the client must not hold
// small requests back waiting for ACKs. The caller makes it non-blocking
// once any TLS handshake is done.
int connectTo(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (getaddrinfo(host.c_str(), service.c_str(), &hints, &found) != 0) return -1;
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) return -1;
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// A silent server must not hang startup: handshakes are bounded too.
constexpr double kHandshakeTimeoutSeconds = 10;

// --report-interval: intervals past this many are not counted (a week of 1 s
// intervals is far beyond any run; the bound keeps memory bounded anyway).
constexpr size_t kMaxIntervals = 1 << 20;

uint32_t drawLength(SplitMix& rng, uint32_t min, uint32_t max) {
  return min + static_cast<uint32_t>(rng.below(uint64_t{max - min} + 1));
}

}  // namespace

uint64_t monotonicNanos() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return toNanos(ts);
}

Worker::Worker(const SharedRun& shared, int index)
    : shared_(shared),
      spaces_(shared.options.keySpaces()),
      index_(index),
      rng_(shared.options.seed * 0x2545f4914f6cdd1dULL + index) {}

bool Worker::connectAll() {
  const BenchOptions& o = shared_.options;
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return false;
  const Routing* routing = shared_.routing;
  if (routing != nullptr) prefill_next_by_node_.assign(routing->nodes.size(), index_);
  for (int i = 0; i < o.conns_per_thread; ++i) {
    // With a cluster map, the connections go round the nodes.
    const int node = routing ? static_cast<int>(i % routing->nodes.size()) : -1;
    const std::string& host = routing ? routing->nodes[node].host : o.host;
    const uint16_t port = routing ? routing->nodes[node].port : o.port;
    const int fd = connectTo(host, port);
    if (fd < 0) {
      std::fprintf(stderr, "memkv-bench: connect to %s:%u: %s\n", host.c_str(), port,
                   std::strerror(errno));
      ++stats_.connection_errors;
      return false;
    }
    SslPtr ssl;
    if (shared_.tls != nullptr) {
      ssl = shared_.tls->newSsl(fd);
      std::string error = "SSL_new failed";
      if (!ssl || !handshakeBlocking(ssl.get(), fd, std::min(kHandshakeTimeoutSeconds, o.timeout_s),
                                     &error)) {
        std::fprintf(stderr, "memkv-bench: TLS handshake with %s:%u: %s\n", o.host.c_str(), o.port,
                     error.c_str());
        ssl.reset();
        ::close(fd);
        ++stats_.connection_errors;
        return false;
      }
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    conns_.push_back(makeConnection(fd, std::move(ssl), *this));
    conns_.back()->setNode(node);
    polling_out_.push_back(false);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = conns_.size() - 1;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  }
  return true;
}

void Worker::run() {
  const BenchOptions& o = shared_.options;
  hard_deadline_ns_ = monotonicNanos() + secondsToNanos(o.timeout_s);
  const bool connected = connectAll();
  if (connected && o.prefill) {
    phase_ = Phase::kPrefill;
    prefill_next_ = static_cast<uint64_t>(index_);
    for (size_t slot = 0; slot < conns_.size(); ++slot) {
      conns_[slot]->issue(monotonicNanos());
      updateInterest(slot);
    }
    loop();
  }
  // Every thread arrives, even one that failed, or the others would wait forever.
  shared_.start_line.arrive_and_wait();
  if (connected && !shared_.stop.load(std::memory_order_relaxed) && stats_.connection_errors == 0) {
    startRun(monotonicNanos());
    loop();
  }
  const uint64_t end_ns = std::min(monotonicNanos(), measure_end_ns_);
  const uint64_t window_end = o.requests > 0 ? last_response_ns_ : end_ns;
  if (cpu_started_) stats_.cpu_ns = threadCpuNanos() - cpu_at_start_ns_;
  if (window_end > measure_start_ns_ && measure_start_ns_ > 0) {
    stats_.window_s = static_cast<double>(window_end - measure_start_ns_) / 1e9;
  }
  if (o.sweep_keys > 0 && phase_ == Phase::kRun) {
    stats_.sweep_unfinished = sweep_end_ns_ == 0;
    if (sweep_end_ns_ != 0) {
      stats_.sweep_end_s = static_cast<double>(sweep_end_ns_ - run_start_ns_) / 1e9;
    }
  }
  phase_ = Phase::kDone;
  conns_.clear();
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

void Worker::startRun(uint64_t now_ns) {
  const BenchOptions& o = shared_.options;
  phase_ = Phase::kRun;
  run_start_ns_ = now_ns;
  if (o.sweep_keys > 0) sweep_start_ns_ = now_ns + secondsToNanos(o.sweep_start_s);
  sweep_next_ = static_cast<uint64_t>(index_);
  if (o.shift) shift_ns_ = now_ns + secondsToNanos(o.shift_at_s);
  // At least 1 ns: a tiny --report-interval must not become a division by zero.
  if (o.report_interval_s > 0)
    interval_ns_ = std::max<uint64_t>(secondsToNanos(o.report_interval_s), 1);
  measure_start_ns_ = now_ns + secondsToNanos(o.warmup_s);
  if (o.requests > 0) {
    const auto threads = static_cast<uint64_t>(o.threads);
    const auto index = static_cast<uint64_t>(index_);
    budget_left_ = o.requests / threads + (index < o.requests % threads ? 1 : 0);
  } else {
    measure_end_ns_ = measure_start_ns_ + secondsToNanos(o.duration_s);
  }
  for (size_t slot = 0; slot < conns_.size(); ++slot) {
    conns_[slot]->issue(now_ns);
    updateInterest(slot);
  }
}

uint32_t Worker::valueLength(uint64_t key_index) {
  const BenchOptions& o = shared_.options;
  if (spaces_.spaceOf(key_index) == KeySpaces::Space::kShifted) {
    return drawLength(rng_, o.shift_value_min, o.shift_value_max);
  }
  return drawLength(rng_, o.value_min, o.value_max);
}

bool Worker::takeSweepTurn(uint64_t now_ns) {
  if (sweep_next_ >= shared_.options.sweep_keys || now_ns < sweep_start_ns_) return false;
  sweep_turn_ = !sweep_turn_;
  return sweep_turn_;
}

void Worker::noteSweepEnd(uint64_t now_ns) {
  if (sweep_end_ns_ != 0 || now_ns < sweep_start_ns_ || sweep_outstanding_ > 0 ||
      sweep_next_ < shared_.options.sweep_keys) {
    return;
  }
  sweep_end_ns_ = now_ns;
}

uint16_t Worker::vbucketOfKey(uint64_t key_index) const {
  char key[256];
  const BenchOptions& o = shared_.options;
  const size_t length = formatKey(o.key_prefix, key_index, key, o.key_digits);
  // Couchbase's rule, as the SDK computes it.
  return static_cast<uint16_t>(((crc32(key, length) >> 16) & 0x7fff) % 1024);
}

bool Worker::planRouted(int node, PlannedRequest* out) {
  const BenchOptions& o = shared_.options;
  const Routing& routing = *shared_.routing;
  if (phase_ == Phase::kPrefill) {
    // Each node's cursor walks this thread's keys and takes the node's own.
    uint64_t& next = prefill_next_by_node_[node];
    while (next < shared_.keys.keys()) {
      const uint64_t key = next;
      next += static_cast<uint64_t>(o.threads);
      const uint16_t vb = vbucketOfKey(key);
      if (routing.owner[vb] == node) {
        *out = {mcbp::Opcode::Set, key, valueLength(key), vb};
        return true;
      }
    }
    return false;
  }
  if (phase_ != Phase::kRun || budget_left_ == 0) return false;
  if (budget_left_ != UINT64_MAX) --budget_left_;
  // A key of this node's: the SDK would send it here. Bounded draws (a node
  // owning no vbucket gets a key it answers NOT_MY_VBUCKET, an error).
  uint64_t key = shared_.keys.next(rng_);
  uint16_t vb = vbucketOfKey(key);
  for (int tries = 0; tries < 256 && routing.owner[vb] != node; ++tries) {
    key = shared_.keys.next(rng_);
    vb = vbucketOfKey(key);
  }
  const bool get = rng_.below(uint64_t{o.get_weight} + o.set_weight) < o.get_weight;
  *out = {get ? mcbp::Opcode::Get : mcbp::Opcode::Set, key, get ? 0 : valueLength(key), vb};
  return true;
}

bool Worker::prefillIssued() const {
  if (shared_.routing == nullptr) return prefill_next_ >= shared_.keys.keys();
  return std::all_of(prefill_next_by_node_.begin(), prefill_next_by_node_.end(),
                     [&](uint64_t next) { return next >= shared_.keys.keys(); });
}

bool Worker::planNext(uint64_t now_ns, int node, PlannedRequest* out) {
  if (node >= 0) return planRouted(node, out);
  const BenchOptions& o = shared_.options;
  if (phase_ == Phase::kPrefill) {
    if (prefill_next_ >= shared_.keys.keys()) return false;
    *out = {mcbp::Opcode::Set, prefill_next_, valueLength(prefill_next_)};
    prefill_next_ += static_cast<uint64_t>(o.threads);
    return true;
  }
  if (phase_ != Phase::kRun || budget_left_ == 0) return false;
  if (budget_left_ != UINT64_MAX) --budget_left_;
  if (!missed_keys_.empty()) {
    const uint64_t key = missed_keys_.back();
    missed_keys_.pop_back();
    *out = {mcbp::Opcode::Set, key, valueLength(key)};
    return true;
  }
  if (o.sweep_keys > 0) {
    noteSweepEnd(now_ns);  // a worker with no sweep keys of its own ends here
    if (takeSweepTurn(now_ns)) {
      *out = {mcbp::Opcode::Get, spaces_.sweepBase() + sweep_next_, 0};
      sweep_next_ += static_cast<uint64_t>(o.threads);
      ++sweep_outstanding_;
      ++stats_.sweep_gets_issued;
      return true;
    }
  }
  const uint64_t base = now_ns >= shift_ns_ ? spaces_.shiftBase() : 0;
  const uint64_t key = base + shared_.keys.next(rng_);
  const bool get = rng_.below(uint64_t{o.get_weight} + o.set_weight) < o.get_weight;
  *out = {get ? mcbp::Opcode::Get : mcbp::Opcode::Set, key, get ? 0 : valueLength(key)};
  return true;
}

void Worker::countInterval(const InFlight& request, const Answer& answer, bool sweep) {
  const uint64_t index = (request.sent_ns - run_start_ns_) / interval_ns_;
  if (request.sent_ns < run_start_ns_ || index >= kMaxIntervals) return;
  if (stats_.intervals.size() <= index) stats_.intervals.resize(index + 1);
  IntervalCounts& interval = stats_.intervals[index];
  ++interval.requests;
  if (!sweep && request.opcode == mcbp::Opcode::Get) {
    interval.hot.add(answer.keys, answer.hits, answer.misses);
  }
}

void Worker::onResponse(const InFlight& request, const Answer& answer, uint64_t now_ns) {
  last_response_ns_ = now_ns;
  if (phase_ == Phase::kPrefill) {
    ++stats_.prefill_sets;
    return;
  }
  const bool sweep = spaces_.spaceOf(request.key_index) == KeySpaces::Space::kSweep;
  if (sweep) {
    --sweep_outstanding_;
    noteSweepEnd(now_ns);
  }
  if (interval_ns_ > 0) countInterval(request, answer, sweep);
  if (!inWindow(request.sent_ns, now_ns)) return;
  stats_.latency.record(now_ns - request.sent_ns);
  ++stats_.requests;
  if (request.opcode != mcbp::Opcode::Get) {
    ++stats_.sets;
    return;
  }
  stats_.gets += answer.keys;
  stats_.hits += answer.hits;
  stats_.misses += answer.misses;
  if (sweep) {
    stats_.sweep.add(answer.keys, answer.hits, answer.misses);
    return;
  }
  stats_.hot.add(answer.keys, answer.hits, answer.misses);
  if (sweep_end_ns_ != 0 && request.sent_ns >= sweep_end_ns_) {
    stats_.after_sweep.add(answer.keys, answer.hits, answer.misses);
  } else if (request.sent_ns >= sweep_start_ns_) {
    stats_.during_sweep.add(answer.keys, answer.hits, answer.misses);
  }
}

void Worker::onMiss(uint64_t key_index) {
  // Bounded by the keys in flight: each miss queues one SET, which the next
  // planNext takes before anything new.
  if (phase_ != Phase::kRun || !shared_.options.set_on_miss) return;
  missed_keys_.push_back(key_index);
  if (spaces_.spaceOf(key_index) == KeySpaces::Space::kSweep) ++sweep_outstanding_;
}

void Worker::checkHit(uint64_t key_index, std::optional<uint32_t> flags,
                      std::span<const uint8_t> value) {
  char key[256];
  const size_t key_length =
      formatKey(shared_.options.key_prefix, key_index, key, shared_.options.key_digits);
  const ValueCheck check =
      flags ? checkValue(keyHash({key, key_length}), *flags, value) : ValueCheck::kTooShort;
  if (check == ValueCheck::kOk) return;
  ++stats_.verify_failures;
  ++stats_.verify_by_check[static_cast<size_t>(check)];
  if (verify_reports_left_-- > 0) {
    std::fprintf(stderr, "memkv-bench: verify failure: key %.*s: %s (flags %s, value %zu bytes)\n",
                 static_cast<int>(key_length), key, valueCheckName(check).data(),
                 flags ? std::to_string(*flags).c_str() : "absent", value.size());
  }
}

void Worker::onErrorReply(std::string_view line) {
  // Keyed by the line (bounded, printable) so the report can say what it was.
  constexpr size_t kMaxShown = 64;
  std::string shown(line.substr(0, kMaxShown));
  for (char& c : shown) {
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') c = '?';
  }
  ++stats_.errors_by_reply[shown];
}

void Worker::onConnectionFailed(bool protocol_error, const char* why, int error) {
  ++(protocol_error ? stats_.protocol_errors : stats_.connection_errors);
  std::fprintf(stderr, "memkv-bench: thread %d: connection lost: %s%s%s\n", index_, why,
               error != 0 ? ": " : "", error != 0 ? std::strerror(error) : "");
}

void Worker::updateInterest(size_t slot) {
  Connection& conn = *conns_[slot];
  if (!conn.open()) return;
  const bool want = conn.wantsWrite();
  if (want == polling_out_[slot]) return;
  epoll_event ev{};
  ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
  ev.data.u64 = slot;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, conn.fd(), &ev);
  polling_out_[slot] = want;
}

void Worker::loop() {
  epoll_event events[kMaxEvents];
  while (true) {
    const uint64_t now = monotonicNanos();
    if (shared_.stop.load(std::memory_order_relaxed)) break;
    if (now >= hard_deadline_ns_) {
      stats_.timed_out = true;
      std::fprintf(stderr, "memkv-bench: thread %d: --timeout reached\n", index_);
      break;
    }
    if (phase_ == Phase::kRun) {
      if (!cpu_started_ && now >= measure_start_ns_) {
        cpu_started_ = true;
        cpu_at_start_ns_ = threadCpuNanos();
      }
      if (now >= measure_end_ns_) break;
    }
    size_t in_flight = 0;
    size_t open = 0;
    for (const auto& conn : conns_) {
      in_flight += conn->inFlight();
      open += conn->open() ? 1 : 0;
    }
    if (open == 0) break;
    const bool nothing_left = phase_ == Phase::kPrefill ? prefillIssued() : budget_left_ == 0;
    if (nothing_left && in_flight == 0) break;
    const int n = epoll_wait(epoll_fd_, events, kMaxEvents, kPollMillis);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      const size_t slot = events[i].data.u64;
      Connection& conn = *conns_[slot];
      if (events[i].events & EPOLLOUT) conn.onWritable(monotonicNanos());
      if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) conn.onReadable(monotonicNanos());
      updateInterest(slot);
    }
  }
}

}  // namespace memkv::bench
