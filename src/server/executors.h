#pragma once
// The executors: one function per command family, run by McbpSession's
// dispatch on the connection's owner thread with the request's Cookie. Each
// answers through cookie.out, or parks the session and finishes from a
// background task (the would-block commands).
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "server/cookie.h"

namespace memkv::server {

void executeGet(Cookie& cookie);        // GET, GETQ, GETK, GETKQ
void executeTouch(Cookie& cookie);      // TOUCH, GAT, GATQ, GATK, GATKQ
void executeStore(Cookie& cookie);      // SET, ADD, REPLACE, APPEND, PREPEND (+Q)
void executeDelete(Cookie& cookie);     // DELETE(Q)
void executeCounter(Cookie& cookie);    // INCREMENT, DECREMENT (+Q)
void executeGetLocked(Cookie& cookie);  // GET_LOCKED
void executeUnlock(Cookie& cookie);     // UNLOCK_KEY
void executeFlush(Cookie& cookie);      // FLUSH(Q)
void executeNoop(Cookie& cookie);       // NOOP
void executeVersion(Cookie& cookie);    // VERSION
void executeQuit(Cookie& cookie);       // QUIT(Q)
void executeVerbosity(Cookie& cookie);  // VERBOSITY
void executeStat(Cookie& cookie);       // STAT
// FLUSH and flush_all: flushes now (delay 0) or later, and frees the items
// on the executor pool.
void flushBucket(ServerContext& server, const BucketHandle& bucket, uint32_t delay);
// A map change took these vbuckets of the bucket from this node: their items
// vanish now and are freed on the executor pool. Returns the items dropped.
size_t dropVBuckets(ServerContext& server, const BucketHandle& bucket,
                    std::span<const uint16_t> vbuckets);
// Couchbase's session layer (session_executors.cc).
void executeHello(Cookie& cookie);            // HELLO
void executeErrorMap(Cookie& cookie);         // GET_ERROR_MAP
void executeSaslListMechs(Cookie& cookie);    // SASL_LIST_MECHS
void executeSaslAuth(Cookie& cookie);         // SASL_AUTH, SASL_STEP
void executeSelectBucket(Cookie& cookie);     // SELECT_BUCKET
void executeListBuckets(Cookie& cookie);      // LIST_BUCKETS
void executeCreateBucket(Cookie& cookie);     // CREATE_BUCKET
void executeDeleteBucket(Cookie& cookie);     // DELETE_BUCKET
void executeGetCollectionId(Cookie& cookie);  // GET_COLLECTION_ID
// The cluster config (cluster_config.cc).
void executeClusterConfig(Cookie& cookie);  // GET_CLUSTER_CONFIG
// NOT_MY_VBUCKET for a document command on a vbucket this node does not own
// (--cluster-map), with the bucket's config as the body.
void sendNotMyVBucket(Cookie& cookie);
// With a cluster map: answers NOT_MY_VBUCKET (counted in not_my_vbucket) and
// returns true if `vbucket` is not this node's; false otherwise, the request
// to be served. Without a map every vbucket is this node's.
bool refuseForeignVBucket(Cookie& cookie, uint16_t vbucket);
// For commands that name a vbucket (range scans, DCP): refuseForeignVBucket,
// and NOT_MY_VBUCKET (no config) for one beyond 1023. True if it answered.
bool refuseUnservedVBucket(Cookie& cookie, uint16_t vbucket);
// Config push (docs/cluster.md), after the map changed: every worker sends
// each of its connections that negotiated ClustermapChangeNotification and
// has not got this map its bucket's config, on its own thread. Any thread.
void pushClusterMapToAll(ServerContext& server);
// After a map change: empties the vbuckets this node lost (dropVBuckets) once
// every worker has finished the commands it was running under the old map,
// on the executor pool. Any thread.
void dropLostVBuckets(ServerContext& server, std::vector<BucketManager::LostVBuckets> lost);
// DCP (dcp_executors.cc).
void executeGetFailoverLog(Cookie& cookie);  // DCP_GET_FAILOVER_LOG
void executeDcpOpen(Cookie& cookie);         // DCP_OPEN
void executeDcpControl(Cookie& cookie);      // DCP_CONTROL
void executeDcpStreamReq(Cookie& cookie);    // DCP_STREAM_REQ
void executeDcpCloseStream(Cookie& cookie);  // DCP_CLOSE_STREAM
void executeDcpBufferAck(Cookie& cookie);    // DCP_BUFFER_ACKNOWLEDGEMENT
// Range scans (range_scan_executors.cc): would-block commands.
void executeRangeScanCreate(Cookie& cookie);    // RANGE_SCAN_CREATE
void executeRangeScanContinue(Cookie& cookie);  // RANGE_SCAN_CONTINUE
void executeRangeScanCancel(Cookie& cookie);    // RANGE_SCAN_CANCEL

}  // namespace memkv::server
