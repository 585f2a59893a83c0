// DCP_OPEN and DCP_CONTROL on a real server, as a DCP client sends them: the preconditions
// kv_engine applies (a selected bucket, the dcp privilege, one open per connection), the
// flags memkv refuses (a consumer, xattrs), and what DCP_CONTROL takes. memkv only.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "integration/dcp_client.h"
#include "integration/users_fixture.h"
#include "support/couchbase_client.h"
#include "support/test_env.h"

namespace memkv::test {
namespace {

namespace cb = couchbase;
using cb::TestUser;
using namespace dcp;  // NOLINT: the test speaks DCP throughout

// What a consumer saw of one stream: the messages in order.
struct Seen {
  std::vector<Response> messages;
  bool ended = false;
  uint32_t end_status = 0;
  size_t wire_bytes = 0;  // every message but noops, as flow control counts them
};

// Reads stream messages until STREAM_END or `quiet` passes without a byte.
Seen readStream(McbpClient& c, std::chrono::milliseconds quiet = std::chrono::milliseconds(2000)) {
  Seen seen;
  for (;;) {
    Response m;
    if (c.read(&m, scaled(quiet)) != ReadStatus::kOk) return seen;
    seen.wire_bytes += 24 + m.extras.size() + m.key.size() + m.value.size();
    seen.messages.push_back(m);
    if (m.opcode == kStreamEnd) {
      seen.ended = true;
      seen.end_status = readBe32(m.extras);
      return seen;
    }
  }
}

const TestUser kUsers[] = {
    {"admin", "admin-pw", "admin"},
    {"app", "app-pw", "read[default],write[default]"},
    {"connector", "connector-pw", "dcp[default],read[default]"},
    {"elsewhere", "elsewhere-pw", "dcp[other],read[other]"},
};

class DcpSessionTest : public UsersServerTest {
 protected:
  DcpSessionTest() : UsersServerTest(kUsers) {}
};

TEST_F(DcpSessionTest, AProducerOpensOnceWithTheDcpPrivilege) {
  McbpClient c = loggedIn("connector", "connector-pw");
  McbpClient app = loggedIn("app", "app-pw");
  // Before any DCP_OPEN a deletion leaves no tombstone: it only raises the purge seqno.
  ASSERT_EQ(app.call(makeStore(op::kSet, "gone-before", "v")).status, status::kSuccess);
  ASSERT_EQ(app.call(makeKeyOnly(op::kDelete, "gone-before")).status, status::kSuccess);
  auto dcp = app.stats("dcp");
  EXPECT_EQ(dcp.at("dcp_tombstones"), "0");
  EXPECT_EQ(dcp.at("dcp_tombstones_purged"), "1");
  const Response opened = c.call(dcpOpen("kafka:connector-1", kProducer));
  EXPECT_EQ(opened.status, status::kSuccess);
  EXPECT_TRUE(opened.key.empty() && opened.extras.empty() && opened.value.empty());
  EXPECT_EQ(c.call(dcpOpen("kafka:connector-1", kProducer)).status, status::kEinval)
      << "a second DCP_OPEN on one connection";
  // From now on the bucket keeps them, for streams to send.
  ASSERT_EQ(app.call(makeStore(op::kSet, "gone-after", "v")).status, status::kSuccess);
  ASSERT_EQ(app.call(makeKeyOnly(op::kDelete, "gone-after")).status, status::kSuccess);
  dcp = app.stats("dcp");
  EXPECT_EQ(dcp.at("dcp_tombstones"), "1");
  EXPECT_GT(std::stoull(dcp.at("dcp_tombstone_bytes")), 0u);
  // The connection still answers other commands.
  Request log = cb::makeRequest(kGetFailoverLog);
  log.vbucket = 5;
  EXPECT_EQ(c.call(log).status, status::kSuccess);
  EXPECT_EQ(c.noop().status, status::kSuccess);
  // STAT dcp counts the producer while its connection is open.
  EXPECT_EQ(dcpProducers(c), 1u);
  c.close();
  McbpClient admin = loggedIn("admin", "admin-pw");
  for (int i = 0; i < 100 && dcpProducers(admin) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(dcpProducers(admin), 0u);
  // An administrator may open one too.
  EXPECT_EQ(admin.call(dcpOpen("admin-stream", kProducer)).status, status::kSuccess);
}

TEST_F(DcpSessionTest, WithoutTheDcpPrivilegeOrABucketItIsRefused) {
  McbpClient app = loggedIn("app", "app-pw");
  EXPECT_EQ(app.call(dcpOpen("sneaky", kProducer)).status, cb::status::kEaccess)
      << "read and write do not include dcp";
  EXPECT_EQ(app.call(dcpControl("enable_noop", "true")).status, cb::status::kEaccess);
  // A user whose only bucket does not exist logs in with none selected.
  McbpClient nobucket = newClient();
  ASSERT_EQ(cb::saslPlain(nobucket, "elsewhere", "elsewhere-pw").status, status::kSuccess);
  EXPECT_EQ(nobucket.call(dcpOpen("nobucket", kProducer)).status, cb::status::kNoBucket);
  McbpClient anonymous = newClient();
  EXPECT_NE(anonymous.call(dcpOpen("anonymous", kProducer)).status, status::kSuccess);
}

TEST_F(DcpSessionTest, AConsumerOrXattrsAreNotSupportedAndBadFramesAreRefused) {
  McbpClient c = loggedIn("connector", "connector-pw");
  EXPECT_EQ(c.call(dcpOpen("consumer", 0)).status, kNotSupported) << "memkv has no consumer";
  EXPECT_EQ(c.call(dcpOpen("xattrs", kProducer | kIncludeXattrs)).status, kNotSupported)
      << "memkv stores no xattrs";
  EXPECT_EQ(c.call(dcpOpen(std::string(201, 'n'), kProducer)).status, status::kEinval)
      << "names are at most 200 bytes";
  // None of those opened anything.
  EXPECT_EQ(c.call(dcpOpen("at-last", kProducer)).status, status::kSuccess);
  // A frame whose header breaks DCP_OPEN's shape (no extras, no name) is a hostile frame,
  // as for every command: the connection is closed (docs/protocol-errors.md).
  for (const Request& bad : {cb::makeRequest(kDcpOpen, "name"), dcpOpen("", kProducer)}) {
    McbpClient b = loggedIn("connector", "connector-pw");
    ASSERT_TRUE(b.send(bad));
    EXPECT_TRUE(b.connectionClosed(scaled(std::chrono::milliseconds(5000))));
  }
}

TEST_F(DcpSessionTest, ControlTakesKvEnginesKeysAfterOpen) {
  McbpClient c = loggedIn("connector", "connector-pw");
  EXPECT_EQ(c.call(dcpControl("connection_buffer_size", "1024")).status, status::kEinval)
      << "DCP_CONTROL before DCP_OPEN";
  ASSERT_EQ(c.call(dcpOpen("ctl", kProducer)).status, status::kSuccess);
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"connection_buffer_size", "1048576"},
           {"enable_noop", "true"},
           {"set_noop_interval", "0.5"},
           {"set_priority", "high"},
           {"send_stream_end_on_client_close_stream", "true"}}) {
    EXPECT_EQ(c.call(dcpControl(key, value)).status, status::kSuccess) << key << "=" << value;
  }
  EXPECT_EQ(c.call(dcpControl("set_noop_interval", "0.05")).status, status::kEinval)
      << "below kv_engine's 0.1 s";
  EXPECT_EQ(c.call(dcpControl("connection_buffer_size", "lots")).status, status::kEinval);
  EXPECT_EQ(c.call(dcpControl("no_such_key", "1")).status, status::kEinval);
  // Accepted, as kv_engine does; without IncludeDeleteTimes expiries go out as deletions.
  EXPECT_EQ(c.call(dcpControl("enable_expiry_opcode", "true")).status, status::kSuccess);
  EXPECT_EQ(c.call(dcpControl("enable_noop", "")).status, status::kEinval) << "an empty value";

