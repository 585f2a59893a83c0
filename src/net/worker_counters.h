#pragma once
// Counters of one worker thread: written only by that thread, read by any.
#include "common/counter.h"

namespace memkv::net {

using memkv::Counter;

struct WorkerCounters {
  Counter bytes_read;
  Counter bytes_written;
  Counter curr_connections;
  Counter total_connections;
  Counter conn_yields;          // request budget (-R) ran out with work left
  Counter backpressure_pauses;  // output crossed the high watermark
  Counter read_buffers_out;     // pool buffers held for reading
  Counter spill_bytes;          // partial requests parked in exact-size spills
  Counter large_frame_bytes;    // frames bigger than a pool buffer, being read
  Counter pool_bytes_in_use;
  Counter pool_bytes_free;
  Counter pool_exhausted;
  Counter stall_disconnects;    // output did not move for the stall timeout
  Counter expired_disconnects;  // the handler gave up on it (e.g. never authenticated)
  Counter output_queued;        // bytes waiting in OutputChains now
  Counter output_queued_max;    // the most any one connection had queued

  // Partially received requests (the server-wide read budget) and Inboxes.
  Counter read_waits;              // a connection began waiting for read memory
  Counter read_stall_disconnects;  // a partial request stopped growing for the timeout
  Counter inboxes;                 // connections holding an Inbox now

  // TLS (docs/architecture.md section 6.4).
  Counter tls_connections;         // TLS connections now
  Counter tls_total_connections;   // TLS connections accepted
  Counter tls_handshakes;          // handshakes completed (each a new session)
  Counter tls_handshake_errors;    // handshakes that failed
  Counter tls_handshake_timeouts;  // handshakes not done within the timeout
  Counter tls_stream_errors;       // fatal TLS errors after the handshake
  Counter tls_bytes_encrypted;     // plaintext bytes sent inside records
  Counter tls_bytes_decrypted;     // plaintext bytes received
  Counter tls_records_written;
  Counter tls_bytes_staged;  // plaintext copied to gather small pieces into one record
};

}  // namespace memkv::net
