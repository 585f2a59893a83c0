#pragma once
// The fuzz oracle for a connection that speaks memcached's text protocol (its
// first byte was no request magic): what the client reads must be a run of
// whole text replies. Every line ends in "\r\n" and is one the server may
// send; a VALUE or VA line is followed by exactly the data it announces and
// "\r\n". Written from memcached's protocol.txt, not from memkv's encoder.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace memkv::fuzz {

class TextReplyChecker final {
 public:
  explicit TextReplyChecker(void (*check)(bool)) : check_(check) {}

  void feed(const uint8_t* data, size_t n) {
    bytes_.insert(bytes_.end(), data, data + n);
    const std::string_view all(reinterpret_cast<const char*>(bytes_.data()), bytes_.size());
    size_t at = 0;
    for (;;) {
      if (data_pending_) {
        if (all.size() - at < data_length_ + 2) break;
        check_(all.substr(at + data_length_, 2) == "\r\n");
        at += data_length_ + 2;
        data_pending_ = false;
        continue;
      }
      const size_t newline = all.find('\n', at);
      if (newline == std::string_view::npos) {
        check_(all.size() - at <= kLongestLine);
        break;
      }
      check_(newline > at && all[newline - 1] == '\r');
      checkLine(all.substr(at, newline - 1 - at));
      at = newline + 1;
    }
    bytes_.erase(bytes_.begin(), bytes_.begin() + static_cast<std::ptrdiff_t>(at));
  }

  // A settled, open connection has no reply half sent.
  void checkAllAnswered() const { check_(bytes_.empty() && !data_pending_); }

 private:
  // Longest reply line: a STAT line of a long name and value, or a meta
  // reply echoing a 250-byte key (base64) and every return flag.
  static constexpr size_t kLongestLine = 4096;

  static std::string_view token(std::string_view line, size_t index) {
    size_t start = 0;
    for (size_t i = 0; i < index; ++i) {
      start = line.find(' ', start);
      if (start == std::string_view::npos) return {};
      ++start;
    }
    const size_t end = line.find(' ', start);
    return line.substr(start, end == std::string_view::npos ? line.size() - start : end - start);
  }

  bool number(std::string_view s, size_t* out) const {
    if (s.empty() || s.size() > 10) return false;
    size_t v = 0;
    for (const char c : s) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + static_cast<size_t>(c - '0');
    }
    *out = v;
    return true;
  }

  void checkLine(std::string_view line) {
    static constexpr std::string_view kWords[] = {"STORED",
                                                  "NOT_STORED",
                                                  "EXISTS",
                                                  "NOT_FOUND",
                                                  "DELETED",
                                                  "TOUCHED",
                                                  "OK",
                                                  "END",
                                                  "RESET",
                                                  "ERROR",
                                                  "VERSION",
                                                  "STAT",
                                                  "MN",
                                                  "HD",
                                                  "EN",
                                                  "NS",
                                                  "EX",
                                                  "NF",
                                                  "ME",
                                                  "ITEM",
                                                  "PREFIX",
                                                  "CLIENT_ERROR",
                                                  "SERVER_ERROR",
                                                  "MEMLIMIT_TOO_SMALL",
                                                  "MEMLIMIT_ADJUST_FAILED",
                                                  "ERROR:"};
    const std::string_view first = token(line, 0);
    if (first == "VALUE") {  // VALUE <key> <flags> <bytes> [<cas>]
      check_(number(token(line, 3), &data_length_));
      data_pending_ = true;
      return;
    }
    if (first == "VA") {  // VA <size> <flags>*
      check_(number(token(line, 1), &data_length_));
      data_pending_ = true;
      return;
    }
    size_t ignored = 0;
    if (number(line, &ignored) ||
        (line.size() > 10 && line.find_first_not_of("0123456789") == std::string_view::npos)) {
      return;  // an incr/decr result
    }
    for (const std::string_view word : kWords) {
      if (first == word) return;
    }
    check_(false);  // no reply the server may send
  }

  void (*check_)(bool);
  std::vector<uint8_t> bytes_;
  bool data_pending_ = false;
  size_t data_length_ = 0;
};

}  // namespace memkv::fuzz