  McbpClient times = loggedIn("connector", "connector-pw");
  ASSERT_EQ(times.call(dcpOpen("times", kProducer | kIncludeDeleteTimes)).status, status::kSuccess);
  EXPECT_EQ(times.call(dcpControl("enable_expiry_opcode", "true")).status, status::kSuccess);
}

// A stream from 0 to the vbucket's high seqno: one disk snapshot with each key's newest change
// (documents, then the deletions DCP_OPEN made the bucket keep), in seqno order, then
// STREAM_END(ok).
TEST_F(DcpSessionTest, ABackfillSendsEachKeysNewestChangeInOrderThenEnds) {
  McbpClient consumer = loggedIn("connector", "connector-pw");
  ASSERT_EQ(consumer.call(dcpOpen("backfill", kProducer)).status, status::kSuccess);
  McbpClient app = loggedIn("app", "app-pw");
  const uint16_t vb = 77;
  std::vector<std::string> keys;
  for (int i = 0; keys.size() < 20; ++i) {
    const std::string k = "doc" + std::to_string(i);
    if (cb::vbucketOf(k) == vb) keys.push_back(k);
  }
  std::map<std::string, std::string> model;
  auto write = [&](const std::string& k, const std::string& v) {
    Request set = makeStore(op::kSet, k, v);
    set.vbucket = vb;
    ASSERT_EQ(app.call(set).status, status::kSuccess);
    model[k] = v;
  };
  for (const auto& k : keys) write(k, "v1-" + k);
  for (int i = 0; i < 5; ++i) {
    Request del = makeKeyOnly(op::kDelete, keys[i]);
    del.vbucket = vb;
    ASSERT_EQ(app.call(del).status, status::kSuccess);
    model.erase(keys[i]);
  }
  for (int i = 10; i < 13; ++i) write(keys[i], "v2-" + keys[i]);
  write(keys[15], std::string(10000, 'L'));  // by reference: 4 KiB or more

  const Response answer = consumer.call(streamReq(vb, 0xabc, 0, kSeqnoMax, 0, kToLatest));
  ASSERT_EQ(answer.status, status::kSuccess);
  ASSERT_EQ(answer.value.size(), 16u) << "the failover log";
  const Seen seen = readStream(consumer);
  ASSERT_TRUE(seen.ended);
  EXPECT_EQ(seen.end_status, 0u);
  ASSERT_GE(seen.messages.size(), 3u);
  const Response& marker = seen.messages.front();
  ASSERT_EQ(marker.opcode, kSnapshotMarker);
  EXPECT_EQ(marker.opaque, 0xabcu);
  const uint64_t high = readBe64(marker.extras.substr(8));
  EXPECT_EQ(high, 20u + 5 + 3 + 1) << "every store and delete took a seqno";
  std::map<std::string, std::string> streamed;
  std::set<std::string> deleted;
  uint64_t last = 0;
  for (size_t i = 1; i + 1 < seen.messages.size(); ++i) {
    const Response& m = seen.messages[i];
    EXPECT_EQ(m.opaque, 0xabcu);
    EXPECT_EQ(m.status, vb) << "a producer's request carries the vbucket";
    const uint64_t seqno = readBe64(m.extras);
    EXPECT_GT(seqno, last) << "seqnos strictly increase inside a snapshot";
    EXPECT_LE(seqno, high);
    last = seqno;
    EXPECT_FALSE(streamed.contains(m.key) || deleted.contains(m.key)) << "each key once";
    if (m.opcode == kMutation) {
      streamed[m.key] = m.value;
    } else {
      ASSERT_EQ(m.opcode, kDeletion);
      EXPECT_TRUE(m.value.empty());
      deleted.insert(m.key);
    }
  }
  EXPECT_EQ(streamed, model);
  EXPECT_EQ(deleted, (std::set<std::string>(keys.begin(), keys.begin() + 5)));
  auto dcp = app.stats("dcp");
  EXPECT_EQ(dcp.at("dcp_items_sent"), "20");
  EXPECT_EQ(std::stoull(dcp.at("dcp_bytes_sent")), seen.wire_bytes);
  EXPECT_EQ(dcp.at("dcp_streams"), "0") << "an ended stream is gone";
}

