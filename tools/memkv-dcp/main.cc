// memkv-dcp: a DCP consumer for operators and tests (docs/dcp.md "memkv-dcp"). It streams
// some or all vbuckets of a bucket, answers noops, acknowledges at half its window (or never),
// checks the order of what arrives (seqnos rise within each vbucket and lie inside their
// snapshot), can save and resume its position per vbucket, handles rollback, and prints each
// change or a summary, or dumps every key's last state for a test to compare with its model.
//
// Written from the protocol description (shared/reference/dcp.md, Couchbase's DCP docs), with
// its own framing and decoding: it links nothing of the server, so it cannot share a bug with
// the producer it checks. Blocking I/O on one socket: a consumer is one connection.
#include <arpa/inet.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// Opcodes and statuses (Couchbase's binary protocol and DCP documentation).
constexpr uint8_t kReqMagic = 0x80, kResMagic = 0x81;
constexpr uint8_t kOpSaslAuth = 0x21, kOpSelectBucket = 0x89;
constexpr uint8_t kOpDcpOpen = 0x50, kOpCloseStream = 0x52, kOpStreamReq = 0x53;
constexpr uint8_t kOpFailoverLog = 0x54, kOpStreamEnd = 0x55, kOpMarker = 0x56;
constexpr uint8_t kOpMutation = 0x57, kOpDeletion = 0x58, kOpExpiration = 0x59;
constexpr uint8_t kOpDcpNoop = 0x5c, kOpBufferAck = 0x5d, kOpControl = 0x5e;
constexpr uint16_t kSuccess = 0x00, kRollback = 0x23;
constexpr uint32_t kOpenProducer = 0x1, kOpenDeleteTimes = 0x20;
constexpr uint64_t kSeqnoMax = ~uint64_t{0};
constexpr uint32_t kStreamToLatest = 0x4;
constexpr uint32_t kOpaqueBase = 0x10000;  // a stream's opaque: base + vbucket

volatile std::sig_atomic_t g_stop = 0;

struct Options {
  std::string host = "127.0.0.1";
  int port = 11211;
  std::string user;  // password from MEMKV_DCP_PASSWORD, never the command line
  std::string bucket = "default";
  std::string name = "memkv-dcp";
  std::vector<uint16_t> vbuckets;  // empty: all 1024
  uint32_t window = 10 * 1024 * 1024;
  bool ack = true;
  bool follow = false;
  std::string state_file;
  std::string dump_file;
  bool print = false;
  double noop_interval = 0;  // 0: noops off
  double quiet_exit = 0;     // following: stop after this long without a message
  double duration = 0;       // stop after this long
  uint64_t close_after = 0;  // close every stream after this many changes
  int read_delay_us = 0;     // a slow consumer: sleep before each message
  bool delete_times = false;
  bool expiry_opcode = false;
};

constexpr std::string_view kUsage = R"(usage: memkv-dcp [options]
  --host H --port P          the server (default 127.0.0.1:11211)
  --user NAME                SASL PLAIN user; the password is read from MEMKV_DCP_PASSWORD
  --bucket B                 (default: default)
  --name N                   the DCP connection name (default: memkv-dcp)
  --vbuckets LIST            e.g. 0-99,512 (default: all 1024)
  --window BYTES             connection_buffer_size, 0 = no flow control (default 10 MiB)
  --ack half|never           acknowledge at half the window (default) or never
  --follow                   stream forever (default: up to each vbucket's high seqno)
  --state FILE               resume from and save each vbucket's uuid and seqno
  --dump FILE                write every key's last state: vb key seqno set|del length
  --print                    print each message
  --noop-interval SEC        enable noops (answered); 0 = off (default)
  --quiet-exit SEC           stop after SEC without a message
  --duration SEC             stop after SEC
  --close-after N            close every stream after N changes (ends with STREAM_END closed)
  --read-delay-us N          sleep N microseconds before reading each message
  --delete-times             open with IncludeDeleteTimes (DELETION v2)
  --expiry-opcode            enable_expiry_opcode (with --delete-times)
exit status: 0 done, 1 usage or connection error, 3 the stream broke an ordering rule,
4 a stream request was refused (other than a rollback, which is followed)
)";

[[noreturn]] void fail(const std::string& what) {
  std::cerr << "memkv-dcp: " << what << "\n";
  std::exit(1);
}

