#pragma once
// What DCP_OPEN makes of a connection (docs/dcp.md): a producer, with the
// flags it was opened with, what DCP_CONTROL set since, and its streams.
// Held by the session's Background (a connection that never opens DCP pays
// nothing) and touched only on the connection's owner thread: background
// work (a stream's snapshot) hands its result to that thread through
// postToSession, and only that thread encodes into the connection's output
// (the seeds' lesson, docs/architecture.md invariant 2).
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/bucket.h"
#include "protocol/dcp.h"
#include "server/bucket_manager.h"

namespace memkv::server {

class McbpSession;

// One change of a snapshot as a stream holds it: a document by key and
// seqno only (its item is looked up when it is sent, so a snapshot waiting
// on a slow consumer pins no item, and with it no item store segment), or
// a deletion with what it carries.
struct DcpChange {
  uint64_t seqno;
  uint64_t cas;   // a deletion's
  uint32_t time;  // a deletion's
  engine::Removal why;
  bool deleted;
  std::string key;
};

struct DcpStream {
  enum class State : uint8_t {
    kNeedSnapshot,  // has changes to fetch: waits for the connection's snapshot slot
    kSnapshotting,  // a pool thread is taking its snapshot
    kSending,       // sends `snapshot`: its marker, then changes[next...]
    kIdle,          // sent everything up to the vbucket's high seqno; follows it
    kEnding,        // sends STREAM_END(end_status), then is gone
  };
  uint16_t vbucket = 0;
  uint32_t opaque = 0;      // the STREAM_REQ's: every message of the stream carries it
  uint64_t end = 0;         // the last seqno it sends (kSeqnoMax: follows forever)
  uint64_t vb_uuid = 0;     // the vbucket's history when the stream began
  uint64_t cursor = 0;      // every change up to here was sent (at first: the start)
  uint64_t generation = 0;  // tells a snapshot for this stream from one for an older one
  State state = State::kNeedSnapshot;
  bool first_marker = true;
  mcbp::dcp::EndStatus end_status = mcbp::dcp::EndStatus::kOk;
  std::vector<DcpChange> changes;  // kSending: the snapshot's changes, in seqno order
  uint64_t snapshot_end = 0;       // kSending: the marker's end seqno
  size_t next = 0;                 // kSending: the next change to send
  bool marker_sent = false;
};

struct DcpProducer {
  std::string name;         // the consumer's, from DCP_OPEN's key
  uint32_t open_flags = 0;  // mcbp::dcp::kOpen* bits
  mcbp::dcp::ControlState control;
  std::map<uint16_t, DcpStream> streams;  // one per vbucket
  // Flow control (reference dcp.md 1.8): bytes sent and not yet
  // acknowledged. A message goes out while this is below the window, so the
  // last one may overshoot it.
  uint64_t bytes_outstanding = 0;
  bool window_full = false;  // a message waits for an acknowledgement
  // One snapshot at a time per connection: what a connection pins of the
  // item store while it backfills is one vbucket's items.
  bool snapshot_in_flight = false;
  uint16_t next_vbucket = 0;  // round robin over the streams
  uint64_t generations = 0;
  // STAT dcp.
  uint64_t items_sent = 0;
  uint64_t bytes_sent = 0;
  uint64_t window_full_pauses = 0;

  // The bucket DCP_OPEN was on: the streams' (the session refuses
  // SELECT_BUCKET from then on).
  BucketHandle bucket;

  bool windowOpen() const {
    return control.buffer_size == 0 || bytes_outstanding < control.buffer_size;
  }
};

// The owner thread's pull (McbpSession::produce): writes what the streams
// have while the window and the output allow, and starts the next snapshot.
// True when it stopped on a full output with more to send.
bool dcpProduce(McbpSession& session);
// The worker's tick: streams that follow their vbucket and are idle look at
// its high seqno, and fetch what changed.
void dcpTick(McbpSession& session);

}  // namespace memkv::server
