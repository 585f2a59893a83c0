#include "server/mcbp_session.h"

#include <algorithm>

#include "protocol/opcode_spec.h"
#include "protocol/validate.h"
#include "server/cookie.h"

namespace memkv::server {

using mcbp::Opcode;
using mcbp::Status;

namespace {
// Room for extras and a key beside the largest value.
constexpr size_t kBodyOverhead = 1024;
}  // namespace

McbpSession::McbpSession(ServerContext& server, WorkerContext& worker, net::Connection& connection)
    : server_(server), worker_(worker), connection_(connection) {}

size_t McbpSession::maxBody(const Settings& settings) {
  return std::max(settings.max_body_size, settings.item_size_max + kBodyOverhead);
}

net::InputResult McbpSession::onInput(net::Connection& conn, std::span<const uint8_t> input,
                                      size_t max_frames) {
  net::InputResult r;
  ResponseWriter out(conn, worker_.commands, server_.settings().cas_enabled);
  const size_t max_body = maxBody(server_.settings());
  while (r.frames < max_frames && !conn.closing() && !conn.outputFull()) {
    const std::span<const uint8_t> rest = input.subspan(r.consumed);
    if (rest.size() < mcbp::kHeaderSize) break;
    mcbp::RequestHeader header;
    switch (mcbp::parseHeader(rest, &header)) {
      case mcbp::HeaderStatus::kOk:
        break;
      case mcbp::HeaderStatus::kBadMagic:
        conn.closeNow();  // framing lost: nothing to answer
        return r;
      case mcbp::HeaderStatus::kBadLengths:
        out.sendStatus(header, Status::Einval);
        conn.closeAfterFlush();
        return r;
    }
    const mcbp::Verdict verdict = mcbp::validateHeader(header);
    if (verdict == mcbp::Verdict::kInvalid) {
      out.sendStatus(header, Status::Einval);
      conn.closeAfterFlush();
      return r;
    }
    if (header.body_length > max_body) {
      // Answer at once instead of waiting for (and buffering) the body.
      out.sendStatus(header, Status::E2big);
      conn.closeAfterFlush();
      return r;
    }
    const mcbp::OpcodeSpec& spec = mcbp::opcodeSpec(header.opcode);
    const size_t value_length = header.body_length - header.framing_extras_length -
                                header.extras_length - header.key_length;
    const bool too_large = spec.value_allowed && value_length > server_.settings().item_size_max;
    if (verdict == mcbp::Verdict::kUnknownCommand || too_large) {
      if (too_large && spec.base == Opcode::Set) {
        // memcached drops the old value of a SET it refuses as too large, so
        // no stale value outlives a write the client believes it made. The
        // key must be here for that.
        const size_t key_start =
            mcbp::kHeaderSize + header.framing_extras_length + header.extras_length;
        const size_t key_end = key_start + header.key_length;
        if (rest.size() < key_end) {
          r.next_frame_size = key_end;
          break;
        }
        const auto key = rest.subspan(key_start, header.key_length);
        server_.bucket().remove({reinterpret_cast<const char*>(key.data()), key.size()}, 0);
      }
      // Answer now and skip the body without buffering it; the connection
      // stays usable (memcached 1.6 does the same).
      out.sendStatus(header, too_large ? Status::E2big : Status::UnknownCommand);
      ++r.frames;
      const size_t frame = header.frameSize();
      if (frame > rest.size()) {
        r.consumed += rest.size();
        r.discard = frame - rest.size();
        return r;
      }
      r.consumed += frame;
      continue;
    }
    if (rest.size() < header.frameSize()) {
      r.next_frame_size = header.frameSize();
      break;
    }
    dispatch(mcbp::splitFrame(header, rest.first(header.frameSize())), out);
    r.consumed += header.frameSize();
    ++r.frames;
  }
  return r;
}

void McbpSession::dispatch(const mcbp::Request& request, ResponseWriter& out) {
  const mcbp::OpcodeSpec& spec = mcbp::opcodeSpec(request.header.opcode);
  Cookie cookie{server_, worker_, connection_, out, request, spec, {}};
  if (!request.framing_extras.empty()) {
    const Status status = mcbp::validateFrameInfos(request, &cookie.frame_infos);
    if (status != Status::Success) {
      out.sendStatus(request.header, status);
      return;
    }
  }
  switch (spec.base) {
    case Opcode::Get:
    case Opcode::GetK:
      executeGet(cookie);
      break;
    case Opcode::Set:
    case Opcode::Add:
    case Opcode::Replace:
    case Opcode::Append:
    case Opcode::Prepend:
      executeStore(cookie);
      break;
    case Opcode::Delete:
      executeDelete(cookie);
      break;
    case Opcode::Increment:
    case Opcode::Decrement:
      executeCounter(cookie);
      break;
    case Opcode::Touch:
    case Opcode::Gat:
    case Opcode::GatK:
      executeTouch(cookie);
      break;
    case Opcode::Flush:
      executeFlush(cookie);
      break;
    case Opcode::Noop:
      executeNoop(cookie);
      break;
    case Opcode::Version:
      executeVersion(cookie);
      break;
    case Opcode::Quit:
      executeQuit(cookie);
      break;
    case Opcode::Verbosity:
      executeVerbosity(cookie);
      break;
    case Opcode::Stat:
      executeStat(cookie);
      break;
    default:
      out.sendStatus(request.header, Status::UnknownCommand);
      break;
  }
}

}  // namespace memkv::server
