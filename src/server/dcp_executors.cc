// DCP commands (docs/dcp.md). DCP_GET_FAILOVER_LOG, which kv_engine answers
// on any KV connection, DCP-opened or not; DCP_OPEN, which makes the
// connection a producer, and DCP_CONTROL, which sets it up.
#include <algorithm>
#include <array>
#include <vector>

#include "common/byte_order.h"
#include "protocol/dcp.h"
#include "server/executors.h"

namespace memkv::server {

using mcbp::Status;

namespace {

// A vbucket's failover log as the wire carries it (newest first).
class WireFailoverLog {
 public:
  explicit WireFailoverLog(const std::vector<engine::FailoverEntry>& branches)
      : size_(std::min(branches.size(), entries_.size())) {
    for (size_t i = 0; i < size_; ++i) entries_[i] = {branches[i].uuid, branches[i].seqno};
  }
  std::span<const mcbp::dcp::FailoverEntry> entries() const { return {entries_.data(), size_}; }
  // A success answer whose value is the log.
  void send(Cookie& c) const {
    std::array<uint8_t, mcbp::dcp::kFailoverEntrySize * engine::kMaxFailoverEntries> value;
    mcbp::dcp::encodeFailoverLog(entries(), value.data());
    c.out.send(c.header(), Status::Success, {}, {},
               std::span<const uint8_t>(value.data(), mcbp::dcp::kFailoverEntrySize * size_), 0);
  }

