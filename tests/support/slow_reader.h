// A client connection that reads like a slow or erratic peer, for send-path tests.
//
// The receive buffer is made small before connect() (so the TCP window is small from the first
// byte), and every recv() asks for a random number of bytes, sometimes followed by a short
// sleep: the server behind it meets partial writes and EAGAIN constantly. Sending and receiving
// share one poll() loop, so a pipeline larger than the socket buffers cannot deadlock against
// a server that stops reading while its output is above the high watermark.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <string_view>

#include "support/mcbp.h"
#include "support/mcbp_client.h"

namespace memkv::test {

// Incremental parser of a byte stream of MCBP responses.
class ResponseStream {
 public:
  void append(const char* data, std::size_t n);
  // Pops the next complete response. Returns false when more bytes are needed, or when the
  // buffered bytes cannot be a response (then malformed() is true and stays true).
  bool pop(Response* out);
  bool malformed() const { return malformed_; }
  std::size_t buffered() const { return buf_.size() - off_; }

 private:
  std::string buf_;
  std::size_t off_ = 0;
  bool malformed_ = false;
};

struct SlowReaderOptions {
  int rcvbuf = 4096;          // SO_RCVBUF before connect (Linux doubles it); 0 keeps the default
  std::size_t min_chunk = 1;  // each recv() asks for a size drawn uniformly from [min, max]
  std::size_t max_chunk = 4096;
  unsigned sleep_per_mille = 0;            // chance of a sleep after a recv(), in 1/1000
  std::chrono::microseconds max_sleep{0};  // a sleep lasts [0, max_sleep]
  uint64_t seed = 1;
};

class SlowReader {
 public:
  SlowReader() = default;
  ~SlowReader();
  SlowReader(const SlowReader&) = delete;
  SlowReader& operator=(const SlowReader&) = delete;

  bool connect(uint16_t port, const SlowReaderOptions& options,
               std::chrono::milliseconds timeout = kDefaultIoTimeout);
  void close();
  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // Called for each response in arrival order; returning false ends exchange() early.
  using OnResponse = std::function<bool(Response&&)>;

  // Sends `bytes` (handed to the kernel in as few send() calls as it accepts) while reading,
  // and returns kOk once every byte is sent and `count` responses were passed to on_response.
  // kTimeout: nothing moved in either direction for `idle_timeout`. kClosed: the peer closed
  // or reset. kError: a socket error, a malformed response, or on_response returned false
  // (see lastError()).
  ReadStatus exchange(std::string_view bytes, std::size_t count, const OnResponse& on_response,
                      std::chrono::milliseconds idle_timeout = kDefaultIoTimeout);

  // Full duplex without a fixed script: whenever everything queued so far has been sent,
  // more(&queue) may append further requests (or nothing, e.g. while enough responses are
  // outstanding). Responses go to on_response in arrival order. Returns kOk as soon as
  // done() holds with everything queued sent; otherwise as exchange().
  ReadStatus stream(const std::function<void(std::string*)>& more,
                    const std::function<bool()>& done, const OnResponse& on_response,
                    std::chrono::milliseconds idle_timeout = kDefaultIoTimeout);

  // Waits up to `wait` for bytes, does one recv() of a random size and passes every response
  // completed by it to on_response. kOk if bytes arrived, kTimeout if none did, kClosed or
  // kError as for exchange().
  ReadStatus receiveOnce(std::chrono::milliseconds wait, const OnResponse& on_response);

  // Reads and discards until the peer closes or resets the connection (true), or `timeout`
  // passes (false).
  bool closedWithin(std::chrono::milliseconds timeout);

  std::string lastError() const { return last_error_; }
  // Responses (or parts of them) received beyond what exchange() consumed.
  std::size_t bufferedBytes() const { return stream_.buffered(); }
  uint64_t bytesReceived() const { return bytes_received_; }
  uint64_t recvCalls() const { return recv_calls_; }
  uint64_t wouldBlocks() const { return would_blocks_; }  // recv() or send() saw EAGAIN

 private:
  // One recv() of a random size; false with *st set when the connection is over.
  bool receiveChunk(ReadStatus* st);

  int fd_ = -1;
  SlowReaderOptions options_;
  std::mt19937_64 rng_;
  ResponseStream stream_;
  std::string chunk_;
  std::string last_error_;
  uint64_t bytes_received_ = 0;
  uint64_t recv_calls_ = 0;
  uint64_t would_blocks_ = 0;
};

}  // namespace memkv::test
