// The privilege table: what every opcode 0..255 needs, against a matrix
// written out here by hand (not derived from the code under test), and what
// that means for the roles a users file can give.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <map>

#include "server/command_access.h"

namespace memkv::server {
namespace {

constexpr uint16_t kNone = 0;
constexpr uint16_t kAuth = kNeedAuth;
constexpr uint16_t kAdmin = kNeedAuth | kNeedAdmin;
constexpr uint16_t kBucketAdmin = kNeedAuth | kNeedAdmin | kNeedUsers;
constexpr uint16_t kR = kNeedAuth | kNeedBucket | kNeedRead;
constexpr uint16_t kW = kNeedAuth | kNeedBucket | kNeedWrite;
constexpr uint16_t kRW = kNeedAuth | kNeedBucket | kNeedRead | kNeedWrite;
constexpr uint16_t kM = kNeedAuth | kNeedBucket | kNeedManage;
// Read or stats: the bucket's statistics.
constexpr uint16_t kStat = kNeedAuth | kNeedBucket | kNeedReadOrStats;
// DCP_OPEN and DCP_CONTROL: the dcp privilege.
constexpr uint16_t kDcp = kNeedAuth | kNeedBucket | kNeedDcp;
// DCP_STREAM_REQ: a stream sends documents, so read too.
constexpr uint16_t kDcpRead = kDcp | kNeedRead;

// Every opcode memkv implements. Anything else must need kNeverGranted.
const std::map<uint8_t, uint16_t> kExpected = {
    {0x00, kR},            // GET
    {0x01, kW},            // SET
    {0x02, kW},            // ADD
    {0x03, kW},            // REPLACE
    {0x04, kW},            // DELETE
    {0x05, kRW},           // INCREMENT: answers the value
    {0x06, kRW},           // DECREMENT: answers the value
    {0x07, kNone},         // QUIT
    {0x08, kM},            // FLUSH
    {0x09, kR},            // GETQ
    {0x0a, kNone},         // NOOP
    {0x0b, kNone},         // VERSION
    {0x0c, kR},            // GETK
    {0x0d, kR},            // GETKQ
    {0x0e, kW},            // APPEND
    {0x0f, kW},            // PREPEND
    {0x10, kStat},         // STAT
    {0x11, kW},            // SETQ
    {0x12, kW},            // ADDQ
    {0x13, kW},            // REPLACEQ
    {0x14, kW},            // DELETEQ
    {0x15, kRW},           // INCREMENTQ: its errors tell whether a number is there
    {0x16, kRW},           // DECREMENTQ
    {0x17, kNone},         // QUITQ
    {0x18, kM},            // FLUSHQ
    {0x19, kW},            // APPENDQ
    {0x1a, kW},            // PREPENDQ
    {0x1b, kAdmin},        // VERBOSITY
    {0x1c, kRW},           // TOUCH: answers the flags
    {0x1d, kRW},           // GAT
    {0x1e, kRW},           // GATQ
    {0x1f, kNone},         // HELLO
    {0x20, kNone},         // SASL_LIST_MECHS
    {0x21, kNone},         // SASL_AUTH
    {0x22, kNone},         // SASL_STEP
    {0x23, kRW},           // GATK
    {0x24, kRW},           // GATKQ
    {0x50, kDcp},          // DCP_OPEN: a producer streams the bucket's documents
    {0x52, kDcp},          // DCP_CLOSE_STREAM
    {0x53, kDcpRead},      // DCP_STREAM_REQ
    {0x54, kR},            // DCP_GET_FAILOVER_LOG: the vbucket's history
    {0x5d, kDcp},          // DCP_BUFFER_ACKNOWLEDGEMENT
    {0x5e, kDcp},          // DCP_CONTROL: the connection's DCP settings
    {0x83, kR},            // GET_REPLICA: NOT_MY_VBUCKET (no replicas), after the access check
    {0x85, kBucketAdmin},  // CREATE_BUCKET
    {0x86, kBucketAdmin},  // DELETE_BUCKET
    {0x87, kAuth},         // LIST_BUCKETS
    {0x89, kAuth},         // SELECT_BUCKET
    {0x94, kRW},           // GET_LOCKED
    {0x95, kW},            // UNLOCK_KEY
    {0xb5, kAuth},         // GET_CLUSTER_CONFIG
    {0xbb, kR},            // GET_COLLECTION_ID
    {0xda, kR},            // RANGE_SCAN_CREATE
    {0xdb, kR},            // RANGE_SCAN_CONTINUE
    {0xdc, kR},            // RANGE_SCAN_CANCEL
    {0xfe, kNone},         // GET_ERROR_MAP
};

bool allowed(uint8_t opcode, uint16_t grants) {
  return (commandNeeds(opcode) & ~grants) == 0;
}

// What McbpSession grants a user with these privileges on the selected bucket
// of a server with a users file.
uint16_t userGrants(uint8_t privileges) {
  uint16_t grants =
      kNeedAuth | kNeedUsers | kNeedBucket | static_cast<uint16_t>(privileges << kPrivilegeShift);
  if ((privileges & (auth::kRead | auth::kStats)) != 0) grants |= kNeedReadOrStats;
  return grants;
}

TEST(CommandAccessTest, EveryOpcodeNeedsWhatTheMatrixSays) {
  for (int op = 0; op < 256; ++op) {
    const auto it = kExpected.find(static_cast<uint8_t>(op));
    const uint16_t expected = it == kExpected.end() ? kNeverGranted : it->second;
    EXPECT_EQ(commandNeeds(static_cast<uint8_t>(op)), expected) << "opcode 0x" << std::hex << op;
  }
}

TEST(CommandAccessTest, UnimplementedOpcodesAreRefusedEvenToAnAdministrator) {
  constexpr uint16_t kEverything = kNeverGranted - 1;  // every bit a session can hold
  for (int op = 0; op < 256; ++op) {
    if (kExpected.contains(static_cast<uint8_t>(op))) {
      EXPECT_TRUE(allowed(static_cast<uint8_t>(op), kEverything)) << std::hex << op;
    } else {
      EXPECT_FALSE(allowed(static_cast<uint8_t>(op), kEverything)) << std::hex << op;
    }
  }
}

TEST(CommandAccessTest, WriteOnlyUserRunsNoCommandThatAnswersDocumentContent) {
  const uint16_t writer = userGrants(auth::kWrite);
  // Answer a value, a counter or flags.
  for (uint8_t op : {0x00, 0x05, 0x06, 0x09, 0x0c, 0x0d, 0x15, 0x16, 0x1c, 0x1d, 0x1e, 0x23, 0x24,
                     0x94, 0xda, 0xdb, 0x10}) {
    EXPECT_FALSE(allowed(op, writer)) << std::hex << int{op};
  }
  // Plain mutations still work.
  for (uint8_t op :
       {0x01, 0x02, 0x03, 0x04, 0x0e, 0x0f, 0x11, 0x12, 0x13, 0x14, 0x19, 0x1a, 0x95}) {
    EXPECT_TRUE(allowed(op, writer)) << std::hex << int{op};
  }
}

TEST(CommandAccessTest, ReadOnlyUserChangesNothing) {
  const uint16_t reader = userGrants(auth::kRead);
  for (const auto& [op, needs] : kExpected) {
    const bool changes = (needs & (kNeedWrite | kNeedManage)) != 0 || (needs & kNeedAdmin) != 0;
    const bool dcp = (needs & kNeedDcp) != 0;  // read alone opens no change stream
    EXPECT_EQ(allowed(op, reader), !changes && !dcp) << std::hex << int{op};
  }
}

TEST(CommandAccessTest, StatsOnlyUserRunsStatAndNoDocumentCommand) {
  const uint16_t monitor = userGrants(auth::kStats);
  for (const auto& [op, needs] : kExpected) {
    const bool expected = needs == kNone || needs == kAuth || op == 0x10;
    EXPECT_EQ(allowed(op, monitor), expected) << std::hex << int{op};
  }
}

TEST(CommandAccessTest, ReadWriteUserRunsEveryDocumentCommand) {
  const uint16_t app = userGrants(auth::kRead | auth::kWrite);
  for (const auto& [op, needs] : kExpected) {
    const bool admin_or_manage = (needs & (kNeedAdmin | kNeedManage | kNeedDcp)) != 0;
    EXPECT_EQ(allowed(op, app), !admin_or_manage) << std::hex << int{op};
  }
}

TEST(CommandAccessTest, DcpUserOpensAProducerAndNothingElseOfTheBucket) {
  const uint16_t connector = userGrants(auth::kDcp);
  for (const auto& [op, needs] : kExpected) {
    const bool expected = needs == kNone || needs == kAuth || needs == kDcp;
    EXPECT_EQ(allowed(op, connector), expected) << std::hex << int{op};
    // With read too, it may also stream.
    EXPECT_EQ(allowed(op, userGrants(auth::kDcp | auth::kRead)),
              expected || needs == kDcpRead || needs == kR || needs == kStat)
        << std::hex << int{op};
  }
}

TEST(CommandAccessTest, AnonymousConnectionOnlyHandshakes) {
  // A server with users, before authentication: it holds kNeedUsers only.
  for (const auto& [op, needs] : kExpected) {
    EXPECT_EQ(allowed(op, kNeedUsers), needs == kNone) << std::hex << int{op};
  }
}

}  // namespace
}  // namespace memkv::server
