#pragma once
// Logging setup: spdlog to stderr or to a file (--log-file), level chosen by
// memcached's -v count. Lines read
//   2026-12-01T21:40:05.123Z warning conn=17 peer=127.0.0.1:40312 event=...
// time in UTC (ISO 8601, milliseconds, 'Z'): one server's lines compare with
// another's whatever their time zones, and no DST change reorders them.
#include <atomic>
#include <cstddef>
#include <string>
#include <string_view>

namespace memkv {

// 0: warnings and errors; 1 (-v): info (startup, reloads); 2 (-vv): debug
// (connection events: accept, close and why); 3+ (-vvv): trace (every
// command). With log_file set, lines are appended to that file (created
// 0640) instead of stderr; false with *error if it cannot be opened.
bool setupLogging(int verbosity, const std::string& log_file, std::string* error);

// The level in effect (spdlog's numbers: trace 0 ... off 6), cached where the
// per-command paths test it with one relaxed load: spdlog::should_log goes
// through the default logger's registry, some 30 instructions a command
// (callgrind). Kept by setLogVerbosity(); spdlog's default (info) before it.
inline std::atomic<int> g_log_level{2};
inline bool logEnabled(int level) {
  return level >= g_log_level.load(std::memory_order_relaxed);
}

// The `verbosity` command (text and MCBP): changes the level at run time,
// with the same meanings as the -v count. Any thread.
void setLogVerbosity(int verbosity);

// Opens the --log-file path again (logrotate renamed the file and sent
// SIGUSR1); if that fails, lines keep going to the old file and an error
// says why. A no-op when logging to stderr. Any thread, but never from a
// signal handler (it takes the sink's mutex): main.cc calls it from its
// signalfd handler on the main loop.
void reopenLogFile();

// Client-supplied text (a user name) made safe for one log line: printable
// ASCII stays, '"', '\\' and anything else become \xNN escapes, so a client
// cannot forge lines or break a quoted field; cut at max_bytes of input.
std::string escapeForLog(std::string_view text, size_t max_bytes);

}  // namespace memkv
