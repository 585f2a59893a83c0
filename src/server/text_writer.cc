#include "server/text_writer.h"

#include <charconv>
#include <cstring>

#include "server/response_writer.h"

namespace memkv::server {

TextLine& TextLine::text(std::string_view s) {
  const size_t n = std::min(s.size(), kCapacity - len_);
  std::memcpy(buf_ + len_, s.data(), n);
  len_ += n;
  return *this;
}

TextLine& TextLine::number(uint64_t n) {
  const auto [end, ec] = std::to_chars(buf_ + len_, buf_ + kCapacity, n);
  if (ec == std::errc()) len_ = static_cast<size_t>(end - buf_);
  return *this;
}

TextLine& TextLine::signedNumber(int64_t n) {
  const auto [end, ec] = std::to_chars(buf_ + len_, buf_ + kCapacity, n);
  if (ec == std::errc()) len_ = static_cast<size_t>(end - buf_);
  return *this;
}

TextLine& TextLine::ch(char c) {
  if (len_ < kCapacity) buf_[len_++] = c;
  return *this;
}

void TextWriter::raw(std::string_view bytes) {
  if (!conn_.output().appendCopy({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()})) {
    conn_.closeNow();
  }
}

void TextWriter::line(std::string_view line) {
  uint8_t* out = conn_.output().reserve(line.size() + 2);
  if (out == nullptr) {
    conn_.closeNow();
    return;
  }
  if (!line.empty()) std::memcpy(out, line.data(), line.size());
  out[line.size()] = '\r';
  out[line.size() + 1] = '\n';
  conn_.output().commit(line.size() + 2);
}

void TextWriter::withValue(std::string_view head, const engine::ItemRef& item) {
  const auto value = item->value();
  const bool by_reference = value.size() >= kCopyValueThreshold;
  const size_t reserve = head.size() + 2 + (by_reference ? 0 : value.size() + 2);
  uint8_t* out = conn_.output().reserve(reserve);
  if (out == nullptr) {
    conn_.closeNow();
    return;
  }
  uint8_t* p = out;
  std::memcpy(p, head.data(), head.size());
  p += head.size();
  *p++ = '\r';
  *p++ = '\n';
  if (!by_reference) {
    if (!value.empty()) std::memcpy(p, value.data(), value.size());
    p += value.size();
    *p++ = '\r';
    *p++ = '\n';
    conn_.output().commit(reserve);
    counters_.bytes_copied.add(value.size());
    return;
  }
  conn_.output().commit(reserve);
  counters_.bytes_referenced.add(value.size());
  engine::Item* raw_item = engine::ItemRef(item).release();  // the chain's reference
  conn_.output().appendFragment({value.data(), value.size(), &releaseItemReference, raw_item});
  line({});
}

void TextWriter::valueReply(std::string_view key, const engine::ItemRef& item,
                            const uint64_t* cas) {
  TextLine head;
  head.text("VALUE ").text(key).ch(' ').number(item->flags()).ch(' ').number(item->value().size());
  if (cas != nullptr) head.ch(' ').number(*cas);
  withValue(head.view(), item);
}

}  // namespace memkv::server
