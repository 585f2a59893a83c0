// RANGE_SCAN_CREATE / CONTINUE / CANCEL: the would-block pattern. The
// executor parks the connection and hands the work to the ExecutorPool; the
// task never touches the connection: CREATE's completion is posted to the
// owner loop, which answers and unparks; CONTINUE's frames go through the
// Inbox and its end is posted the same way (range_scan.h and
// range_scan_job.h say more).
#include <cstring>

#include "auth/users.h"
#include "common/byte_order.h"
#include "net/event_loop.h"
#include "protocol/range_scan.h"
#include "server/executors.h"
#include "server/range_scan_job.h"

namespace memkv::server {

using mcbp::Status;

namespace {

namespace rs = mcbp::range_scan;

ScanId scanIdFrom(const uint8_t* p) {
  ScanId id;
  std::memcpy(id.data(), p, id.size());
  return id;
}

// Whose scans this session may see: its user's ("" anonymous on an open
// server, where every client is the same user).
std::string_view scanUser(const McbpSession& session) {
  return session.user() != nullptr ? std::string_view(session.user()->name()) : std::string_view();
}

// Answers a parked CREATE on the owner thread.
void answerCreate(McbpSession& session, const mcbp::RequestHeader& header, Status status,
                  std::span<const uint8_t> value) {
  ResponseWriter out = session.responseWriter();
  if (status == Status::Success) {
    out.send(header, status, {}, {}, value, 0);
  } else {
    out.sendStatus(header, status);
  }
  session.unpark();
}

}  // namespace

void executeRangeScanCreate(Cookie& c) {
  RangeScanConfig config;
  switch (parseRangeScanConfig(
      {reinterpret_cast<const char*>(c.request.value.data()), c.request.value.size()}, &config)) {
    case ConfigError::kOk:
      break;
    case ConfigError::kInvalid:
      c.out.sendStatus(c.header(), Status::Einval);
      return;
    case ConfigError::kUnknownCollection:
      c.out.sendStatus(c.header(), Status::UnknownCollection);
      return;
  }
  // The vbucket is the header's: the SDK makes one scan per vbucket.
  const uint16_t vbucket = c.header().vbucket;
  // With a cluster map, a vbucket of another node is refused as a document
  // command on it is, config included.
  if (refuseUnservedVBucket(c, vbucket)) return;
  BucketHandle bucket = c.session.bucketHandle();
  if (config.snapshot_requirements) {
    // One node, no failover: the uuid must be this vbucket's, and the seqno
    // already reached (memkv answers at once instead of waiting).
    const engine::VBucketInfo info = bucket->bucket.vbucketInfo(vbucket);
    if (config.vb_uuid != info.uuid) {
      c.out.sendStatus(c.header(), Status::VbUuidNotEqual);
      return;
    }
    if (config.seqno > info.high_seqno) {
      c.out.sendStatus(c.header(), Status::Etmpfail);
      return;
    }
  }
  ScanOwner owner{&c.session, std::string(scanUser(c.session))};
  if (!c.server.rangeScans().hasRoom(owner)) {
    c.out.sendStatus(c.header(), Status::Ebusy);  // a cap: the SDK backs off
    return;
  }
  // The snapshot (and its sort) runs on the pool: a vbucket may hold many
  // items, and other connections of this worker must not wait for them.
  c.session.park();
  const mcbp::RequestHeader header = c.header();
  ServerContext& server = c.server;
  net::EventLoop& loop = c.connection.loop();
  auto anchor = c.session.anchor();
  auto task = [bucket, config, vbucket, header, &server, &loop, anchor, owner] {
    runParkedTask(loop, anchor, [&] {
      std::vector<engine::ScanItem> items =
          config.sampling ? bucket->bucket.sampleVBucket(vbucket, config.samples, config.seed)
                          : bucket->bucket.snapshotRange(vbucket, config.range);
      auto snapshot = std::make_shared<std::vector<engine::ScanItem>>(std::move(items));
      postToSession(
          loop, anchor,
          [bucket, config, vbucket, header, &server, &loop, owner, snapshot](McbpSession& session) {
            if (snapshot->empty()) {
              answerCreate(session, header, Status::KeyEnoent, {});
              return;
            }
            ScanId id;
            if (!newScanId(&id)) {
              answerCreate(session, header, Status::Einternal, {});
              return;
            }
            auto scan = std::make_shared<RangeScan>(id, bucket, vbucket, config.key_only,
                                                    std::move(*snapshot), owner, loop.nowMs());
            if (!server.rangeScans().add(std::move(scan))) {
              answerCreate(session, header, Status::Ebusy, {});  // filled meanwhile
              return;
            }
            answerCreate(session, header, Status::Success, id);
          });
    });
  };
  if (!server.executors().submit(engine::TaskPriority::kHigh, std::move(task))) {
    c.session.unpark();
    c.out.sendStatus(c.header(), Status::Etmpfail);
  }
}

void executeRangeScanContinue(Cookie& c) {
  const uint8_t* extras = c.request.extras.data();
  const ScanId id = scanIdFrom(extras);
  const ContinueLimits limits{loadBe32(extras + rs::kContinueItemLimitOffset),
                              loadBe32(extras + rs::kContinueTimeLimitOffset),
                              loadBe32(extras + rs::kContinueByteLimitOffset)};
  RangeScanRegistry& registry = c.server.rangeScans();
  RangeScanHandle scan = registry.find(id, c.session.bucketHandle(), scanUser(c.session));
  if (!scan) {
    c.out.sendStatus(c.header(), Status::KeyEnoent);
    return;
  }
  if (scan->state() == RangeScan::State::kCancelled) {
    registry.remove(id);
    uint8_t flags[rs::kResponseExtrasSize];
    storeBe32(flags, scan->keyOnly() ? rs::kKeyOnlyFlags : rs::kDocumentFlags);
    c.out.send(c.header(), Status::RangeScanCancelled, flags, {}, {}, 0);
    return;
  }
  if (!scan->beginContinue()) {
    c.out.sendStatus(c.header(), Status::Ebusy);  // another CONTINUE is running
    return;
  }
  c.session.park();
  // Runs on this connection's loop: the worker's counters have one writer.
  auto on_complete = [anchor = c.session.anchor()](const ContinueTotals& totals) {
    auto a = anchor.lock();
    if (!a || !a->session) return;  // the connection closed meanwhile
    CommandCounters& counters = a->session->worker().commands;
    counters.bytes_copied.add(totals.bytes_copied);
    counters.bytes_referenced.add(totals.bytes_referenced);
    a->session->unpark();
  };
  auto job = std::make_shared<ContinueJob>(std::move(scan), registry, c.server.executors(),
                                           c.connection.inbox(), c.connection.loop(),
                                           std::move(on_complete), c.header().opaque, limits,
                                           c.session.features().has(mcbp::Feature::Json));
  job->start();
}

void executeRangeScanCancel(Cookie& c) {
  const ScanId id = scanIdFrom(c.request.extras.data());
  RangeScanHandle scan =
      c.server.rangeScans().find(id, c.session.bucketHandle(), scanUser(c.session));
  if (!scan) {
    c.out.sendStatus(c.header(), Status::KeyEnoent);
    return;
  }
  // A CONTINUE running elsewhere sees the flag and ends with CANCELLED.
  scan->cancel();
  c.server.rangeScans().remove(id);
  c.out.send(c.header(), Status::Success, {}, {}, {}, 0);
}

}  // namespace memkv::server
