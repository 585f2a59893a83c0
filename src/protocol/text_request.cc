#include "protocol/text_request.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

namespace memkv::text {
namespace {

// memcached tokenizes into at most 24 slots; every command that counts
// tokens rejects lines anywhere near that long, so the cap only bounds work.
constexpr size_t kMaxTokens = 24;

static_assert(std::endian::native == std::endian::little, "findSpace reads words little-endian");

// The first ' ' in [p, end), or end. Eight bytes per step: keys and numbers
// are mostly longer than a word, and this is the parser's inner loop.
const char* findSpace(const char* p, const char* end) {
  constexpr uint64_t kOnes = 0x0101010101010101;
  constexpr uint64_t kHighBits = 0x8080808080808080;
  while (end - p >= 8) {
    uint64_t word;
    std::memcpy(&word, p, sizeof word);
    const uint64_t x = word ^ (kOnes * ' ');
    // Exact for the lowest zero byte of x, which is all countr_zero reads.
    const uint64_t zero = (x - kOnes) & ~x & kHighBits;
    if (zero != 0) return p + (std::countr_zero(zero) >> 3);
    p += 8;
  }
  while (p < end && *p != ' ') ++p;
  return p;
}

const char* skipSpaces(const char* p, const char* end) {
  while (p < end && *p == ' ') ++p;
  return p;
}

// Whether a run of non-space bytes in `keys` is longer than a key may be: a
// multiget's whole line is checked in one pass, eight bytes per step.
bool hasLongKey(std::string_view keys) {
  constexpr uint64_t kLow7 = 0x7f7f7f7f7f7f7f7f;
  const char* p = keys.data();
  const char* const end = p + keys.size();
  size_t run = 0;  // non-space bytes since the last space
  while (end - p >= 8) {
    uint64_t word;
    std::memcpy(&word, p, sizeof word);
    const uint64_t x = word ^ 0x2020202020202020;
    // 0x80 in exactly the bytes that were spaces.
    const uint64_t spaces = ~(((x & kLow7) + kLow7) | x | kLow7);
    if (spaces == 0) {
      run += 8;
    } else {
      if (run + (std::countr_zero(spaces) >> 3) > kMaxKeyLength) return true;
      run = std::countl_zero(spaces) >> 3;  // bytes after the word's last space
    }
    if (run > kMaxKeyLength) return true;
    p += 8;
  }
  for (; p < end; ++p) {
    run = *p == ' ' ? 0 : run + 1;
    if (run > kMaxKeyLength) return true;
  }
  return false;
}

// The tokens of a line. Only [0, count) of the token arrays is ever read, so
// they are left uninitialised (this struct is built once per command).
struct Line {
  Line() {}  // NOLINT(modernize-use-equals-default): keeps the arrays uninitialised
  std::string_view token(size_t i) const { return {token_data[i], token_size[i]}; }