uint64_t be(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = v << 8 | p[i];
  return v;
}
void putBe(std::string* out, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) out->push_back(static_cast<char>(v >> (8 * i)));
}

struct Frame {
  uint8_t magic = 0, opcode = 0, datatype = 0;
  uint16_t vbucket_or_status = 0;
  uint32_t opaque = 0;
  uint64_t cas = 0;
  std::string extras, key, value;
  size_t wire() const { return 24 + extras.size() + key.size() + value.size(); }
};

std::string encode(uint8_t magic, uint8_t opcode, uint16_t vbucket_or_status, uint32_t opaque,
                   std::string_view extras, std::string_view key, std::string_view value) {
  std::string out;
  out.push_back(static_cast<char>(magic));
  out.push_back(static_cast<char>(opcode));
  putBe(&out, key.size(), 2);
  out.push_back(static_cast<char>(extras.size()));
  out.push_back(0);
  putBe(&out, vbucket_or_status, 2);
  putBe(&out, extras.size() + key.size() + value.size(), 4);
  putBe(&out, opaque, 4);
  putBe(&out, 0, 8);
  out.append(extras).append(key).append(value);
  return out;
}

class Socket {
 public:
  Socket(const std::string& host, int port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0) {
      fail("cannot resolve " + host);
    }
    for (addrinfo* a = res; a != nullptr && fd_ < 0; a = a->ai_next) {
      fd_ = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
      if (fd_ >= 0 && ::connect(fd_, a->ai_addr, a->ai_addrlen) != 0) {
        ::close(fd_);
        fd_ = -1;
      }
    }
    ::freeaddrinfo(res);
    if (fd_ < 0) fail("cannot connect to " + host + ":" + std::to_string(port));
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  ~Socket() { ::close(fd_); }
  void send(const std::string& bytes) {
    size_t at = 0;
    while (at < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail("the server closed the connection");
      at += static_cast<size_t>(n);
    }
  }
  // One frame, or nullopt when nothing arrived within `timeout_ms` (-1: wait).
  std::optional<Frame> read(int timeout_ms) {
    while (buffered() < 24 || buffered() < 24 + be(head() + 8, 4)) {
      pollfd p{fd_, POLLIN, 0};
      const int r = ::poll(&p, 1, timeout_ms);
      if (r < 0 && errno == EINTR) {
        if (g_stop) return std::nullopt;
        continue;
      }
      if (r == 0) return std::nullopt;
      char chunk[65536];
      const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail("the server closed the connection");
      in_.append(chunk, static_cast<size_t>(n));
    }
    const uint8_t* h = head();
    Frame f;
    f.magic = h[0];
    f.opcode = h[1];
    const size_t key_length = be(h + 2, 2), extras_length = h[4];
    f.datatype = h[5];
    f.vbucket_or_status = static_cast<uint16_t>(be(h + 6, 2));
    const size_t body = be(h + 8, 4);
    f.opaque = static_cast<uint32_t>(be(h + 12, 4));
    f.cas = be(h + 16, 8);
    if (extras_length + key_length > body) fail("a frame whose extras and key exceed its body");
    f.extras = in_.substr(at_ + 24, extras_length);
    f.key = in_.substr(at_ + 24 + extras_length, key_length);
    f.value = in_.substr(at_ + 24 + extras_length + key_length, body - extras_length - key_length);
    at_ += 24 + body;
    if (at_ > (1 << 20)) {
      in_.erase(0, at_);
      at_ = 0;
    }
    return f;
  }

 private:
  size_t buffered() const { return in_.size() - at_; }
  const uint8_t* head() const { return reinterpret_cast<const uint8_t*>(in_.data() + at_); }
  int fd_ = -1;
  std::string in_;
  size_t at_ = 0;
};

// What the consumer knows of one vbucket (saved with --state).
struct VbState {
  uint64_t uuid = 0;
  uint64_t seqno = 0;  // the last change received
  uint64_t snap_start = 0, snap_end = 0;
  bool open = false;  // a stream is open (or being requested)
  bool ended = false;
  uint64_t changes = 0;
};

// A key's last state, for --dump.
struct KeyState {
  uint16_t vbucket;
  uint64_t seqno;
  bool deleted;
  size_t length;
};

class Consumer {
 public:
  explicit Consumer(Options o) : o_(std::move(o)), sock_(o_.host, o_.port) {}

