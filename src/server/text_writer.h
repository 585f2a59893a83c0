#pragma once
// Encodes memcached's text and meta replies into a connection's OutputChain:
// the same send path as MCBP (ResponseWriter). A reply line is reserved and
// written in place; a value of kCopyValueThreshold bytes or more goes out by
// reference to its Item (zero copy), a smaller one is copied behind its line
// in the same reservation.
#include <cstdint>
#include <span>
#include <string_view>

#include "engine/item.h"
#include "net/connection.h"
#include "server/command_counters.h"

namespace memkv::server {

// A reply line being assembled (at most one meta reply: code, size and
// every return flag with its token). Appends past the end are dropped and
// mark it overflowed; callers size it for the longest line they write.
class TextLine final {
 public:
  static constexpr size_t kCapacity = 1024;
  TextLine& text(std::string_view s);
  TextLine& number(uint64_t n);
  TextLine& signedNumber(int64_t n);
  TextLine& ch(char c);
  std::string_view view() const { return {buf_, len_}; }
  size_t size() const { return len_; }
  void clear() { len_ = 0; }

 private:
  char buf_[kCapacity];
  size_t len_ = 0;
};

class TextWriter final {
 public:
  TextWriter(net::Connection& conn, CommandCounters& counters) : conn_(conn), counters_(counters) {}

  // A whole reply, copied ("STORED\r\n", an error line, ...).
  void raw(std::string_view bytes);
  // `line` then "\r\n".
  void line(std::string_view line);
  // `head` then "\r\n", the item's value, then "\r\n": a VALUE or VA reply.
  void withValue(std::string_view head, const engine::ItemRef& item);
  // The classic `VALUE <key> <flags> <bytes>[ <cas>]` reply for one hit
  // (key <= 250 bytes), then `trailer` (the get's "END\r\n" when this was
  // its last key, so a one-key hit is one reservation).
  void valueReply(std::string_view key, const engine::ItemRef& item, const uint64_t* cas,
                  std::string_view trailer = {});

 private:
  net::Connection& conn_;
  CommandCounters& counters_;
};

}  // namespace memkv::server
