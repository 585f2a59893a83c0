#pragma once
// The text side of a session: memcached's classic text commands and the
// meta commands (mg ms md ma mn me), chosen for a connection whose first
// byte is not 0x80 (McbpSession::onInput). Parsing is protocol/text_request's
// pure parser; the commands run against the same engine calls as MCBP's
// executors, and replies go through TextWriter into the same OutputChain, so
// large values leave by reference exactly as for MCBP.
#include <cstddef>
#include <cstdint>
#include <span>

#include "net/connection.h"
#include "protocol/text_request.h"
#include "server/server_context.h"
#include "server/text_writer.h"

namespace memkv::server {

class McbpSession;

// Handles up to max_frames text/meta commands from the front of input (the
// ConnectionHandler::onInput contract).
net::InputResult textInput(McbpSession& session, net::Connection& conn,
                           std::span<const uint8_t> input, size_t max_frames);

// One text command in flight: what its executor needs.
struct TextCookie {
  ServerContext& server;
  WorkerContext& worker;
  net::Connection& connection;
  McbpSession& session;
  TextWriter& out;
  const text::TextCommand& command;
  std::span<const uint8_t> input;  // the command's bytes (the data block is in it)
  // The connection's bucket; never null for a command that needs one (the
  // session answers those itself when its bucket was deleted).
  engine::Bucket* bucket;

  CommandCounters& counters() { return worker.commands; }
  std::span<const uint8_t> value() const { return command.value(input); }
};

// `cas <key> ... 0` (and meta C0) must conflict with any stored item, while
// the engine reads CAS 0 as "no check": this value no item carries (CAS
// values count up from 1 per vbucket, and the locked marker is all ones).
inline constexpr uint64_t kUnmatchableCas = ~uint64_t{0} - 1;
inline uint64_t compareCas(uint64_t cas) {
  return cas == 0 ? kUnmatchableCas : cas;
}

// memcached's text exptime (a signed 32-bit number; negative: expired at
// once) as the engine's expiry (0, relative up to 30 days, or absolute).
uint32_t engineExpiry(int32_t exptime);

// The meta commands (meta_executors.cc).
void executeMetaGet(TextCookie& cookie);
void executeMetaSet(TextCookie& cookie);
void executeMetaDelete(TextCookie& cookie);
void executeMetaArithmetic(TextCookie& cookie);
void executeMetaDebug(TextCookie& cookie);

}  // namespace memkv::server