  int run() {
    handshake();
    loadState();
    for (uint16_t vb : vbuckets()) requestStream(vb);
    const auto started = Clock::now();
    auto last_message = Clock::now();
    while (!g_stop) {
      if (o_.duration > 0 && seconds(Clock::now() - started) >= o_.duration) break;
      if ((!o_.follow || o_.close_after > 0) && pending_streams_ == 0) break;
      const int wait = o_.quiet_exit > 0 || o_.duration > 0 ? 100 : -1;
      std::optional<Frame> f = sock_.read(wait);
      if (!f) {
        if (o_.quiet_exit > 0 && seconds(Clock::now() - last_message) >= o_.quiet_exit) break;
        continue;
      }
      if (f->opcode != kOpDcpNoop) last_message = Clock::now();  // a noop is not news
      if (o_.read_delay_us > 0)
        std::this_thread::sleep_for(std::chrono::microseconds(o_.read_delay_us));
      handle(*f);
    }
    saveState();
    dump();
    std::cerr << "memkv-dcp: " << mutations_ << " mutations, " << deletions_ << " deletions, "
              << expirations_ << " expirations, " << markers_ << " snapshots, " << bytes_
              << " bytes, " << rollbacks_ << " rollbacks, " << ended_ << " streams ended, "
              << noops_ << " noops, " << seconds(last_change_ - first_change_)
              << " s from the first change to the last\n";
    return violations_ != 0 ? 3 : refused_ != 0 ? 4 : 0;
  }

 private:
  static double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

  std::vector<uint16_t> vbuckets() const {
    if (!o_.vbuckets.empty()) return o_.vbuckets;
    std::vector<uint16_t> all(1024);
    for (uint16_t i = 0; i < 1024; ++i) all[i] = i;
    return all;
  }

  Frame call(uint8_t opcode, std::string_view extras, std::string_view key, std::string_view value,
             uint16_t vbucket = 0) {
    const uint32_t opaque = 0xfeed0000u + ++calls_;
    sock_.send(encode(kReqMagic, opcode, vbucket, opaque, extras, key, value));
    for (;;) {
      std::optional<Frame> f = sock_.read(30000);
      if (!f) fail("no answer to opcode " + std::to_string(opcode));
      if (f->magic == kResMagic && f->opaque == opaque) return *f;
      handle(*f);  // a stream message that came first
    }
  }

  void handshake() {
    if (!o_.user.empty()) {
      const char* password = std::getenv("MEMKV_DCP_PASSWORD");
      if (password == nullptr) fail("--user needs MEMKV_DCP_PASSWORD");
      const std::string plain = std::string(1, '\0') + o_.user + '\0' + password;
      if (call(kOpSaslAuth, {}, "PLAIN", plain).vbucket_or_status != kSuccess) {
        fail("authentication failed");
      }
    }
    if (call(kOpSelectBucket, {}, o_.bucket, {}).vbucket_or_status != kSuccess) {
      fail("cannot select bucket " + o_.bucket);
    }
    std::string extras;
    putBe(&extras, 0, 4);
    putBe(&extras, kOpenProducer | (o_.delete_times ? kOpenDeleteTimes : 0), 4);
    const Frame open = call(kOpDcpOpen, extras, o_.name, {});
    if (open.vbucket_or_status != kSuccess) {
      fail("DCP_OPEN refused: status " + std::to_string(open.vbucket_or_status));
    }
    control("connection_buffer_size", std::to_string(o_.window));
    control("send_stream_end_on_client_close_stream", "true");
    if (o_.noop_interval > 0) {
      control("enable_noop", "true");
      control("set_noop_interval", std::to_string(o_.noop_interval));
    }
    if (o_.expiry_opcode) control("enable_expiry_opcode", "true");
  }

  void control(const std::string& key, const std::string& value) {
    const Frame r = call(kOpControl, {}, key, value);
    if (r.vbucket_or_status != kSuccess) {
      fail("DCP_CONTROL " + key + " refused: status " + std::to_string(r.vbucket_or_status));
    }
  }

  // STREAM_REQ from the vbucket's saved position; its answer comes through handle().
  void requestStream(uint16_t vb) {
    VbState& s = state_[vb];
    std::string extras;
    putBe(&extras, o_.follow ? 0 : kStreamToLatest, 4);
    putBe(&extras, 0, 4);
    putBe(&extras, s.seqno, 8);
    putBe(&extras, kSeqnoMax, 8);
    putBe(&extras, s.uuid, 8);
    putBe(&extras, s.snap_start, 8);
    putBe(&extras, s.snap_end, 8);
    s.open = true;
    s.ended = false;
    ++pending_streams_;
    sock_.send(encode(kReqMagic, kOpStreamReq, vb, kOpaqueBase + vb, extras, {}, {}));
  }

