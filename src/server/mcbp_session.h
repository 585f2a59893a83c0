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

  // Largest body accepted at all; beyond it framing is abandoned.
  static size_t maxBody(const Settings& settings);

 private:
  void dispatch(const mcbp::Request& request, ResponseWriter& out);

  // Three references and nothing else: every idle connection carries one of
  // these, so what can be derived (the response writer, limits) is made per
  // call instead of stored.
  ServerContext& server_;
  WorkerContext& worker_;
  net::Connection& connection_;
};

static_assert(sizeof(McbpSession) <= 32, "every connection carries a session");

}  // namespace memkv::server
