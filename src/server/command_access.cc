#include "server/command_access.h"

#include <array>

#include "protocol/opcode_spec.h"

namespace memkv::server {
namespace {

using mcbp::Opcode;

constexpr uint16_t kBucket = kNeedAuth | kNeedBucket;

// Every opcode memkv implements is listed (no default), so a new one does not
// compile without a decision here.
constexpr uint16_t needsOf(Opcode base) {
  switch (base) {
    // The handshake: before authentication.
    case Opcode::Hello:
    case Opcode::SaslListMechs:
    case Opcode::SaslAuth:
    case Opcode::SaslStep:
    case Opcode::Noop:
    case Opcode::Version:
    case Opcode::GetErrorMap:
    case Opcode::Quit:
      return 0;
    // No bucket involved; SELECT_BUCKET checks the user's access itself.
    case Opcode::SelectBucket:
    case Opcode::ListBuckets:
    case Opcode::GetClusterConfig:
      return kNeedAuth;
    case Opcode::CreateBucket:
    case Opcode::DeleteBucket:
      // An open server keeps memcached's model: one bucket no client can
      // remove (memcached clients could not handle NO_BUCKET).
      return kNeedAuth | kNeedAdmin | kNeedUsers;
    case Opcode::Verbosity:
      return kNeedAuth | kNeedAdmin;
    // Answer with documents, keys or the bucket's statistics and change
    // nothing. (STAT "reset" also requires an administrator, checked by its
    // executor; GET_COLLECTION_ID answers the collection manifest.)
    case Opcode::Get:
    case Opcode::GetK:
    case Opcode::GetReplica:
    case Opcode::DcpGetFailoverLog:
    case Opcode::GetCollectionId:
    case Opcode::RangeScanCreate:
    case Opcode::RangeScanContinue:
    case Opcode::RangeScanCancel:
      return kBucket | kNeedRead;
    // The bucket's statistics: a user with read, or with only stats (a
    // monitoring account that sees no document).
    case Opcode::Stat:
      return kBucket | kNeedReadOrStats;
    // Change a document and answer with (part of) it: the value (GAT,
    // GET_LOCKED), the counter's new value (INCREMENT, DECREMENT; with delta
    // 0 a plain read) or the flags (TOUCH, as memcached 1.6 answers it).
    case Opcode::Increment:
    case Opcode::Decrement:
    case Opcode::Touch:
    case Opcode::Gat:
    case Opcode::GatK:
    case Opcode::GetLocked:
      return kBucket | kNeedRead | kNeedWrite;
    // Change a document and answer with a status and a CAS only.
    case Opcode::Set:
    case Opcode::Add:
    case Opcode::Replace:
    case Opcode::Append:
    case Opcode::Prepend:
    case Opcode::Delete:
    case Opcode::UnlockKey:
      return kBucket | kNeedWrite;
    case Opcode::Flush:
      return kBucket | kNeedManage;
    // DCP: a producer streams the bucket's documents and deletions, which
    // needs the dcp privilege (Couchbase's "DCP data read"); a user who
    // loses it loses its DCP commands on the next one.
    case Opcode::DcpOpen:
    case Opcode::DcpControl:
    case Opcode::DcpCloseStream:
    case Opcode::DcpBufferAck:
      return kBucket | kNeedDcp;
    // A stream sends the vbucket's documents: read too.
    case Opcode::DcpStreamReq:
      return kBucket | kNeedDcp | kNeedRead;
    // Quiet variants are looked up by their base opcode.
    case Opcode::GetQ:
    case Opcode::GetKQ:
    case Opcode::SetQ:
    case Opcode::AddQ:
    case Opcode::ReplaceQ:
    case Opcode::DeleteQ:
    case Opcode::IncrementQ:
    case Opcode::DecrementQ:
    case Opcode::QuitQ:
    case Opcode::FlushQ:
    case Opcode::AppendQ:
    case Opcode::PrependQ:
    case Opcode::GatQ:
    case Opcode::GatKQ:
      return kNeverGranted;
  }
  return kNeverGranted;
}

const std::array<uint16_t, 256> kNeeds = [] {
  std::array<uint16_t, 256> table{};
  for (size_t op = 0; op < table.size(); ++op) {
    const mcbp::OpcodeSpec& spec = mcbp::opcodeSpec(static_cast<uint8_t>(op));
    table[op] = spec.known() ? needsOf(spec.base) : kNeverGranted;
  }
  return table;
}();

}  // namespace

uint16_t commandNeeds(uint8_t opcode) {
  return kNeeds[opcode];
}

}  // namespace memkv::server