  void violation(const std::string& what) {
    ++violations_;
    std::cerr << "memkv-dcp: ORDER " << what << "\n";
  }

  void handle(const Frame& f) {
    if (f.magic == kResMagic) {
      answer(f);
      return;
    }
    if (f.magic != kReqMagic) fail("a frame with magic " + std::to_string(f.magic));
    if (f.opcode == kOpDcpNoop) {
      ++noops_;
      sock_.send(encode(kResMagic, kOpDcpNoop, kSuccess, f.opaque, {}, {}, {}));
      return;
    }
    bytes_ += f.wire();
    unacked_ += f.wire();
    if (o_.ack && o_.window > 0 && unacked_ >= o_.window / 2) {
      std::string extras;
      putBe(&extras, unacked_, 4);
      sock_.send(encode(kReqMagic, kOpBufferAck, 0, 0, extras, {}, {}));
      unacked_ = 0;
    }
    const uint16_t vb = f.vbucket_or_status;
    if (f.opaque != kOpaqueBase + vb) violation("a message whose opaque is not its stream's");
    VbState& s = state_[vb];
    if (!s.open) violation("a message for vbucket " + std::to_string(vb) + " without a stream");
    switch (f.opcode) {
      case kOpMarker: {
        if (f.extras.size() < 20) fail("a short snapshot marker");
        const auto* e = reinterpret_cast<const uint8_t*>(f.extras.data());
        const uint64_t start = be(e, 8), end = be(e + 8, 8);
        if (end < start || end <= s.seqno) {
          violation("vb " + std::to_string(vb) + " snapshot [" + std::to_string(start) + ", " +
                    std::to_string(end) + "] after seqno " + std::to_string(s.seqno));
        }
        s.snap_start = start;
        s.snap_end = end;
        ++markers_;
        if (o_.print) {
          std::cout << "SNAPSHOT vb=" << vb << " start=" << start << " end=" << end << " flags=0x"
                    << std::hex << be(e + 16, 4) << std::dec << "\n";
        }
        return;
      }
      case kOpMutation:
      case kOpDeletion:
      case kOpExpiration: {
        if (f.extras.size() < 8) fail("a change without its seqno");
        const uint64_t seqno = be(reinterpret_cast<const uint8_t*>(f.extras.data()), 8);
        if (seqno <= s.seqno || seqno < s.snap_start || seqno > s.snap_end) {
          violation("vb " + std::to_string(vb) + " seqno " + std::to_string(seqno) + " after " +
                    std::to_string(s.seqno) + " in [" + std::to_string(s.snap_start) + ", " +
                    std::to_string(s.snap_end) + "]");
        }
        s.seqno = seqno;
        ++s.changes;
        last_change_ = Clock::now();
        if (mutations_ + deletions_ + expirations_ == 0) first_change_ = last_change_;
        const bool deleted = f.opcode != kOpMutation;
        (f.opcode == kOpMutation   ? mutations_
         : f.opcode == kOpDeletion ? deletions_
                                   : expirations_)++;
        if (!o_.dump_file.empty()) keys_[f.key] = {vb, seqno, deleted, f.value.size()};
        if (o_.print) {
          const char* what = f.opcode == kOpMutation   ? "MUTATION"
                             : f.opcode == kOpDeletion ? "DELETION"
                                                       : "EXPIRATION";
          std::cout << what << " vb=" << vb << " seqno=" << seqno << " key=" << f.key
                    << " cas=" << f.cas << " value=" << f.value.size() << "B\n";
        }
        if (o_.close_after > 0 && s.changes == o_.close_after) {
          sock_.send(encode(kReqMagic, kOpCloseStream, vb, 0xc105e000u + vb, {}, {}, {}));
        }
        return;
      }
      case kOpStreamEnd: {
        const uint32_t status =
            f.extras.size() >= 4
                ? static_cast<uint32_t>(be(reinterpret_cast<const uint8_t*>(f.extras.data()), 4))
                : 0;
        if (o_.print) std::cout << "STREAM_END vb=" << vb << " status=" << status << "\n";
        s.open = false;
        s.ended = true;
        ++ended_;
        --pending_streams_;
        // State changed (2) or too slow (4): ask again from where it is, as a consumer must;
        // the answer may be a rollback.
        if ((status == 2 || status == 4) && !g_stop) requestStream(vb);
        return;
      }
      default:
        violation("an unexpected opcode " + std::to_string(f.opcode));
    }
  }

