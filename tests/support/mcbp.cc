#include "support/mcbp.h"

#include <utility>

namespace memkv::test {

std::string be16(uint16_t v) {
  std::string s(2, '\0');
  for (int i = 1; i >= 0; --i, v = static_cast<uint16_t>(v >> 8)) {
    s[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
  }
  return s;
}

std::string be32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 3; i >= 0; --i, v >>= 8)
    s[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
  return s;
}

std::string be64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8)
    s[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
  return s;
}

namespace {
uint64_t readBe(std::string_view s, std::size_t n) {
  uint64_t v = 0;
  for (std::size_t i = 0; i < n && i < s.size(); ++i) v = (v << 8) | static_cast<uint8_t>(s[i]);
  return v;
}
}  // namespace

uint16_t readBe16(std::string_view s) {
  return static_cast<uint16_t>(readBe(s, 2));
}
uint32_t readBe32(std::string_view s) {
  return static_cast<uint32_t>(readBe(s, 4));
}
uint64_t readBe64(std::string_view s) {
  return readBe(s, 8);
}

std::string encode(const Request& req) {
  const uint16_t key_len = req.key_length_override.value_or(static_cast<uint16_t>(req.key.size()));
  const uint8_t ext_len =
      req.extras_length_override.value_or(static_cast<uint8_t>(req.extras.size()));
  const uint32_t body_len = req.body_length_override.value_or(
      static_cast<uint32_t>(req.extras.size() + req.key.size() + req.value.size()));
  std::string out;
  out.reserve(kHeaderSize + req.extras.size() + req.key.size() + req.value.size());
  out.push_back(static_cast<char>(req.magic));
  out.push_back(static_cast<char>(req.opcode));
  out += be16(key_len);
  out.push_back(static_cast<char>(ext_len));
  out.push_back(static_cast<char>(req.data_type));
  out += be16(req.vbucket);
  out += be32(body_len);
  out += be32(req.opaque);
  out += be64(req.cas);
  out += req.extras;
  out += req.key;
  out += req.value;
  return out;
}

Request makeKeyOnly(uint8_t opcode, std::string key, uint32_t opaque) {
  Request r;
  r.opcode = opcode;
  r.key = std::move(key);
  r.opaque = opaque;
  return r;
}

Request makeStore(uint8_t opcode, std::string key, std::string value, uint32_t flags,
                  uint32_t exptime, uint64_t cas, uint32_t opaque) {
  Request r = makeKeyOnly(opcode, std::move(key), opaque);
  r.extras = be32(flags) + be32(exptime);
  r.value = std::move(value);
  r.cas = cas;
  return r;
}

Request makeConcat(uint8_t opcode, std::string key, std::string value, uint64_t cas,
                   uint32_t opaque) {
  Request r = makeKeyOnly(opcode, std::move(key), opaque);
  r.value = std::move(value);
  r.cas = cas;
  return r;
}

Request makeArith(uint8_t opcode, std::string key, uint64_t delta, uint64_t initial,
                  uint32_t exptime, uint32_t opaque) {
  Request r = makeKeyOnly(opcode, std::move(key), opaque);
  r.extras = be64(delta) + be64(initial) + be32(exptime);
  return r;
}

Request makeTouch(uint8_t opcode, std::string key, uint32_t exptime, uint32_t opaque) {
  Request r = makeKeyOnly(opcode, std::move(key), opaque);
  r.extras = be32(exptime);
  return r;
}

Request makeFlush(uint8_t opcode, std::optional<uint32_t> delay, uint32_t opaque) {
  Request r;
  r.opcode = opcode;
  r.opaque = opaque;
  if (delay) r.extras = be32(*delay);
  return r;
}

}  // namespace memkv::test
