// How text requests arrive on the wire must not matter: one byte per write, a data block split
// anywhere, thousands of commands in one write, "\r\n" and NUL bytes inside values.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "integration/text_fixture.h"

namespace memkv::test {
namespace {

using std::chrono::milliseconds;

class TextFramingTest : public TextServerTest {};

TEST_F(TextFramingTest, OneBytePerWrite) {
  const std::string req =
      "set k 3 0 5\r\nhello\r\nget k\r\nms m 2 T0 k\r\nhi\r\nmg m v k\r\nincr nope 1\r\n";
  for (char c : req) {
    ASSERT_TRUE(text_.send(std::string(1, c)));
    std::this_thread::sleep_for(milliseconds(1));
  }
  EXPECT_EQ(text_.readUntil("NOT_FOUND\r\n"),
            "STORED\r\nVALUE k 3 5\r\nhello\r\nEND\r\nHD km\r\nVA 2 km\r\nhi\r\nNOT_FOUND\r\n");
}

TEST_F(TextFramingTest, DataBlockSplitAcrossWrites) {
  ASSERT_TRUE(text_.send("set k 0 0 10\r\n01234"));
  EXPECT_TRUE(text_.silentFor(scaled(milliseconds(100))));
  ASSERT_TRUE(text_.send("56789\r"));
  EXPECT_TRUE(text_.silentFor(scaled(milliseconds(100))));
  EXPECT_EQ(text_.call("\nget k\r\n"), "STORED\r\n");
  EXPECT_EQ(text_.readUntil("END\r\n"), "VALUE k 0 10\r\n0123456789\r\nEND\r\n");
}

TEST_F(TextFramingTest, ValueBytesAreNotParsed) {
  // A data block is read by length: "\r\n", NUL and command-looking text are just bytes.
  const std::string v = std::string("a\r\nb\0c\r\nget x\r\n", 15);
  ASSERT_EQ(v.size(), 15u);
  EXPECT_EQ(text_.call("set k 0 0 15\r\n" + v + "\r\n"), "STORED\r\n");
  EXPECT_EQ(fetch("get k\r\n"), "VALUE k 0 15\r\n" + v + "\r\nEND\r\n");
  EXPECT_EQ(text_.call("ms m 15\r\n" + v + "\r\n"), "HD\r\n");
  EXPECT_EQ(text_.call("mg m v\r\n"), "VA 15\r\n");
  EXPECT_EQ(text_.readExact(17), v + "\r\n");
}

TEST_F(TextFramingTest, KeyMayContainTabs) {
  // Only the space separates tokens.
  EXPECT_EQ(text_.call("set a\tb 0 0 1\r\nx\r\n"), "STORED\r\n");
  EXPECT_EQ(fetch("get a\tb\r\n"), "VALUE a\tb 0 1\r\nx\r\nEND\r\n");
  EXPECT_EQ(fetch("get a\r\n"), "END\r\n");
}

TEST_F(TextFramingTest, ThousandsOfPipelinedCommandsInOneWrite) {
  constexpr int kCount = 3000;
  std::string req;
  std::string expected;
  for (int i = 0; i < kCount; ++i) {
    const std::string key = "key" + std::to_string(i);
    const std::string value = std::string(i % 50, 'v') + std::to_string(i);
    req += "set " + key + " " + std::to_string(i) + " 0 " + std::to_string(value.size()) + "\r\n" +
           value + "\r\n";
    req += "get " + key + "\r\n";
    req += i % 2 ? "mn\r\n" : "mg " + key + " s q\r\n";
    expected += "STORED\r\nVALUE " + key + " " + std::to_string(i) + " " +
                std::to_string(value.size()) + "\r\n" + value + "\r\nEND\r\n";
    expected += i % 2 ? "MN\r\n" : "HD s" + std::to_string(value.size()) + "\r\n";
  }
  // Written from another thread: the replies may fill the socket buffers before the requests
  // are all written.
  bool sent = false;
  std::thread writer([&] { sent = text_.send(req, scaled(milliseconds(20000))); });
  const std::string got = text_.readExact(expected.size(), scaled(milliseconds(20000)));
  writer.join();
  EXPECT_TRUE(sent);
  EXPECT_TRUE(got == expected) << "first difference at byte "
                               << std::mismatch(got.begin(), got.end(), expected.begin()).first -
                                      got.begin();
  EXPECT_TRUE(text_.silentFor(scaled(milliseconds(100))));
}

TEST_F(TextFramingTest, NoreplySetThenQuitStoresAndCloses) {
  ASSERT_TRUE(text_.send("set k 0 0 1 noreply\r\nx\r\nquit\r\n"));
  EXPECT_TRUE(text_.closedWithin(scaled(milliseconds(3000))));
  EXPECT_EQ(text_.discardedBeforeClose(), 0u) << "noreply and quit: not one byte";
  TextClient other = newText();
  EXPECT_EQ(fetch(other, "get k\r\n"), "VALUE k 0 1\r\nx\r\nEND\r\n");
}

TEST_F(TextFramingTest, ManyConnectionsInterleaved) {
  std::vector<TextClient> clients;
  for (int i = 0; i < 20; ++i) clients.push_back(newText());
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(clients[i].send("set c" + std::to_string(i) + " 0 0 1\r\n" +
                                  std::to_string(round) + "\r\n"));
    }
    for (int i = 0; i < 20; ++i) ASSERT_EQ(clients[i].readLine(), "STORED\r\n");
    for (int i = 0; i < 20; ++i) {
      EXPECT_EQ(fetch(clients[(i + 1) % 20], "get c" + std::to_string(i) + "\r\n"),
                "VALUE c" + std::to_string(i) + " 0 1\r\n" + std::to_string(round) + "\r\nEND\r\n");
    }
  }
}

}  // namespace
}  // namespace memkv::test
