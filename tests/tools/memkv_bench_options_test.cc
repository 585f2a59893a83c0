// memkv-bench's command line and key layout: the hit-ratio options (sweep, shift, report
// intervals, key digits) parse into what the workers use, and combinations that cannot
// work are refused with exit status 2 (an empty options) instead of running wrongly.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "bench_options.h"
#include "key_chooser.h"

namespace memkv::bench {
namespace {

ParseResult parse(std::initializer_list<const char*> args) {
  std::vector<std::string> text{"memkv-bench"};
  text.insert(text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : text) argv.push_back(a.data());
  return parseOptions(static_cast<int>(argv.size()), argv.data());
}

TEST(MemkvBenchOptions, DefaultsUseNoSweepNoShiftAndTwelveDigitKeys) {
  const ParseResult r = parse({});
  ASSERT_TRUE(r.options) << r.message;
  EXPECT_EQ(r.options->key_digits, 12u);
  EXPECT_EQ(r.options->sweep_keys, 0u);
  EXPECT_FALSE(r.options->shift);
  EXPECT_EQ(r.options->report_interval_s, 0);
  EXPECT_EQ(r.options->keySpaces().end(), r.options->keys);
}

TEST(MemkvBenchOptions, SweepShiftAndIntervalsParse) {
  const ParseResult r =
      parse({"--keys", "1000", "--sweep-keys", "300", "--sweep-start", "2.5", "--shift-at", "10",
             "--shift-value-size", "8k-12k", "--report-interval", "5", "--value-size", "80-120"});
  ASSERT_TRUE(r.options) << r.message;
  const BenchOptions& o = *r.options;
  EXPECT_EQ(o.sweep_keys, 300u);
  EXPECT_DOUBLE_EQ(o.sweep_start_s, 2.5);
  EXPECT_TRUE(o.shift);
  EXPECT_DOUBLE_EQ(o.shift_at_s, 10);
  EXPECT_EQ(o.shift_value_min, 8192u);
  EXPECT_EQ(o.shift_value_max, 12288u);
  EXPECT_EQ(o.largestValue(), 12288u);
  EXPECT_DOUBLE_EQ(o.report_interval_s, 5);
  EXPECT_EQ(o.keySpaces().end(), 2300u);
}

TEST(MemkvBenchOptions, ShiftWithoutSizeKeepsTheValueSize) {
  const ParseResult r = parse({"--value-size", "100", "--shift-at", "3"});
  ASSERT_TRUE(r.options) << r.message;
  EXPECT_EQ(r.options->shift_value_min, 100u);
  EXPECT_EQ(r.options->shift_value_max, 100u);
}

TEST(MemkvBenchOptions, RefusesCombinationsThatCannotWork) {
  EXPECT_FALSE(parse({"--shift-value-size", "10k"}).options) << "a size without --shift-at";
  EXPECT_FALSE(parse({"--verify", "--shift-at", "1", "--shift-value-size", "10"}).options)
      << "--verify needs the 24-byte value header in the shifted values too";
  EXPECT_FALSE(parse({"--protocol", "text", "--multiget", "4", "--sweep-keys", "10"}).options);
  EXPECT_FALSE(parse({"--protocol", "text", "--multiget", "4", "--shift-at", "1"}).options);
  EXPECT_FALSE(parse({"--report-interval", "0"}).options);
  EXPECT_FALSE(parse({"--key-digits", "0"}).options);
  EXPECT_FALSE(parse({"--key-digits", "20"}).options);
  EXPECT_FALSE(parse({"--shift-value-size", "5-4", "--shift-at", "1"}).options);
}

TEST(MemkvBenchOptions, EveryKeyIndexMustFitTheDigits) {
  // 1,000,000 keys are 000000..999999: six digits are enough, not for one more.
  EXPECT_TRUE(parse({"--keys", "1000000", "--key-digits", "6"}).options);
  EXPECT_FALSE(parse({"--keys", "1000001", "--key-digits", "6"}).options);
  EXPECT_TRUE(parse({"--keys", "500000", "--key-digits", "6", "--sweep-keys", "500000"}).options);
  EXPECT_FALSE(parse({"--keys", "500000", "--key-digits", "6", "--sweep-keys", "500001"}).options);
  // The shifted space follows the sweep's: 400000 + 100000 + 400000 indices fit.
  EXPECT_TRUE(
      parse({"--keys", "400000", "--key-digits", "6", "--sweep-keys", "100000", "--shift-at", "1"})
          .options);
  EXPECT_FALSE(
      parse({"--keys", "500000", "--key-digits", "6", "--sweep-keys", "1", "--shift-at", "1"})
          .options);
  EXPECT_FALSE(parse({"--keys", "999999999999999999", "--key-digits", "19", "--sweep-keys",
                      "9999999999999999999"})
                   .options)
      << "a sum past 2^64 must not wrap into a pass";
}

TEST(KeyLayout, TenByteKeysAndDisjointSpaces) {
  char key[64];
  EXPECT_EQ(std::string(key, formatKey("k:", 42, key, 8)), "k:00000042");
  EXPECT_EQ(std::string(key, formatKey("key:", 7, key)), "key:000000000007");
  const KeySpaces spaces{100, 50, true};
  EXPECT_EQ(spaces.spaceOf(0), KeySpaces::Space::kMain);
  EXPECT_EQ(spaces.spaceOf(99), KeySpaces::Space::kMain);
  EXPECT_EQ(spaces.spaceOf(spaces.sweepBase()), KeySpaces::Space::kSweep);
  EXPECT_EQ(spaces.spaceOf(149), KeySpaces::Space::kSweep);
  EXPECT_EQ(spaces.spaceOf(spaces.shiftBase()), KeySpaces::Space::kShifted);
  EXPECT_EQ(spaces.end(), 250u);
}

}  // namespace
}  // namespace memkv::bench
