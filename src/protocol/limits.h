#pragma once
// Protocol limits shared by the parser, the validator and the engine.
#include <cstddef>
#include <cstdint>

namespace memkv::mcbp {

inline constexpr size_t kHeaderSize = 24;
inline constexpr size_t kMaxKeyLength = 250;
// A collection id before the key: up to 5 bytes of LEB128.
inline constexpr size_t kMaxCollectionPrefix = 5;

}  // namespace memkv::mcbp
