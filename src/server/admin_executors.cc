// Session and administrative commands: NOOP, VERSION, QUIT, FLUSH, VERBOSITY.
#include <string_view>
#include <utility>

#include "common/byte_order.h"
#include "common/logging.h"
#include "server/executors.h"

namespace memkv::server {

using mcbp::Status;

namespace {
// Flushed items one sweep task frees before queueing the next step, so
// range scans and STAT tasks interleave with a long sweep.
constexpr size_t kSweepStep = 4096;

void sweepFlushed(engine::ExecutorPool& pool, BucketHandle bucket) {
  pool.submit(engine::TaskPriority::kLow, [&pool, bucket = std::move(bucket)] {
    if (bucket->bucket.reclaimFlushed(kSweepStep)) sweepFlushed(pool, bucket);
  });
}
}  // namespace

void flushBucket(ServerContext& server, const BucketHandle& bucket, uint32_t delay) {
  // The flush itself is O(vbuckets); freeing the items is not, so it runs
  // on the pool. A delayed flush's items are freed as lookups and eviction
  // meet them, or by the sweep of a later flush.
  if (bucket->bucket.flush(delay)) sweepFlushed(server.executors(), bucket);
}

size_t dropVBuckets(ServerContext& server, const BucketHandle& bucket,
                    std::span<const uint16_t> vbuckets) {
  bool sweep = false;
  const size_t dropped = bucket->bucket.dropVBuckets(vbuckets, &sweep);
  if (sweep) sweepFlushed(server.executors(), bucket);
  return dropped;
}

void executeNoop(Cookie& c) {
  c.out.send(c.header(), Status::Success, {}, {}, {}, 0);
}

void executeVersion(Cookie& c) {
  c.out.send(c.header(), Status::Success, {}, {},
             {reinterpret_cast<const uint8_t*>(kMemcachedVersion.data()), kMemcachedVersion.size()},
             0);
}

void executeQuit(Cookie& c) {
  if (!c.quiet()) c.out.send(c.header(), Status::Success, {}, {}, {}, 0);
  c.connection.closeAfterFlush(net::CloseReason::kQuit);
}

void executeFlush(Cookie& c) {
  if (!c.server.settings().flush_enabled) {
    // memcached -F: flush refused, reported as an auth error in binary.
    c.out.sendStatus(c.header(), Status::AuthError);
    return;
  }
  c.counters().cmd_flush.add(1);
  const uint32_t delay = c.request.extras.empty() ? 0 : loadBe32(c.request.extras.data());
  flushBucket(c.server, c.session.bucketHandle(), delay);
  c.replyStatus(Status::Success);
}

void executeVerbosity(Cookie& c) {
  c.server.verbosity().store(static_cast<int>(loadBe32(c.request.extras.data())));
  // memcached's meaning: the log level changes with it (as -v counts).
  setLogVerbosity(c.server.verbosity().load());
  c.replyStatus(Status::Success);
}

}  // namespace memkv::server