  const char* token_data[kMaxTokens];
  size_t token_size[kMaxTokens];
  size_t count = 0;       // saturates at kMaxTokens
  std::string_view last;  // the last token, even past the cap
  std::string_view text;  // the line without "\r\n", leading spaces skipped
};

void tokenize(std::string_view text, Line* line) {
  const char* const end = text.data() + text.size();
  const char* p = skipSpaces(text.data(), end);
  line->text = {p, static_cast<size_t>(end - p)};
  while (p < end) {
    const char* const start = p;
    p = findSpace(p, end);
    const size_t size = static_cast<size_t>(p - start);
    if (line->count < kMaxTokens) {
      line->token_data[line->count] = start;
      line->token_size[line->count] = size;
      ++line->count;
    }
    line->last = {start, size};
    p = skipSpaces(p, end);
  }
}

// C's isspace() in the "C" locale, minus the space that cannot be in a token.
bool isCSpace(char c) {
  return c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// The strtoull/strtol grammar memcached's safe_strto* use: leading white
// space, a sign, at least one digit, then the end or a white space character.
// `magnitude` overflowing 64 bits is ERANGE.
struct CNumber {
  bool ok = false;
  bool negative = false;
  uint64_t magnitude = 0;
};

CNumber scanCNumber(std::string_view s) {
  CNumber n;
  size_t i = 0;
  while (i < s.size() && isCSpace(s[i])) ++i;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) n.negative = s[i++] == '-';
  const size_t digits_start = i;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    const uint64_t d = static_cast<uint64_t>(s[i] - '0');
    if (n.magnitude > (std::numeric_limits<uint64_t>::max() - d) / 10) return n;
    n.magnitude = n.magnitude * 10 + d;
  }
  if (i == digits_start) return n;
  if (i < s.size() && !isCSpace(s[i])) return n;
  n.ok = true;
  return n;
}

// safe_strtoull: strtoull wraps a negative input; memcached refuses it only
// when the wrapped value looks negative as a signed number.
bool parseU64(std::string_view s, uint64_t* out) {
  const CNumber n = scanCNumber(s);
  if (!n.ok) return false;
  const uint64_t v = n.negative ? 0 - n.magnitude : n.magnitude;
  if (n.negative && static_cast<int64_t>(v) < 0) return false;
  *out = v;
  return true;
}

// safe_strtoul on LP64: the same, then truncated to 32 bits.
bool parseU32(std::string_view s, uint32_t* out) {
  uint64_t v = 0;
  if (!parseU64(s, &v)) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

// safe_strtol on LP64: a 64-bit strtol, then truncated to 32 bits.
bool parseI32(std::string_view s, int32_t* out) {
  const CNumber n = scanCNumber(s);
  if (!n.ok) return false;
  const uint64_t limit = n.negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  if (n.magnitude > limit) return false;
  const uint64_t v = n.negative ? 0 - n.magnitude : n.magnitude;
  *out = static_cast<int32_t>(static_cast<uint32_t>(v));
  return true;
}

bool isNoreply(const Line& line) {
  return line.last == "noreply";
}

ParseResult error(std::string_view reply, size_t consumed, bool noreply = false) {
  ParseResult r;
  r.status = ParseStatus::kError;
  r.consumed = consumed;
  r.reply = noreply ? std::string_view{} : reply;
  return r;
}

ParseResult command(size_t consumed) {
  ParseResult r;
  r.status = ParseStatus::kCommand;
  r.consumed = consumed;
  return r;
}

// Once the line is understood, the data block decides: wait for it, accept
// it, or reject a block that does not end in "\r\n" (consuming it whole).
ParseResult dataBlock(size_t input_size, const char* base, size_t line_size, TextCommand* out,
                      bool always_report) {
  out->value_offset = line_size;
  const size_t total = line_size + out->value_length + 2;
  if (input_size < total) {
    ParseResult r;
    r.needed = total;
    return r;
  }
  if (base[total - 2] != '\r' || base[total - 1] != '\n') {
    return error(kBadDataChunk, total, out->noreply && !always_report);
  }
  return command(total);
}

struct CommandName {
  std::string_view name;
  CommandKind kind;
};

constexpr CommandName kCommands[] = {
    {"get", CommandKind::kGet},
    {"bget", CommandKind::kGet},
    {"gets", CommandKind::kGets},
    {"gat", CommandKind::kGat},
    {"gats", CommandKind::kGats},
    {"set", CommandKind::kSet},
    {"add", CommandKind::kAdd},
    {"replace", CommandKind::kReplace},
    {"append", CommandKind::kAppend},
    {"prepend", CommandKind::kPrepend},
    {"cas", CommandKind::kCas},
    {"delete", CommandKind::kDelete},
    {"incr", CommandKind::kIncr},
    {"decr", CommandKind::kDecr},
    {"touch", CommandKind::kTouch},
    {"flush_all", CommandKind::kFlushAll},
    {"version", CommandKind::kVersion},
    {"verbosity", CommandKind::kVerbosity},
    {"quit", CommandKind::kQuit},
    {"shutdown", CommandKind::kShutdown},
    {"cache_memlimit", CommandKind::kCacheMemlimit},
    {"stats", CommandKind::kStats},
    {"refresh_certs", CommandKind::kRefreshCerts},
    {"mn", CommandKind::kMetaNoop},
    {"mg", CommandKind::kMetaGet},
    {"ms", CommandKind::kMetaSet},
    {"md", CommandKind::kMetaDelete},
    {"ma", CommandKind::kMetaArithmetic},
    {"me", CommandKind::kMetaDebug},
};

bool lookupCommand(std::string_view name, CommandKind* kind) {
  // The two commands nearly every request uses, before the table walk.
  if (name == "get") {
    *kind = CommandKind::kGet;
    return true;
  }
  if (name == "set") {
    *kind = CommandKind::kSet;
    return true;
  }
  for (const CommandName& c : kCommands) {
    if (c.name == name) {
      *kind = c.kind;
      return true;
    }
  }
  return false;
}

std::string_view restAfterFirstToken(const Line& line) {
  std::string_view rest = line.text.substr(line.token(0).size());
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
  return rest;
}

// `args`: the line after the command name. Not tokenized: a get line holds
// up to thousands of keys, walked here once only if one could be too long.
ParseResult parseRetrieval(std::string_view args, size_t consumed, TextCommand* out) {
  const bool touch = out->kind == CommandKind::kGat || out->kind == CommandKind::kGats;
  const char* end = args.data() + args.size();
  const char* p = skipSpaces(args.data(), end);
  while (end > p && end[-1] == ' ') --end;
  if (p == end) return error(kErrorLine, consumed);  // no token after the name
  if (touch) {
    const char* exptime_end = findSpace(p, end);
    if (!parseI32({p, static_cast<size_t>(exptime_end - p)}, &out->exptime)) {
      return error(kBadExptime, consumed);
    }
    p = skipSpaces(exptime_end, end);
  }
  out->keys = {p, static_cast<size_t>(end - p)};
  // 1.6.18: a key over 250 bytes anywhere fails the whole line.
  if (out->keys.size() > kMaxKeyLength && hasLongKey(out->keys)) {
    return error(kBadFormat, consumed);
  }
  return command(consumed);
}

ParseResult parseStorage(const Line& line, std::span<const uint8_t> input, size_t consumed,
                         TextCommand* out) {
  const bool cas = out->kind == CommandKind::kCas;
  const size_t base = cas ? 6 : 5;
  if (line.count != base && line.count != base + 1) return error(kErrorLine, consumed);
  out->noreply = isNoreply(line);
  out->key = line.token(1);
  if (out->key.size() > kMaxKeyLength) return error(kBadFormat, consumed, out->noreply);
  int32_t length = 0;
  if (!parseU32(line.token(2), &out->flags) || !parseI32(line.token(3), &out->exptime) ||
      !parseI32(line.token(4), &length)) {
    return error(kBadFormat, consumed, out->noreply);
  }
  if (cas && !parseU64(line.token(5), &out->cas)) return error(kBadFormat, consumed, out->noreply);
  if (length < 0 || length > kMaxValueLength) return error(kBadFormat, consumed, out->noreply);
  out->value_length = static_cast<uint32_t>(length);
  return dataBlock(input.size(), reinterpret_cast<const char*>(input.data()), consumed, out, false);
}

ParseResult parseDelete(const Line& line, size_t consumed, TextCommand* out) {
  if (line.count < 2 || line.count > 4) return error(kErrorLine, consumed);
  out->key = line.token(1);
  if (line.count > 2) {
    // The legacy "delete <key> 0 [noreply]" form is the only extra allowed.
    const bool hold_is_zero = line.token(2) == "0";
    out->noreply = isNoreply(line);
    const bool valid = (line.count == 3 && (hold_is_zero || out->noreply)) ||
                       (line.count == 4 && hold_is_zero && out->noreply);
    if (!valid) return error(kDeleteUsage, consumed, out->noreply);
  }
  if (out->key.size() > kMaxKeyLength) return error(kBadFormat, consumed, out->noreply);
  return command(consumed);
}

ParseResult parseArithmeticOrTouch(const Line& line, size_t consumed, TextCommand* out) {
  if (line.count != 3 && line.count != 4) return error(kErrorLine, consumed);
  out->noreply = isNoreply(line);
  out->key = line.token(1);
  if (out->key.size() > kMaxKeyLength) return error(kBadFormat, consumed, out->noreply);
  if (out->kind == CommandKind::kTouch) {
    if (!parseI32(line.token(2), &out->exptime)) {
      return error(kBadExptime, consumed, out->noreply);
    }
  } else if (!parseU64(line.token(2), &out->delta)) {
    return error(kBadDelta, consumed, out->noreply);
  }
  return command(consumed);
}

ParseResult parseAdmin(const Line& line, size_t consumed, TextCommand* out) {
  switch (out->kind) {
    case CommandKind::kFlushAll:
      if (line.count > 3) return error(kErrorLine, consumed);
      out->noreply = isNoreply(line);
      // A delay is read whenever a token other than a last "noreply" exists.
      if (line.count != (out->noreply ? 2u : 1u) && !parseI32(line.token(1), &out->exptime)) {
        return error(kBadExptime, consumed, out->noreply);
      }
      return command(consumed);
    case CommandKind::kVerbosity:
    case CommandKind::kCacheMemlimit:
      if (line.count != 2 && line.count != 3) return error(kErrorLine, consumed);
      out->noreply = isNoreply(line);
      if (!parseU32(line.token(1), &out->number)) {
        return error(out->kind == CommandKind::kVerbosity ? kBadFormat : kErrorLine, consumed,
                     out->noreply);
      }
      return command(consumed);
    case CommandKind::kShutdown:
      // Whether shutdown is enabled is checked first, by the server, so an
      // invalid mode is reported through `shutdown`, not as an error here.
      out->args = restAfterFirstToken(line);
      out->shutdown = line.count == 1                                  ? ShutdownMode::kImmediate
                      : line.count == 2 && line.token(1) == "graceful" ? ShutdownMode::kGraceful
                                                                       : ShutdownMode::kInvalid;
      return command(consumed);
    default:  // version, quit, stats: any token count
      out->args = restAfterFirstToken(line);
      return command(consumed);
  }
}

// The flags every meta command accepts (1.6.18, plus E and x from 1.6.27).
bool knownMetaFlag(char c) {
  return c != 0 && std::string_view("bNTRlOPLkstcfvhuqFCMJDIEx").find(c) != std::string_view::npos;
}

bool validBase64Key(std::string_view key) {
  std::array<uint8_t, kMaxKeyLength> scratch;
  return decodeBase64Key(key, scratch) != 0;
}

// memcached checks meta flags in two passes, and the reply depends on it:
//   1. a pass over all flags: an unknown or repeated flag stops it at once;
//      a bad argument (b, N, T, R, C, E, M length, J, D) is noted and the
//      pass goes on, so the last such note is the reply;
//   2. then F's number, then the ms/ma mode letter, then the opaque length.
// md and ma answer every error of (1) and F with one generic string.
std::string_view parseMetaFlags(const Line& line, size_t first, TextCommand* out) {
  MetaFlags& m = out->meta;
  std::array<bool, 128> seen{};
  std::string_view noted;
  bool bad_client_flags = false;
  bool long_opaque = false;
  for (size_t i = first; i < line.count; ++i) {
    const std::string_view token = line.token(i);
    const auto letter = static_cast<unsigned char>(token[0]);
    if (letter >= 127 || seen[letter]) return kDuplicateFlag;
    seen[letter] = true;
    const char c = static_cast<char>(letter);
    if (!knownMetaFlag(c)) return kInvalidFlag;
    m.present |= uint64_t{1} << MetaFlags::bit(c);
    m.order[m.count++] = c;
    const std::string_view arg = token.substr(1);
    switch (c) {
      case 'b':
        if (!validBase64Key(out->key)) noted = kBadKeyEncoding;
        break;
      case 'N':
        if (!parseI32(arg, &m.vivify_ttl)) noted = kBadToken;
        break;
      case 'T':
        if (!parseI32(arg, &m.ttl)) noted = kBadToken;
        break;
      case 'R':
        if (!parseI32(arg, &m.recache_ttl)) noted = kBadToken;
        break;
      case 'C':
        if (!parseU64(arg, &m.compare_cas)) noted = kBadToken;
        break;
      case 'E':
        if (!parseU64(arg, &m.new_cas)) noted = kBadToken;
        break;
      case 'M':
        if (token.size() != 2) {
          noted = kBadModeLength;
        } else {
          m.mode = token[1];
        }
        break;
      case 'J':
        if (!parseU64(arg, &m.initial)) noted = kBadInitial;
        break;
      case 'D':
        if (!parseU64(arg, &m.delta)) noted = kBadMetaDelta;
        break;
      case 'F':
        if (!parseU32(arg, &m.client_flags)) bad_client_flags = true;
        break;
      case 'O':
        m.opaque = arg;
        if (token.size() > kMaxOpaqueToken) long_opaque = true;
        break;
      default:
        break;
    }
  }
  if (!noted.empty()) return noted;
  if (bad_client_flags) return kBadFormat;
  if (m.mode != 0 && out->kind == CommandKind::kMetaSet &&
      std::string_view("SEAPR").find(m.mode) == std::string_view::npos) {
    return kBadMsMode;
  }
  if (m.mode != 0 && out->kind == CommandKind::kMetaArithmetic &&
      std::string_view("I+D-").find(m.mode) == std::string_view::npos) {
    return kBadMaMode;
  }
  if (long_opaque) return kOpaqueTooLong;
  return {};
}

ParseResult parseMetaDebug(const Line& line, size_t consumed, TextCommand* out) {
  if (line.count < 2) return error(kBadFormat, consumed);
  out->key = line.token(1);
  if (out->key.size() > kMaxKeyLength) return error(kBadFormat, consumed);
  if (line.count >= 3 && line.token(2) == "b") {
    if (!validBase64Key(out->key)) return error(kBadFormat, consumed);
    out->meta.present |= uint64_t{1} << MetaFlags::bit('b');
  }
  return command(consumed);
}

ParseResult parseMeta(const Line& line, std::span<const uint8_t> input, size_t consumed,
                      TextCommand* out) {
  if (out->kind == CommandKind::kMetaNoop) return command(consumed);
  if (out->kind == CommandKind::kMetaDebug) return parseMetaDebug(line, consumed, out);
  if (line.count < 2) return error(kErrorLine, consumed);
  out->key = line.token(1);
  if (out->key.size() > kMaxKeyLength) return error(kBadFormat, consumed);
  const bool set = out->kind == CommandKind::kMetaSet;
  if (set && line.count == 2) return error(kBadFormat, consumed);
  if (line.count >= kMaxMetaTokens) {
    return error(out->kind == CommandKind::kMetaGet ? kMgFlagsTooLong : kFlagsTooLong, consumed);
  }
  if (set) {
    int32_t length = 0;
    if (!parseI32(line.token(2), &length) || length < 0 || length > kMaxValueLength) {
      return error(kBadFormat, consumed);
    }
    out->value_length = static_cast<uint32_t>(length);
  }
  std::string_view reply = parseMetaFlags(line, set ? 3 : 2, out);
  if (!reply.empty()) {
    const bool generic =
        (out->kind == CommandKind::kMetaDelete || out->kind == CommandKind::kMetaArithmetic) &&
        reply != kBadMaMode && reply != kOpaqueTooLong;
    ParseResult r = error(generic ? kInvalidOrDuplicateFlag : reply, consumed);
    // The line was understood, so the payload is skipped as it arrives.
    if (set) r.swallow = size_t{out->value_length} + 2;
    return r;
  }
  if (set) {
    return dataBlock(input.size(), reinterpret_cast<const char*>(input.data()), consumed, out,
                     true);
  }
  return command(consumed);
}

// More than 2048 bytes and still no newline: memcached keeps reading only a
// get/gets line (a long multiget) behind at most 100 spaces.
bool longLineMayContinue(std::string_view buffered) {
  size_t spaces = 0;
  while (spaces < buffered.size() && buffered[spaces] == ' ') ++spaces;
  if (spaces > kMaxLeadingSpaces) return false;
  const std::string_view rest = buffered.substr(spaces);
  return rest.starts_with("get ") || rest.starts_with("gets ");
}

}  // namespace

ParseResult parseTextCommand(std::span<const uint8_t> input, TextCommand* out) {
  const auto* base = reinterpret_cast<const char*>(input.data());
  const std::string_view buffered(base, input.size());
  const size_t newline = buffered.find('\n');
  if (newline == std::string_view::npos) {
    ParseResult r;
    if (input.size() > kMaxBufferedWithoutNewline && !longLineMayContinue(buffered)) {
      r.status = ParseStatus::kClose;
    }
    return r;
  }
  const size_t consumed = newline + 1;
  std::string_view text = buffered.substr(0, newline);
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);

