#include "protocol/opcode_spec.h"

#include <array>

#include "protocol/range_scan.h"

namespace memkv::mcbp {
namespace {

struct Row {
  Opcode op;
  OpcodeSpec spec;
};

constexpr uint8_t kStoreExtras = 8;     // flags u32, expiry u32
constexpr uint8_t kCounterExtras = 20;  // delta u64, initial u64, expiry u32
constexpr uint8_t kExpiryExtras = 4;    // expiry u32 (touch, gat, flush delay, lock time)
constexpr uint8_t kConfigExtras = 16;   // epoch i64, revision i64 the client already has
constexpr uint8_t kScanIdExtras = range_scan::kIdSize;
constexpr uint8_t kContinueExtras = range_scan::kContinueExtrasSize;

using K = KeyRule;
// clang-format off
constexpr Row kRows[] = {
  {Opcode::Get,        {"GET",        0, 0, K::kRequired, false, false, Opcode::Get}},
  {Opcode::GetQ,       {"GETQ",       0, 0, K::kRequired, false, true,  Opcode::Get}},
  {Opcode::GetK,       {"GETK",       0, 0, K::kRequired, false, false, Opcode::GetK}},
  {Opcode::GetKQ,      {"GETKQ",      0, 0, K::kRequired, false, true,  Opcode::GetK}},
  {Opcode::Set,        {"SET",        kStoreExtras, kStoreExtras, K::kRequired, true, false, Opcode::Set}},
  {Opcode::SetQ,       {"SETQ",       kStoreExtras, kStoreExtras, K::kRequired, true, true,  Opcode::Set}},
  {Opcode::Add,        {"ADD",        kStoreExtras, kStoreExtras, K::kRequired, true, false, Opcode::Add}},
  {Opcode::AddQ,       {"ADDQ",       kStoreExtras, kStoreExtras, K::kRequired, true, true,  Opcode::Add}},
  {Opcode::Replace,    {"REPLACE",    kStoreExtras, kStoreExtras, K::kRequired, true, false, Opcode::Replace}},
  {Opcode::ReplaceQ,   {"REPLACEQ",   kStoreExtras, kStoreExtras, K::kRequired, true, true,  Opcode::Replace}},
  {Opcode::Delete,     {"DELETE",     0, 0, K::kRequired, false, false, Opcode::Delete}},
  {Opcode::DeleteQ,    {"DELETEQ",    0, 0, K::kRequired, false, true,  Opcode::Delete}},
  {Opcode::Increment,  {"INCREMENT",  kCounterExtras, kCounterExtras, K::kRequired, false, false, Opcode::Increment}},
  {Opcode::IncrementQ, {"INCREMENTQ", kCounterExtras, kCounterExtras, K::kRequired, false, true,  Opcode::Increment}},
  {Opcode::Decrement,  {"DECREMENT",  kCounterExtras, kCounterExtras, K::kRequired, false, false, Opcode::Decrement}},
  {Opcode::DecrementQ, {"DECREMENTQ", kCounterExtras, kCounterExtras, K::kRequired, false, true,  Opcode::Decrement}},
  {Opcode::Quit,       {"QUIT",       0, 0, K::kForbidden, false, false, Opcode::Quit}},
  {Opcode::QuitQ,      {"QUITQ",      0, 0, K::kForbidden, false, true,  Opcode::Quit}},
  {Opcode::Flush,      {"FLUSH",      0, kExpiryExtras, K::kForbidden, false, false, Opcode::Flush}},
  {Opcode::FlushQ,     {"FLUSHQ",     0, kExpiryExtras, K::kForbidden, false, true,  Opcode::Flush}},
  {Opcode::Noop,       {"NOOP",       0, 0, K::kForbidden, false, false, Opcode::Noop}},
  {Opcode::Version,    {"VERSION",    0, 0, K::kForbidden, false, false, Opcode::Version}},
  {Opcode::Append,     {"APPEND",     0, 0, K::kRequired, true, false, Opcode::Append}},
  {Opcode::AppendQ,    {"APPENDQ",    0, 0, K::kRequired, true, true,  Opcode::Append}},
  {Opcode::Prepend,    {"PREPEND",    0, 0, K::kRequired, true, false, Opcode::Prepend}},
  {Opcode::PrependQ,   {"PREPENDQ",   0, 0, K::kRequired, true, true,  Opcode::Prepend}},
  {Opcode::Stat,       {"STAT",       0, 0, K::kOptional, false, false, Opcode::Stat}},
  {Opcode::Verbosity,  {"VERBOSITY",  kExpiryExtras, kExpiryExtras, K::kForbidden, false, false, Opcode::Verbosity}},
  {Opcode::Touch,      {"TOUCH",      kExpiryExtras, kExpiryExtras, K::kRequired, false, false, Opcode::Touch}},
  {Opcode::Gat,        {"GAT",        kExpiryExtras, kExpiryExtras, K::kRequired, false, false, Opcode::Gat}},
  {Opcode::GatQ,       {"GATQ",       kExpiryExtras, kExpiryExtras, K::kRequired, false, true,  Opcode::Gat}},
  // memcached's key-returning GAT variants (0x23/0x24; kv_engine uses these
  // codes for IOCTL, which memkv does not implement).
  {Opcode::GatK,       {"GATK",       kExpiryExtras, kExpiryExtras, K::kRequired, false, false, Opcode::GatK}},
  {Opcode::GatKQ,      {"GATKQ",      kExpiryExtras, kExpiryExtras, K::kRequired, false, true,  Opcode::GatK}},
  // Couchbase's session layer (kv_engine docs/BinaryProtocol.md).
  {Opcode::Hello,            {"HELLO",              0, 0, K::kOptional,  true,  false, Opcode::Hello}},
  {Opcode::SaslListMechs,    {"SASL_LIST_MECHS",    0, 0, K::kForbidden, false, false, Opcode::SaslListMechs}},
  {Opcode::SaslAuth,         {"SASL_AUTH",          0, 0, K::kRequired,  true,  false, Opcode::SaslAuth}},
  {Opcode::SaslStep,         {"SASL_STEP",          0, 0, K::kRequired,  true,  false, Opcode::SaslStep}},
  {Opcode::CreateBucket,     {"CREATE_BUCKET",      0, 0, K::kRequired,  true,  false, Opcode::CreateBucket}},
  {Opcode::DeleteBucket,     {"DELETE_BUCKET",      0, 0, K::kRequired,  true,  false, Opcode::DeleteBucket}},
  {Opcode::ListBuckets,      {"LIST_BUCKETS",       0, 0, K::kForbidden, false, false, Opcode::ListBuckets}},
  {Opcode::SelectBucket,     {"SELECT_BUCKET",      0, 0, K::kRequired,  false, false, Opcode::SelectBucket}},
  // A vbucket's history (DCP's failover log); a normal KV connection may ask.
  {Opcode::DcpGetFailoverLog, {"DCP_GET_FAILOVER_LOG", 0, 0, K::kForbidden, false, false, Opcode::DcpGetFailoverLog}},
  // The consumer's name is the key (dcp::parseOpen checks its length).
  {Opcode::DcpOpen,    {"DCP_OPEN",   8, 8, K::kRequired, true,  false, Opcode::DcpOpen}},
  {Opcode::DcpControl, {"DCP_CONTROL", 0, 0, K::kRequired, true,  false, Opcode::DcpControl}},
  // The vbucket is the header's; a collections filter may be the value.
  {Opcode::DcpStreamReq, {"DCP_STREAM_REQ", 48, 48, K::kForbidden, true, false, Opcode::DcpStreamReq}},
  {Opcode::DcpCloseStream, {"DCP_CLOSE_STREAM", 0, 0, K::kForbidden, false, false, Opcode::DcpCloseStream}},
  // Never answered on success (kv_engine): quiet, as a quiet command is.
  {Opcode::DcpBufferAck, {"DCP_BUFFER_ACKNOWLEDGEMENT", 4, 4, K::kForbidden, false, true, Opcode::DcpBufferAck}},
  {Opcode::GetReplica,       {"GET_REPLICA",        0, 0, K::kRequired,  false, false, Opcode::GetReplica}},
  {Opcode::GetLocked,        {"GET_LOCKED",         0, kExpiryExtras, K::kRequired, false, false, Opcode::GetLocked}},
  {Opcode::UnlockKey,        {"UNLOCK_KEY",         0, 0, K::kRequired,  false, false, Opcode::UnlockKey}},
  {Opcode::GetClusterConfig, {"GET_CLUSTER_CONFIG", 0, kConfigExtras, K::kForbidden, false, false, Opcode::GetClusterConfig}},
  {Opcode::GetCollectionId,  {"GET_COLLECTION_ID",  0, 0, K::kOptional,  true,  false, Opcode::GetCollectionId}},
  {Opcode::GetErrorMap,      {"GET_ERROR_MAP",      0, 0, K::kForbidden, true,  false, Opcode::GetErrorMap}},
  // Range scans (kv_engine docs/range_scans): a JSON config; a scan uuid
  // with item, time and byte limits; a scan uuid.
  {Opcode::RangeScanCreate,   {"RANGE_SCAN_CREATE",   0, 0, K::kForbidden, true,  false, Opcode::RangeScanCreate}},
  {Opcode::RangeScanContinue, {"RANGE_SCAN_CONTINUE", kContinueExtras, kContinueExtras, K::kForbidden, false, false, Opcode::RangeScanContinue}},
  {Opcode::RangeScanCancel,   {"RANGE_SCAN_CANCEL",   kScanIdExtras, kScanIdExtras, K::kForbidden, false, false, Opcode::RangeScanCancel}},
};
// clang-format on

// Frame infos by command family: a barrier anywhere; durability on every
// mutation; preserve-TTL where a mutation replaces an existing document
// (kv_engine's opcode attributes).
constexpr uint16_t kBarrier = frameInfoBit(FrameInfoId::Barrier);
constexpr uint16_t kDurability = frameInfoBit(FrameInfoId::DurabilityRequirement);
constexpr uint16_t kPreserveTtl = frameInfoBit(FrameInfoId::PreserveTtl);

constexpr uint16_t frameInfosFor(Opcode base) {
  switch (base) {
    case Opcode::Set:
    case Opcode::Replace:
    case Opcode::Append:
    case Opcode::Prepend:
    case Opcode::Increment:
    case Opcode::Decrement:
      return kBarrier | kDurability | kPreserveTtl;
    case Opcode::Add:
    case Opcode::Delete:
      return kBarrier | kDurability;
    default:
      return kBarrier;
  }
}

constexpr std::array<OpcodeSpec, 256> buildTable() {
  std::array<OpcodeSpec, 256> table{};
  for (const Row& row : kRows) {
    OpcodeSpec spec = row.spec;
    spec.frame_infos = frameInfosFor(spec.base);
    table[static_cast<uint8_t>(row.op)] = spec;
  }
  return table;
}

constexpr std::array<OpcodeSpec, 256> kTable = buildTable();

}  // namespace

const OpcodeSpec& opcodeSpec(uint8_t opcode) {
  return kTable[opcode];
}

std::string_view opcodeName(uint8_t opcode) {
  const OpcodeSpec& spec = kTable[opcode];
  return spec.known() ? spec.name : std::string_view("UNKNOWN");
}

}  // namespace memkv::mcbp
