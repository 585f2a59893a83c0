#include "server/text_writer.h"

#include <charconv>
#include <cstring>

#include "protocol/text_reply.h"
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
  // Replies are short: one reservation, without appendCopy's loop.
  if (bytes.size() <= net::BufferPool::kBufferSize) {
    uint8_t* out = conn_.output().reserve(bytes.size());
    if (out == nullptr) {
      conn_.closeNow();
      return;
    }
    if (!bytes.empty()) std::memcpy(out, bytes.data(), bytes.size());
    conn_.output().commit(bytes.size());
    return;
  }
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

namespace {

char* put(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

char* putNumber(char* p, uint64_t n) {
  // 20 digits always fit: the reservation counts them (kValueHeadNumbers).
  return std::to_chars(p, p + 20, n).ptr;
}

// " <flags> <bytes> <cas>\r\n" at their longest.
constexpr size_t kValueHeadNumbers = 1 + 10 + 1 + 10 + 1 + 20 + 2;

}  // namespace

void TextWriter::valueReply(std::string_view key, const engine::ItemRef& item, const uint64_t* cas,
                            std::string_view trailer) {
  const auto value = item->value();
  const bool by_reference = value.size() >= kCopyValueThreshold;
  // One reservation for the line at its longest, the copied value and the
  // trailer; only what is written is committed.
  const size_t head_max = text::kValuePrefix.size() + key.size() + kValueHeadNumbers;
  const size_t tail = by_reference ? 0 : value.size() + 2 + trailer.size();
  uint8_t* const out = conn_.output().reserve(head_max + tail);
  if (out == nullptr) {
    conn_.closeNow();
    return;
  }
  char* p = put(reinterpret_cast<char*>(out), text::kValuePrefix);
  p = put(p, key);
  *p++ = ' ';
  p = putNumber(p, item->flags());
  *p++ = ' ';
  p = putNumber(p, value.size());
  if (cas != nullptr) {
    *p++ = ' ';
    p = putNumber(p, *cas);
  }
  p = put(p, text::kCrlf);
  if (!by_reference) {
    if (!value.empty()) p = put(p, {reinterpret_cast<const char*>(value.data()), value.size()});
    p = put(p, text::kCrlf);
    if (!trailer.empty()) p = put(p, trailer);
    conn_.output().commit(static_cast<size_t>(reinterpret_cast<uint8_t*>(p) - out));
    counters_.bytes_copied.add(value.size());
    return;
  }
  conn_.output().commit(static_cast<size_t>(reinterpret_cast<uint8_t*>(p) - out));
  counters_.bytes_referenced.add(value.size());
  engine::Item* raw_item = engine::ItemRef(item).release();  // the chain's reference
  conn_.output().appendFragment({value.data(), value.size(), &releaseItemReference, raw_item});
  uint8_t* const after = conn_.output().reserve(2 + trailer.size());
  if (after == nullptr) {
    conn_.closeNow();
    return;
  }
  p = put(reinterpret_cast<char*>(after), text::kCrlf);
  if (!trailer.empty()) p = put(p, trailer);
  conn_.output().commit(static_cast<size_t>(reinterpret_cast<uint8_t*>(p) - after));
}

}  // namespace memkv::server
