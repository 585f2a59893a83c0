#include "text_connection.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "key_chooser.h"
#include "protocol/text_reply.h"
#include "value_codec.h"

namespace memkv::bench {
namespace {

// Reply lines as compared here: without their "\r\n".
constexpr std::string_view lineOf(std::string_view reply) {
  return reply.substr(0, reply.size() - 2);
}

constexpr std::string_view kEnd = lineOf(text::kEnd);
constexpr std::string_view kStored = lineOf(text::kStored);
constexpr std::string_view kCrLf = "\r\n";
// Prefixes src/protocol has no constant for (the server writes them inline;
// "ERROR" is text_request.h's kErrorLine, a header that cannot follow
// text_reply.h in one file: its kMetaNoop/kMetaDebug enumerators shadow).
constexpr std::string_view kValue = "VALUE ";
// Error replies after which the server stays in sync: counted, not fatal.
constexpr std::string_view kSetFailures[] = {lineOf(text::kNotStored), lineOf(text::kExists),
                                             lineOf(text::kNotFound)};
constexpr std::string_view kErrorPrefixes[] = {"ERROR", "CLIENT_ERROR", "SERVER_ERROR"};

// No reply line of ours is near this long (a VALUE line is under 300 bytes
// with a 250-byte key); more without a '\n' means the framing is lost.
constexpr size_t kMaxReplyLine = 1024;
// Bigger than any item either server accepts (-I tops out at 1 GiB).
constexpr uint64_t kMaxValueBytes = uint64_t{1} << 30;

bool isErrorLine(std::string_view line) {
  for (std::string_view prefix : kErrorPrefixes) {
    if (line.starts_with(prefix)) return true;
  }
  return false;
}

template <typename T>
bool parseNumber(std::string_view text, T* out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

// Splits "a b c" on single spaces into at most out.size() tokens; returns the
// count, or out.size() + 1 if there are more.
size_t splitTokens(std::string_view text, std::span<std::string_view> out) {
  size_t n = 0;
  while (!text.empty()) {
    const size_t space = text.find(' ');
    if (n == out.size()) return n + 1;
    out[n++] = text.substr(0, space);
    if (space == std::string_view::npos) break;
    text.remove_prefix(space + 1);
  }
  return n;
}

char* appendText(char* p, std::string_view text) {
  std::memcpy(p, text.data(), text.size());
  return p + text.size();
}

}  // namespace

TextConnection::TextConnection(int fd, SslPtr ssl, int pipeline, Worker& worker)
    : Connection(fd, std::move(ssl), pipeline, worker),
      keys_per_get_(worker.options().keys_per_get) {
  if (keys_per_get_ > 1) keys_.resize(static_cast<size_t>(pipeline) * keys_per_get_);
}

uint64_t TextConnection::keyAt(size_t i) const {
  if (keys_per_get_ == 1) return oldest().key_index;
  return keys_[oldestSlot() * keys_per_get_ + i];
}

void TextConnection::encode(const PlannedRequest& plan, size_t slot, InFlight* request) {
  const BenchOptions& options = worker_.options();
  const size_t key_room = options.key_prefix.size() + options.key_digits;
  if (plan.opcode == mcbp::Opcode::Get) {
    request->keys = keys_per_get_;
    // "get" + (" " + key) per key + "\r\n"
    char* p = reinterpret_cast<char*>(out_.reserve(3 + (1 + key_room) * keys_per_get_ + 2));
    p = appendText(p, "get");
    for (uint32_t i = 0; i < keys_per_get_; ++i) {
      const uint64_t key_index = i == 0 ? plan.key_index : worker_.drawKey();
      if (keys_per_get_ > 1) keys_[slot * keys_per_get_ + i] = key_index;
      *p++ = ' ';
      p += formatKey(options.key_prefix, key_index, p, options.key_digits);
    }
    appendText(p, kCrLf);
    return;
  }
  char key[256];
  const std::string_view key_view(
      key, formatKey(options.key_prefix, plan.key_index, key, options.key_digits));
  const uint64_t version = options.verify ? worker_.nextVersion() : 0;
  char line[320];
  const int line_length =
      std::snprintf(line, sizeof line, "set %.*s %u 0 %u\r\n", static_cast<int>(key_view.size()),
                    key_view.data(), flagsForVersion(version), plan.value_length);
  const auto line_size = static_cast<size_t>(line_length);
  if (!options.verify && plan.value_length >= kBorrowValueBytes) {
    std::memcpy(out_.reserve(line_size), line, line_size);
    out_.appendBorrowed(worker_.filler().data(), plan.value_length);
    std::memcpy(out_.reserve(kCrLf.size()), kCrLf.data(), kCrLf.size());
    return;
  }
  uint8_t* p = out_.reserve(line_size + plan.value_length + kCrLf.size());
  std::memcpy(p, line, line_size);
  const std::span<uint8_t> value(p + line_size, plan.value_length);
  if (options.verify) {
    encodeValue(keyHash(key_view), version, value);
  } else {
    std::memcpy(value.data(), worker_.filler().data(), value.size());
  }
  std::memcpy(p + line_size + plan.value_length, kCrLf.data(), kCrLf.size());
}

void TextConnection::parse(uint64_t now_ns) {
  if (skip_left_ > 0) {
    const size_t take = std::min(skip_left_, input().size());
    consume(take);
    skip_left_ -= take;
    if (skip_left_ > 0) return;
  }
  while (open() && !input().empty()) {
    if (!hasRequest()) return failWith("reply with no request in flight", input());
    const std::string_view in = input();
    const size_t newline = in.find('\n');
    if (newline == std::string_view::npos) {
      if (in.size() > kMaxReplyLine) return failWith("reply line too long", in);
      return;
    }
    std::string_view line = in.substr(0, newline);
    if (line.ends_with('\r')) line.remove_suffix(1);
    const Step step = oldest().opcode == mcbp::Opcode::Get ? onGetLine(line, newline + 1, now_ns)
                                                           : onSetLine(line, newline + 1, now_ns);
    if (step == Step::kStop) return;
  }
}

TextConnection::Step TextConnection::onGetLine(std::string_view line, size_t line_size,
                                               uint64_t now_ns) {
  if (line.starts_with(kValue)) return onValue(line, line_size);
  if (line == kEnd) {
    for (; cursor_ < oldest().keys; ++cursor_) {
      ++answer_.misses;
      worker_.onMiss(keyAt(cursor_));
    }
  } else if (isErrorLine(line)) {
    // The keys not yet answered count as neither hits nor misses.
    worker_.onErrorReply(line);
  } else {
    failWith("unexpected reply to a get", line);
    return Step::kStop;
  }
  consume(line_size);
  finish(now_ns);
  return Step::kContinue;
}

TextConnection::Step TextConnection::onValue(std::string_view line, size_t line_size) {
  std::string_view tokens[4];  // key flags bytes [cas]
  const size_t n = splitTokens(line.substr(kValue.size()), tokens);
  uint32_t flags = 0;
  uint64_t bytes = 0;
  if (n < 3 || n > 4 || !parseNumber(tokens[1], &flags) || !parseNumber(tokens[2], &bytes) ||
      bytes > kMaxValueBytes) {
    failWith("malformed VALUE line", line);
    return Step::kStop;
  }
  const size_t need = line_size + bytes + kCrLf.size();
  const std::string_view in = input();
  const bool verify = worker_.options().verify;
  if (in.size() < need && (verify || bytes + kCrLf.size() <= kSkipResponseBytes)) {
    ensureReadSpace(need - in.size());  // the line is parsed again when it all arrived
    return Step::kStop;
  }
  uint64_t key_index = 0;
  if (!matchKey(tokens[0], &key_index)) {
    failWith("VALUE for a key not asked (or out of order)", line);
    return Step::kStop;
  }
  ++answer_.hits;
  if (in.size() < need) {  // large and not checked: skip it as it streams in
    skip_left_ = need - in.size();
    consume(in.size());
    return Step::kStop;
  }
  if (in.substr(line_size + bytes, kCrLf.size()) != kCrLf) {
    failWith("data block not followed by \\r\\n", line);
    return Step::kStop;
  }
  if (verify) {
    const auto* data = reinterpret_cast<const uint8_t*>(in.data()) + line_size;
    worker_.checkHit(key_index, flags, {data, bytes});
  }
  consume(need);
  return Step::kContinue;
}

bool TextConnection::matchKey(std::string_view key, uint64_t* key_index) {
  const std::string& prefix = worker_.options().key_prefix;
  if (!key.starts_with(prefix) || key.size() != prefix.size() + worker_.options().key_digits ||
      !parseNumber(key.substr(prefix.size()), key_index)) {
    return false;
  }
  size_t match = cursor_;
  while (match < oldest().keys && keyAt(match) != *key_index) ++match;
  if (match == oldest().keys) return false;
  for (; cursor_ < match; ++cursor_) {
    ++answer_.misses;
    worker_.onMiss(keyAt(cursor_));
  }
  ++cursor_;
  return true;
}

TextConnection::Step TextConnection::onSetLine(std::string_view line, size_t line_size,
                                               uint64_t now_ns) {
  bool known = line == kStored || isErrorLine(line);
  for (std::string_view failure : kSetFailures) known = known || line == failure;
  if (!known) {
    failWith("unexpected reply to a set", line);
    return Step::kStop;
  }
  if (line != kStored) worker_.onErrorReply(line);
  consume(line_size);
  finish(now_ns);
  return Step::kContinue;
}

void TextConnection::finish(uint64_t now_ns) {
  const InFlight request = popOldest();
  answer_.keys = request.keys;
  worker_.onResponse(request, answer_, now_ns);
  answer_ = {};
  cursor_ = 0;
}

void TextConnection::failWith(std::string_view why, std::string_view line) {
  // The server's bytes, printable, for the report.
  char shown[61];
  const size_t n = std::min(line.size(), sizeof shown - 1);
  for (size_t i = 0; i < n; ++i) {
    const char c = line[i];
    shown[i] = c >= 0x20 && c <= 0x7e ? c : '?';
  }
  shown[n] = '\0';
  char message[160];
  std::snprintf(message, sizeof message, "%.*s: \"%s\"", static_cast<int>(why.size()), why.data(),
                shown);
  fail(true, message, 0);
}

}  // namespace memkv::bench
