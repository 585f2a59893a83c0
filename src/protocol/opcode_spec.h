#pragma once
// The per-opcode request rules: one declarative table, used by the server's
// validation and (later) the fuzzers alike.
#include <cstdint>
#include <string_view>

#include "protocol/frame_info.h"
#include "protocol/opcode.h"

namespace memkv::mcbp {

enum class KeyRule : uint8_t { kForbidden, kRequired, kOptional };

struct OpcodeSpec {
  std::string_view name;  // empty: opcode unknown to memkv
  uint8_t extras_a = 0;   // allowed extras lengths (a or b)
  uint8_t extras_b = 0;
  KeyRule key = KeyRule::kForbidden;
  bool value_allowed = false;
  bool quiet = false;         // success responses are suppressed
  Opcode base = Opcode::Get;  // the non-quiet opcode this one is a variant of
  uint16_t frame_infos = 0;   // frameInfoBit()s allowed (alternative format)

  bool known() const { return !name.empty(); }
};

const OpcodeSpec& opcodeSpec(uint8_t opcode);

}  // namespace memkv::mcbp
