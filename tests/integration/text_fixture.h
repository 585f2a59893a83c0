// Fixture for the text and meta protocol tests: ServerTest (one server per test) plus a
// connected TextClient. Replies are asserted as exact bytes, "\r\n" included.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "integration/server_fixture.h"
#include "support/test_env.h"
#include "support/text_client.h"

namespace memkv::test {

class TextServerTest : public ServerTest {
 protected:
  explicit TextServerTest(std::vector<std::string> server_args = {})
      : ServerTest(std::move(server_args)) {}

  void SetUp() override {
    ServerTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(text_.connect(server_->port())) << "cannot connect to port " << server_->port();
  }

  void TearDown() override {
    text_.close();
    ServerTest::TearDown();
  }

  // A further text connection to the same server.
  TextClient newText() {
    TextClient c;
    EXPECT_TRUE(c.connect(server_->port()));
    return c;
  }

  // `set` that must succeed.
  void store(const std::string& key, const std::string& value, uint32_t flags = 0,
             long exptime = 0) {
    ASSERT_EQ(
        text_.call("set " + key + " " + std::to_string(flags) + " " + std::to_string(exptime) +
                   " " + std::to_string(value.size()) + "\r\n" + value + "\r\n"),
        "STORED\r\n")
        << "set " << key;
  }

  // The whole reply to a get-like line, up to and including END (or the first line if it is
  // not a VALUE/END reply, e.g. an error).
  std::string fetch(TextClient& c, const std::string& line) {
    if (!c.send(line)) return "<send failed>";
    std::string out;
    for (;;) {
      std::string l = c.readLine();
      out += l;
      if (l.rfind("VALUE ", 0) != 0) return out;
      // VALUE <key> <flags> <bytes>[ <cas>]: read the data block by length.
      std::size_t pos = 0;
      for (int field = 0; field < 3; ++field) pos = l.find(' ', pos) + 1;
      const std::size_t bytes = std::stoul(l.substr(pos));
      out += c.readExact(bytes + 2);
    }
  }
  std::string fetch(const std::string& line) { return fetch(text_, line); }

  // The CAS of `key` from `gets` (0 if missing).
  uint64_t casOf(const std::string& key) {
    const std::string r = fetch("gets " + key + "\r\n");
    if (r.rfind("VALUE ", 0) != 0) return 0;
    const auto eol = r.find("\r\n");
    const auto sp = r.rfind(' ', eol);
    return std::stoull(r.substr(sp + 1, eol - sp - 1));
  }

  TextClient text_;
};

}  // namespace memkv::test
