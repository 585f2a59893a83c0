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
    // Config push (server requests 0x82/0x01 on map changes) and what the
    // SDK learns from it: NOT_MY_VBUCKET bodies only for a map the
    // connection has not seen, GET_CLUSTER_CONFIG with the version it has.
    case Feature::Duplex:
    case Feature::ClustermapChangeNotification:
    case Feature::ClustermapChangeNotificationBrief:  // the push without the config
    case Feature::GetClusterConfigWithKnownVersion:
    case Feature::DedupeNotMyVbucketClustermap:
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
  const bool full = out.granted.has(Feature::ClustermapChangeNotification);
  const bool brief = out.granted.has(Feature::ClustermapChangeNotificationBrief);
  if ((full || brief) && !out.granted.has(Feature::Duplex)) {
    out = HelloOutcome{};
    out.error = "ClustermapChangeNotification needs Duplex";
    return out;
  }
  if (full && brief) {
    // kv_engine keeps the brief one: one push per change, not two.
    FeatureSet kept;
    std::string reply;
    for (size_t i = 0; i + 1 < out.reply.size(); i += 2) {
      const auto f =
          static_cast<Feature>(loadBe16(reinterpret_cast<const uint8_t*>(&out.reply[i])));
      if (f == Feature::ClustermapChangeNotification) continue;
      kept.add(f);
      reply.append(out.reply, i, 2);
    }
    out.granted = kept;
    out.reply = std::move(reply);
  }
  return out;
}

}  // namespace memkv::mcbp
