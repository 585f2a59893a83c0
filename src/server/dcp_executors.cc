// DCP commands (docs/dcp.md). So far: DCP_GET_FAILOVER_LOG, which kv_engine
// answers on any KV connection, DCP-opened or not.
#include <array>
#include <vector>

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
  // memkv never fails over: a vbucket's branches begin where its contents
  // went without deletions (the process started, a FLUSH, a cluster map
  // taking it away), each at a seqno that is also the purge seqno, so a
  // consumer from before any of them rolls back to 0.
  const std::vector<engine::FailoverEntry> branches =
      c.session.bucketHandle()->bucket.failoverLog(vbucket);
  std::array<mcbp::dcp::FailoverEntry, engine::kMaxFailoverEntries> log;
  for (size_t i = 0; i < branches.size(); ++i) log[i] = {branches[i].uuid, branches[i].seqno};
  std::array<uint8_t, mcbp::dcp::kFailoverEntrySize * engine::kMaxFailoverEntries> value;
  const std::span<const mcbp::dcp::FailoverEntry> used(log.data(), branches.size());
  mcbp::dcp::encodeFailoverLog(used, value.data());
  c.out.send(c.header(), Status::Success, {}, {},
             std::span<const uint8_t>(value.data(), mcbp::dcp::kFailoverEntrySize * used.size()),
             0);
}

}  // namespace memkv::server
