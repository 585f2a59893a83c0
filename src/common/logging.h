#pragma once
// Logging setup: spdlog to stderr, level chosen by memcached's -v count.
namespace memkv {

// 0: warnings and errors; 1 (-v): info; 2 (-vv): debug; 3+: trace.
void setupLogging(int verbosity);

}  // namespace memkv
