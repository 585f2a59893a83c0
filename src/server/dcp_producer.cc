#include "server/dcp_producer.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <utility>

#include "server/mcbp_session.h"
#include "server/response_writer.h"

namespace memkv::server {

namespace dcp = mcbp::dcp;
using State = DcpStream::State;

namespace {

// Writes one message of `bytes` head (and a value after it, copied or by
// reference) into the output; counts it against the window. False when the
// output could not take it (the pool is exhausted): the connection closes.
class MessageWriter {
 public:
  MessageWriter(McbpSession& session, DcpProducer& producer)
      : session_(session), producer_(producer), conn_(session.connection()) {}

  uint8_t* head(size_t reserve) {
    uint8_t* out = conn_.output().reserve(reserve);
    if (out == nullptr) conn_.closeNow();
    return out;
  }
  // A head of `head_size` bytes written at the last head() pointer, then
  // the value.
  void commit(size_t head_size, engine::ItemRef* item, bool by_reference) {
    size_t value_size = 0;
    if (item != nullptr) {
      const auto value = (*item)->value();
      value_size = value.size();
      if (!by_reference) {
        if (!value.empty()) {
          std::memcpy(reserved_ + head_size, value.data(), value.size());
        }
        conn_.output().commit(head_size + value.size());
        session_.worker().commands.bytes_copied.add(value.size());
      } else {
        conn_.output().commit(head_size);
        session_.worker().commands.bytes_referenced.add(value.size());
        engine::Item* raw = item->release();  // the chain's reference from here on
        conn_.output().appendFragment({value.data(), value.size(), &releaseItemReference, raw});
      }
    } else {
      conn_.output().commit(head_size);
    }
    const size_t wire = head_size + value_size;
    producer_.bytes_outstanding += wire;
    producer_.bytes_sent += wire;
    session_.worker().commands.dcp_bytes_sent.add(wire);
  }
  uint8_t* reserve(size_t n) {
    reserved_ = head(n);
    return reserved_;
  }

