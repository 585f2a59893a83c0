#include "server/dcp_producer.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>
#include <new>
#include <utility>

#include "server/mcbp_session.h"
#include "server/response_writer.h"

namespace memkv::server {

namespace dcp = mcbp::dcp;
using State = DcpStream::State;

void DcpWaker::changesAppended(uint16_t vbucket) noexcept {
  std::atomic<uint64_t>& word = marked_[vbucket / 64];
  const uint64_t bit = uint64_t{1} << (vbucket % 64);
  // Marked before the owner is woken: the owner arms, then takes the marks,
  // so a change either finds it armed (and wakes it) or is among the marks.
  if ((word.load() & bit) == 0) word.fetch_or(bit);
  if (!armed_.load() || !armed_.exchange(false)) return;
  try {
    postToSession(loop_, anchor_, [](McbpSession& owner) { dcpWoken(owner); });
  } catch (const std::bad_alloc&) {
    armed_.store(true);  // the next change tries again; the tick catches up meanwhile
  }
}

DcpProducer::DcpProducer(net::EventLoop& loop, std::weak_ptr<SessionAnchor> anchor,
                         WorkerContext& owner)
    : worker(owner), waker(loop, std::move(anchor)) {}

DcpProducer::~DcpProducer() {
  for (auto& [vbucket, s] : streams) {
    if (s.following) bucket->bucket.unfollowChanges(vbucket, &waker);
  }
  worker.dcp_buffered_bytes.sub(buffered_bytes);
}

void DcpProducer::erase(std::map<uint16_t, DcpStream>::iterator it) {
  if (it->second.following) bucket->bucket.unfollowChanges(it->first, &waker);
  dropChanges(it->second);
  sending.assign(it->first, false);
  log_pending.assign(it->first, false);
  need_snapshot.assign(it->first, false);
  index_[it->first] = nullptr;
  streams.erase(it);
}

DcpStream& DcpProducer::open(uint16_t vbucket) {
  DcpStream& s = streams[vbucket];
  s.vbucket = vbucket;
  index_[vbucket] = &s;
  return s;
}

void DcpProducer::setState(DcpStream& s, DcpStream::State state) {
  s.state_ = state;
  sending.assign(s.vbucket, state == State::kSending || state == State::kEnding);
  log_pending.assign(s.vbucket, state == State::kIdle && s.log_pending_);
  need_snapshot.assign(s.vbucket, state == State::kNeedSnapshot);
}

void DcpProducer::setLogPending(DcpStream& s, bool pending) {
  s.log_pending_ = pending;
  log_pending.assign(s.vbucket, s.state_ == State::kIdle && pending);
}

int VbucketSet::firstFrom(uint16_t from, const VbucketSet* also) const {
  const auto word = [&](size_t i) { return words_[i] | (also != nullptr ? also->words_[i] : 0); };
  from %= engine::kVBucketCount;  // the round robin's next after the last vbucket is the first
  size_t i = from / 64;
  uint64_t bits = word(i) & (~uint64_t{0} << (from % 64));
  // All words once, then the first again for the members before `from`.
  for (size_t n = 0; n <= words_.size(); ++n) {
    if (bits != 0) return static_cast<int>(i * 64 + static_cast<size_t>(std::countr_zero(bits)));
    i = (i + 1) % words_.size();
    bits = word(i);
  }
  return -1;
}

void DcpProducer::dropChanges(DcpStream& s) {
  buffered_bytes -= s.changes_bytes;
  worker.dcp_buffered_bytes.sub(s.changes_bytes);
  s.changes_bytes = 0;
  s.changes.clear();
  if (s.changes.capacity() <= kLogBatch && s.changes.capacity() > spare.capacity()) {
    spare.swap(s.changes);
  }
  std::vector<DcpChange>().swap(s.changes);
}

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

// The next stream with something to send after the round-robin position:
// changes, its end, or (while the connection buffers less than its bound)
// a change log to read.
DcpStream* nextReady(DcpProducer& p) {
  const bool may_read = p.buffered_bytes < DcpProducer::kBufferBytes;
  const int vbucket = p.sending.firstFrom(p.next_vbucket, may_read ? &p.log_pending : nullptr);
  return vbucket < 0 ? nullptr : &p.at(static_cast<uint16_t>(vbucket));
}

// Past the change at `next`; at the snapshot's end, past the snapshot. A
// following stream then looks at the change log again: what came while it
// was busy woke no one for it.
void advance(DcpProducer& p, DcpStream& s) {
  if (++s.next < s.changes.size()) return;
  s.cursor = s.snapshot_end;
  p.dropChanges(s);
  p.setLogPending(s, s.following);
  p.setState(s, s.cursor >= s.end ? State::kEnding : State::kIdle);
}

void endStream(DcpProducer& p, DcpStream& s, dcp::EndStatus status) {
  p.dropChanges(s);
  p.setState(s, State::kEnding);
  s.end_status = status;
}

// Takes `changes`, the stream's changes in (cursor, last] (a backfill's or
// the change log's, in seqno order), for sending up to the stream's end.
void takeChanges(DcpProducer& p, DcpStream& s, std::vector<DcpChange>&& changes, uint64_t last,
                 uint32_t marker_flags) {
  changes.erase(std::find_if(changes.begin(), changes.end(),
                             [&](const DcpChange& c) { return c.seqno > s.end; }),
                changes.end());
  s.snapshot_end = std::min(last, s.end);
  if (changes.empty()) {
    s.cursor = std::max(s.cursor, s.snapshot_end);
    p.setState(s, s.cursor >= s.end ? State::kEnding : State::kIdle);
    return;
  }
  size_t bytes = 0;
  for (const DcpChange& c : changes) bytes += engine::ChangeLog::footprint(c);
  s.changes = std::move(changes);
  s.changes_bytes = bytes;
  p.buffered_bytes += bytes;
  p.worker.dcp_buffered_bytes.add(bytes);
  s.next = 0;
  s.marker_sent = false;
  s.marker_flags = marker_flags;
  p.setState(s, State::kSending);
}

// An idle following stream reads what its vbucket's change log holds after
// its cursor (owner thread; a copy of at most kLogBatch keys under the
// vbucket lock, as a multi-get would take).
void readLog(DcpProducer& p, DcpStream& s, WorkerContext& worker) {
  p.setLogPending(s, false);
  engine::ChangeRead read =
      p.bucket->bucket.readChanges(s.vbucket, s.cursor, DcpProducer::kLogBatch, std::move(p.spare));
  if (read.uuid != s.vb_uuid) {
    endStream(p, s, dcp::EndStatus::kStateChanged);  // a FLUSH or a cluster map emptied it
  } else if (read.dropped) {
    // The log let go of changes this stream had not read (kv_engine's
    // cursor dropping): it backfills from its cursor instead.
    p.setState(s, State::kNeedSnapshot);
    s.generation = ++p.generations;
    worker.commands.dcp_cursors_dropped.add(1);
  } else {
    const uint64_t last = read.changes.empty() ? s.cursor : read.changes.back().seqno;
    takeChanges(p, s, std::move(read.changes), last, dcp::kMarkerMemory);
  }
}

// Sends the stream's next message. False if the output could not take it.
bool sendNext(McbpSession& session, DcpProducer& p, DcpStream& s) {
  MessageWriter w(session, p);
  const bool collections = session.features().has(mcbp::Feature::Collections);
  if (s.state() == State::kIdle) {
    readLog(p, s, session.worker());
    if (s.state() != State::kSending) return true;  // nothing sent; the loop looks again
  }
  if (s.state() == State::kEnding) {
    uint8_t* out = w.reserve(dcp::kStreamEndBytes);
    if (out == nullptr) return false;
    w.commit(dcp::encodeStreamEnd(out, s.opaque, s.vbucket, s.end_status), nullptr, false);
    session.server().dcpStreamClosed();
    p.erase(p.streams.find(s.vbucket));
    return true;
  }
  if (!s.marker_sent) {
    uint8_t* out = w.reserve(dcp::kMarkerV1Bytes);
    if (out == nullptr) return false;
    const uint64_t start = s.first_marker ? s.cursor : s.cursor + 1;
    w.commit(
        dcp::encodeSnapshotMarker(out, s.opaque, s.vbucket, start, s.snapshot_end, s.marker_flags),
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
  if (!change.removed) {
    found = p.bucket->bucket.findChange(change.key, change.seqno);
    if (!found) {
      // Changed, expired or flushed since the snapshot: its newer change
      // (a higher seqno than this snapshot's end) comes in a later one.
      advance(p, s);
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
  advance(p, s);
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
  DcpStream* const found = p->find(vbucket);
  if (found != nullptr && found->generation == generation &&
      found->state() == State::kSnapshotting) {
    DcpStream& s = *found;
    if (snapshot.uuid != s.vb_uuid) {
      // A FLUSH or a cluster map emptied the vbucket without deletions: the
      // consumer's copy is another history now.
      endStream(*p, s, dcp::EndStatus::kStateChanged);
    } else if (s.cursor != 0 && snapshot.purge_seqno > s.cursor) {
      // Deletions after the cursor were forgotten (the tombstone bounds):
      // the consumer asks again from its cursor and is told to roll back.
      endStream(*p, s, dcp::EndStatus::kSlow);
    } else {
      takeChanges(*p, s, std::move(snapshot.changes), snapshot.high_seqno,
                  dcp::kMarkerDisk | dcp::kMarkerCheckpoint);
      // What the log took while the snapshot was on its way follows it.
      if (s.state() == State::kIdle) p->setLogPending(s, s.following);
    }
  }
  session.connection().flushSoon();
}

// Takes the stream's next snapshot on the pool.
void startSnapshot(McbpSession& session, DcpProducer& p, DcpStream& s) {
  BucketHandle bucket = p.bucket;
  p.setState(s, State::kSnapshotting);
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
              {c.seqno, 0, 0, engine::Removal::kDeleted, false, engine::ShortKey(c.item->key())});
          c.item = {};
        } else {
          snapshot->changes.push_back(
              {c.seqno, c.cas, c.time, c.why, true, engine::ShortKey(c.key)});
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
    p.setState(s, State::kNeedSnapshot);  // shutting down
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
  if (p->snapshot_in_flight || p->buffered_bytes >= DcpProducer::kBufferBytes || conn.closing()) {
    return false;
  }
  const int waiting = p->need_snapshot.firstFrom(0);
  if (waiting >= 0) startSnapshot(session, *p, p->at(static_cast<uint16_t>(waiting)));
  return false;
}

void dcpTick(McbpSession& session, int64_t now_ms) {
  DcpProducer* p = session.dcp();
  if (p == nullptr) return;
  net::Connection& conn = session.connection();
  if (p->control.noop_enabled && !conn.closing()) {
    const int64_t idle_ms = int64_t{session.server().settings().dcp_idle_timeout_s} * 1000;
    if (now_ms - p->last_input_ms > idle_ms) {
      conn.closeNow(net::CloseReason::kDcpIdle);  // logged with its reason, as every close
      return;
    }
    if (!p->noop_pending && now_ms - p->noop_sent_ms >= p->control.noop_interval_ms) {
      // Not counted against the window (kv_engine), and sent whatever the
      // window: it is how a consumer tells a quiet producer from a dead one.
      uint8_t* out = conn.output().reserve(dcp::kNoopBytes);
      if (out == nullptr) {
        conn.closeNow(net::CloseReason::kServerError);
        return;
      }
      conn.output().commit(dcp::encodeNoop(out, ++p->noop_opaque));
      p->noop_pending = true;
      p->noop_sent_ms = now_ms;
      conn.flushSoon();
    }
  }
  if (p->bucket->deleted.load(std::memory_order_relaxed)) return;
  bool moved = false;
  for (auto& [vbucket, s] : p->streams) {
    if (s.state() != State::kIdle || s.logPending() || !s.following) continue;
    if (p->bucket->bucket.vbucketInfo(vbucket).high_seqno > s.cursor) {
      p->setLogPending(s, true);
      moved = true;
    }
  }
  if (moved) conn.flushSoon();
}

void dcpNoopAnswered(McbpSession& session, uint32_t opaque) {
  DcpProducer* p = session.dcp();
  if (p != nullptr && p->noop_pending && opaque == p->noop_opaque) p->noop_pending = false;
}

void dcpWoken(McbpSession& session) {
  DcpProducer* p = session.dcp();
  if (p == nullptr) return;
  bool any = false;
  p->waker.takeChanged([&](uint16_t vbucket) {
    DcpStream* s = p->find(vbucket);
    if (s != nullptr && s->state() == State::kIdle) {
      p->setLogPending(*s, true);
      any = true;
    }
  });
  if (any) session.connection().flushSoon();
}

}  // namespace memkv::server
