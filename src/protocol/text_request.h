#pragma once
// memcached's ASCII protocols (classic text and meta) as a pure parser: bytes
// in, a verdict and a view out. No I/O, no engine, no allocation. Behaviour
// follows memcached 1.6.18 byte for byte (token counts, error strings, what is
// swallowed); the meta flags E and x (1.6.27) and ms s/N (1.6.20) are also
// accepted, the rest of the later changes are not.
//
// Intended wiring (not done yet): the connection picks its session on the
// first byte received, 0x80 -> McbpSession, anything else -> a TextSession
// beside it. TextSession loops parseTextCommand() over its unconsumed input:
//   kNeedMore: read more (`needed`, when set, is the total to wait for, so a
//              value's buffer can be reserved once, or a too-large value be
//              refused early: reply, drop the line, swallow bytes + 2);
//   kClose:    close without a reply;
//   kError:    queue `reply` (may be empty: noreply), drop `consumed`, then
//              discard `swallow` more bytes as they arrive;
//   kCommand:  run it, drop `consumed`.
// Executors stay protocol-neutral: TextSession maps a TextCommand onto the same
// engine calls the MCBP executors make, and a text response encoder writes the
// replies (VALUE/VA lines, return flags in request order) into the same
// OutputChain, so large values go by reference exactly as for MCBP. Views in a
// TextCommand point into `input` and die with it.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace memkv::text {

inline constexpr size_t kMaxKeyLength = 250;
// More than this many bytes without a '\n': close, unless the line is a get/gets.
inline constexpr size_t kMaxBufferedWithoutNewline = 2048;
// ...and a get/gets line is only recognised behind at most this many spaces.
inline constexpr size_t kMaxLeadingSpaces = 100;
// Meta: command + key + flags (ms: + datalen) must stay below this many tokens.
inline constexpr size_t kMaxMetaTokens = 20;
// The O token including its letter.
inline constexpr size_t kMaxOpaqueToken = 32;
// A data block holds at most INT_MAX - 2 bytes (memcached adds the "\r\n").
inline constexpr int64_t kMaxValueLength = 2147483645;

// Reply strings the parser produces (memcached's exact texts).
inline constexpr std::string_view kErrorLine = "ERROR\r\n";
inline constexpr std::string_view kBadFormat = "CLIENT_ERROR bad command line format\r\n";
inline constexpr std::string_view kBadDataChunk = "CLIENT_ERROR bad data chunk\r\n";
inline constexpr std::string_view kBadExptime = "CLIENT_ERROR invalid exptime argument\r\n";
inline constexpr std::string_view kBadDelta = "CLIENT_ERROR invalid numeric delta argument\r\n";
inline constexpr std::string_view kDeleteUsage =
    "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n";
inline constexpr std::string_view kInvalidFlag = "CLIENT_ERROR invalid flag\r\n";
inline constexpr std::string_view kDuplicateFlag = "CLIENT_ERROR duplicate flag\r\n";
inline constexpr std::string_view kInvalidOrDuplicateFlag =
    "CLIENT_ERROR invalid or duplicate flag\r\n";
inline constexpr std::string_view kBadToken = "CLIENT_ERROR bad token in command line format\r\n";
inline constexpr std::string_view kBadInitial = "CLIENT_ERROR invalid numeric initial value\r\n";
inline constexpr std::string_view kBadMetaDelta = "CLIENT_ERROR invalid numeric delta value\r\n";
inline constexpr std::string_view kBadKeyEncoding = "CLIENT_ERROR error decoding key\r\n";
inline constexpr std::string_view kMgFlagsTooLong = "CLIENT_ERROR options flags are too long\r\n";
inline constexpr std::string_view kFlagsTooLong = "CLIENT_ERROR options flags too long\r\n";
inline constexpr std::string_view kOpaqueTooLong = "CLIENT_ERROR opaque token too long\r\n";
inline constexpr std::string_view kBadModeLength = "CLIENT_ERROR incorrect length for M token\r\n";
inline constexpr std::string_view kBadMsMode = "CLIENT_ERROR invalid mode for ms M token\r\n";
inline constexpr std::string_view kBadMaMode = "CLIENT_ERROR invalid mode for ma M token\r\n";

enum class ParseStatus : uint8_t { kNeedMore, kClose, kError, kCommand };

