#pragma once
// RANGE_SCAN_CREATE / CONTINUE / CANCEL (kv_engine's docs/range_scans): the
// byte layouts of the request extras and of the CONTINUE responses' values.
#include <cstddef>
#include <cstdint>

#include "protocol/limits.h"

namespace memkv::mcbp::range_scan {

// The scan id the server returns from CREATE and the client names in CONTINUE
// and CANCEL (CANCEL's extras are exactly the id).
inline constexpr size_t kIdSize = 16;

// CONTINUE request extras, all big-endian, 0 meaning "no limit":
//   0  id[16]
//  16  u32 item limit
//  20  u32 time limit (ms)
//  24  u32 byte limit
inline constexpr size_t kContinueItemLimitOffset = 16;
inline constexpr size_t kContinueTimeLimitOffset = 20;
inline constexpr size_t kContinueByteLimitOffset = 24;
inline constexpr size_t kContinueExtrasSize = 28;

// Every CONTINUE response (the final one too) carries 4 bytes of extras: a
// big-endian u32 saying how its value is laid out.
inline constexpr size_t kResponseExtrasSize = 4;
inline constexpr uint32_t kKeyOnlyFlags = 0;   // value: { leb128 keylen, key }*
inline constexpr uint32_t kDocumentFlags = 1;  // value: { meta, leb128 keylen, key,
                                               //          leb128 valuelen, value }*

// A document's meta, before its key, no padding:
//   0  u32 flags
//   4  u32 expiry (absolute seconds, 0 = none)
//   8  u64 seqno
//  16  u64 cas
//  24  u8  datatype
inline constexpr size_t kMetaFlagsOffset = 0;
inline constexpr size_t kMetaExpiryOffset = 4;
inline constexpr size_t kMetaSeqnoOffset = 8;
inline constexpr size_t kMetaCasOffset = 16;
inline constexpr size_t kMetaDatatypeOffset = 24;
inline constexpr size_t kDocumentMetaSize = 25;

// Keys in CREATE's range (start/end, before base64) obey the key rule.
inline constexpr size_t kMaxRangeKeyLength = kMaxKeyLength;

}  // namespace memkv::mcbp::range_scan
