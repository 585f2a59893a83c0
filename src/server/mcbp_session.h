#pragma once
// McbpSession: the MCBP side of one connection. Frames requests out of the
// connection's input, validates each before dispatch (ARCHITECTURE.md
// invariant 7) and runs the executor for its command family.
#include <span>

#include "net/connection.h"
#include "server/response_writer.h"
#include "server/server_context.h"

namespace memkv::server {

class McbpSession final : public net::ConnectionHandler {
 public:
  McbpSession(ServerContext& server, WorkerContext& worker, net::Connection& connection);

  net::InputResult onInput(net::Connection& conn, std::span<const uint8_t> input,
                           size_t max_frames) override;

 private:
  void dispatch(const mcbp::Request& request);
  // Largest body accepted at all; beyond it framing is abandoned.
  size_t maxBody() const { return max_body_; }

  ServerContext& server_;
  WorkerContext& worker_;
  net::Connection& connection_;
  ResponseWriter out_;
  const size_t max_body_;
};

}  // namespace memkv::server