  // A response: to a STREAM_REQ, or a CLOSE_STREAM (others are matched in call()).
  void answer(const Frame& f) {
    if (f.opcode == kOpCloseStream) return;
    if (f.opcode != kOpStreamReq) return;
    const uint16_t vb = static_cast<uint16_t>(f.opaque - kOpaqueBase);
    VbState& s = state_[vb];
    if (f.vbucket_or_status == kSuccess) {
      if (f.value.size() >= 16) s.uuid = be(reinterpret_cast<const uint8_t*>(f.value.data()), 8);
      return;
    }
    --pending_streams_;
    s.open = false;
    if (f.vbucket_or_status == kRollback && f.value.size() == 8) {
      const uint64_t to = be(reinterpret_cast<const uint8_t*>(f.value.data()), 8);
      ++rollbacks_;
      if (o_.print) std::cout << "ROLLBACK vb=" << vb << " to=" << to << "\n";
      rollback(vb, to);
      requestStream(vb);
      return;
    }
    std::cerr << "memkv-dcp: STREAM_REQ vb " << vb << " refused: status " << f.vbucket_or_status
              << "\n";
    ++refused_;
  }

  // Forgets what came after `to` (the keys of that vbucket it cannot vouch for) and takes
  // the newest branch at or below it from the failover log.
  void rollback(uint16_t vb, uint64_t to) {
    VbState& s = state_[vb];
    for (auto it = keys_.begin(); it != keys_.end();) {
      it = it->second.vbucket == vb && it->second.seqno > to ? keys_.erase(it) : std::next(it);
    }
    s.seqno = s.snap_start = s.snap_end = to;
    s.uuid = 0;
    if (to == 0) return;
    const Frame log = call(kOpFailoverLog, {}, {}, {}, vb);
    for (size_t at = 0; at + 16 <= log.value.size(); at += 16) {
      const auto* e = reinterpret_cast<const uint8_t*>(log.value.data() + at);
      if (be(e + 8, 8) <= to) {
        s.uuid = be(e, 8);
        break;
      }
    }
  }

  void loadState() {
    if (o_.state_file.empty()) return;
    std::ifstream in(o_.state_file);
    uint16_t vb;
    VbState s;
    while (in >> vb >> s.uuid >> s.seqno >> s.snap_start >> s.snap_end) state_[vb] = s;
    if (o_.dump_file.empty()) return;
    std::ifstream keys(o_.dump_file);  // resuming: the keys seen before
    std::string key, what;
    KeyState k{};
    while (keys >> k.vbucket >> key >> k.seqno >> what >> k.length) {
      k.deleted = what == "del";
      keys_[key] = k;
    }
  }

  void saveState() const {
    if (o_.state_file.empty()) return;
    std::ofstream out(o_.state_file, std::ios::trunc);
    for (const auto& [vb, s] : state_) {
      // A snapshot received in part resumes with its range, as the protocol asks; one whose
      // marker came but none of its changes, with the last one's (its seqno: the start must
      // lie within the range).
      const bool begun = s.seqno >= s.snap_start;
      out << vb << " " << s.uuid << " " << s.seqno << " " << (begun ? s.snap_start : s.seqno) << " "
          << (begun ? std::max(s.snap_end, s.seqno) : s.seqno) << "\n";
    }
  }

  void dump() const {
    if (o_.dump_file.empty()) return;
    std::ofstream out(o_.dump_file, std::ios::trunc);
    for (const auto& [key, k] : keys_) {
      out << k.vbucket << " " << key << " " << k.seqno << " " << (k.deleted ? "del" : "set") << " "
          << k.length << "\n";
    }
  }

  Options o_;
  Socket sock_;
  std::map<uint16_t, VbState> state_;
  std::map<std::string, KeyState> keys_;
  uint32_t calls_ = 0;
  size_t pending_streams_ = 0;
  uint64_t unacked_ = 0;
  uint64_t mutations_ = 0, deletions_ = 0, expirations_ = 0, markers_ = 0, bytes_ = 0;
  uint64_t rollbacks_ = 0, ended_ = 0, noops_ = 0, violations_ = 0, refused_ = 0;
  Clock::time_point first_change_{}, last_change_{};
};

