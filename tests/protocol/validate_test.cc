#include "protocol/validate.h"

#include <gtest/gtest.h>

#include "protocol/opcode_spec.h"

namespace memkv::mcbp {
namespace {

RequestHeader header(Opcode op, uint16_t key, uint8_t extras, uint32_t value) {
  RequestHeader h{};
  h.magic = Magic::ClientRequest;
  h.opcode = static_cast<uint8_t>(op);
  h.key_length = key;
  h.extras_length = extras;
  h.body_length = key + extras + value;
  return h;
}

TEST(ValidateTest, WellFormedRequestsPass) {
  EXPECT_EQ(validateHeader(header(Opcode::Get, 3, 0, 0)), Verdict::kOk);
  EXPECT_EQ(validateHeader(header(Opcode::Set, 3, 8, 100)), Verdict::kOk);
  EXPECT_EQ(validateHeader(header(Opcode::Set, 3, 8, 0)), Verdict::kOk);
  EXPECT_EQ(validateHeader(header(Opcode::Increment, 3, 20, 0)), Verdict::kOk);
  EXPECT_EQ(validateHeader(header(Opcode::Flush, 0, 0, 0)), Verdict::kOk);
  EXPECT_EQ(validateHeader(header(Opcode::Flush, 0, 4, 0)), Verdict::kOk);
  EXPECT_EQ(validateHeader(header(Opcode::Stat, 0, 0, 0)), Verdict::kOk);
  EXPECT_EQ(validateHeader(header(Opcode::Stat, 8, 0, 0)), Verdict::kOk);
  EXPECT_EQ(validateHeader(header(Opcode::Append, 1, 0, 5)), Verdict::kOk);
  EXPECT_EQ(validateHeader(header(Opcode::Touch, 1, 4, 0)), Verdict::kOk);
  EXPECT_EQ(validateHeader(header(Opcode::Get, 250, 0, 0)), Verdict::kOk);
}

TEST(ValidateTest, WrongShapesAreInvalid) {
  EXPECT_EQ(validateHeader(header(Opcode::Get, 3, 4, 0)), Verdict::kInvalid);    // extras
  EXPECT_EQ(validateHeader(header(Opcode::Get, 0, 0, 0)), Verdict::kInvalid);    // no key
  EXPECT_EQ(validateHeader(header(Opcode::Get, 3, 0, 1)), Verdict::kInvalid);    // value
  EXPECT_EQ(validateHeader(header(Opcode::Set, 3, 0, 1)), Verdict::kInvalid);    // no extras
  EXPECT_EQ(validateHeader(header(Opcode::Noop, 1, 0, 0)), Verdict::kInvalid);   // key
  EXPECT_EQ(validateHeader(header(Opcode::Flush, 0, 8, 0)), Verdict::kInvalid);  // extras 8
  EXPECT_EQ(validateHeader(header(Opcode::Increment, 3, 8, 0)), Verdict::kInvalid);
  EXPECT_EQ(validateHeader(header(Opcode::Get, 251, 0, 0)), Verdict::kInvalid);  // key > 250
  EXPECT_EQ(validateHeader(header(Opcode::Verbosity, 0, 0, 0)), Verdict::kInvalid);
}

TEST(ValidateTest, UnknownOpcodesAreUnknownNotInvalid) {
  RequestHeader h = header(Opcode::Get, 3, 0, 10);
  h.opcode = 0xee;
  EXPECT_EQ(validateHeader(h), Verdict::kUnknownCommand);
  h.opcode = 0x91;  // a Couchbase opcode memkv does not implement
  EXPECT_EQ(validateHeader(h), Verdict::kUnknownCommand);
}

TEST(ValidateTest, QuietVariantsMapToTheirBase) {
  EXPECT_TRUE(opcodeSpec(0x09).quiet);
  EXPECT_EQ(opcodeSpec(0x09).base, Opcode::Get);
  EXPECT_EQ(opcodeSpec(0x0d).base, Opcode::GetK);
  EXPECT_EQ(opcodeSpec(0x11).base, Opcode::Set);
  EXPECT_EQ(opcodeSpec(0x1e).base, Opcode::Gat);
  EXPECT_FALSE(opcodeSpec(0x00).quiet);
  EXPECT_EQ(opcodeName(0x10), "STAT");
  EXPECT_EQ(opcodeName(0xee), "UNKNOWN");
}

}  // namespace
}  // namespace memkv::mcbp
