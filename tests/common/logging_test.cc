// escapeForLog: what a client-chosen name may look like once it is in a log line.
#include "common/logging.h"

#include <gtest/gtest.h>

#include <string>

namespace memkv {
namespace {

TEST(EscapeForLogTest, PrintableTextStays) {
  EXPECT_EQ(escapeForLog("app-user_1@example.com", 64), "app-user_1@example.com");
}

TEST(EscapeForLogTest, NoForgedLinesOrBrokenQuotes) {
  // A newline would start a forged line; a quote would end the user="..." field early.
  EXPECT_EQ(escapeForLog("x\"\n2026 error forged", 64), "x\\x22\\x0a2026 error forged");
  EXPECT_EQ(escapeForLog(std::string("a\0b\\", 4), 64), "a\\x00b\\x5c");
  EXPECT_EQ(escapeForLog("\xff\x1b[31m", 64), "\\xff\\x1b[31m");
}

TEST(EscapeForLogTest, LongTextIsCut) {
  EXPECT_EQ(escapeForLog(std::string(300, 'u'), 8), "uuuuuuuu...");
  EXPECT_EQ(escapeForLog("", 8), "");
}

}  // namespace
}  // namespace memkv
