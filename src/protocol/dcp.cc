#include "protocol/dcp.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include "common/byte_order.h"

namespace memkv::mcbp::dcp {

namespace {

constexpr uint32_t kKnownOpenFlags =
    kOpenProducer | kOpenInvalid | kOpenIncludeXattrs | kOpenNoValue | kOpenUnused |
    kOpenIncludeDeleteTimes | kOpenNoValueWithUnderlyingDatatype | kOpenPiTR |
    kOpenIncludeDeletedUserXattrs | kOpenSkipDeletesInInitialBackfill;

constexpr uint32_t kKnownStreamFlags = kStreamTakeOver | kStreamDiskOnly | kStreamToLatest |
                                       kStreamNoValueObsolete | kStreamActiveVbOnly |
                                       kStreamStrictVbUuid | kStreamFromLatest |
                                       kStreamIgnorePurgedTombstones | kStreamCacheTransfer;

// A decimal u32, nothing else (no sign, no spaces, no suffix).
std::optional<uint32_t> parseU32(std::string_view text) {
  uint32_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// set_noop_interval's seconds (a float, as kv_engine reads it) in
// milliseconds: at least kMinNoopIntervalMs before any rounding (kv_engine
// compares the float), at most what a u32 of milliseconds holds.
std::optional<uint32_t> parseNoopInterval(std::string_view text) {
  double seconds = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(seconds) ||
      seconds < kMinNoopIntervalMs / 1000.0 || seconds > kMaxNoopIntervalMs / 1000.0) {
    return std::nullopt;
  }
  return static_cast<uint32_t>(std::llround(seconds * 1000));
}

// A producer's request header (magic 0x80) for a message of this shape.
uint8_t* writeHeader(uint8_t* out, uint8_t opcode, uint16_t key_length, uint8_t extras_length,
                     uint8_t datatype, uint16_t vbucket, uint32_t body_length, uint32_t opaque,
                     uint64_t cas) {
  out[0] = 0x80;
  out[1] = opcode;
  storeBe16(out + 2, key_length);
  out[4] = extras_length;
  out[5] = datatype;
  storeBe16(out + 6, vbucket);
  storeBe32(out + 8, body_length);
  storeBe32(out + 12, opaque);
  storeBe64(out + 16, cas);
  return out + kHeaderSize;
}

// The key as it goes out: the default collection's id (LEB128 0) first on
// a collections-enabled connection.
uint8_t* writeKey(uint8_t* p, const ItemFields& item) {
  if (item.collections) *p++ = 0x00;
  std::memcpy(p, item.key.data(), item.key.size());
  return p + item.key.size();
}

uint16_t wireKeyLength(const ItemFields& item) {
  return static_cast<uint16_t>(item.key.size() + (item.collections ? 1 : 0));
}

}  // namespace

Status parseOpen(std::span<const uint8_t> extras, std::string_view key, size_t value_length,
                 OpenRequest* out) {
  if (extras.size() != kOpenExtrasSize || key.empty() || key.size() > kMaxNameLength) {
    return Status::Einval;
  }
  const uint32_t flags = loadBe32(extras.data() + 4);
  if ((flags & ~kKnownOpenFlags) != 0 || (flags & (kOpenInvalid | kOpenUnused | kOpenPiTR)) != 0) {
    return Status::Einval;
  }
  const bool producer = (flags & kOpenProducer) != 0;
  if ((flags & kOpenSkipDeletesInInitialBackfill) != 0 && !producer) return Status::Einval;
  if ((flags & kOpenNoValue) != 0 && (flags & kOpenNoValueWithUnderlyingDatatype) != 0) {
    return Status::Einval;
  }
  if ((flags & kOpenIncludeDeletedUserXattrs) != 0 && (flags & kOpenIncludeXattrs) == 0) {
    return Status::Einval;
  }
  // A value (consumer_name) is for consumers only.
  if (value_length != 0 && producer) return Status::Einval;
  // memkv is a producer, and stores no xattrs to include.
  if (!producer || (flags & kOpenIncludeXattrs) != 0) return Status::NotSupported;
  out->flags = flags;
  out->name = key;
  return Status::Success;
}

Status applyControl(std::string_view key, std::string_view value, uint32_t open_flags,
                    ControlState* state) {
  if (key == "connection_buffer_size") {
    const std::optional<uint32_t> size = parseU32(value);
    if (!size) return Status::Einval;
    state->buffer_size = *size;
    return Status::Success;
  }
  if (key == "enable_noop") {
    state->noop_enabled = value == "true";
    return Status::Success;
  }
  if (key == "set_noop_interval") {
    const std::optional<uint32_t> ms = parseNoopInterval(value);
    if (!ms) return Status::Einval;
    state->noop_interval_ms = *ms;
    return Status::Success;
  }
  if (key == "set_priority") {
    if (value == "high") {
      state->priority = Priority::kHigh;
    } else if (value == "medium") {
      state->priority = Priority::kMedium;
    } else if (value == "low") {
      state->priority = Priority::kLow;
    } else {
      return Status::Einval;
    }
    return Status::Success;
  }
  if (key == "send_stream_end_on_client_close_stream") {
    // One way: once on it stays on.
    if (value == "true") state->stream_end_on_close = true;
    return Status::Success;
  }
  if (key == "enable_expiry_opcode") {
    // Without delete times an expiry goes out as a deletion (kv_engine).
    state->expiry_opcode = value == "true" && (open_flags & kOpenIncludeDeleteTimes) != 0;
    return Status::Success;
  }
  if (key == "supports_cursor_dropping" || key == "supports_cursor_dropping_vulcan" ||
      key == "supports_hifi_MFU") {
    // Permissions the consumer grants; memkv drops cursors anyway (a slow
    // stream backfills again).
    return Status::Success;
  }
  if (key == "enable_out_of_order_snapshots") {
    // Allowed, never used: memkv sends snapshots in seqno order.
    return value == "true" || value == "true_with_seqno_advanced" ? Status::Success
                                                                  : Status::Einval;
  }
  if (key == "backfill_order") {
    return value == "round-robin" || value == "sequential" ? Status::Success : Status::Einval;
  }
  if (key == "v7_dcp_status_codes") {
    return value == "true" ? Status::Success : Status::Einval;
  }
  if (key == "force_value_compression") return Status::Einval;  // needs Snappy: never granted
  if (key == "stream_buffer_size" || key == "enable_stream_id" || key == "enable_sync_writes" ||
      key == "consumer_name" || key == "include_deleted_user_xattrs" ||
      key == "max_marker_version" || key == "flatbuffers_system_events" ||
      key == "change_streams" || key == "cache_transfer") {
    return Status::NotSupported;
  }
  return Status::Einval;  // kv_engine: "Invalid ctrl parameter"
}

Status parseStreamRequest(std::span<const uint8_t> extras, StreamRequest* out) {
  if (extras.size() != kStreamReqExtrasSize) return Status::Einval;
  const uint8_t* p = extras.data();
  const uint32_t flags = loadBe32(p);
  if ((flags & ~kKnownStreamFlags) != 0 || (flags & kStreamNoValueObsolete) != 0) {
    return Status::Einval;
  }
  if ((flags & (kStreamTakeOver | kStreamCacheTransfer)) != 0) return Status::NotSupported;
  out->flags = flags;
  out->start = loadBe64(p + 8);
  out->end = loadBe64(p + 16);
  out->vb_uuid = loadBe64(p + 24);
  out->snap_start = loadBe64(p + 32);
  out->snap_end = loadBe64(p + 40);
  return Status::Success;
}

Status checkStreamRange(const StreamRequest& r) {
  if (r.start > r.end || r.snap_start > r.start || r.start > r.snap_end) return Status::Erange;
  return Status::Success;
}

std::optional<uint64_t> rollbackSeqno(const StreamRequest& r, std::span<const FailoverEntry> log,
                                      uint64_t high_seqno, uint64_t purge_seqno) {
  // 1. From the beginning, unless the client insists on its branch.
  if (r.start == 0 && ((r.flags & kStreamStrictVbUuid) == 0 || r.vb_uuid == 0)) {
    return std::nullopt;
  }
  // 2. Deletions below the client's start were forgotten: it could miss one.
  if (r.start != 0 && r.start < purge_seqno && (r.flags & kStreamIgnorePurgedTombstones) == 0) {
    return 0;
  }
  // 3. The client's branch, and where the history moved on from it.
  size_t i = 0;
  while (i < log.size() && log[i].uuid != r.vb_uuid) ++i;
  if (i == log.size()) return 0;
  const uint64_t upper = i == 0 ? high_seqno : log[i - 1].seqno;
  // 4. A client whose snapshot ends within the branch's part is fine.
  uint64_t snap_start = r.snap_start;
  uint64_t snap_end = r.snap_end;
  if (r.start == snap_start) snap_end = r.start;
  if (snap_end <= upper) return std::nullopt;
  // 5. Otherwise back to where the client's snapshot is known to be whole.
  if (r.start == snap_end) snap_start = r.start;
  return upper < snap_start ? upper : snap_start;
}

void encodeFailoverLog(std::span<const FailoverEntry> log, uint8_t* out) {
  for (const FailoverEntry& e : log) {
    storeBe64(out, e.uuid);
    storeBe64(out + 8, e.seqno);
    out += kFailoverEntrySize;
  }
}

size_t encodeSnapshotMarker(uint8_t* out, uint32_t opaque, uint16_t vbucket, uint64_t start,
                            uint64_t end, uint32_t flags) {
  uint8_t* p = writeHeader(out, kOpSnapshotMarker, 0, kMarkerV1ExtrasSize, 0, vbucket,
                           kMarkerV1ExtrasSize, opaque, 0);
  storeBe64(p, start);
  storeBe64(p + 8, end);
  storeBe32(p + 16, flags);
  return kMarkerV1Bytes;
}

size_t encodeMutation(uint8_t* out, const ItemFields& item, uint32_t flags, uint32_t expiry,
                      uint32_t value_length) {
  const uint16_t key_length = wireKeyLength(item);
  uint8_t* p =
      writeHeader(out, kOpMutation, key_length, kMutationExtrasSize, item.datatype, item.vbucket,
                  kMutationExtrasSize + key_length + value_length, item.opaque, item.cas);
  storeBe64(p, item.by_seqno);
  storeBe64(p + 8, item.rev_seqno);
  storeBe32(p + 16, flags);  // as GET returns them
  storeBe32(p + 20, expiry);
  storeBe32(p + 24, 0);  // lock time
  storeBe16(p + 28, 0);  // nmeta: must be 0
  p[30] = 0;             // nru
  p = writeKey(p + kMutationExtrasSize, item);
  return static_cast<size_t>(p - out);
}

size_t encodeDeletion(uint8_t* out, const ItemFields& item, bool v2, uint32_t delete_time) {
  const uint16_t key_length = wireKeyLength(item);
  const uint8_t extras = v2 ? kDeletionV2ExtrasSize : kDeletionV1ExtrasSize;
  uint8_t* p = writeHeader(out, kOpDeletion, key_length, extras, 0, item.vbucket,
                           extras + key_length, item.opaque, item.cas);
  storeBe64(p, item.by_seqno);
  storeBe64(p + 8, item.rev_seqno);
  if (v2) {
    storeBe32(p + 16, delete_time);
    p[20] = 0;
  } else {
    storeBe16(p + 16, 0);  // nmeta
  }
  p = writeKey(p + extras, item);
  return static_cast<size_t>(p - out);
}

size_t encodeExpiration(uint8_t* out, const ItemFields& item, uint32_t delete_time) {
  const uint16_t key_length = wireKeyLength(item);
  uint8_t* p = writeHeader(out, kOpExpiration, key_length, kExpirationExtrasSize, 0, item.vbucket,
                           kExpirationExtrasSize + key_length, item.opaque, item.cas);
  storeBe64(p, item.by_seqno);
  storeBe64(p + 8, item.rev_seqno);
  storeBe32(p + 16, delete_time);
  p = writeKey(p + kExpirationExtrasSize, item);
  return static_cast<size_t>(p - out);
}

size_t encodeStreamEnd(uint8_t* out, uint32_t opaque, uint16_t vbucket, EndStatus status) {
  uint8_t* p = writeHeader(out, kOpStreamEnd, 0, kStreamEndExtrasSize, 0, vbucket,
                           kStreamEndExtrasSize, opaque, 0);
  storeBe32(p, static_cast<uint32_t>(status));
  return kStreamEndBytes;
}

size_t encodeNoop(uint8_t* out, uint32_t opaque) {
  writeHeader(out, kOpNoop, 0, 0, 0, 0, 0, opaque, 0);
  return kHeaderSize;
}

}  // namespace memkv::mcbp::dcp
