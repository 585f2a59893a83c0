// Wire-level vocabulary of the memcached binary protocol (MCBP) for the integration tests.
// Deliberately independent of src/: the tests must not share the server's encoder.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace memkv::test {

inline constexpr uint8_t kRequestMagic = 0x80;
inline constexpr uint8_t kResponseMagic = 0x81;
inline constexpr std::size_t kHeaderSize = 24;

namespace op {
inline constexpr uint8_t kGet = 0x00;
inline constexpr uint8_t kSet = 0x01;
inline constexpr uint8_t kAdd = 0x02;
inline constexpr uint8_t kReplace = 0x03;
inline constexpr uint8_t kDelete = 0x04;
inline constexpr uint8_t kIncrement = 0x05;
inline constexpr uint8_t kDecrement = 0x06;
inline constexpr uint8_t kQuit = 0x07;
inline constexpr uint8_t kFlush = 0x08;
inline constexpr uint8_t kGetQ = 0x09;
inline constexpr uint8_t kNoop = 0x0a;
inline constexpr uint8_t kVersion = 0x0b;
inline constexpr uint8_t kGetK = 0x0c;
inline constexpr uint8_t kGetKQ = 0x0d;
inline constexpr uint8_t kAppend = 0x0e;
inline constexpr uint8_t kPrepend = 0x0f;
inline constexpr uint8_t kStat = 0x10;
inline constexpr uint8_t kSetQ = 0x11;
inline constexpr uint8_t kAddQ = 0x12;
inline constexpr uint8_t kReplaceQ = 0x13;
inline constexpr uint8_t kDeleteQ = 0x14;
inline constexpr uint8_t kIncrementQ = 0x15;
inline constexpr uint8_t kDecrementQ = 0x16;
inline constexpr uint8_t kQuitQ = 0x17;
inline constexpr uint8_t kFlushQ = 0x18;
inline constexpr uint8_t kAppendQ = 0x19;
inline constexpr uint8_t kPrependQ = 0x1a;
inline constexpr uint8_t kVerbosity = 0x1b;
inline constexpr uint8_t kTouch = 0x1c;
inline constexpr uint8_t kGat = 0x1d;
inline constexpr uint8_t kGatQ = 0x1e;
}  // namespace op

namespace status {
inline constexpr uint16_t kSuccess = 0x0000;
inline constexpr uint16_t kKeyEnoent = 0x0001;
inline constexpr uint16_t kKeyEexists = 0x0002;
inline constexpr uint16_t kE2big = 0x0003;
inline constexpr uint16_t kEinval = 0x0004;
inline constexpr uint16_t kNotStored = 0x0005;
inline constexpr uint16_t kDeltaBadval = 0x0006;
inline constexpr uint16_t kUnknownCommand = 0x0081;
inline constexpr uint16_t kEnomem = 0x0082;
}  // namespace status

// One request. The *_override fields let a test lie in the header (malformed frames).
struct Request {
  uint8_t magic = kRequestMagic;
  uint8_t opcode = op::kNoop;
  uint8_t data_type = 0;
  uint16_t vbucket = 0;
  uint32_t opaque = 0;
  uint64_t cas = 0;
  std::string extras;
  std::string key;
  std::string value;
  std::optional<uint16_t> key_length_override;
  std::optional<uint8_t> extras_length_override;
  std::optional<uint32_t> body_length_override;
};

struct Response {
  uint8_t magic = 0;
  uint8_t opcode = 0;
  uint8_t data_type = 0;
  uint16_t status = 0;
  uint32_t opaque = 0;
  uint64_t cas = 0;
  std::string extras;
  std::string key;
  std::string value;
};

// Big-endian helpers.
std::string be16(uint16_t v);
std::string be32(uint32_t v);
std::string be64(uint64_t v);
uint16_t readBe16(std::string_view s);
uint32_t readBe32(std::string_view s);
uint64_t readBe64(std::string_view s);

// Serializes a request (header + extras + key + value).
std::string encode(const Request& req);

// Request builders for the common shapes.
Request makeKeyOnly(uint8_t opcode, std::string key, uint32_t opaque = 0);
Request makeStore(uint8_t opcode, std::string key, std::string value, uint32_t flags = 0,
                  uint32_t exptime = 0, uint64_t cas = 0, uint32_t opaque = 0);
Request makeConcat(uint8_t opcode, std::string key, std::string value, uint64_t cas = 0,
                   uint32_t opaque = 0);
Request makeArith(uint8_t opcode, std::string key, uint64_t delta, uint64_t initial,
                  uint32_t exptime, uint32_t opaque = 0);
Request makeTouch(uint8_t opcode, std::string key, uint32_t exptime, uint32_t opaque = 0);
Request makeFlush(uint8_t opcode, std::optional<uint32_t> delay = std::nullopt,
                  uint32_t opaque = 0);

}  // namespace memkv::test
