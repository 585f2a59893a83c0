#pragma once
// The MCBP side of a load-generating connection: GET and SET frames out,
// response headers in, matched to requests by opaque and opcode.
// Same threading and ownership as Connection.
#include <cstdint>
#include <span>
#include <utility>

#include "connection.h"
#include "protocol/response.h"

namespace memkv::bench {

class McbpConnection final : public Connection {
 public:
  McbpConnection(int fd, SslPtr ssl, int pipeline, Worker& worker)
      : Connection(fd, std::move(ssl), pipeline, worker) {}

 private:
  void encode(const PlannedRequest& plan, size_t slot, InFlight* request) override;
  void parse(uint64_t now_ns) override;
  void complete(const mcbp::ResponseHeader& header, std::span<const uint8_t> body, uint64_t now_ns);

  uint32_t next_opaque_ = 1;
  // A large value being skipped without buffering (not verifying): its
  // header is kept until the last byte arrives, when latency is taken.
  mcbp::ResponseHeader skipped_header_{};
  size_t skip_left_ = 0;
};

}  // namespace memkv::bench
