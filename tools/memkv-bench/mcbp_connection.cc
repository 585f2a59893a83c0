#include "mcbp_connection.h"

#include <algorithm>
#include <cstring>

#include "client_codec.h"
#include "common/byte_order.h"
#include "key_chooser.h"
#include "value_codec.h"
#include "worker.h"

namespace memkv::bench {

void McbpConnection::encode(const PlannedRequest& plan, size_t /*slot*/, InFlight* request) {
  const BenchOptions& options = worker_.options();
  char key[256];
  const size_t key_length = formatKey(options.key_prefix, plan.key_index, key, options.key_digits);
  const std::string_view key_view(key, key_length);
  const uint32_t opaque = next_opaque_++;
  request->opaque = opaque;
  if (plan.opcode == mcbp::Opcode::Get) {
    encodeGet(out_.reserve(getRequestSize(key_view)), key_view, opaque, plan.vbucket);
  } else if (options.verify) {
    const uint64_t version = worker_.nextVersion();
    uint8_t* p = out_.reserve(setPrefixSize(key_view) + plan.value_length);
    encodeSetPrefix(p, key_view, plan.value_length, flagsForVersion(version), opaque, plan.vbucket);
    encodeValue(keyHash(key_view), version, {p + setPrefixSize(key_view), plan.value_length});
  } else if (plan.value_length >= kBorrowValueBytes) {
    encodeSetPrefix(out_.reserve(setPrefixSize(key_view)), key_view, plan.value_length, 0, opaque,
                    plan.vbucket);
    out_.appendBorrowed(worker_.filler().data(), plan.value_length);
  } else {
    uint8_t* p = out_.reserve(setPrefixSize(key_view) + plan.value_length);
    encodeSetPrefix(p, key_view, plan.value_length, 0, opaque, plan.vbucket);
    std::memcpy(p + setPrefixSize(key_view), worker_.filler().data(), plan.value_length);
  }
}

void McbpConnection::parse(uint64_t now_ns) {
  if (skip_left_ > 0) {
    const size_t take = std::min(skip_left_, input().size());
    consume(take);
    skip_left_ -= take;
    if (skip_left_ > 0) return;
    complete(skipped_header_, {}, now_ns);
  }
  while (open() && input().size() >= mcbp::kHeaderSize) {
    const uint8_t* frame = inputBytes();
    mcbp::ResponseHeader header;
    if (decodeResponseHeader(frame, &header) != ResponseMagic::kOk) {
      return fail(true, "bad response header", 0);
    }
    const size_t frame_size = mcbp::kHeaderSize + header.body_length;
    const size_t available = input().size();
    if (available >= frame_size) {
      consume(frame_size);
      complete(header, {frame + mcbp::kHeaderSize, header.body_length}, now_ns);
      continue;
    }
    if (!worker_.options().verify && frame_size > kSkipResponseBytes) {
      skipped_header_ = header;
      skip_left_ = frame_size - available;
      consume(available);
      break;
    }
    ensureReadSpace(frame_size - available);
    break;
  }
}

void McbpConnection::complete(const mcbp::ResponseHeader& header, std::span<const uint8_t> body,
                              uint64_t now_ns) {
  if (!hasRequest()) return fail(true, "response with no request in flight", 0);
  const InFlight request = popOldest();
  if (header.opaque != request.opaque || header.opcode != static_cast<uint8_t>(request.opcode)) {
    return fail(true, "response does not match the oldest request (opaque/opcode)", 0);
  }
  const bool get = request.opcode == mcbp::Opcode::Get;
  const bool hit = get && header.status == mcbp::Status::Success;
  const bool miss = get && header.status == mcbp::Status::KeyEnoent;
  Answer answer{.keys = request.keys};
  if (header.status != mcbp::Status::Success && !miss) {
    worker_.onErrorStatus(static_cast<uint16_t>(header.status));
  }
  if (hit) {
    ++answer.hits;
    // Skipped values (body empty) are never checked: skipping needs !verify.
    if (worker_.options().verify) {
      std::optional<uint32_t> flags;
      if (header.extras_length == kGetHitExtrasSize) flags = loadBe32(body.data());
      const size_t value_offset = header.extras_length + header.key_length;
      worker_.checkHit(
          request.key_index, flags,
          value_offset <= body.size() ? body.subspan(value_offset) : std::span<const uint8_t>{});
    }
  }
  if (miss) {
    ++answer.misses;
    worker_.onMiss(request.key_index);
  }
  worker_.onResponse(request, answer, now_ns);
}

}  // namespace memkv::bench