// kv_engine's golden flow-control case: buffer 100 and no acks give exactly one marker
// (44 bytes) and one mutation (55 + key + 9 bytes: 68 for kv_engine's 4-byte keys): the
// second message overshoots the window, then nothing comes until an acknowledgement.
TEST_F(DcpSessionTest, AWindowOf100BytesLetsOneMarkerAndOneMutationThrough) {
  McbpClient consumer = loggedIn("connector", "connector-pw");
  ASSERT_EQ(consumer.call(dcpOpen("window", kProducer)).status, status::kSuccess);
  ASSERT_EQ(consumer.call(dcpControl("connection_buffer_size", "100")).status, status::kSuccess);
  McbpClient app = loggedIn("app", "app-pw");
  const uint16_t vb = 3;
  int stored = 0;
  for (int i = 0; stored < 10 && i < 100000; ++i) {
    const std::string k = "key" + std::to_string(i);
    if (cb::vbucketOf(k) != vb) continue;
    Request set = makeStore(op::kSet, k, "123456789");
    set.vbucket = vb;
    ASSERT_EQ(app.call(set).status, status::kSuccess);
    ++stored;
  }
  ASSERT_EQ(consumer.call(streamReq(vb, 1, 0, kSeqnoMax, 0, kToLatest)).status, status::kSuccess);
  Response m;
  ASSERT_EQ(consumer.read(&m, scaled(std::chrono::milliseconds(5000))), ReadStatus::kOk);
  EXPECT_EQ(m.opcode, kSnapshotMarker);
  ASSERT_EQ(consumer.read(&m, scaled(std::chrono::milliseconds(5000))), ReadStatus::kOk);
  EXPECT_EQ(m.opcode, kMutation);
  const size_t mutation_bytes = 24 + m.extras.size() + m.key.size() + m.value.size();
  EXPECT_EQ(mutation_bytes, 55 + m.key.size() + 9);
  EXPECT_TRUE(consumer.silentFor(std::chrono::milliseconds(500))) << "the window is full";
  EXPECT_EQ(app.stats("dcp").at("dcp_window_full_pauses"), "1");
  // Acknowledging what arrived reopens it; with acks the other 9 and the end arrive.
  size_t received = 0;
  int mutations = 1;
  ASSERT_TRUE(consumer.send(bufferAck(static_cast<uint32_t>(44 + mutation_bytes))));
  for (;;) {
    ASSERT_EQ(consumer.read(&m, scaled(std::chrono::milliseconds(5000))), ReadStatus::kOk);
    const size_t bytes = 24 + m.extras.size() + m.key.size() + m.value.size();
    if (m.opcode == kMutation) ++mutations;
    if (m.opcode == kStreamEnd) break;
    received += bytes;
    if (received >= 50) {
      ASSERT_TRUE(consumer.send(bufferAck(static_cast<uint32_t>(received))));
      received = 0;
    }
  }
  EXPECT_EQ(mutations, 10);
}

