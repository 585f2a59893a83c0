#include "server/response_writer.h"

#include <cstring>

#include "common/byte_order.h"
#include "protocol/response.h"

namespace memkv::server {

void releaseItemReference(void* item) {
  static_cast<engine::Item*>(item)->unref();
}

void ResponseWriter::send(const mcbp::RequestHeader& req, mcbp::Status status,
                          std::span<const uint8_t> extras, std::string_view key,
                          std::span<const uint8_t> value, uint64_t cas, uint8_t datatype) {
  const size_t head = mcbp::kHeaderSize + extras.size() + key.size();
  const bool inline_value = head + value.size() <= net::BufferPool::kBufferSize;
  uint8_t* out = conn_.output().reserve(inline_value ? head + value.size() : head);
  if (out == nullptr) {
    conn_.closeNow();
    return;
  }
  mcbp::encodeResponseHeader(out, {req.opcode, status, static_cast<uint8_t>(extras.size()),
                                   static_cast<uint16_t>(key.size()),
                                   static_cast<uint32_t>(extras.size() + key.size() + value.size()),
                                   req.opaque, wireCas(cas), datatype});
  uint8_t* p = out + mcbp::kHeaderSize;
  if (!extras.empty()) std::memcpy(p, extras.data(), extras.size());
  p += extras.size();
  if (!key.empty()) std::memcpy(p, key.data(), key.size());
  p += key.size();
  if (inline_value) {
    if (!value.empty()) std::memcpy(p, value.data(), value.size());
    conn_.output().commit(head + value.size());
    return;
  }
  conn_.output().commit(head);
  if (!conn_.output().appendCopy(value)) conn_.closeNow();
}

void ResponseWriter::sendServerRequest(mcbp::ServerOpcode opcode, std::span<const uint8_t> extras,
                                       std::string_view key, std::span<const uint8_t> value,
                                       uint8_t datatype) {
  const size_t head = mcbp::kHeaderSize + extras.size() + key.size();
  uint8_t* out = conn_.output().reserve(head);
  if (out == nullptr) {
    conn_.closeNow();
    return;
  }
  mcbp::encodeServerRequestHeader(
      out, {opcode, static_cast<uint8_t>(extras.size()), static_cast<uint16_t>(key.size()),
            static_cast<uint32_t>(extras.size() + key.size() + value.size()), 0, datatype});
  uint8_t* p = out + mcbp::kHeaderSize;
  if (!extras.empty()) std::memcpy(p, extras.data(), extras.size());
  p += extras.size();
  if (!key.empty()) std::memcpy(p, key.data(), key.size());
  conn_.output().commit(head);
  // The config is a few hundred KiB with many nodes: one copy, in slices.
  if (!value.empty() && !conn_.output().appendCopy(value)) conn_.closeNow();
}

void ResponseWriter::sendStatus(const mcbp::RequestHeader& req, mcbp::Status status, uint64_t cas) {
  const std::string_view text = mcbp::statusText(status);
  send(req, status, {}, {}, {reinterpret_cast<const uint8_t*>(text.data()), text.size()}, cas);
}

void ResponseWriter::sendItem(const mcbp::RequestHeader& req, engine::ItemRef item,
                              std::string_view key, uint64_t cas) {
  const auto value = item->value();
  const bool by_reference = value.size() >= kCopyValueThreshold;
  const size_t head = mcbp::kHeaderSize + sizeof(uint32_t) + key.size();
  const size_t reserve = by_reference ? head : head + value.size();
  uint8_t* out = conn_.output().reserve(reserve);
  if (out == nullptr) {
    conn_.closeNow();
    return;
  }
  mcbp::encodeResponseHeader(
      out, {req.opcode, mcbp::Status::Success, sizeof(uint32_t), static_cast<uint16_t>(key.size()),
            static_cast<uint32_t>(sizeof(uint32_t) + key.size() + value.size()), req.opaque,
            wireCas(cas), static_cast<uint8_t>(item->datatype() & datatype_mask_)});
  uint8_t* p = out + mcbp::kHeaderSize;
  storeBe32(p, item->flags());
  p += sizeof(uint32_t);
  if (!key.empty()) std::memcpy(p, key.data(), key.size());
  p += key.size();
  if (!by_reference) {
    if (!value.empty()) std::memcpy(p, value.data(), value.size());
    conn_.output().commit(reserve);
    counters_.bytes_copied.add(value.size());
    return;
  }
  conn_.output().commit(reserve);
  counters_.bytes_referenced.add(value.size());
  engine::Item* raw = item.release();  // the chain's reference from here on
  conn_.output().appendFragment({value.data(), value.size(), &releaseItemReference, raw});
}

}  // namespace memkv::server
