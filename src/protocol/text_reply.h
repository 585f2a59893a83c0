#pragma once
// The replies of memcached's text and meta protocols that the server side
// writes (the parser's own error replies are in text_request.h). Byte for
// byte memcached 1.6.18's: clients match them, some by prefix
// (libmemcached: "SERVER_ERROR object too large for cache").
#include <string_view>

namespace memkv::text {

inline constexpr std::string_view kStored = "STORED\r\n";
inline constexpr std::string_view kNotStored = "NOT_STORED\r\n";
inline constexpr std::string_view kExists = "EXISTS\r\n";
inline constexpr std::string_view kNotFound = "NOT_FOUND\r\n";
inline constexpr std::string_view kDeleted = "DELETED\r\n";
inline constexpr std::string_view kTouched = "TOUCHED\r\n";
inline constexpr std::string_view kOk = "OK\r\n";
inline constexpr std::string_view kEnd = "END\r\n";
inline constexpr std::string_view kReset = "RESET\r\n";
inline constexpr std::string_view kTooLarge = "SERVER_ERROR object too large for cache\r\n";
inline constexpr std::string_view kOutOfMemory = "SERVER_ERROR out of memory storing object\r\n";
inline constexpr std::string_view kNonNumeric =
    "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n";
inline constexpr std::string_view kFlushDisabled = "CLIENT_ERROR flush_all not allowed\r\n";
// refresh_certs could not load the files (the log says why; the client is
// not told which file or what failed).
inline constexpr std::string_view kRefreshCertsFailed = "ERROR: failed to refresh certificates\r\n";
inline constexpr std::string_view kShutdownDisabled = "ERROR: shutdown not enabled\r\n";
inline constexpr std::string_view kBadShutdownMode = "CLIENT_ERROR invalid shutdown mode\r\n";
inline constexpr std::string_view kUnauthenticated = "CLIENT_ERROR unauthenticated\r\n";
inline constexpr std::string_view kMemlimitTooSmall =
    "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n";
inline constexpr std::string_view kMemlimitNotMegabytes =
    "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes\r\n";
// memkv's own: a document a Couchbase client locked (GET_LOCKED) refuses a
// text write or touch until it is unlocked; memcached has no locks.
inline constexpr std::string_view kTemporaryFailure = "SERVER_ERROR temporary failure\r\n";
// memkv's own: the connection's bucket was deleted by an administrator.
inline constexpr std::string_view kNoBucket = "SERVER_ERROR no bucket\r\n";
// memkv's own (--strict-vbuckets): the key's vbucket is another node's. A
// SERVER_ERROR, so a client that does not route fails visibly instead of
// reading a miss.
inline constexpr std::string_view kNotMyVbucket = "SERVER_ERROR not my vbucket\r\n";
inline constexpr std::string_view kDetailUsage = "CLIENT_ERROR usage: stats detail on|off|dump\r\n";
inline constexpr std::string_view kCachedumpUsage = "CLIENT_ERROR bad command line\r\n";
inline constexpr std::string_view kIllegalSlabId = "CLIENT_ERROR Illegal slab id\r\n";
inline constexpr std::string_view kVersionPrefix = "VERSION ";
inline constexpr std::string_view kStatPrefix = "STAT ";
inline constexpr std::string_view kValuePrefix = "VALUE ";
inline constexpr std::string_view kCrlf = "\r\n";

// Meta return codes.
inline constexpr std::string_view kMetaNoopReply = "MN\r\n";
inline constexpr std::string_view kMetaMiss = "EN";
inline constexpr std::string_view kMetaStored = "HD";
inline constexpr std::string_view kMetaValue = "VA";
inline constexpr std::string_view kMetaNotStored = "NS";
inline constexpr std::string_view kMetaExists = "EX";
inline constexpr std::string_view kMetaNotFound = "NF";
inline constexpr std::string_view kMetaDebugReply = "ME";

}  // namespace memkv::text