// STREAM_REQ's answers: a wrong uuid or a start past the vbucket's history rolls back
// (status ROLLBACK, the seqno as 8 bytes); a deletion forgotten before any DCP_OPEN (the
// purge seqno) sends a resuming consumer back to 0; a second stream on a vbucket is
// KEY_EEXISTS; a bad range ERANGE.
TEST_F(DcpSessionTest, StreamRequestsThatCannotResumeRollBack) {
  McbpClient app = loggedIn("app", "app-pw");
  const uint16_t vb = 9;
  std::vector<std::string> keys;
  for (int i = 0; keys.size() < 4; ++i) {
    const std::string k = "rb" + std::to_string(i);
    if (cb::vbucketOf(k) == vb) keys.push_back(k);
  }
  for (const auto& k : keys) {
    Request set = makeStore(op::kSet, k, "v");
    set.vbucket = vb;
    ASSERT_EQ(app.call(set).status, status::kSuccess);  // seqnos 1..4
  }
  Request del = makeKeyOnly(op::kDelete, keys[0]);
  del.vbucket = vb;
  ASSERT_EQ(app.call(del).status, status::kSuccess);  // seqno 5: purged (no DCP yet)
  McbpClient consumer = loggedIn("connector", "connector-pw");
  ASSERT_EQ(consumer.call(dcpOpen("resume", kProducer)).status, status::kSuccess);
  Request log_req = cb::makeRequest(kGetFailoverLog);
  log_req.vbucket = vb;
  const uint64_t uuid = readBe64(consumer.call(log_req).value);

  Response r = consumer.call(streamReq(vb, 1, 3, kSeqnoMax, uuid ^ 1));
  EXPECT_EQ(r.status, kRollback) << "an unknown uuid";
  ASSERT_EQ(r.value.size(), 8u);
  EXPECT_EQ(readBe64(r.value), 0u);
  r = consumer.call(streamReq(vb, 2, 3, kSeqnoMax, uuid));
  EXPECT_EQ(r.status, kRollback) << "seqno 3 is below the purge seqno 5";
  EXPECT_EQ(readBe64(r.value), 0u);
  r = consumer.call(streamReq(vb, 3, 9, kSeqnoMax, uuid));
  EXPECT_EQ(r.status, kRollback) << "past the vbucket's high seqno";
  EXPECT_EQ(readBe64(r.value), 5u);
  r = consumer.call(streamReq(vb, 4, 5, 2, uuid));
  EXPECT_EQ(r.status, 0x22) << "ERANGE: start after end";
  // From 5, the high seqno, with the right uuid: nothing to send yet, and it follows.
  ASSERT_EQ(consumer.call(streamReq(vb, 5, 5, kSeqnoMax, uuid)).status, status::kSuccess);
  EXPECT_EQ(consumer.call(streamReq(vb, 6, 5, kSeqnoMax, uuid)).status, kKeyEexists);
  // A new document reaches the open stream.
  Request set = makeStore(op::kSet, keys[1], "changed");
  set.vbucket = vb;
  ASSERT_EQ(app.call(set).status, status::kSuccess);
  Response m;
  ASSERT_EQ(consumer.read(&m, scaled(std::chrono::milliseconds(5000))), ReadStatus::kOk);
  EXPECT_EQ(m.opcode, kSnapshotMarker);
  EXPECT_EQ(m.opaque, 5u);
  EXPECT_EQ(readBe32(m.extras.substr(16)), 0x1u) << "a memory snapshot: from the change log";
  ASSERT_EQ(consumer.read(&m, scaled(std::chrono::milliseconds(5000))), ReadStatus::kOk);
  EXPECT_EQ(m.opcode, kMutation);
  EXPECT_EQ(m.key, keys[1]);
  EXPECT_EQ(m.value, "changed");
  EXPECT_EQ(readBe64(m.extras), 6u);
}

