// Blocking memcached text/meta client over TCP for the integration tests. It only moves bytes:
// the tests write the exact request bytes and assert the exact reply bytes, so nothing here
// knows the protocol beyond "a line ends with \n". Shares no code with src/, so a parser bug
// in the server cannot hide in the test client too.
//
// Every read is bounded (default: scaled(5 s)). A read that cannot complete returns what it
// has, prefixed with a marker ("<timeout> ...", "<closed> ..."), so that an EXPECT_EQ on the
// exact expected reply fails with a readable message instead of hanging or throwing.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace memkv::test {

class TextClient {
 public:
  TextClient() = default;
  ~TextClient();
  TextClient(const TextClient&) = delete;
  TextClient& operator=(const TextClient&) = delete;
  TextClient(TextClient&& other) noexcept;
  TextClient& operator=(TextClient&& other) noexcept;

  // Connects to 127.0.0.1:port. False (and unconnected) on failure.
  bool connect(uint16_t port);
  bool connected() const { return fd_ >= 0; }
  void close();

  // Writes all bytes; false if the peer is gone or the write stalls past the timeout.
  bool send(std::string_view bytes);
  bool send(std::string_view bytes, std::chrono::milliseconds timeout);

  // One line, including its "\r\n" (or bare "\n").
  std::string readLine();
  std::string readLine(std::chrono::milliseconds timeout);
  // Exactly n bytes.
  std::string readExact(std::size_t n);
  std::string readExact(std::size_t n, std::chrono::milliseconds timeout);
  // Everything up to and including the first occurrence of `terminator`.
  std::string readUntil(std::string_view terminator);
  std::string readUntil(std::string_view terminator, std::chrono::milliseconds timeout);

  // send() + readLine() / readUntil().
  std::string call(std::string_view request);
  std::string callUntil(std::string_view request, std::string_view terminator);

  // True if no byte arrives within `timeout` and the connection stays open.
  bool silentFor(std::chrono::milliseconds timeout);
  // True if the peer closes (EOF or reset) within `timeout`; bytes arriving first are
  // discarded but counted in discardedBeforeClose().
  bool closedWithin(std::chrono::milliseconds timeout);
  std::size_t discardedBeforeClose() const { return discarded_; }

  // Bytes received but not yet returned by a read.
  const std::string& buffered() const { return buf_; }

 private:
  // Receives more bytes into buf_ until `done(buf_)` returns a length to take, the deadline
  // passes or the peer closes. Returns the taken prefix or a marked partial result.
  template <typename Done>
  std::string readWith(const Done& done, std::chrono::milliseconds timeout);

  int fd_ = -1;
  std::string buf_;
  std::size_t discarded_ = 0;
};

}  // namespace memkv::test
