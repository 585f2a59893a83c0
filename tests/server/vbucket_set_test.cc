// VbucketSet (server/dcp_producer.h): the sets a DCP producer's pull scans
// instead of every open stream. firstFrom must wrap around from any start,
// including the round robin's one past the last vbucket (1024).
#include <gtest/gtest.h>

#include "server/dcp_producer.h"

namespace memkv::server {
namespace {

TEST(VbucketSetTest, FirstFromFindsTheNextMemberAndWrapsAround) {
  VbucketSet set;
  EXPECT_EQ(set.firstFrom(0), -1);
  EXPECT_EQ(set.firstFrom(1024), -1);
  set.assign(5, true);
  set.assign(700, true);
  EXPECT_EQ(set.firstFrom(0), 5);
  EXPECT_EQ(set.firstFrom(5), 5);
  EXPECT_EQ(set.firstFrom(6), 700);
  EXPECT_EQ(set.firstFrom(701), 5) << "wraps past 1023";
  EXPECT_EQ(set.firstFrom(1024), 5) << "the round robin's next after 1023 is 0";
  set.assign(5, false);
  EXPECT_EQ(set.firstFrom(6), 700);
  EXPECT_EQ(set.firstFrom(701), 700) << "the only member, found from behind it";
  EXPECT_TRUE(set.contains(700));
  EXPECT_FALSE(set.contains(5));
}

TEST(VbucketSetTest, WithAnotherSetItFindsAMemberOfEither) {
  VbucketSet sending, pending;
  sending.assign(1023, true);
  pending.assign(63, true);
  pending.assign(64, true);
  EXPECT_EQ(sending.firstFrom(0), 1023);
  EXPECT_EQ(sending.firstFrom(0, &pending), 63);
  EXPECT_EQ(sending.firstFrom(64, &pending), 64);
  EXPECT_EQ(sending.firstFrom(65, &pending), 1023);
  for (uint16_t vb = 0; vb < 1024; ++vb) EXPECT_GE(sending.firstFrom(vb, &pending), 0);
}

}  // namespace
}  // namespace memkv::server
