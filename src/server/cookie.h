#pragma once
// Cookie: one request in flight and everything an executor needs to answer
// it. Lives for one dispatch on the connection's owner thread.
#include "net/connection.h"
#include "protocol/frame_info.h"
#include "protocol/opcode_spec.h"
#include "protocol/request.h"
#include "server/response_writer.h"
#include "server/server_context.h"

namespace memkv::server {

struct Cookie {
  ServerContext& server;
  WorkerContext& worker;
  net::Connection& connection;
  ResponseWriter& out;
  const mcbp::Request& request;
  const mcbp::OpcodeSpec& spec;
  mcbp::FrameInfos frame_infos;  // decoded, validated (alternative format only)

  const mcbp::RequestHeader& header() const { return request.header; }
  bool quiet() const { return spec.quiet; }
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
};

// Executors, one per command family.
void executeGet(Cookie& cookie);        // GET, GETQ, GETK, GETKQ
void executeTouch(Cookie& cookie);      // TOUCH, GAT, GATQ, GATK, GATKQ
void executeStore(Cookie& cookie);      // SET, ADD, REPLACE, APPEND, PREPEND (+Q)
void executeDelete(Cookie& cookie);     // DELETE(Q)
void executeCounter(Cookie& cookie);    // INCREMENT, DECREMENT (+Q)
void executeFlush(Cookie& cookie);      // FLUSH(Q)
void executeNoop(Cookie& cookie);       // NOOP
void executeVersion(Cookie& cookie);    // VERSION
void executeQuit(Cookie& cookie);       // QUIT(Q)
void executeVerbosity(Cookie& cookie);  // VERBOSITY
void executeStat(Cookie& cookie);       // STAT

mcbp::Status toWireStatus(engine::EngineStatus status);

}  // namespace memkv::server