  *out = TextCommand{};
  // The command name first: get lines skip the tokenizer.
  const char* const end = text.data() + text.size();
  const char* const name = skipSpaces(text.data(), end);
  const char* const name_end = findSpace(name, end);
  // An empty line and one-letter commands are unknown, never a probe.
  if (name == end) return error(kErrorLine, consumed);
  const bool known = lookupCommand({name, static_cast<size_t>(name_end - name)}, &out->kind);
  if (known && (out->kind == CommandKind::kGet || out->kind == CommandKind::kGets ||
                out->kind == CommandKind::kGat || out->kind == CommandKind::kGats)) {
    return parseRetrieval({name_end, static_cast<size_t>(end - name_end)}, consumed, out);
  }
  Line line;
  tokenize(text, &line);
  if (!known) {
    if (line.last.starts_with("HTTP/")) {
      ParseResult r;
      r.status = ParseStatus::kClose;
      return r;
    }
    return error(kErrorLine, consumed);
  }
  switch (out->kind) {
    case CommandKind::kSet:
    case CommandKind::kAdd:
    case CommandKind::kReplace:
    case CommandKind::kAppend:
    case CommandKind::kPrepend:
    case CommandKind::kCas:
      return parseStorage(line, input, consumed, out);
    case CommandKind::kDelete:
      return parseDelete(line, consumed, out);
    case CommandKind::kIncr:
    case CommandKind::kDecr:
    case CommandKind::kTouch:
      return parseArithmeticOrTouch(line, consumed, out);
    case CommandKind::kMetaNoop:
    case CommandKind::kMetaGet:
    case CommandKind::kMetaSet:
    case CommandKind::kMetaDelete:
    case CommandKind::kMetaArithmetic:
    case CommandKind::kMetaDebug:
      return parseMeta(line, input, consumed, out);
    default:
      return parseAdmin(line, consumed, out);
  }
}

