// Hostile text clients: garbage lines, truncated commands and huge lines on one connection
// may get that connection errors or a close, but never disturb another connection's gets and
// sets. Randomized cases print their seed; MEMKV_TEST_SEED=<seed> replays one.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "integration/text_fixture.h"
#include "support/hostile.h"

namespace memkv::test {
namespace {

using std::chrono::milliseconds;

class TextHostileTest : public TextServerTest {
 protected:
  // The well-behaved client: stores a fresh value and reads back everything it stored so far.
  void verifyNeighbour(int round) {
    const std::string key = "v_" + std::to_string(round);
    const std::string value = "value-" + std::to_string(round * 7919);
    ASSERT_EQ(text_.call("set " + key + " " + std::to_string(round) + " 0 " +
                         std::to_string(value.size()) + "\r\n" + value + "\r\n"),
              "STORED\r\n")
        << "round " << round;
    stored_.emplace_back(key, value);
    std::string line = "get";
    std::string expected;
    for (std::size_t i = 0; i < stored_.size(); ++i) {
      line += " " + stored_[i].first;
      expected += "VALUE " + stored_[i].first + " " + std::to_string(i) + " " +
                  std::to_string(stored_[i].second.size()) + "\r\n" + stored_[i].second + "\r\n";
    }
    ASSERT_EQ(fetch(line + "\r\n"), expected + "END\r\n") << "round " << round;
  }

  std::vector<std::pair<std::string, std::string>> stored_;
};

std::string randomLine(std::mt19937_64& rng) {
  static const char* const kWords[] = {
      "get", "gets",  "set", "add",      "cas",     "incr", "decr", "delete", "touch",
      "gat", "mg",    "ms",  "md",       "ma",      "mn",   "me",   "stats",  "verbosity",
      "0",   "1",     "-1",  "99999999", "noreply", "v",    "q",    "k",      "T1",
      "N1",  "h_key", "b",   "Zm9v",     "MS",      "C0",   "O123"};
  std::string line;
  const int tokens = static_cast<int>(rng() % 8);
  for (int i = 0; i < tokens; ++i) {
    if (i) line += std::string(1 + rng() % 3, ' ');
    if (rng() % 3 == 0) {
      // Random bytes, but no newline (the line structure stays ours) and no NUL.
      std::string junk = randomBytes(rng, 1 + rng() % 40);
      for (char& c : junk) {
        if (c == '\n' || c == '\0') c = 'x';
      }
      line += junk;
    } else {
      line += kWords[rng() % std::size(kWords)];
    }
  }
  return line + (rng() % 4 == 0 ? "\n" : "\r\n");
}

TEST_F(TextHostileTest, GarbageLinesDoNotDisturbOtherConnections) {
  const uint64_t seed = testSeed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  TextClient hostile = newText();
  int closes = 0;
  for (int round = 0; round < 40; ++round) {
    std::string batch;
    for (int i = 0; i < 20; ++i) batch += randomLine(rng);
    if (!hostile.send(batch, scaled(milliseconds(2000)))) {
      ++closes;
      hostile = newText();
    }
    // Drain whatever came back without waiting long; a close is fine.
    if (!hostile.silentFor(milliseconds(5)) && hostile.closedWithin(milliseconds(5))) {
      ++closes;
      hostile = newText();
    }
    verifyNeighbour(round);
    if (HasFatalFailure()) return;
  }
  RecordProperty("hostile_closes", closes);
}

TEST_F(TextHostileTest, TruncatedCommandsThenCloseDoNotDisturbOthers) {
  const std::vector<std::string> commands = {
      "set h_key 0 0 10\r\n0123456789\r\n",
      "get h_key h_other\r\n",
      "cas h_key 0 0 5 1\r\nabcde\r\n",
      "ms h_key 5 T0 F1\r\nabcde\r\n",
      "mg h_key v k s t c\r\n",
      "incr h_key 1\r\n",
      "gat 10 h_key\r\n",
      "set h_big 0 0 1000000\r\n" + std::string(1000, 'x'),
  };
  int round = 0;
  for (const std::string& cmd : commands) {
    for (std::size_t cut = 1; cut < cmd.size(); cut += 1 + cmd.size() / 7) {
      TextClient hostile = newText();
      ASSERT_TRUE(hostile.send(cmd.substr(0, cut)));
      hostile.close();
    }
    verifyNeighbour(round++);
    if (HasFatalFailure()) return;
  }
}

TEST_F(TextHostileTest, HalfSentValueThenDisconnectStoresNothing) {
  TextClient hostile = newText();
  ASSERT_TRUE(hostile.send("set h_half 0 0 100\r\n" + std::string(50, 'h')));
  hostile.close();
  verifyNeighbour(0);
  EXPECT_EQ(fetch("get h_half\r\n"), "END\r\n");
}

TEST_F(TextHostileTest, HugeGetLineIsServedOrClosedWhileOthersAreServed) {
  // 4 MiB of missing keys on one line.
  std::string line = "get";
  while (line.size() < 4 * 1024 * 1024)
    line += " h_missing_key_" + std::to_string(line.size() % 97);
  line += "\r\n";
  TextClient hostile = newText();
  bool sent = false;
  std::thread sender([&] { sent = hostile.send(line, scaled(milliseconds(20000))); });
  verifyNeighbour(0);
  verifyNeighbour(1);
  sender.join();
  if (sent) {
    const std::string reply = hostile.readLine(scaled(milliseconds(20000)));
    EXPECT_TRUE(reply == "END\r\n" || reply.rfind("<closed>", 0) == 0 ||
                reply.rfind("SERVER_ERROR ", 0) == 0 || reply.rfind("CLIENT_ERROR ", 0) == 0)
        << reply.substr(0, 200);
  }
  verifyNeighbour(2);
}

}  // namespace
}  // namespace memkv::test
