#include "protocol/error_map.h"

#include <array>
#include <string_view>

namespace memkv::mcbp {
namespace {

struct Entry {
  Status status;
  std::string_view name;
  std::string_view desc;
  std::string_view attrs;  // JSON array body
};

// Names and attributes as Couchbase Server's map uses them, so SDK retry
// logic behaves as it would against Couchbase. No entry says "auto-retry":
// version 2 would then owe the client a retry schedule, and memkv's
// temporary failures are better left to the client's own retry strategy.
// Versions 1 and 2 therefore carry the same entries.
// clang-format off
constexpr std::array kEntries = {
  Entry{Status::Success,           "SUCCESS",        "Success",                               R"("success")"},
  Entry{Status::KeyEnoent,         "KEY_ENOENT",     "Not Found",                             R"("item-only")"},
  Entry{Status::KeyEexists,        "KEY_EEXISTS",    "key already exists, or CAS mismatch",   R"("item-only")"},
  Entry{Status::E2big,             "E2BIG",          "Value is too big",                      R"("item-only","invalid-input")"},
  Entry{Status::Einval,            "EINVAL",         "Invalid packet",                        R"("internal","invalid-input")"},
  Entry{Status::NotStored,         "NOT_STORED",     "Not stored",                            R"("item-only")"},
  Entry{Status::DeltaBadval,       "DELTA_BADVAL",   "Existing document not a number",        R"("item-only","invalid-input")"},
  Entry{Status::NotMyVbucket,      "NOT_MY_VBUCKET", "Server does not own this vBucket",      R"("fetch-config","retry-now")"},
  Entry{Status::NoBucket,          "NO_BUCKET",      "Not connected to a bucket",             R"("conn-state-invalidated")"},
  Entry{Status::Locked,            "LOCKED",         "Requested resource is locked",          R"("item-locked","item-only")"},
  Entry{Status::NotLocked,         "NOT_LOCKED",     "Requested resource is not locked",      R"("item-only")"},
  Entry{Status::AuthError,         "AUTH_ERROR",     "Authentication failed",                 R"("auth","conn-state-invalidated")"},
  Entry{Status::AuthContinue,      "AUTH_CONTINUE",  "Authentication continues",              R"("auth","special-handling")"},
  Entry{Status::Erange,            "ERANGE",         "Index out of range",                    R"("item-only","invalid-input")"},
  Entry{Status::Rollback,          "ROLLBACK",       "Rollback required",                     R"("dcp")"},
  Entry{Status::Eaccess,           "EACCESS",        "No access",                             R"("support")"},
  Entry{Status::UnknownFrameInfo,  "UNKNOWN_FRAME_INFO", "Unknown frame info",                R"("support","invalid-input")"},
  Entry{Status::UnknownCommand,    "UNKNOWN_COMMAND", "Unknown command",                      R"("support")"},
  Entry{Status::Enomem,            "ENOMEM",         "Out of memory",                         R"("temp","retry-later")"},
  Entry{Status::NotSupported,      "NOT_SUPPORTED",  "Operation not supported",               R"("support")"},
  Entry{Status::Einternal,         "EINTERNAL",      "Internal error",                        R"("internal")"},
  Entry{Status::Ebusy,             "EBUSY",          "System is busy",                        R"("temp","retry-later")"},
  Entry{Status::Etmpfail,          "ETMPFAIL",       "Temporary failure",                     R"("temp","retry-later")"},
  Entry{Status::UnknownCollection, "UNKNOWN_COLLECTION", "Unknown Collection",                R"("fetch-config","item-only")"},
  Entry{Status::DurabilityInvalidLevel, "DURABILITY_INVALID_LEVEL", "Invalid durability level", R"("item-only","invalid-input")"},
  Entry{Status::RangeScanCancelled, "RANGE_SCAN_CANCELLED", "The range scan was cancelled", R"("item-only")"},
  Entry{Status::RangeScanMore,      "RANGE_SCAN_MORE",      "The range scan has more items; continue it", R"("success")"},
  Entry{Status::RangeScanComplete,  "RANGE_SCAN_COMPLETE",  "The range scan is complete", R"("success")"},
  Entry{Status::VbUuidNotEqual,     "VBUUID_NOT_EQUAL",     "The vbucket uuid does not match the snapshot requirement", R"("fetch-config","item-only")"},
};
// clang-format on

constexpr std::array<Status, kEntries.size()> statusList() {
  std::array<Status, kEntries.size()> out{};
  for (size_t i = 0; i < kEntries.size(); ++i) out[i] = kEntries[i].status;
  return out;
}
constexpr std::array kStatuses = statusList();

void appendHex(std::string& out, uint16_t code) {
  constexpr char kDigits[] = "0123456789abcdef";
  bool started = false;
  for (int shift = 12; shift >= 0; shift -= 4) {
    const int digit = (code >> shift) & 0xf;
    if (digit == 0 && !started && shift != 0) continue;
    started = true;
    out.push_back(kDigits[digit]);
  }
}

}  // namespace

std::span<const Status> statusesSent() {
  return kStatuses;
}

std::string errorMapJson(uint16_t version) {
  if (version > kErrorMapVersion) version = kErrorMapVersion;
  std::string out = "{\"version\":";
  out += static_cast<char>('0' + version);
  out += ",\"revision\":1,\"errors\":{";
  bool first = true;
  for (const Entry& e : kEntries) {
    if (!first) out += ',';
    first = false;
    out += '"';
    appendHex(out, static_cast<uint16_t>(e.status));
    out += "\":{\"name\":\"";
    out += e.name;
    out += "\",\"desc\":\"";
    out += e.desc;
    out += "\",\"attrs\":[";
    out += e.attrs;
    out += "]}";
  }
  out += "}}";
  return out;
}

}  // namespace memkv::mcbp