// DCP_CLOSE_STREAM: the stream goes (a second close is KEY_ENOENT); with
// send_stream_end_on_client_close_stream it ends with STREAM_END(closed) first.
TEST_F(DcpSessionTest, CloseStreamEndsItQuietlyOrWithAStreamEnd) {
  McbpClient consumer = loggedIn("connector", "connector-pw");
  ASSERT_EQ(consumer.call(dcpOpen("close", kProducer)).status, status::kSuccess);
  ASSERT_EQ(consumer.call(streamReq(100, 7, 0, kSeqnoMax, 0)).status, status::kSuccess);
  Request close = cb::makeRequest(kCloseStream);
  close.vbucket = 100;
  EXPECT_EQ(consumer.call(close).status, status::kSuccess);
  EXPECT_EQ(consumer.call(close).status, status::kKeyEnoent);

  McbpClient told = loggedIn("connector", "connector-pw");
  ASSERT_EQ(told.call(dcpOpen("close-told", kProducer)).status, status::kSuccess);
  ASSERT_EQ(told.call(dcpControl("send_stream_end_on_client_close_stream", "true")).status,
            status::kSuccess);
  ASSERT_EQ(told.call(streamReq(100, 8, 0, kSeqnoMax, 0)).status, status::kSuccess);
  ASSERT_TRUE(told.send(close));
  bool answered = false;
  bool ended = false;
  for (int i = 0; i < 2; ++i) {
    Response m;
    ASSERT_EQ(told.read(&m, scaled(std::chrono::milliseconds(5000))), ReadStatus::kOk);
    if (m.magic == 0x81) {
      EXPECT_EQ(m.status, status::kSuccess);
      answered = true;
    } else {
      EXPECT_EQ(m.opcode, kStreamEnd);
      EXPECT_EQ(m.opaque, 8u);
      EXPECT_EQ(readBe32(m.extras), 1u) << "closed";
      ended = true;
    }
  }
  EXPECT_TRUE(answered && ended);
  EXPECT_EQ(told.stats("dcp").at("dcp_streams"), "0");
}