 private:
  std::array<mcbp::dcp::FailoverEntry, engine::kMaxFailoverEntries> entries_;
  size_t size_;
};

// The connection's producer; without a DCP_OPEN before, EINVAL (kv_engine).
DcpProducer* producerOrRefuse(Cookie& c) {
  DcpProducer* producer = c.session.dcp();
  if (producer == nullptr) c.out.sendStatus(c.header(), Status::Einval);
  return producer;
}

}  // namespace

void executeGetFailoverLog(Cookie& c) {
  const uint16_t vbucket = c.header().vbucket;
  if (refuseUnservedVBucket(c, vbucket)) return;
  // memkv never fails over: a vbucket's branches begin where its contents
  // went without deletions (the process started, a FLUSH, a cluster map
  // taking it away), each at a seqno that is also the purge seqno, so a
  // consumer from before any of them rolls back to 0.
  WireFailoverLog(c.session.bucketHandle()->bucket.failoverLog(vbucket)).send(c);
}

void executeDcpOpen(Cookie& c) {
  // kv_engine's preconditions (reference dcp.md 1.1): DCP and out-of-order
  // responses do not mix, and a connection opens once.
  if (c.session.features().has(mcbp::Feature::UnorderedExecution)) {
    c.out.sendStatus(c.header(), Status::NotSupported);
    return;
  }
  if (c.session.dcp() != nullptr) {
    c.out.sendStatus(c.header(), Status::Einval);
    return;
  }
  mcbp::dcp::OpenRequest open;
  const Status parsed =
      mcbp::dcp::parseOpen(c.request.extras, c.request.key, c.request.value.size(), &open);
  if (parsed != Status::Success) {
    c.out.sendStatus(c.header(), parsed);
    return;
  }
  DcpProducer& producer = c.session.openDcp();
  producer.name.assign(open.name);
  producer.open_flags = open.flags;
  producer.bucket = c.session.bucketHandle();
  // kv_engine: a name in use on the bucket is taken from the older
  // connection, which is disconnected (on its own thread).
  net::Connection& conn = c.session.connection();
  if (auto older = c.server.claimDcpName(producer.bucket.get(), producer.name,
                                         {&conn.loop(), c.session.anchor(), conn.id()})) {
    postToSession(*older->loop, std::move(older->anchor), [](McbpSession& session) {
      session.connection().closeNow(net::CloseReason::kDcpNameTaken);
    });
  }
  // From now on the bucket's deletions leave tombstones, so a stream can
  // send them (before, each only raised its vbucket's purge seqno).
  c.bucket->keepTombstones();
  c.out.send(c.header(), Status::Success, {}, {}, {}, 0);
}

void executeDcpControl(Cookie& c) {
  DcpProducer* producer = c.session.dcp();
  if (producer == nullptr || c.request.key.empty() || c.request.value.empty()) {
    c.out.sendStatus(c.header(), Status::Einval);
    return;
  }
  const std::string_view value(reinterpret_cast<const char*>(c.request.value.data()),
                               c.request.value.size());
  const Status status =
      mcbp::dcp::applyControl(c.request.key, value, producer->open_flags, &producer->control);
  if (status != Status::Success) {
    c.out.sendStatus(c.header(), status);
    return;
  }
  // Flow control turned off forgets what was outstanding (kv_engine), so
  // turning it on again starts with an open window.
  if (producer->control.buffer_size == 0) producer->bytes_outstanding = 0;
  c.out.send(c.header(), Status::Success, {}, {}, {}, 0);
}

void executeDcpStreamReq(Cookie& c) {
  DcpProducer* producer = producerOrRefuse(c);
  if (producer == nullptr) return;
  const uint16_t vbucket = c.header().vbucket;
  if (refuseUnservedVBucket(c, vbucket)) return;
  mcbp::dcp::StreamRequest request;
  Status status = mcbp::dcp::parseStreamRequest(c.request.extras, &request);
  if (status != Status::Success) {
    c.out.sendStatus(c.header(), status);
    return;
  }
  // A collections filter: memkv has the default collection only, so the
  // one filter it serves is that collection (or none).
  if (!c.request.value.empty()) {
    // kv_engine takes a value only on a collections-enabled connection.
    if (!c.session.features().has(mcbp::Feature::Collections)) {
      c.out.sendStatus(c.header(), Status::Einval);
      return;
    }
    const std::string_view filter(reinterpret_cast<const char*>(c.request.value.data()),
                                  c.request.value.size());
    if (filter != "{}" && filter != R"({"collections":["0"]})") {
      c.out.sendStatus(c.header(), Status::NotSupported);
      return;
    }
  }
  if (producer->streams.contains(vbucket)) {
    c.out.sendStatus(c.header(), Status::KeyEexists);  // kv_engine: one stream per vbucket
    return;
  }
  const engine::VBucketInfo info = c.bucket->vbucketInfo(vbucket);
  if ((request.flags & mcbp::dcp::kStreamFromLatest) != 0) {
    request.start = request.snap_start = request.snap_end = info.high_seqno;
    if (request.vb_uuid == 0) request.vb_uuid = info.uuid;  // kv_engine fills it in
  }
  if ((request.flags & mcbp::dcp::kStreamToLatest) != 0) request.end = info.high_seqno;
  status = mcbp::dcp::checkStreamRange(request);
  if (status != Status::Success) {
    c.out.sendStatus(c.header(), status);
    return;
  }
  const std::vector<engine::FailoverEntry> branches = c.bucket->failoverLog(vbucket);
  const WireFailoverLog log(branches);
  if (const auto rollback =
          mcbp::dcp::rollbackSeqno(request, log.entries(), info.high_seqno, info.purge_seqno)) {
    std::array<uint8_t, 8> value;
    storeBe64(value.data(), *rollback);
    c.out.send(c.header(), Status::Rollback, {}, {}, value, 0);
    return;
  }
  DcpStream& stream = producer->open(vbucket);
  stream.opaque = c.header().opaque;
  stream.end = request.end;
  stream.vb_uuid = branches.front().uuid;
  stream.cursor = request.start;
  stream.generation = ++producer->generations;
  if (request.start >= request.end) {
    producer->setState(stream, DcpStream::State::kEnding);  // an empty range ends at once
  } else {
    // A stream that will reach past the vbucket's high seqno follows it:
    // from here on the vbucket logs its changes, so nothing between the
    // backfill's snapshot and the first read of the log is missed. One
    // that starts at the high seqno (FromLatest) has nothing to backfill.
    if (request.end > info.high_seqno) {
      c.bucket->followChanges(vbucket, &producer->waker);
      stream.following = true;
    }
    const bool caught_up = stream.following && request.start == info.high_seqno;
    producer->setLogPending(stream, caught_up);
    producer->setState(stream,
                       caught_up ? DcpStream::State::kIdle : DcpStream::State::kNeedSnapshot);
  }
  c.server.dcpStreamOpened();
  log.send(c);
}

void executeDcpCloseStream(Cookie& c) {
  DcpProducer* producer = producerOrRefuse(c);
  if (producer == nullptr) return;
  const auto it = producer->streams.find(c.header().vbucket);
  if (it == producer->streams.end()) {
    c.out.sendStatus(c.header(), Status::KeyEnoent);
    return;
  }
  if (producer->control.stream_end_on_close) {
    // kv_engine: the stream ends with STREAM_END(closed) through the normal
    // path; what was in flight may still arrive before it.
    producer->dropChanges(it->second);
    producer->setState(it->second, DcpStream::State::kEnding);
    it->second.end_status = mcbp::dcp::EndStatus::kClosed;
  } else {
    producer->erase(it);
    c.server.dcpStreamClosed();
  }
  c.out.send(c.header(), Status::Success, {}, {}, {}, 0);
}

void executeDcpBufferAck(Cookie& c) {
  DcpProducer* producer = producerOrRefuse(c);
  if (producer == nullptr) return;
  // No response (kv_engine); the window reopens on this thread, and the
  // session's produce() after this batch sends what waited.
  const uint32_t acked = loadBe32(c.request.extras.data());
  producer->bytes_outstanding -= std::min<uint64_t>(acked, producer->bytes_outstanding);
  if (producer->windowOpen()) producer->window_full = false;
}

}  // namespace memkv::server
