// DCP's parsers (protocol/dcp.h) on arbitrary bytes: the first byte picks
// DCP_OPEN, DCP_CONTROL or DCP_STREAM_REQ, the rest is the request's parts.
// Oracle, decoded independently of the code under test:
//   - an accepted DCP_OPEN is a producer without xattrs, with a 1-200 byte
//     name and the flags of its extras;
//   - an accepted STREAM_REQ carries exactly its extras' fields; if its range
//     is valid, a rollback never asks the client to go forward, and a
//     request from seqno 0 without StrictVbUuid never rolls back;
//   - DCP_CONTROL answers one of its three statuses and leaves the state
//     within its bounds;
//   - the item encoders write a header whose body length is extras + key +
//     value, within kMaxHeadSize.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>
#include <vector>

#include "protocol/dcp.h"

namespace dcp = memkv::mcbp::dcp;
using memkv::mcbp::Status;

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

uint64_t be(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

void fuzzOpen(std::span<const uint8_t> in) {
  if (in.size() < 2) return;
  const size_t extras_len = in[0] % 12;
  const size_t value_len = in[1] % 4;
  in = in.subspan(2);
  if (in.size() < extras_len) return;
  const std::span<const uint8_t> extras = in.first(extras_len);
  const std::string_view name(reinterpret_cast<const char*>(in.data() + extras_len),
                              in.size() - extras_len);
  dcp::OpenRequest open;
  const Status s = dcp::parseOpen(extras, name, value_len, &open);
  require(s == Status::Success || s == Status::Einval || s == Status::NotSupported);
  if (s != Status::Success) return;
  require(extras.size() == dcp::kOpenExtrasSize);
  require(open.flags == be(extras.data() + 4, 4));
  require((open.flags & dcp::kOpenProducer) != 0);
  require((open.flags & dcp::kOpenIncludeXattrs) == 0);
  require(!open.name.empty() && open.name.size() <= dcp::kMaxNameLength);
  require(value_len == 0);
}

void fuzzControl(std::span<const uint8_t> in, uint32_t open_flags) {
  if (in.empty()) return;
  const size_t key_len = std::min<size_t>(in[0], in.size() - 1);
  const auto* p = reinterpret_cast<const char*>(in.data() + 1);
  const std::string_view key(p, key_len);
  const std::string_view value(p + key_len, in.size() - 1 - key_len);
  dcp::ControlState state;
  const Status s = dcp::applyControl(key, value, open_flags, &state);
  require(s == Status::Success || s == Status::Einval || s == Status::NotSupported);
  require(state.noop_interval_ms >= dcp::kMinNoopIntervalMs &&
          state.noop_interval_ms <= dcp::kMaxNoopIntervalMs);
  if (state.expiry_opcode) require((open_flags & dcp::kOpenIncludeDeleteTimes) != 0);
  if (key != "connection_buffer_size") require(state.buffer_size == 0);
}

void fuzzStream(std::span<const uint8_t> in) {
  if (in.size() < dcp::kStreamReqExtrasSize) return;
  const std::span<const uint8_t> extras = in.first(dcp::kStreamReqExtrasSize);
  dcp::StreamRequest r;
  const Status s = dcp::parseStreamRequest(extras, &r);
  require(s == Status::Success || s == Status::Einval || s == Status::NotSupported);
  if (s != Status::Success) return;
  require(r.flags == be(extras.data(), 4) && r.start == be(extras.data() + 8, 8) &&
          r.end == be(extras.data() + 16, 8) && r.vb_uuid == be(extras.data() + 24, 8) &&
          r.snap_start == be(extras.data() + 32, 8) && r.snap_end == be(extras.data() + 40, 8));
  // The rest: a failover log (newest first), the high and the purge seqno.
  std::span<const uint8_t> rest = in.subspan(dcp::kStreamReqExtrasSize);
  if (rest.size() < 16) return;
  const uint64_t high = be(rest.data(), 8);
  const uint64_t purge = be(rest.data() + 8, 8);
  rest = rest.subspan(16);
  std::vector<dcp::FailoverEntry> log;
  while (rest.size() >= 16 && log.size() < 8) {
    log.push_back({be(rest.data(), 8), be(rest.data() + 8, 8)});
    rest = rest.subspan(16);
  }
  const std::optional<uint64_t> rollback = dcp::rollbackSeqno(r, log, high, purge);
  if (r.start == 0 && (r.flags & dcp::kStreamStrictVbUuid) == 0) require(!rollback);
  if (rollback && dcp::checkStreamRange(r) == Status::Success) require(*rollback <= r.start);
}

void fuzzEncode(std::span<const uint8_t> in) {
  if (in.size() < 4) return;
  const size_t key_len = std::min<size_t>(in[0] % (memkv::mcbp::kMaxKeyLength + 1), in.size() - 4);
  dcp::ItemFields item;
  item.key = std::string_view(reinterpret_cast<const char*>(in.data() + 4), key_len);
  item.collections = (in[1] & 1) != 0;
  const uint32_t value_len = in[2] * 1000u;
  uint8_t buf[dcp::kMaxHeadSize];
  const size_t key_wire = key_len + (item.collections ? 1 : 0);
  size_t head = 0;
  size_t extras = 0;
  switch (in[3] % 4) {
    case 0:
      head = dcp::encodeMutation(buf, item, 0, 0, value_len);
      extras = dcp::kMutationExtrasSize;
      break;
    case 1:
      head = dcp::encodeDeletion(buf, item, false, 0);
      extras = dcp::kDeletionV1ExtrasSize;
      break;
    case 2:
      head = dcp::encodeDeletion(buf, item, true, 0);
      extras = dcp::kDeletionV2ExtrasSize;
      break;
    default:
      head = dcp::encodeExpiration(buf, item, 0);
      extras = dcp::kExpirationExtrasSize;
      break;
  }
  require(head <= dcp::kMaxHeadSize);
  require(head == dcp::kHeaderSize + extras + key_wire);
  require(buf[0] == 0x80 && buf[4] == extras && be(buf + 2, 2) == key_wire);
  const uint64_t value = (in[3] % 4) == 0 ? value_len : 0;
  require(be(buf + 8, 4) == extras + key_wire + value);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::span<const uint8_t> in(data + 1, size - 1);
  switch (data[0] % 5) {
    case 0:
      fuzzOpen(in);
      break;
    case 1:
      fuzzControl(in, 0);
      break;
    case 2:
      fuzzControl(in, dcp::kOpenProducer | dcp::kOpenIncludeDeleteTimes);
      break;
    case 3:
      fuzzStream(in);
      break;
    default:
      fuzzEncode(in);
      break;
  }
  return 0;
}
