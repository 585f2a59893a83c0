#include "server/command_timings.h"

#include "protocol/opcode.h"
#include "protocol/text_request.h"
#include "server/server_context.h"

namespace memkv::server {

namespace {

constexpr CommandFamily familyOf(mcbp::Opcode base) {
  using mcbp::Opcode;
  switch (base) {
    case Opcode::Get:
    case Opcode::GetK:
    case Opcode::GetLocked:
    case Opcode::GetReplica:
      return CommandFamily::kGet;
    case Opcode::Set:
    case Opcode::Add:
    case Opcode::Replace:
    case Opcode::Append:
    case Opcode::Prepend:
      return CommandFamily::kSet;
    case Opcode::Delete:
      return CommandFamily::kDelete;
    case Opcode::Increment:
      return CommandFamily::kIncr;
    case Opcode::Decrement:
      return CommandFamily::kDecr;
    case Opcode::Touch:
    case Opcode::Gat:
    case Opcode::GatK:
      return CommandFamily::kTouch;
    case Opcode::Flush:
      return CommandFamily::kFlush;
    case Opcode::SaslListMechs:
    case Opcode::SaslAuth:
    case Opcode::SaslStep:
      return CommandFamily::kAuth;
    case Opcode::Stat:
      return CommandFamily::kStats;
    case Opcode::RangeScanCreate:
    case Opcode::RangeScanContinue:
    case Opcode::RangeScanCancel:
      return CommandFamily::kScan;
    default:
      return CommandFamily::kOther;
  }
}

}  // namespace

// A table, not the switch, on the per-command path: one load.
const std::array<CommandFamily, 256> kCommandFamilyByOpcode = [] {
  std::array<CommandFamily, 256> table{};
  for (size_t op = 0; op < table.size(); ++op) {
    table[op] = familyOf(static_cast<mcbp::Opcode>(op));
  }
  return table;
}();

CommandFamily commandFamily(const text::TextCommand& command) {
  using text::CommandKind;
  switch (command.kind) {
    case CommandKind::kGet:
    case CommandKind::kGets:
    case CommandKind::kMetaGet:
      return CommandFamily::kGet;
    case CommandKind::kGat:
    case CommandKind::kGats:
    case CommandKind::kTouch:
      return CommandFamily::kTouch;
    case CommandKind::kSet:
    case CommandKind::kAdd:
    case CommandKind::kReplace:
    case CommandKind::kAppend:
    case CommandKind::kPrepend:
    case CommandKind::kCas:
    case CommandKind::kMetaSet:
      return CommandFamily::kSet;
    case CommandKind::kDelete:
    case CommandKind::kMetaDelete:
      return CommandFamily::kDelete;
    case CommandKind::kIncr:
      return CommandFamily::kIncr;
    case CommandKind::kDecr:
      return CommandFamily::kDecr;
    case CommandKind::kMetaArithmetic: {
      const char m = command.meta.mode;
      return m == 'D' || m == 'd' || m == '-' ? CommandFamily::kDecr : CommandFamily::kIncr;
    }
    case CommandKind::kFlushAll:
      return CommandFamily::kFlush;
    case CommandKind::kStats:
      return CommandFamily::kStats;
    default:
      return CommandFamily::kOther;
  }
}

TimingTotals timingTotals(const ServerContext& server, CommandFamily family) {
  TimingTotals t;
  for (const auto& w : server.workers()) {
    const LatencyHistogram& h = w->timings[family];
    for (size_t i = 0; i < LatencyHistogram::kBuckets; ++i) t.cumulative[i] += h.bucket(i);
    t.sum_ns += h.sumNs();
  }
  for (size_t i = 1; i < LatencyHistogram::kBuckets; ++i) t.cumulative[i] += t.cumulative[i - 1];
  t.count = t.cumulative.back();
  return t;
}

}  // namespace memkv::server
