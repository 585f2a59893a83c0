#pragma once
// --idle-conns / --stall-conns: open many connections, bring each to a fixed
// state, print "READY ..." on stdout, and hold them, so a script can read the
// server's RSS with exactly N such connections open.
//
//   idle:  one NOOP answered, then silence. The NOOP proves the server has
//          accepted the connection (a finished connect() only proves the
//          kernel queued it), and a real idle client has made a request.
//          Under --tls the NOOP follows a full handshake (at most 256
//          handshakes in flight, as for connects), so the server holds a
//          TLS session that has done one request and gone quiet.
//   stall: the header, extras, key and half (--stall-percent) the value of a
//          SET, then silence: what a slow or stuck client leaves in the
//          server. Ready after the first write; the rest follows as the
//          server reads (a server that stops reading keeps it in the kernel).
#include <atomic>

#include "bench_options.h"
#include "tls_client.h"

namespace memkv::bench {

// Returns the process exit status: 0, or 1 if any connection could not be
// opened or brought to its state. tls: null without --tls.
int holdConnections(const BenchOptions& options, const TlsClient* tls,
                    const std::atomic<bool>& stop);

}  // namespace memkv::bench
