#pragma once
// One load-generating connection: keeps up to `pipeline` requests in flight,
// batches what it makes into one write, and matches replies to requests in
// order (both MCBP and memcached's text protocol answer in order). This base
// owns the socket, the ring of requests in flight and both buffers; a
// subclass per protocol encodes requests and parses replies
// (McbpConnection, TextConnection).
//
// Owned by one Worker and touched only from its thread. A connection that
// fails (reset, EOF, framing lost) closes itself, reports why to the worker,
// and stays closed: a benchmark does not paper over a server dropping clients.
//
// Under --tls the connection owns an SSL whose handshake is already done;
// bytes go through SSL_read / SSL_write instead of recv / sendmsg, and
// either may need the other direction first (SSL_read wanting to write, for
// a TLS 1.3 KeyUpdate answer; SSL_write wanting to read): the wants below
// turn that into the right epoll interest.
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "output_queue.h"
#include "protocol/opcode.h"
#include "tls_client.h"

namespace memkv::bench {

class Worker;
struct PlannedRequest;

struct InFlight {
  uint64_t sent_ns;
  uint64_t key_index;   // a multiget's first key
  uint32_t opaque;      // MCBP only
  mcbp::Opcode opcode;  // Get or Set, whatever the protocol
  uint32_t keys;        // keys asked: 1, or a multiget's count; 0 for a SET
};

class Connection {
 public:
  virtual ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  int fd() const { return fd_; }
  // --cluster-map: the node this connection talks to (-1 without a map).
  int node() const { return node_; }
  void setNode(int node) { node_ = node; }
  bool open() const { return fd_ >= 0; }
  size_t inFlight() const { return count_; }
  // True when the worker should wait for EPOLLOUT: output is queued (and
  // not waiting on a read), or a TLS read must write first.
  bool wantsWrite() const { return (!out_.empty() && !write_wants_read_) || read_wants_write_; }

  // Tops the pipeline up with new requests and writes them.
  void issue(uint64_t now_ns);
  void onReadable(uint64_t now_ns);
  void onWritable(uint64_t now_ns);

 protected:
  // Takes ownership of fd, a connected non-blocking socket, and of ssl
  // (null without --tls), an SSL on fd whose handshake is done.
  Connection(int fd, SslPtr ssl, int pipeline, Worker& worker);

  // Appends one request to out_ and fills in what the reply parser needs.
  // `slot` is the request's ring position (stable until it completes).
  virtual void encode(const PlannedRequest& plan, size_t slot, InFlight* request) = 0;
  // Consumes complete replies from the input buffer.
  virtual void parse(uint64_t now_ns) = 0;

  // Values at least this big are sent from the shared filler without a copy.
  static constexpr size_t kBorrowValueBytes = 4096;
  // Replies bigger than this are skipped as they stream in, not buffered,
  // when their bytes do not need checking.
  static constexpr size_t kSkipResponseBytes = 64 * 1024;

  std::string_view input() const {
    return {reinterpret_cast<const char*>(in_.get()) + in_begin_, in_end_ - in_begin_};
  }
  const uint8_t* inputBytes() const { return in_.get() + in_begin_; }
  void consume(size_t n) { in_begin_ += n; }
  // Makes room for `want` more bytes behind what is buffered.
  void ensureReadSpace(size_t want);
  bool hasRequest() const { return count_ > 0; }
  const InFlight& oldest() const { return ring_[head_]; }
  size_t oldestSlot() const { return head_; }
  // Retires the oldest request; the caller has checked hasRequest().
  InFlight popOldest();
  void fail(bool protocol_error, const char* why, int error);

  Worker& worker_;
  OutputQueue out_;

 private:
  void flush();
  enum class Read : uint8_t { kGot, kAgain, kFailed };
  // One read into `room` bytes at the tail of in_; on kFailed fail() ran.
  Read readPlain(size_t room, size_t* got);
  Read readTls(size_t room, size_t* got);

  int node_ = -1;
  int fd_;
  SslPtr ssl_;
  bool read_wants_write_ = false;  // an SSL_read asked for writability
  bool write_wants_read_ = false;  // an SSL_write asked for readability
  std::vector<InFlight> ring_;
  size_t head_ = 0;
  size_t count_ = 0;

  std::unique_ptr<uint8_t[]> in_;
  size_t in_capacity_ = 0;
  size_t in_begin_ = 0;
  size_t in_end_ = 0;
};

std::unique_ptr<Connection> makeConnection(int fd, SslPtr ssl, Worker& worker);

}  // namespace memkv::bench
