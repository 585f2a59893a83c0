// Helpers for tests that look at the server from outside: its resident memory, the
// descriptor limit of the test process, STAT polling, and time bounds that scale with the
// kind of build (sanitizer builds of the server and the tests run several times slower).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "support/mcbp_client.h"

namespace memkv::test {

// True when the tests (and, by the build's construction, the server) are built with a
// sanitizer.
bool sanitizedBuild();

// Multiplier for time bounds and time budgets: 1 in optimized builds, 2 in unoptimized ones,
// 5 under sanitizers; the environment variable MEMKV_TEST_TIME_SCALE (a positive number)
// overrides it.
double timeScale();

// Resident bytes per byte the server itself holds: 1, but about 5 under ThreadSanitizer,
// whose shadow memory maps 4 bytes (plus metadata) for every application byte touched. For
// RSS bounds that must also hold in the TSan build.
double residentScale();
std::chrono::milliseconds scaled(std::chrono::milliseconds base);

// Seconds of the steady clock since t0.
double secondsSince(std::chrono::steady_clock::time_point t0);

// Deterministic bytes of any size; the first 8 bytes carry `tag` (which store wrote them), so
// a response carrying another store's value is told apart even when the sizes match.
std::string valueBytes(uint64_t tag, std::size_t size);

// A positive integer from the environment, or `fallback` when unset or not a number.
long envInt(const char* name, long fallback);

// VmRSS of a process in bytes, from /proc/<pid>/status; -1 if unavailable.
int64_t residentBytes(pid_t pid);

// Raises this process's RLIMIT_NOFILE soft limit (and, as root, the hard limit) to at least
// `wanted`. Returns the soft limit in effect afterwards.
uint64_t raiseFileLimit(uint64_t wanted);

// One numeric general statistic (STAT ""); throws McbpError if it is missing.
uint64_t statU64(McbpClient& client, const std::string& name);

// Polls STAT "" every 20 ms until pred(value of `name`) holds or `timeout` passes. Returns
// true on success; *last gets the last value seen either way.
bool waitForStat(McbpClient& client, const std::string& name,
                 const std::function<bool(uint64_t)>& pred, std::chrono::milliseconds timeout,
                 uint64_t* last);

// The whole file, or "" if it cannot be read.
std::string readFile(const std::string& path);

// Polls `path` every 20 ms until pred(contents) holds or `timeout` passes (a log a server
// writes, say). Returns true on success; *contents gets the last contents either way.
bool waitForFile(const std::string& path, const std::function<bool(const std::string&)>& pred,
                 std::chrono::milliseconds timeout, std::string* contents);

}  // namespace memkv::test
