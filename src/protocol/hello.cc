#include "protocol/hello.h"

#include "common/byte_order.h"

namespace memkv::mcbp {

bool featureSupported(Feature f) {
  switch (f) {
    case Feature::TcpNodelay:  // memkv always sets TCP_NODELAY
    case Feature::MutationSeqno:
    case Feature::Xerror:
    case Feature::SelectBucket:
    case Feature::Json:
    case Feature::AltRequestSupport:
    // Durability frame infos: Majority is met by the one node; the
    // persistence levels are refused (durabilityLevelSupported).
    case Feature::SyncReplication:
    case Feature::Collections:
    case Feature::PreserveTtl:
      return true;
    default:
      return false;
  }
}

HelloOutcome negotiate(std::span<const uint8_t> requested) {
  HelloOutcome out;
  for (size_t i = 0; i + 1 < requested.size(); i += 2) {
    const uint16_t code = loadBe16(requested.data() + i);
    const auto f = static_cast<Feature>(code);
    if (code > 31 || !featureSupported(f) || out.granted.has(f)) continue;
    out.granted.add(f);
    out.reply.push_back(static_cast<char>(code >> 8));
    out.reply.push_back(static_cast<char>(code & 0xff));
  }
  return out;
}

}  // namespace memkv::mcbp
