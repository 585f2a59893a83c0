#pragma once
// OutputChain: the bytes a connection has yet to send, as a queue of slices.
// Each slice either owns a pool buffer (responses encoded in place) or borrows
// a Fragment (a large value sent by reference: no copy).
//
//   [owned: hdr|hdr+val|hdr] [borrowed: 1 MiB value] [owned: hdr|...]
//    ^ sent_ cursor                                       ^ tail: reserve()
//
// Writing is reserve(n) -> encode -> commit(n) in the tail buffer; sending is
// gather(iov) -> writev -> drain(bytes accepted). A pool buffer goes back to
// the pool, and a Fragment is released, only when drain() has passed all of
// its bytes (docs/architecture.md invariant 4), so partial writes are safe.
//
// Owner: one worker thread (checked in debug builds). Not copyable.
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "net/buffer_pool.h"
#include "net/fragment.h"

namespace memkv::net {

class OutputChain final {
 public:
  explicit OutputChain(BufferPool& pool) : pool_(pool) {}
  ~OutputChain() { clear(); }
  OutputChain(const OutputChain&) = delete;
  OutputChain& operator=(const OutputChain&) = delete;

  // n contiguous bytes at the tail (n <= BufferPool::kBufferSize), valid until
  // the next call on this chain; nullptr if the pool is exhausted.
  uint8_t* reserve(size_t n);
  // Publishes n bytes written at the last reserve() pointer.
  void commit(size_t n);
  // Copies bytes in (may span buffers); false if the pool is exhausted.
  bool appendCopy(std::span<const uint8_t> bytes);
  // Queues borrowed bytes; the chain releases the fragment when sent or
  // cleared. An empty fragment is released at once.
  void appendFragment(const Fragment& fragment);

  // Fills up to max iovecs from the front; returns the count.
  size_t gather(iovec* iov, size_t max) const;
  // Marks n bytes (n <= size()) as accepted by the kernel.
  void drain(size_t n);
  // Drops everything unsent (connection closing).
  void clear();

  size_t size() const { return bytes_; }
  bool empty() const { return bytes_ == 0; }
  size_t sliceCount() const { return slices_.size() - head_; }

 private:
  struct Slice {
    const uint8_t* data;  // first unsent byte
    size_t size;          // unsent bytes
    uint8_t* owned;       // pool buffer base, or nullptr for a fragment
    size_t write_offset;  // owned: bytes committed into the buffer
    void (*release)(void*);
    void* ctx;
  };
  void releaseSlice(Slice& s);
  Slice* ownedTail();

  BufferPool& pool_;
  std::vector<Slice> slices_;
  size_t head_ = 0;   // first unsent slice
  size_t bytes_ = 0;  // unsent bytes in all slices
};

}  // namespace memkv::net