 private:
  McbpSession& session_;
  DcpProducer& producer_;
  net::Connection& conn_;
  uint8_t* reserved_ = nullptr;
};

// The next stream with something to send after the round-robin position.
DcpStream* nextReady(DcpProducer& p) {
  if (p.streams.empty()) return nullptr;
  auto ready = [](const DcpStream& s) {
    return s.state == State::kSending || s.state == State::kEnding;
  };
  for (auto it = p.streams.lower_bound(p.next_vbucket); it != p.streams.end(); ++it) {
    if (ready(it->second)) return &it->second;
  }
  for (auto it = p.streams.begin(); it != p.streams.end() && it->first < p.next_vbucket; ++it) {
    if (ready(it->second)) return &it->second;
  }
  return nullptr;
}

// Past the change at `next`; at the snapshot's end, past the snapshot.
void advance(DcpStream& s) {
  if (++s.next < s.changes.size()) return;
  s.cursor = s.snapshot_end;
  s.changes = {};
  s.state = s.cursor >= s.end ? State::kEnding : State::kIdle;
}

// Sends the stream's next message. False if the output could not take it.
bool sendNext(McbpSession& session, DcpProducer& p, DcpStream& s) {
  MessageWriter w(session, p);
  const bool collections = session.features().has(mcbp::Feature::Collections);
  if (s.state == State::kEnding) {
    uint8_t* out = w.reserve(dcp::kStreamEndBytes);
    if (out == nullptr) return false;
    w.commit(dcp::encodeStreamEnd(out, s.opaque, s.vbucket, s.end_status), nullptr, false);
    session.server().dcpStreamClosed();
    const uint16_t vbucket = s.vbucket;
    p.streams.erase(vbucket);
    return true;
  }
  if (!s.marker_sent) {
    uint8_t* out = w.reserve(dcp::kMarkerV1Bytes);
    if (out == nullptr) return false;
    const uint64_t start = s.first_marker ? s.cursor : s.cursor + 1;
    w.commit(dcp::encodeSnapshotMarker(out, s.opaque, s.vbucket, start, s.snapshot_end,
                                       dcp::kMarkerDisk | dcp::kMarkerCheckpoint),
             nullptr, false);
    s.marker_sent = true;
    s.first_marker = false;
    return true;
  }
  const DcpChange& change = s.changes[s.next];
  dcp::ItemFields fields;
  fields.opaque = s.opaque;
  fields.vbucket = s.vbucket;
  fields.by_seqno = change.seqno;
  fields.collections = collections;
  engine::ItemRef found;
  if (!change.deleted) {
    found = p.bucket->bucket.findChange(change.key, change.seqno);
    if (!found) {
      // Changed, expired or flushed since the snapshot: its newer change
      // (a higher seqno than this snapshot's end) comes in a later one.
      advance(s);
      return true;
    }
  }
  if (found) {
    const engine::Item& item = *found;
    fields.cas = item.cas();
    fields.datatype = item.datatype();
    fields.key = item.key();
    const bool by_reference = item.value().size() >= kCopyValueThreshold;
    const size_t head = dcp::kMutationBaseBytes + (collections ? 1 : 0) + fields.key.size();
    uint8_t* out = w.reserve(by_reference ? head : head + item.value().size());
    if (out == nullptr) return false;
    const size_t written = dcp::encodeMutation(out, fields, item.flags(), item.expiry(),
                                               static_cast<uint32_t>(item.value().size()));
    w.commit(written, &found, by_reference);
  } else {
    fields.cas = change.cas;
    fields.key = change.key;
    const bool v2 = (p.open_flags & dcp::kOpenIncludeDeleteTimes) != 0;
    const bool expiration = change.why == engine::Removal::kExpired && p.control.expiry_opcode;
    uint8_t* out = w.reserve(dcp::kMaxHeadSize);
    if (out == nullptr) return false;
    const size_t written = expiration ? dcp::encodeExpiration(out, fields, change.time)
                                      : dcp::encodeDeletion(out, fields, v2, change.time);
    w.commit(written, nullptr, false);
  }
  ++p.items_sent;
  session.worker().commands.dcp_items_sent.add(1);
  advance(s);
  return true;
}

// A snapshot arrived from the pool (owner thread).
struct KeySnapshot {
  uint64_t uuid;
  uint64_t high_seqno;
  uint64_t purge_seqno;
  std::vector<DcpChange> changes;
};

void snapshotReady(McbpSession& session, uint16_t vbucket, uint64_t generation,
                   KeySnapshot&& snapshot) {
  DcpProducer* p = session.dcp();
  if (p == nullptr) return;
  p->snapshot_in_flight = false;
  const auto it = p->streams.find(vbucket);
  if (it != p->streams.end() && it->second.generation == generation &&
      it->second.state == State::kSnapshotting) {
    DcpStream& s = it->second;
    if (snapshot.uuid != s.vb_uuid) {
      // A FLUSH or a cluster map emptied the vbucket without deletions: the
      // consumer's copy is another history now.
      s.state = State::kEnding;
      s.end_status = dcp::EndStatus::kStateChanged;
    } else if (s.cursor != 0 && snapshot.purge_seqno > s.cursor) {
      // Deletions after the cursor were forgotten (the tombstone bounds):
      // the consumer asks again from its cursor and is told to roll back.
      s.state = State::kEnding;
      s.end_status = dcp::EndStatus::kSlow;
    } else {
      auto& changes = snapshot.changes;
      changes.erase(std::find_if(changes.begin(), changes.end(),
                                 [&](const DcpChange& c) { return c.seqno > s.end; }),
                    changes.end());
      s.snapshot_end = std::min(snapshot.high_seqno, s.end);
      if (changes.empty()) {
        s.cursor = std::max(s.cursor, s.snapshot_end);
        s.state = s.cursor >= s.end ? State::kEnding : State::kIdle;
      } else {
        s.changes = std::move(changes);
        s.next = 0;
        s.marker_sent = false;
        s.state = State::kSending;
      }
    }
  }
  session.connection().flushSoon();
}

// Takes the stream's next snapshot on the pool.
void startSnapshot(McbpSession& session, DcpProducer& p, DcpStream& s) {
  BucketHandle bucket = p.bucket;
  s.state = State::kSnapshotting;
  p.snapshot_in_flight = true;
  net::EventLoop& loop = session.connection().loop();
  auto anchor = session.anchor();
  const uint16_t vbucket = s.vbucket;
  const uint64_t after = s.cursor;
  const uint64_t generation = s.generation;
  auto task = [bucket, &loop, anchor, vbucket, after, generation] {
    try {
      // Keys and seqnos only: the items are let go here, on the pool.
      engine::ChangeSnapshot taken = bucket->bucket.snapshotChanges(vbucket, after);
      auto snapshot = std::make_shared<KeySnapshot>(
          KeySnapshot{taken.uuid, taken.high_seqno, taken.purge_seqno, {}});
      snapshot->changes.reserve(taken.changes.size());
      for (engine::Change& c : taken.changes) {
        if (c.item) {
          snapshot->changes.push_back(
              {c.seqno, 0, 0, engine::Removal::kDeleted, false, std::string(c.item->key())});
          c.item = {};
        } else {
          snapshot->changes.push_back({c.seqno, c.cas, c.time, c.why, true, std::move(c.key)});
        }
      }
      postToSession(loop, anchor, [snapshot, vbucket, generation](McbpSession& owner) {
        snapshotReady(owner, vbucket, generation, std::move(*snapshot));
      });
    } catch (const std::bad_alloc&) {
      try {
        postToSession(loop, anchor, [](McbpSession& owner) { owner.connection().closeNow(); });
      } catch (const std::bad_alloc&) {
      }
    }
  };
  if (!session.server().executors().submit(engine::TaskPriority::kLow, std::move(task))) {
    s.state = State::kNeedSnapshot;  // shutting down
    p.snapshot_in_flight = false;
  }
}

}  // namespace

bool dcpProduce(McbpSession& session) {
  DcpProducer* p = session.dcp();
  if (p == nullptr || p->streams.empty()) return false;
  net::Connection& conn = session.connection();
  if (p->windowOpen()) p->window_full = false;
  for (;;) {
    if (conn.closing()) return false;
    DcpStream* s = nextReady(*p);
    if (s == nullptr) break;
    if (conn.outputFull()) return true;  // serve() comes back once it is sent
    if (!p->windowOpen()) {
      if (!p->window_full) {
        p->window_full = true;
        ++p->window_full_pauses;
        session.worker().commands.dcp_window_full_pauses.add(1);
      }
      break;
    }
    p->next_vbucket = static_cast<uint16_t>(s->vbucket + 1);
    if (!sendNext(session, *p, *s)) return false;
  }
  if (p->snapshot_in_flight || conn.closing()) return false;
  for (auto& [vbucket, s] : p->streams) {
    if (s.state == State::kNeedSnapshot) {
      startSnapshot(session, *p, s);
      break;
    }
  }
  return false;
}

void dcpTick(McbpSession& session) {
  DcpProducer* p = session.dcp();
  if (p == nullptr || p->bucket->deleted.load(std::memory_order_relaxed)) return;
  BucketEntry* bucket = p->bucket.get();
  bool moved = false;
  for (auto& [vbucket, s] : p->streams) {
    if (s.state != State::kIdle) continue;
    if (bucket->bucket.vbucketInfo(vbucket).high_seqno > s.cursor) {
      s.state = State::kNeedSnapshot;
      s.generation = ++p->generations;
      moved = true;
    }
  }
  if (moved) session.connection().flushSoon();
}

}  // namespace memkv::server