std::vector<uint16_t> parseVbuckets(const std::string& list) {
  std::vector<uint16_t> out;
  std::stringstream ss(list);
  std::string part;
  while (std::getline(ss, part, ',')) {
    const auto dash = part.find('-');
    const unsigned long lo = std::stoul(part.substr(0, dash));
    const unsigned long hi = dash == std::string::npos ? lo : std::stoul(part.substr(dash + 1));
    if (lo > hi || hi > 1023) fail("vbuckets are 0 to 1023: " + part);
    for (unsigned long v = lo; v <= hi; ++v) out.push_back(static_cast<uint16_t>(v));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  enum {
    kHost = 1000,
    kPort,
    kUser,
    kBucket,
    kName,
    kVbuckets,
    kWindow,
    kAck,
    kFollow,
    kState,
    kDump,
    kPrint,
    kNoop,
    kQuiet,
    kDuration,
    kCloseAfter,
    kReadDelay,
    kDeleteTimes,
    kExpiryOpcode,
    kHelp
  };
  const option longs[] = {{"host", required_argument, nullptr, kHost},
                          {"port", required_argument, nullptr, kPort},
                          {"user", required_argument, nullptr, kUser},
                          {"bucket", required_argument, nullptr, kBucket},
                          {"name", required_argument, nullptr, kName},
                          {"vbuckets", required_argument, nullptr, kVbuckets},
                          {"window", required_argument, nullptr, kWindow},
                          {"ack", required_argument, nullptr, kAck},
                          {"follow", no_argument, nullptr, kFollow},
                          {"state", required_argument, nullptr, kState},
                          {"dump", required_argument, nullptr, kDump},
                          {"print", no_argument, nullptr, kPrint},
                          {"noop-interval", required_argument, nullptr, kNoop},
                          {"quiet-exit", required_argument, nullptr, kQuiet},
                          {"duration", required_argument, nullptr, kDuration},
                          {"close-after", required_argument, nullptr, kCloseAfter},
                          {"read-delay-us", required_argument, nullptr, kReadDelay},
                          {"delete-times", no_argument, nullptr, kDeleteTimes},
                          {"expiry-opcode", no_argument, nullptr, kExpiryOpcode},
                          {"help", no_argument, nullptr, kHelp},
                          {nullptr, 0, nullptr, 0}};
  try {
    for (int c; (c = ::getopt_long(argc, argv, "", longs, nullptr)) != -1;) {
      const std::string arg = optarg != nullptr ? optarg : "";
      switch (c) {
        case kHost:
          o.host = arg;
          break;
        case kPort:
          o.port = std::stoi(arg);
          break;
        case kUser:
          o.user = arg;
          break;
        case kBucket:
          o.bucket = arg;
          break;
        case kName:
          o.name = arg;
          break;
        case kVbuckets:
          o.vbuckets = parseVbuckets(arg);
          break;
        case kWindow:
          o.window = static_cast<uint32_t>(std::stoul(arg));
          break;
        case kAck:
          if (arg != "half" && arg != "never") fail("--ack is half or never");
          o.ack = arg == "half";
          break;
        case kFollow:
          o.follow = true;
          break;
        case kState:
          o.state_file = arg;
          break;
        case kDump:
          o.dump_file = arg;
          break;
        case kPrint:
          o.print = true;
          break;
        case kNoop:
          o.noop_interval = std::stod(arg);
          break;
        case kQuiet:
          o.quiet_exit = std::stod(arg);
          break;
        case kDuration:
          o.duration = std::stod(arg);
          break;
        case kCloseAfter:
          o.close_after = std::stoull(arg);
          break;
        case kReadDelay:
          o.read_delay_us = std::stoi(arg);
          break;
        case kDeleteTimes:
          o.delete_times = true;
          break;
        case kExpiryOpcode:
          o.expiry_opcode = true;
          break;
        case kHelp:
          std::cout << kUsage;
          return 0;
        default:
          std::cerr << kUsage;
          return 1;
      }
    }
  } catch (const std::exception&) {
    std::cerr << "memkv-dcp: a bad number\n" << kUsage;
    return 1;
  }
  if (optind != argc) {
    std::cerr << kUsage;
    return 1;
  }
  struct sigaction sa {};
  sa.sa_handler = [](int) { g_stop = 1; };
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  return Consumer(std::move(o)).run();
}
