#pragma once
// The two ways memkv-bench prints a finished run: text for people, one JSON
// object (--json) for bench/run.sh. Both say the same things.
#include <cstdio>

#include "bench_options.h"
#include "run_stats.h"

namespace memkv::bench {

void printText(const BenchOptions& options, const RunStats& stats, std::FILE* out);
void printJson(const BenchOptions& options, const RunStats& stats, std::FILE* out);

}  // namespace memkv::bench
