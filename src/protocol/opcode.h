#pragma once
// MCBP client opcodes, named as in kv_engine's include/mcbp/protocol/opcode.h.
#include <cstdint>
#include <string_view>

namespace memkv::mcbp {

enum class Opcode : uint8_t {
  Get = 0x00,
  Set = 0x01,
  Add = 0x02,
  Replace = 0x03,
  Delete = 0x04,
  Increment = 0x05,
  Decrement = 0x06,
  Quit = 0x07,
  Flush = 0x08,
  GetQ = 0x09,
  Noop = 0x0a,
  Version = 0x0b,
  GetK = 0x0c,
  GetKQ = 0x0d,
  Append = 0x0e,
  Prepend = 0x0f,
  Stat = 0x10,
  SetQ = 0x11,
  AddQ = 0x12,
  ReplaceQ = 0x13,
  DeleteQ = 0x14,
  IncrementQ = 0x15,
  DecrementQ = 0x16,
  QuitQ = 0x17,
  FlushQ = 0x18,
  AppendQ = 0x19,
  PrependQ = 0x1a,
  Verbosity = 0x1b,
  Touch = 0x1c,
  Gat = 0x1d,
  GatQ = 0x1e,
  Hello = 0x1f,
  SaslListMechs = 0x20,
  SaslAuth = 0x21,
  SaslStep = 0x22,
  GatK = 0x23,
  GatKQ = 0x24,
  CreateBucket = 0x85,
  DeleteBucket = 0x86,
  ListBuckets = 0x87,
  SelectBucket = 0x89,
  DcpOpen = 0x50,
  DcpCloseStream = 0x52,
  DcpStreamReq = 0x53,
  DcpGetFailoverLog = 0x54,
  DcpBufferAck = 0x5d,
  DcpControl = 0x5e,
  GetReplica = 0x83,
  GetLocked = 0x94,
  UnlockKey = 0x95,
  GetClusterConfig = 0xb5,
  GetCollectionId = 0xbb,
  RangeScanCreate = 0xda,
  RangeScanContinue = 0xdb,
  RangeScanCancel = 0xdc,
  GetErrorMap = 0xfe,
};

// Requests the server sends (magic ServerRequest) on a Duplex connection
// (kv_engine include/mcbp/protocol/opcode.h ServerOpcode).
enum class ServerOpcode : uint8_t {
  // Extras: revEpoch and rev (i64 big-endian each); key: the bucket name;
  // value: the bucket's config. No answer is expected.
  ClustermapChangeNotification = 0x01,
};

// The name kv_engine uses for an opcode, or "UNKNOWN".
std::string_view opcodeName(uint8_t opcode);

}  // namespace memkv::mcbp
