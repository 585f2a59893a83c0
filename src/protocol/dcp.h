#pragma once
// DCP, the change-stream protocol (kv_engine's docs/dcp and the structs in
// its protocol_binary.h; facts in shared/reference/dcp.md): what a producer
// parses from a consumer (DCP_OPEN, DCP_CONTROL, DCP_STREAM_REQ), the
// rollback decision against a vbucket's failover log, and the encoding of
// every message it sends. Pure functions over bytes, like the rest of
// protocol/; the producer itself lives in server/.
//
// Every message a producer sends is a request (magic 0x80) whose full wire
// size (24 + body) is what it counts against the consumer's flow-control
// window, noops excepted. The sizes below are kv_engine's (dcp.md §1.8).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "protocol/limits.h"
#include "protocol/status.h"

namespace memkv::mcbp::dcp {

// Opcodes (client requests unless noted).
inline constexpr uint8_t kOpGetAllVbSeqnos = 0x48;
inline constexpr uint8_t kOpOpen = 0x50;
inline constexpr uint8_t kOpAddStream = 0x51;
inline constexpr uint8_t kOpCloseStream = 0x52;
inline constexpr uint8_t kOpStreamReq = 0x53;
inline constexpr uint8_t kOpGetFailoverLog = 0x54;
inline constexpr uint8_t kOpStreamEnd = 0x55;       // producer -> consumer
inline constexpr uint8_t kOpSnapshotMarker = 0x56;  // producer -> consumer
inline constexpr uint8_t kOpMutation = 0x57;        // producer -> consumer
inline constexpr uint8_t kOpDeletion = 0x58;        // producer -> consumer
inline constexpr uint8_t kOpExpiration = 0x59;      // producer -> consumer
inline constexpr uint8_t kOpNoop = 0x5c;            // both ways
inline constexpr uint8_t kOpBufferAck = 0x5d;
inline constexpr uint8_t kOpControl = 0x5e;

// DCP_OPEN flags (extras: u32 reserved seqno, u32 flags).
inline constexpr uint32_t kOpenProducer = 0x1;
inline constexpr uint32_t kOpenInvalid = 0x2;  // formerly Notifier
inline constexpr uint32_t kOpenIncludeXattrs = 0x4;
inline constexpr uint32_t kOpenNoValue = 0x8;
inline constexpr uint32_t kOpenUnused = 0x10;
inline constexpr uint32_t kOpenIncludeDeleteTimes = 0x20;
inline constexpr uint32_t kOpenNoValueWithUnderlyingDatatype = 0x40;
inline constexpr uint32_t kOpenPiTR = 0x80;  // never supported by kv_engine either
inline constexpr uint32_t kOpenIncludeDeletedUserXattrs = 0x100;
inline constexpr uint32_t kOpenSkipDeletesInInitialBackfill = 0x200;
inline constexpr size_t kOpenExtrasSize = 8;
inline constexpr size_t kMaxNameLength = 200;

struct OpenRequest {
  uint32_t flags = 0;
  std::string_view name;
};

// Checks DCP_OPEN as kv_engine's validator and executor do, then what memkv
// serves: a producer without xattrs (memkv stores none). Einval for a
// malformed request; NotSupported for a consumer or IncludeXattrs.
Status parseOpen(std::span<const uint8_t> extras, std::string_view key, size_t value_length,
                 OpenRequest* out);

// DCP_CONTROL: what the consumer set on its connection.
enum class Priority : uint8_t { kLow, kMedium, kHigh };
struct ControlState {
  uint32_t buffer_size = 0;  // connection_buffer_size; 0: no flow control
  bool noop_enabled = false;
  uint32_t noop_interval_ms = 20000;  // kv_engine's default, 20 s
  bool expiry_opcode = false;         // only with IncludeDeleteTimes
  bool stream_end_on_close = false;   // send_stream_end_on_client_close_stream
  Priority priority = Priority::kMedium;
};
inline constexpr uint32_t kMinNoopIntervalMs = 100;  // connection_manager_interval
// kv_engine sets no maximum; this is what a u32 of milliseconds holds.
inline constexpr uint32_t kMaxNoopIntervalMs = 4'294'967 * 1000u;

// Applies one DCP_CONTROL key/value (both non-empty: the caller validated
// the frame). Success, Einval for a value the key does not take or a key
// kv_engine does not know, NotSupported for a kv_engine key memkv does not
// implement. `open_flags` are the connection's DCP_OPEN flags.
Status applyControl(std::string_view key, std::string_view value, uint32_t open_flags,
                    ControlState* state);

// DCP_STREAM_REQ (extras 48 bytes, all big-endian).
inline constexpr uint32_t kStreamTakeOver = 0x1;
inline constexpr uint32_t kStreamDiskOnly = 0x2;
inline constexpr uint32_t kStreamToLatest = 0x4;
inline constexpr uint32_t kStreamNoValueObsolete = 0x8;
inline constexpr uint32_t kStreamActiveVbOnly = 0x10;
inline constexpr uint32_t kStreamStrictVbUuid = 0x20;
inline constexpr uint32_t kStreamFromLatest = 0x40;
inline constexpr uint32_t kStreamIgnorePurgedTombstones = 0x80;
inline constexpr uint32_t kStreamCacheTransfer = 0x100;
inline constexpr size_t kStreamReqExtrasSize = 48;
// end = this: the stream never ends by itself and follows new mutations.
inline constexpr uint64_t kSeqnoMax = UINT64_MAX;

struct StreamRequest {
  uint32_t flags = 0;
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t vb_uuid = 0;
  uint64_t snap_start = 0;
  uint64_t snap_end = 0;
};

// Decodes the extras; Einval for a wrong size, an unknown flag or the
// obsolete NoValue bit; NotSupported for takeover and cache transfer (memkv
// has no replicas to hand a vbucket to).
Status parseStreamRequest(std::span<const uint8_t> extras, StreamRequest* out);

// kv_engine's range rule, after FromLatest/ToLatest are applied: start <=
// end and snap_start <= start <= snap_end, else Erange.
Status checkStreamRange(const StreamRequest& request);

// A vbucket's history: (uuid, seqno) pairs, newest first. memkv starts a
// new branch when a node starts or the vbucket is created.
struct FailoverEntry {
  uint64_t uuid;
  uint64_t seqno;
};
inline constexpr size_t kFailoverEntrySize = 16;

// kv_engine's FailoverTable::needsRollback: the seqno the client must roll
// back to, or nullopt to stream from its start. `purge_seqno` is the
// highest seqno whose deletion the vbucket no longer remembers.
std::optional<uint64_t> rollbackSeqno(const StreamRequest& request,
                                      std::span<const FailoverEntry> log, uint64_t high_seqno,
                                      uint64_t purge_seqno);

// The failover log as GET_FAILOVER_LOG and a successful STREAM_REQ send it:
// 16 bytes per entry, newest first. `out` holds log.size() * 16 bytes.
void encodeFailoverLog(std::span<const FailoverEntry> log, uint8_t* out);

// ---- Messages the producer sends ----------------------------------------
// Each encoder writes the header, extras and key at `out` (at most
// kMaxHeadSize bytes) and returns how many it wrote; the value, if any,
// follows on the wire (by reference, for large ones) and is already counted
// in the header's body length.

// SnapshotMarker flags.
inline constexpr uint32_t kMarkerMemory = 0x1;
inline constexpr uint32_t kMarkerDisk = 0x2;
inline constexpr uint32_t kMarkerCheckpoint = 0x4;
inline constexpr uint32_t kMarkerAck = 0x8;

// StreamEnd reasons.
enum class EndStatus : uint32_t {
  kOk = 0,
  kClosed = 1,
  kStateChanged = 2,
  kDisconnected = 3,
  kSlow = 4,
  kBackfillFail = 5,
  kRollback = 6,
  kFilterEmpty = 7,
  kLostPrivileges = 8,
};

inline constexpr size_t kHeaderSize = 24;
inline constexpr size_t kMarkerV1ExtrasSize = 20;
inline constexpr size_t kMutationExtrasSize = 31;
inline constexpr size_t kDeletionV1ExtrasSize = 18;
inline constexpr size_t kDeletionV2ExtrasSize = 21;
inline constexpr size_t kExpirationExtrasSize = 20;
inline constexpr size_t kStreamEndExtrasSize = 4;
// The longest head: a mutation whose key has the one-byte default
// collection prefix.
inline constexpr size_t kMaxHeadSize = kHeaderSize + kMutationExtrasSize + 1 + kMaxKeyLength;

// Flow-control bytes (the full wire size) of each message, kv_engine's.
inline constexpr size_t kMarkerV1Bytes = kHeaderSize + kMarkerV1ExtrasSize;          // 44
inline constexpr size_t kStreamEndBytes = kHeaderSize + kStreamEndExtrasSize;        // 28
inline constexpr size_t kMutationBaseBytes = kHeaderSize + kMutationExtrasSize;      // 55
inline constexpr size_t kDeletionV1BaseBytes = kHeaderSize + kDeletionV1ExtrasSize;  // 42
inline constexpr size_t kDeletionV2BaseBytes = kHeaderSize + kDeletionV2ExtrasSize;  // 45
inline constexpr size_t kExpirationBaseBytes = kHeaderSize + kExpirationExtrasSize;  // 44
inline constexpr size_t kNoopBytes = kHeaderSize;  // 24, never counted

// What every item message carries. With `collections` the key goes out
// with the default collection's LEB128 id (one 0x00 byte) in front.
struct ItemFields {
  uint32_t opaque = 0;  // the stream's: its STREAM_REQ's opaque
  uint16_t vbucket = 0;
  uint64_t cas = 0;
  uint8_t datatype = 0;
  uint64_t by_seqno = 0;
  uint64_t rev_seqno = 1;
  std::string_view key;
  bool collections = false;
};

size_t encodeSnapshotMarker(uint8_t* out, uint32_t opaque, uint16_t vbucket, uint64_t start,
                            uint64_t end, uint32_t flags);
size_t encodeMutation(uint8_t* out, const ItemFields& item, uint32_t flags, uint32_t expiry,
                      uint32_t value_length);
// v1 (18-byte extras) unless the connection opened with IncludeDeleteTimes:
// then v2, with the deletion time.
size_t encodeDeletion(uint8_t* out, const ItemFields& item, bool v2, uint32_t delete_time);
size_t encodeExpiration(uint8_t* out, const ItemFields& item, uint32_t delete_time);
size_t encodeStreamEnd(uint8_t* out, uint32_t opaque, uint16_t vbucket, EndStatus status);
// The producer's noop request; never counted against the window.
size_t encodeNoop(uint8_t* out, uint32_t opaque);

}  // namespace memkv::mcbp::dcp