// More than the output's high watermark (1 MiB) with flow control off and no acks: the
// producer must come back to a stream by itself once the socket took what it wrote (an
// edge-triggered socket that takes everything raises no EPOLLOUT), and 4 KiB values go out by
// reference.
TEST_F(DcpSessionTest, AStreamLargerThanTheOutputWatermarkArrivesWhole) {
  McbpClient consumer = loggedIn("connector", "connector-pw");
  ASSERT_EQ(consumer.call(dcpOpen("large", kProducer)).status, status::kSuccess);
  McbpClient app = loggedIn("app", "app-pw");
  const uint16_t vb = 500;
  std::map<std::string, std::string> model;
  for (int i = 0; model.size() < 300 && i < 2'000'000; ++i) {
    const std::string k = "big" + std::to_string(i);
    if (cb::vbucketOf(k) != vb) continue;
    const std::string v = std::string(10000, static_cast<char>('a' + model.size() % 26));
    Request set = makeStore(op::kSet, k, v);
    set.vbucket = vb;
    ASSERT_EQ(app.call(set).status, status::kSuccess);
    model[k] = v;
  }
  ASSERT_EQ(model.size(), 300u);
  const uint64_t referenced = statU64(app, "bytes_referenced");
  ASSERT_EQ(consumer.call(streamReq(vb, 1, 0, kSeqnoMax, 0, kToLatest)).status, status::kSuccess);
  const Seen seen = readStream(consumer);
  ASSERT_TRUE(seen.ended) << seen.messages.size() << " messages, then silence";
  std::map<std::string, std::string> streamed;
  for (const Response& m : seen.messages) {
    if (m.opcode == kMutation) streamed[m.key] = m.value;
  }
  EXPECT_EQ(streamed, model);
  EXPECT_GE(statU64(app, "bytes_referenced") - referenced, 300u * 10000);
}

// A DCP connection's streams keep the bucket and user they were opened with (kv_engine):
// SELECT_BUCKET and SASL are refused from DCP_OPEN on.
TEST_F(DcpSessionTest, ABucketOrUserChangeIsRefusedAfterOpen) {
  McbpClient consumer = loggedIn("connector", "connector-pw");
  ASSERT_EQ(consumer.call(dcpOpen("bound", kProducer)).status, status::kSuccess);
  EXPECT_EQ(cb::selectBucket(consumer, "default").status, kNotSupported);
  EXPECT_EQ(cb::saslPlain(consumer, "admin", "admin-pw").status, kNotSupported);
  EXPECT_EQ(consumer.call(streamReq(1, 1, 0, kSeqnoMax, 0)).status, status::kSuccess);
}

// kv_engine: a DCP_OPEN whose name is in use on the bucket disconnects the older connection
// (a consumer reconnecting after a network split must not race its old streams); another name,
// or the same name on another bucket, leaves it alone.
TEST_F(DcpSessionTest, ANewOpenWithTheSameNameClosesTheOlderConnection) {
  McbpClient older = loggedIn("connector", "connector-pw");
  ASSERT_EQ(older.call(dcpOpen("replica:1", kProducer)).status, status::kSuccess);
  ASSERT_EQ(older.call(streamReq(3, 1, 0, kSeqnoMax, 0)).status, status::kSuccess);
  McbpClient other = loggedIn("connector", "connector-pw");
  ASSERT_EQ(other.call(dcpOpen("replica:2", kProducer)).status, status::kSuccess);
  McbpClient newer = loggedIn("connector", "connector-pw");
  ASSERT_EQ(newer.call(dcpOpen("replica:1", kProducer)).status, status::kSuccess);
  EXPECT_TRUE(older.connectionClosed(scaled(std::chrono::milliseconds(5000))));
  EXPECT_EQ(newer.call(streamReq(3, 1, 0, kSeqnoMax, 0)).status, status::kSuccess)
      << "the vbucket's stream went with the older connection";
  EXPECT_EQ(other.call(streamReq(3, 1, 0, kSeqnoMax, 0)).status, status::kSuccess);
  const auto deadline = std::chrono::steady_clock::now() + scaled(std::chrono::milliseconds(3000));
  while (dcpProducers(newer) != 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(dcpProducers(newer), 2u);
}

}  // namespace
}  // namespace memkv::test
