#pragma once
// MCBP response status codes (kv_engine include/mcbp/protocol/status.h).
#include <cstdint>
#include <string_view>

namespace memkv::mcbp {

enum class Status : uint16_t {
  Success = 0x00,
  KeyEnoent = 0x01,
  KeyEexists = 0x02,
  E2big = 0x03,
  Einval = 0x04,
  NotStored = 0x05,
  DeltaBadval = 0x06,
  NotMyVbucket = 0x07,
  NoBucket = 0x08,
  Locked = 0x09,
  NotLocked = 0x0e,
  AuthError = 0x20,
  AuthContinue = 0x21,
  Erange = 0x22,
  Rollback = 0x23,
  Eaccess = 0x24,
  UnknownFrameInfo = 0x80,
  UnknownCommand = 0x81,
  Enomem = 0x82,
  NotSupported = 0x83,
  Einternal = 0x84,
  Ebusy = 0x85,
  Etmpfail = 0x86,
  UnknownCollection = 0x88,
  DcpStreamIdInvalid = 0x8d,
  DurabilityInvalidLevel = 0xa0,
  RangeScanCancelled = 0xa5,
  RangeScanMore = 0xa6,
  RangeScanComplete = 0xa7,
  VbUuidNotEqual = 0xa8,
};

// The text memcached 1.6 puts in the body of an error response ("Not found",
// ...); empty for statuses that carry no text.
std::string_view statusText(Status status);

}  // namespace memkv::mcbp
