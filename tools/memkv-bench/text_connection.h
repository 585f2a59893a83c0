#pragma once
// memcached's text protocol side of a load-generating connection:
//   out: "get <key>[ <key>...]\r\n" and "set <key> <flags> 0 <bytes>\r\n<data>\r\n"
//   in:  (VALUE <key> <flags> <bytes>[ <cas>]\r\n<data>\r\n)* END\r\n for a get,
//        STORED\r\n for a set; ERROR, CLIENT_ERROR ..., SERVER_ERROR ... (and
//        NOT_STORED, EXISTS, NOT_FOUND for a set) are error replies, counted
//        and survived, as the server keeps the stream in sync after them.
// Anything else loses the framing and fails the connection. Text replies
// carry no opaque, so order is the proof: a get's VALUE keys must be the keys
// asked, in order, with misses left out (a repeated key is answered each time).
// Same threading and ownership as Connection.
#include <string>
#include <string_view>
#include <vector>

#include "connection.h"
#include "worker.h"

namespace memkv::bench {

class TextConnection final : public Connection {
 public:
  TextConnection(int fd, SslPtr ssl, int pipeline, Worker& worker);

 private:
  // kStop: wait for more input, or the connection failed.
  enum class Step : uint8_t { kContinue, kStop };

  void encode(const PlannedRequest& plan, size_t slot, InFlight* request) override;
  void parse(uint64_t now_ns) override;
  Step onGetLine(std::string_view line, size_t line_size, uint64_t now_ns);
  Step onValue(std::string_view line, size_t line_size);
  Step onSetLine(std::string_view line, size_t line_size, uint64_t now_ns);
  // Matches a VALUE's key against the oldest request's keys from cursor_ on;
  // the keys passed over were misses. False: not a key this get asked next.
  bool matchKey(std::string_view key, uint64_t* key_index);
  void finish(uint64_t now_ns);
  void failWith(std::string_view why, std::string_view line);

  uint64_t keyAt(size_t i) const;

  const uint32_t keys_per_get_;
  // keys_[slot * keys_per_get_ + i]: the keys of the multiget in ring slot
  // `slot` (empty unless keys_per_get_ > 1).
  std::vector<uint64_t> keys_;
  // The oldest get's reply so far.
  Answer answer_{};
  size_t cursor_ = 0;  // its next key a VALUE may name
  // The rest of a large value being skipped (data and "\r\n"), not buffered.
  size_t skip_left_ = 0;
};

}  // namespace memkv::bench
