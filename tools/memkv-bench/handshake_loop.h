#pragma once
// --handshakes: what a new TLS client costs the server. Each of --conns
// slots per thread loops on its own:
//
//   non-blocking connect -> full TLS handshake (never resumed) -> one NOOP
//   and its reply (proof the server finished its side) -> close_notify,
//   close -> again, on a new connection
//
// One such cycle is an op and a request; latency runs from connect() to the
// NOOP's reply. A slot whose cycle fails (refused, handshake failure, server
// close, wrong reply) says why once and stops: a benchmark does not retry
// over a failing server. Threads share only the TlsClient (read-only) and the
// stop flag; each has its own epoll loop and statistics.
#include <atomic>

#include "bench_options.h"
#include "run_stats.h"
#include "tls_client.h"

namespace memkv::bench {

// Runs options.threads loops until --duration (after --warmup) or
// --requests cycles, --timeout or stop; returns their merged statistics.
RunStats runHandshakes(const BenchOptions& options, const TlsClient& tls,
                       const std::atomic<bool>& stop);

}  // namespace memkv::bench
