#pragma once
// GET_ERROR_MAP (0xfe): the JSON document that tells a client what each status
// memkv may return means and how to react (retry, refresh config, give up).
// Couchbase SDKs look up codes they do not know here, so every status memkv
// sends is listed, and only those (tests/protocol/error_map_test.cc scans
// the sources for the statuses they send and compares).
#include <cstdint>
#include <span>
#include <string>

#include "protocol/status.h"

namespace memkv::mcbp {

// The highest error map version memkv serves.
inline constexpr uint16_t kErrorMapVersion = 2;

// Every status memkv can send: exactly the map's entries. The fuzzers use it
// as their oracle of what a response may carry.
std::span<const Status> statusesSent();

// The map for a requested version (1 or 2; higher requests get 2).
std::string errorMapJson(uint16_t version);

}  // namespace memkv::mcbp