enum class CommandKind : uint8_t {
  kGet,  // also memcached's alias "bget"
  kGets,
  kGat,
  kGats,
  kSet,
  kAdd,
  kReplace,
  kAppend,
  kPrepend,
  kCas,
  kDelete,
  kIncr,
  kDecr,
  kTouch,
  kFlushAll,
  kVersion,
  kVerbosity,
  kQuit,
  kShutdown,
  kCacheMemlimit,
  kStats,
  kRefreshCerts,    // refresh_certs: reload the TLS certificate and key
  kMetaNoop,        // mn
  kMetaGet,         // mg
  kMetaSet,         // ms
  kMetaDelete,      // md
  kMetaArithmetic,  // ma
  kMetaDebug,       // me
};

// Meta flags in the order the client sent them (return flags are echoed in
// that order) plus the decoded tokens. A flag absent from `present` leaves its
// field at the default shown.
struct MetaFlags {
  uint64_t present = 0;
  std::array<char, kMaxMetaTokens> order{};
  uint8_t count = 0;
  std::string_view opaque;    // O: the token after the letter
  int32_t ttl = 0;            // T
  int32_t vivify_ttl = 0;     // N
  int32_t recache_ttl = 0;    // R
  uint64_t compare_cas = 0;   // C
  uint64_t new_cas = 0;       // E (1.6.27)
  uint32_t client_flags = 0;  // F
  uint64_t delta = 1;         // D
  uint64_t initial = 0;       // J
  char mode = 0;              // M: the mode letter, already validated for ms/ma

  // Bit of a flag letter in `present`; only letters are flags.
  static constexpr int bit(char flag) { return flag >= 'a' ? 26 + (flag - 'a') : flag - 'A'; }
  static constexpr bool isLetter(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
  }
  bool has(char flag) const { return isLetter(flag) && ((present >> bit(flag)) & 1); }
};

enum class ShutdownMode : uint8_t { kImmediate, kGraceful, kInvalid };

// A parsed command: views into the caller's input.
struct TextCommand {
  CommandKind kind = CommandKind::kVersion;
  // Single-key commands. Meta with the b flag: the base64 text, already checked
  // to decode (decodeBase64Key gives the bytes).
  std::string_view key;
  // get/gets/gat/gats: the space-separated keys, each checked <= 250 bytes;
  // walk them with KeyCursor. May be empty for gat/gats (memcached: END).
  std::string_view keys;
  // stats/shutdown: everything after the command word, trimmed.
  std::string_view args;
  uint32_t flags = 0;         // storage: client flags (memcached truncates to 32 bits)
  int32_t exptime = 0;        // storage, touch, gat/gats, flush_all (0 when absent)
  uint32_t value_length = 0;  // storage and ms: the data block, without "\r\n"
  size_t value_offset = 0;    // storage and ms: where the data block starts in input
  uint64_t cas = 0;           // cas
  uint64_t delta = 0;         // incr/decr
  uint32_t number = 0;        // verbosity level, cache_memlimit megabytes
  ShutdownMode shutdown = ShutdownMode::kImmediate;
  bool noreply = false;  // classic commands only; meta uses q
  MetaFlags meta;

  std::span<const uint8_t> value(std::span<const uint8_t> input) const {
    return input.subspan(value_offset, value_length);
  }
};

struct ParseResult {
  ParseStatus status = ParseStatus::kNeedMore;
  size_t consumed = 0;     // kError/kCommand: bytes of input to drop now
  size_t swallow = 0;      // kError: further bytes to discard (an ms payload)
  size_t needed = 0;       // kNeedMore: total input length to wait for, 0 if unknown
  std::string_view reply;  // kError: the exact reply, empty when noreply hides it
};

// Parses the first command in `input`. On kNeedMore with `needed` != 0 (a
// storage command whose data block is incomplete) `out` already holds the
// parsed line. `out` is meaningful on kCommand, and is otherwise unspecified.
ParseResult parseTextCommand(std::span<const uint8_t> input, TextCommand* out);

// Walks the key list of a get/gets/gat/gats command without allocating.
class KeyCursor final {
 public:
  explicit KeyCursor(std::string_view keys) : rest_(keys) {}
  bool next(std::string_view* key);
  // After next() gave a key: whether it was the last one.
  bool done() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

// memcached's base64 (RFC 4648 alphabet, padded, length a multiple of 4).
// Returns the decoded length, or 0 if `in` is not valid base64 or does not fit.
size_t decodeBase64Key(std::string_view in, std::span<uint8_t> out);
// The encoding; `out` needs 4 * ceil(in.size() / 3) bytes. Returns its length.
size_t encodeBase64Key(std::string_view in, std::span<char> out);
inline constexpr size_t kMaxBase64KeyLength = (kMaxKeyLength + 2) / 3 * 4;

}  // namespace memkv::text
