#pragma once
// Cookie: one request in flight and everything an executor needs to answer
// it. Lives for one dispatch on the connection's owner thread.
#include "net/connection.h"
#include "protocol/frame_info.h"
#include "protocol/opcode_spec.h"
#include "protocol/request.h"
#include "server/mcbp_session.h"
#include "server/response_writer.h"
#include "server/server_context.h"

namespace memkv::server {

struct Cookie {
  ServerContext& server;
  WorkerContext& worker;
  net::Connection& connection;
  McbpSession& session;
  ResponseWriter& out;
  const mcbp::Request& request;
  const mcbp::OpcodeSpec& spec;
  mcbp::FrameInfos frame_infos;  // decoded, validated (alternative format only)
  // The document key without its collection prefix (request.key otherwise).
  std::string_view key;
  // The selected bucket; set for every command that needs one.
  engine::Bucket* bucket = nullptr;

  const mcbp::RequestHeader& header() const { return request.header; }
  bool quiet() const { return spec.quiet; }
  bool xerror() const { return session.features().has(mcbp::Feature::Xerror); }
  CommandCounters& counters() { return worker.commands; }
  // Quiet variants stay silent on success; errors are always sent.
  void replyStatus(mcbp::Status status, uint64_t cas = 0) {
    if (status == mcbp::Status::Success && quiet()) return;
    if (status == mcbp::Status::Success) {
      out.send(header(), status, {}, {}, {}, cas);
    } else {
      out.sendStatus(header(), status, cas);
    }
  }
  // A mutation's success carries its token (vbucket uuid, seqno) once the
  // client negotiated MutationSeqno.
  void replyMutation(const engine::MutationResult& r);
  // The wire status for an engine status, as this client understands it:
  // without XERROR, "locked" reads as the older statuses.
  mcbp::Status wireStatus(engine::EngineStatus status) const;
};

}  // namespace memkv::server
