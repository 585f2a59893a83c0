#pragma once
// One load-generating connection: keeps up to `pipeline` requests in flight,
// batches what it makes into one write, and matches responses to requests in
// order (MCBP answers non-quiet requests in order; the opaque proves it).
//
// Owned by one Worker and touched only from its thread. A connection that
// fails (reset, EOF, framing lost) closes itself, reports why to the worker,
// and stays closed: a benchmark does not paper over a server dropping clients.
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "output_queue.h"
#include "protocol/opcode.h"
#include "protocol/response.h"

namespace memkv::bench {

class Worker;

struct InFlight {
  uint64_t sent_ns;
  uint64_t key_index;
  uint32_t opaque;
  mcbp::Opcode opcode;
};

class Connection final {
 public:
  // Takes ownership of fd, a connected non-blocking socket.
  Connection(int fd, int pipeline, Worker& worker);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  int fd() const { return fd_; }
  bool open() const { return fd_ >= 0; }
  size_t inFlight() const { return count_; }
  // True when output is queued and the worker should wait for EPOLLOUT.
  bool wantsWrite() const { return !out_.empty(); }

  // Tops the pipeline up with new requests and writes them.
  void issue(uint64_t now_ns);
  void onReadable(uint64_t now_ns);
  void onWritable();

 private:
  void parse(uint64_t now_ns);
  void complete(const mcbp::ResponseHeader& header, std::span<const uint8_t> body, uint64_t now_ns);
  void ensureReadSpace(size_t want);
  void flush();
  void fail(bool protocol_error, const char* why, int error);

  int fd_;
  Worker& worker_;
  std::vector<InFlight> ring_;
  size_t head_ = 0;
  size_t count_ = 0;
  uint32_t next_opaque_ = 1;
  OutputQueue out_;

  std::unique_ptr<uint8_t[]> in_;
  size_t in_capacity_ = 0;
  size_t in_begin_ = 0;
  size_t in_end_ = 0;
  // A large value being skipped without buffering (not verifying): its
  // header is kept until the last byte arrives, when latency is taken.
  mcbp::ResponseHeader skipped_header_{};
  size_t skip_left_ = 0;
};

}  // namespace memkv::bench
