// Frames arbitrary bytes the way McbpSession does (parseHeader, validateHeader,
// then splitFrame over each complete frame, stepping by the body length) and
// traps on any broken invariant:
//   - parseHeader decodes every field as the big-endian layout in request.h
//     says (classic 0x80 and alternative 0x08 formats, and 0x83, a Duplex
//     client's answer to a server request, framed like a classic request),
//     rejects any other magic and reports kBadLengths exactly when framing
//     extras + extras + key exceed the body;
//   - validateHeader's verdict follows the opcode's spec row, and a kOk
//     verdict guarantees the fixed extras sizes the executors read blindly;
//   - splitFrame's framing extras, extras, key and value lie inside the frame,
//     back to back, and add up to the body;
//   - frame infos of a valid alternative request decode without reading past
//     them (ASan), to a status the server may send, within the opcode's set.
#include <cstddef>
#include <cstdint>
#include <span>

#include "protocol/frame_info.h"
#include "protocol/limits.h"
#include "protocol/magic.h"
#include "protocol/opcode_spec.h"
#include "protocol/request.h"
#include "protocol/validate.h"

namespace {

using memkv::mcbp::HeaderStatus;
using memkv::mcbp::KeyRule;
using memkv::mcbp::kHeaderSize;
using memkv::mcbp::Magic;
using memkv::mcbp::Opcode;
using memkv::mcbp::OpcodeSpec;
using memkv::mcbp::RequestHeader;
using memkv::mcbp::Status;
using memkv::mcbp::Verdict;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// Deliberately not common/byte_order.h: the oracle decodes on its own.
uint64_t be(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

bool isRequestMagic(uint8_t b) {
  return b == static_cast<uint8_t>(Magic::ClientRequest) ||
         b == static_cast<uint8_t>(Magic::AltClientRequest);
}

// What McbpSession frames besides requests: a Duplex client's response.
// A client's answer to the server: Duplex (0x83) or a DCP consumer's (0x81).
bool isServerResponseMagic(uint8_t b) {
  return b == static_cast<uint8_t>(Magic::ServerResponse) ||
         b == static_cast<uint8_t>(Magic::ClientResponse);
}

// Framing extras + extras + key: what must fit in the body.
uint64_t fixedParts(const RequestHeader& h) {
  return uint64_t{h.framing_extras_length} + h.extras_length + h.key_length;
}

void checkParsedFields(const uint8_t* p, const RequestHeader& h) {
  check(static_cast<uint8_t>(h.magic) == p[0]);
  check(h.opcode == p[1]);
  if (p[0] == static_cast<uint8_t>(Magic::AltClientRequest)) {
    check(h.framing_extras_length == p[2]);
    check(h.key_length == p[3]);
  } else {
    check(h.framing_extras_length == 0);
    check(h.key_length == be(p + 2, 2));
  }
  check(h.extras_length == p[4]);
  check(h.datatype == p[5]);
  check(h.vbucket == be(p + 6, 2));
  check(h.body_length == be(p + 8, 4));
  check(h.opaque == be(p + 12, 4));
  check(h.cas == be(p + 16, 8));
  check(h.frameSize() == kHeaderSize + h.body_length);
}

// The verdict the spec row implies, derived independently of validate.cc.
Verdict expectedVerdict(const RequestHeader& h, const OpcodeSpec& spec) {
  if (!spec.known()) return Verdict::kUnknownCommand;
  if (h.key_length > memkv::mcbp::kMaxKeyLength) return Verdict::kInvalid;
  if (h.extras_length != spec.extras_a && h.extras_length != spec.extras_b) {
    return Verdict::kInvalid;
  }
  if (spec.key == KeyRule::kForbidden && h.key_length != 0) return Verdict::kInvalid;
  if (spec.key == KeyRule::kRequired && h.key_length == 0) return Verdict::kInvalid;
  const bool has_value = h.body_length != fixedParts(h);
  if (has_value && !spec.value_allowed) return Verdict::kInvalid;
  return Verdict::kOk;
}

// What the executors in server/ read from a request that passed validation
// without checking lengths again (kv_executors.cc, admin_executors.cc).
void checkExecutorContract(const RequestHeader& h, const OpcodeSpec& spec) {
  check(h.key_length <= memkv::mcbp::kMaxKeyLength);
  switch (spec.base) {
    case Opcode::Increment:
    case Opcode::Decrement:
      check(h.extras_length == 20);  // delta, initial, expiry
      check(h.key_length > 0);
      break;
    case Opcode::Touch:
    case Opcode::Gat:
    case Opcode::Verbosity:
      check(h.extras_length == 4);
      break;
    case Opcode::Set:
    case Opcode::Add:
    case Opcode::Replace:
      check(h.extras_length == 8);  // flags, expiry
      check(h.key_length > 0);
      break;
    case Opcode::Append:
    case Opcode::Prepend:
      check(h.extras_length == 0);
      check(h.key_length > 0);
      break;
    case Opcode::Flush:
      check(h.extras_length == 0 || h.extras_length == 4);
      check(h.key_length == 0);
      break;
    case Opcode::Get:
    case Opcode::GetK:
    case Opcode::Delete:
      check(h.key_length > 0);
      break;
    default:
      break;
  }
  if (!spec.value_allowed) check(h.body_length == fixedParts(h));
}

void checkSplit(const RequestHeader& h, std::span<const uint8_t> frame) {
  const memkv::mcbp::Request r = memkv::mcbp::splitFrame(h, frame);
  const uint8_t* begin = frame.data();
  const uint8_t* end = begin + frame.size();
  const auto* key = reinterpret_cast<const uint8_t*>(r.key.data());
  check(r.framing_extras.data() == begin + kHeaderSize);
  check(r.framing_extras.size() == h.framing_extras_length);
  check(r.extras.data() == r.framing_extras.data() + r.framing_extras.size());
  check(r.extras.size() == h.extras_length);
  check(key == r.extras.data() + r.extras.size());
  check(r.key.size() == h.key_length);
  check(r.value.data() == key + r.key.size());
  check(r.value.data() + r.value.size() == end);
  check(r.framing_extras.size() + r.extras.size() + r.key.size() + r.value.size() == h.body_length);
  check(r.header.opcode == h.opcode && r.header.opaque == h.opaque && r.header.cas == h.cas);
  check(static_cast<uint8_t>(r.opcode()) == h.opcode);
}

void checkFrameInfos(const memkv::mcbp::Request& r) {
  memkv::mcbp::FrameInfos infos;
  const Status status = memkv::mcbp::validateFrameInfos(r, &infos);
  check(status == Status::Success || status == Status::UnknownFrameInfo ||
        status == Status::Einval || status == Status::DurabilityInvalidLevel);
  if (status == Status::Success || status == Status::DurabilityInvalidLevel) {
    check((infos.present & ~memkv::mcbp::opcodeSpec(r.header.opcode).frame_infos) == 0);
  }
  // Only a level memkv cannot meet (persistence) is DURABILITY_INVALID_LEVEL.
  if (status == Status::DurabilityInvalidLevel) {
    check(infos.durability && !memkv::mcbp::durabilityLevelSupported(infos.durability->level));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> input(data, size);
  size_t offset = 0;
  while (size - offset >= kHeaderSize) {
    const std::span<const uint8_t> rest = input.subspan(offset);
    RequestHeader h;
    const HeaderStatus status = memkv::mcbp::parseHeader(rest, &h);
    if (!isRequestMagic(rest[0]) && !isServerResponseMagic(rest[0])) {
      check(status == HeaderStatus::kBadMagic);
      return 0;  // the server closes: framing is lost
    }
    check(status != HeaderStatus::kBadMagic);
    checkParsedFields(rest.data(), h);
    const bool lengths_fit = fixedParts(h) <= h.body_length;
    check((status == HeaderStatus::kOk) == lengths_fit);
    if (status == HeaderStatus::kBadLengths) return 0;  // EINVAL and close
    if (h.magic == Magic::ServerResponse || h.magic == Magic::ClientResponse) {
      check(static_cast<uint8_t>(h.magic) == rest[0]);
      // Never validated as a command: the session skips it whole (or closes
      // without Duplex or DCP), so framing continues after its body.
      if (rest.size() < h.frameSize()) return 0;
      offset += h.frameSize();
      continue;
    }

    const OpcodeSpec& spec = memkv::mcbp::opcodeSpec(h.opcode);
    check(spec.known() == (memkv::mcbp::opcodeName(h.opcode) != "UNKNOWN"));
    if (spec.known()) check(memkv::mcbp::opcodeSpec(static_cast<uint8_t>(spec.base)).known());
    const Verdict verdict = memkv::mcbp::validateHeader(h);
    check(verdict == expectedVerdict(h, spec));
    if (verdict == Verdict::kInvalid) return 0;  // EINVAL and close
    if (verdict == Verdict::kOk) checkExecutorContract(h, spec);

    if (rest.size() < h.frameSize()) return 0;  // the server waits for the body
    // Unknown commands have their body skipped by the server, never split;
    // splitting them anyway checks splitFrame for every well-formed length.
    checkSplit(h, rest.first(h.frameSize()));
    if (verdict == Verdict::kOk && h.framing_extras_length > 0) {
      checkFrameInfos(memkv::mcbp::splitFrame(h, rest.first(h.frameSize())));
    }
    offset += h.frameSize();
  }
  return 0;
}
