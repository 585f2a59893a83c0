#pragma once
// Who may run which command. A session holds a set of grant bits
// (McbpSession::refreshGrants) and every opcode needs a set of them; dispatch
// runs a command only if needs & ~grants == 0. One table lookup and one mask
// test per request; the reason for a refusal is worked out only when there
// is one.
//
// The rule for document privileges is what a command *answers*, not only
// what it changes: a command that returns any part of a document (its
// value, its flags, a counter's value) needs read, and one that changes a
// document needs write; a command doing both needs both.
#include <cstdint>

#include "auth/users.h"

namespace memkv::server {

// An authenticated connection (always held on a server without users).
inline constexpr uint16_t kNeedAuth = 1;
// An administrator (everyone on a server without users).
inline constexpr uint16_t kNeedAdmin = 2;
// A server with users: bucket management has no meaning on an open one.
inline constexpr uint16_t kNeedUsers = 4;
// A selected bucket.
inline constexpr uint16_t kNeedBucket = 8;
// The user's privileges on the selected bucket, auth::Privilege bits shifted
// into bits 4-8.
inline constexpr int kPrivilegeShift = 4;
inline constexpr uint16_t kNeedRead = auth::kRead << kPrivilegeShift;
inline constexpr uint16_t kNeedWrite = auth::kWrite << kPrivilegeShift;
inline constexpr uint16_t kNeedManage = auth::kManage << kPrivilegeShift;
inline constexpr uint16_t kNeedDcp = auth::kDcp << kPrivilegeShift;
// Read or stats on the selected bucket (STAT): granted with either, so the
// check stays one mask test.
inline constexpr uint16_t kNeedReadOrStats = 0x200;
// Held by no session: what an opcode memkv does not implement needs, so a
// command nobody classified is refused rather than allowed by default. (Such
// opcodes are answered UNKNOWN_COMMAND before dispatch anyway.)
inline constexpr uint16_t kNeverGranted = 0x400;

static_assert(((auth::kAllPrivileges << kPrivilegeShift) &
               (kNeedAuth | kNeedAdmin | kNeedUsers | kNeedBucket | kNeedReadOrStats |
                kNeverGranted)) == 0,
              "privilege bits overlap the other grant bits");
static_assert((auth::kAllPrivileges << kPrivilegeShift) < kNeedReadOrStats &&
                  kNeedReadOrStats < kNeverGranted,
              "every grant bit lies below kNeverGranted, apart from the others");

// What a request with this opcode needs (quiet variants as their base). Any
// thread: a lookup in a table built at startup.
uint16_t commandNeeds(uint8_t opcode);

}  // namespace memkv::server
