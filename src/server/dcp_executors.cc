// DCP commands (docs/dcp.md). So far: DCP_GET_FAILOVER_LOG, which kv_engine
// answers on any KV connection, DCP-opened or not.
#include <array>

#include "protocol/dcp.h"
#include "server/executors.h"

namespace memkv::server {

using mcbp::Status;

void executeGetFailoverLog(Cookie& c) {
  const uint16_t vbucket = c.header().vbucket;
  if (refuseForeignVBucket(c, vbucket)) return;
  if (vbucket >= engine::kVBucketCount) {
    c.out.sendStatus(c.header(), Status::NotMyVbucket);
    return;
  }
  // One branch per vbucket: memkv never fails over, and a vbucket whose
  // contents went without deletions (a new process, a cluster map taking it
  // away) starts a new history with a new uuid, so an older uuid is unknown
  // and a consumer resuming with it rolls back to 0.
  const engine::VBucketInfo info = c.session.bucketHandle()->bucket.vbucketInfo(vbucket);
  const std::array<mcbp::dcp::FailoverEntry, 1> log = {{{info.uuid, 0}}};
  std::array<uint8_t, mcbp::dcp::kFailoverEntrySize * log.size()> value;
  mcbp::dcp::encodeFailoverLog(log, value.data());
  c.out.send(c.header(), Status::Success, {}, {}, value, 0);
}

}  // namespace memkv::server