bool KeyCursor::next(std::string_view* key) {
  const char* end = rest_.data() + rest_.size();
  const char* p = skipSpaces(rest_.data(), end);
  if (p == end) {
    rest_ = {};
    return false;
  }
  const char* key_end = findSpace(p, end);
  *key = {p, static_cast<size_t>(key_end - p)};
  // Trailing spaces go now, so done() is exact.
  p = skipSpaces(key_end, end);
  rest_ = {p, static_cast<size_t>(end - p)};
  return true;
}

namespace {

int base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

size_t decodeBase64Key(std::string_view in, std::span<uint8_t> out) {
  if (in.empty() || in.size() % 4 != 0) return 0;
  size_t n = 0;
  for (size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      const char c = in[i + j];
      if (c == '=' && last && j >= 2) {
        v[j] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) return 0;  // data after padding
      v[j] = base64Value(c);
      if (v[j] < 0) return 0;
    }
    const uint32_t bits =
        (uint32_t(v[0]) << 18) | (uint32_t(v[1]) << 12) | (uint32_t(v[2]) << 6) | uint32_t(v[3]);
    const size_t produced = 3 - static_cast<size_t>(pad);
    if (n + produced > out.size()) return 0;
    out[n++] = static_cast<uint8_t>(bits >> 16);
    if (produced > 1) out[n++] = static_cast<uint8_t>(bits >> 8);
    if (produced > 2) out[n++] = static_cast<uint8_t>(bits);
  }
  return n;
}

size_t encodeBase64Key(std::string_view in, std::span<char> out) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t n = 0;
  for (size_t i = 0; i < in.size(); i += 3) {
    const size_t left = in.size() - i;
    uint32_t bits = uint32_t(static_cast<uint8_t>(in[i])) << 16;
    if (left > 1) bits |= uint32_t(static_cast<uint8_t>(in[i + 1])) << 8;
    if (left > 2) bits |= static_cast<uint8_t>(in[i + 2]);
    if (n + 4 > out.size()) return n;
    out[n++] = kAlphabet[(bits >> 18) & 63];
    out[n++] = kAlphabet[(bits >> 12) & 63];
    out[n++] = left > 1 ? kAlphabet[(bits >> 6) & 63] : '=';
    out[n++] = left > 2 ? kAlphabet[bits & 63] : '=';
  }
  return n;
}

}  // namespace memkv::text
