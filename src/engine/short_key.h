#pragma once
// A key as the change logs and the streams hold it: up to 30 bytes inside
// the object (std::string keeps 15, and document keys are often 16 to 30
// bytes: each logged change was two heap allocations, on the append and on
// a follower's copy), longer ones on the heap. The same 32 bytes as a
// std::string. Hand-written: it is the engine's own bookkeeping, on the
// path every streamed change takes.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>

namespace memkv::engine {

class ShortKey {
 public:
  static constexpr size_t kInline = 30;

  ShortKey() noexcept { bytes_[kInline] = 0; }
  // Throws std::bad_alloc for a long key without memory.
  explicit ShortKey(std::string_view key) { assign(key); }
  ShortKey(const ShortKey& other) : ShortKey(other.view()) {}
  ShortKey(ShortKey&& other) noexcept {
    std::memcpy(bytes_, other.bytes_, sizeof bytes_);
    other.bytes_[kInline] = 0;  // other holds no heap memory now
  }
  ShortKey& operator=(const ShortKey& other) {
    if (this != &other) {
      ShortKey copy(other);
      *this = std::move(copy);
    }
    return *this;
  }
  ShortKey& operator=(ShortKey&& other) noexcept {
    if (this != &other) {
      release();
      std::memcpy(bytes_, other.bytes_, sizeof bytes_);
      other.bytes_[kInline] = 0;
    }
    return *this;
  }
  ~ShortKey() { release(); }

  std::string_view view() const noexcept {
    return onHeap() ? std::string_view(heapData(), heapSize())
                    : std::string_view(bytes_, static_cast<uint8_t>(bytes_[kInline]));
  }
  operator std::string_view() const noexcept { return view(); }  // NOLINT: a key is read as one
  size_t size() const noexcept { return view().size(); }
  // Heap bytes held beyond the object (0 for an inline key).
  size_t heapBytes() const noexcept { return onHeap() ? heapSize() : 0; }

 private:
  static constexpr char kOnHeap = static_cast<char>(0xff);

  // A long key: its pointer in bytes 0-7, its size in 8-15, kOnHeap in the last.
  bool onHeap() const noexcept { return bytes_[kInline] == kOnHeap; }
  char* heapData() const noexcept {
    char* data;
    std::memcpy(&data, bytes_, sizeof data);
    return data;
  }
  size_t heapSize() const noexcept {
    size_t size;
    std::memcpy(&size, bytes_ + sizeof(char*), sizeof size);
    return size;
  }
  void assign(std::string_view key) {
    if (key.size() <= kInline) {
      std::memcpy(bytes_, key.data(), key.size());
      bytes_[kInline] = static_cast<char>(key.size());
      return;
    }
    char* data = new char[key.size()];
    std::memcpy(data, key.data(), key.size());
    const size_t size = key.size();
    std::memcpy(bytes_, &data, sizeof data);
    std::memcpy(bytes_ + sizeof data, &size, sizeof size);
    bytes_[kInline] = kOnHeap;
  }
  void release() noexcept {
    if (onHeap()) delete[] heapData();
    bytes_[kInline] = 0;
  }

  char bytes_[kInline + 2];  // inline: the key, then its length in byte kInline
};
static_assert(sizeof(ShortKey) == 32);

}  // namespace memkv::engine
