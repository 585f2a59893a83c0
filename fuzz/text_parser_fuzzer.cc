// Feeds arbitrary bytes to the memcached text/meta parser the way a
// TextSession will (parse, drop `consumed`, skip `swallow`, repeat) and traps
// on any broken invariant:
//   - every view (key, keys, args, opaque, value) lies inside the input, and
//     consumed never exceeds it;
//   - kNeedMore means no complete line, or a data block still short of
//     `needed`; kClose means a probe line or more than 2048 bytes of a non-get
//     line without a newline;
//   - a kCommand keeps the contracts the executors will rely on: keys of at
//     most 250 bytes without spaces, a data block followed by "\r\n", meta
//     flags recorded once each, base64 keys that decode;
//   - an error reply is a whole memcached reply line (or empty: noreply);
//   - split consistency: any prefix shorter than what a command consumed
//     asks for more (or closes for the 2048 rule), and the exact bytes of the
//     command parse to the same verdict.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "protocol/text_request.h"

namespace {

using memkv::text::CommandKind;
using memkv::text::KeyCursor;
using memkv::text::ParseResult;
using memkv::text::ParseStatus;
using memkv::text::TextCommand;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void checkInside(std::string_view view, std::span<const uint8_t> input) {
  if (view.empty()) return;
  const auto* p = reinterpret_cast<const uint8_t*>(view.data());
  check(p >= input.data() && p + view.size() <= input.data() + input.size());
}

bool isRetrieval(CommandKind k) {
  return k == CommandKind::kGet || k == CommandKind::kGets || k == CommandKind::kGat ||
         k == CommandKind::kGats;
}

bool hasValue(CommandKind k) {
  return k == CommandKind::kSet || k == CommandKind::kAdd || k == CommandKind::kReplace ||
         k == CommandKind::kAppend || k == CommandKind::kPrepend || k == CommandKind::kCas ||
         k == CommandKind::kMetaSet;
}

void checkCommand(const TextCommand& c, const ParseResult& r, std::span<const uint8_t> input) {
  checkInside(c.key, input);
  checkInside(c.keys, input);
  checkInside(c.args, input);
  checkInside(c.meta.opaque, input);
  check(c.key.size() <= memkv::text::kMaxKeyLength);
  check(c.key.find(' ') == std::string_view::npos);
  if (isRetrieval(c.kind)) {
    KeyCursor cursor(c.keys);
    std::string_view key;
    while (cursor.next(&key)) {
      checkInside(key, input);
      check(!key.empty() && key.size() <= memkv::text::kMaxKeyLength);
      check(key.find(' ') == std::string_view::npos);
    }
  }
  if (hasValue(c.kind)) {
    const size_t end = c.value_offset + c.value_length;
    check(end + 2 == r.consumed);
    check(input[end] == '\r' && input[end + 1] == '\n');
    check(input[c.value_offset - 1] == '\n');
  } else {
    check(input[r.consumed - 1] == '\n');
  }
  check(c.meta.count < memkv::text::kMaxMetaTokens);
  for (size_t i = 0; i < c.meta.count; ++i) {
    check(c.meta.has(c.meta.order[i]));
    for (size_t j = 0; j < i; ++j) check(c.meta.order[i] != c.meta.order[j]);
  }
  if (c.meta.has('b')) {
    std::array<uint8_t, memkv::text::kMaxKeyLength> key;
    const size_t n = memkv::text::decodeBase64Key(c.key, key);
    check(n != 0);
    // mg k answers a base64 key re-encoded: it must decode to the same bytes.
    std::array<char, memkv::text::kMaxBase64KeyLength> encoded;
    const size_t e =
        memkv::text::encodeBase64Key({reinterpret_cast<const char*>(key.data()), n}, encoded);
    std::array<uint8_t, memkv::text::kMaxKeyLength> again;
    check(e == (n + 2) / 3 * 4 && memkv::text::decodeBase64Key({encoded.data(), e}, again) == n &&
          std::equal(key.begin(), key.begin() + n, again.begin()));
  }
}

void checkResult(const ParseResult& r, const TextCommand& c, std::span<const uint8_t> input) {
  const std::string_view text(reinterpret_cast<const char*>(input.data()), input.size());
  const size_t newline = text.find('\n');
  switch (r.status) {
    case ParseStatus::kNeedMore:
      check(r.needed == 0 ? newline == std::string_view::npos : r.needed > input.size());
      break;
    case ParseStatus::kClose:
      check(newline != std::string_view::npos ||
            input.size() > memkv::text::kMaxBufferedWithoutNewline);
      break;
    case ParseStatus::kError:
      check(r.consumed > newline && r.consumed <= input.size());
      check(r.reply.empty() || r.reply.ends_with("\r\n"));
      check(r.reply.empty() || r.reply.starts_with("ERROR") ||
            r.reply.starts_with("CLIENT_ERROR "));
      check(r.swallow == 0 || c.kind == CommandKind::kMetaSet);
      break;
    case ParseStatus::kCommand:
      check(r.consumed > newline && r.consumed <= input.size());
      check(r.swallow == 0 && r.reply.empty());
      checkCommand(c, r, input);
      break;
  }
}

void checkSplits(const ParseResult& full, const TextCommand& full_cmd,
                 std::span<const uint8_t> input) {
  // Every cut of a short command, a spread of cuts of a long one.
  const size_t step = full.consumed <= 512 ? 1 : full.consumed / 256;
  for (size_t cut = 0; cut < full.consumed; cut += step) {
    TextCommand c;
    const ParseResult r = memkv::text::parseTextCommand(input.first(cut), &c);
    check(r.status == ParseStatus::kNeedMore ||
          (r.status == ParseStatus::kClose && cut > memkv::text::kMaxBufferedWithoutNewline));
  }
  TextCommand c;
  const ParseResult exact = memkv::text::parseTextCommand(input.first(full.consumed), &c);
  check(exact.status == full.status && exact.consumed == full.consumed);
  check(exact.swallow == full.swallow && exact.reply == full.reply);
  if (full.status == ParseStatus::kCommand) {
    check(c.kind == full_cmd.kind && c.key == full_cmd.key && c.keys == full_cmd.keys);
    check(c.value_length == full_cmd.value_length && c.meta.present == full_cmd.meta.present);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> all(data, size);
  size_t offset = 0;
  while (offset < size) {
    const std::span<const uint8_t> input = all.subspan(offset);
    TextCommand c;
    const ParseResult r = memkv::text::parseTextCommand(input, &c);
    checkResult(r, c, input);
    if (r.status == ParseStatus::kNeedMore || r.status == ParseStatus::kClose) return 0;
    checkSplits(r, c, input);
    offset += r.consumed + r.swallow;  // a swallow may run past the end
  }
  return 0;
}
