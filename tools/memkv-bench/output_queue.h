#pragma once
// A connection's pending output: a list of slices, each either bytes the queue
// owns (an arena it grows and reuses) or borrowed bytes (a shared value
// buffer) that must outlive the queue's next drain. Requests are appended as
// they are made and leave in one writev per flush, so a pipeline of 16
// requests costs one system call.
//
// Not thread-safe: one connection, one thread.
#include <openssl/ssl.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace memkv::bench {

class OutputQueue final {
 public:
  // kBlockedOnRead: TLS only, the SSL must read before it can write again.
  enum class Flush : uint8_t { kDrained, kBlocked, kBlockedOnRead, kError };

  // Room for n owned bytes at the tail; the pointer is valid until the next
  // reserve or flush. The caller must write all n bytes.
  uint8_t* reserve(size_t n);
  // Queues n bytes at p without copying; p must stay valid until drained.
  void appendBorrowed(const uint8_t* p, size_t n);

  // Writes as much as the socket takes. On kError, *error holds errno.
  Flush flush(int fd, int* error);
  // The same through TLS: one SSL_write per slice (a pipeline of small
  // requests is one arena slice, so one record). After a write that wanted a
  // retry, the next call passes exactly the bytes that write passed, as
  // OpenSSL requires; they still lead the queue, since only drained bytes
  // leave it (the arena may move: the SSL accepts a moving buffer). On
  // kError, *error says why.
  Flush flushTls(SSL* ssl, std::string* error);

  bool empty() const { return first_ == slices_.size(); }

 private:
  struct Slice {
    const uint8_t* borrowed;  // null: arena bytes at offset
    size_t offset;
    size_t length;
  };

  void reset();
  // Drops n written bytes from the front.
  void advance(size_t n);

  std::unique_ptr<uint8_t[]> arena_;
  size_t arena_capacity_ = 0;
  size_t arena_used_ = 0;
  std::vector<Slice> slices_;
  size_t first_ = 0;            // first slice not fully written
  size_t first_written_ = 0;    // bytes of slices_[first_] already written
  size_t tls_retry_bytes_ = 0;  // > 0: the length an SSL_write that must be retried had
};

}  // namespace memkv::bench
