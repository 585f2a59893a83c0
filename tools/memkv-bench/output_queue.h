#pragma once
// A connection's pending output: a list of slices, each either bytes the queue
// owns (an arena it grows and reuses) or borrowed bytes (a shared value
// buffer) that must outlive the queue's next drain. Requests are appended as
// they are made and leave in one writev per flush, so a pipeline of 16
// requests costs one system call.
//
// Not thread-safe: one connection, one thread.
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace memkv::bench {

class OutputQueue final {
 public:
  enum class Flush : uint8_t { kDrained, kBlocked, kError };

  // Room for n owned bytes at the tail; the pointer is valid until the next
  // reserve or flush. The caller must write all n bytes.
  uint8_t* reserve(size_t n);
  // Queues n bytes at p without copying; p must stay valid until drained.
  void appendBorrowed(const uint8_t* p, size_t n);

  // Writes as much as the socket takes. On kError, *error holds errno.
  Flush flush(int fd, int* error);

  bool empty() const { return first_ == slices_.size(); }

 private:
  struct Slice {
    const uint8_t* borrowed;  // null: arena bytes at offset
    size_t offset;
    size_t length;
  };

  void reset();

  std::unique_ptr<uint8_t[]> arena_;
  size_t arena_capacity_ = 0;
  size_t arena_used_ = 0;
  std::vector<Slice> slices_;
  size_t first_ = 0;          // first slice not fully written
  size_t first_written_ = 0;  // bytes of slices_[first_] already written
};

}  // namespace memkv::bench
