// STAT: one response per statistic (key = name, value = ASCII), then an
// empty one. Groups: "" (general), "settings", "reset".
#include <string>

#include <fmt/format.h>

#include "server/executors.h"
#include "server/mcbp_session.h"
#include "server/stats.h"

namespace memkv::server {

using mcbp::Status;

namespace {

class StatSink final : public StatWriter {
 public:
  explicit StatSink(Cookie& c) : StatSink(c.out, c.header()) {}
  StatSink(ResponseWriter& out, const mcbp::RequestHeader& header) : out_(out), header_(header) {}
  void add(std::string_view name, std::string_view value) override {
    out_.send(header_, Status::Success, {}, name,
              {reinterpret_cast<const uint8_t*>(value.data()), value.size()}, 0);
  }
  void end() { out_.send(header_, Status::Success, {}, {}, {}, 0); }

 private:
  ResponseWriter& out_;
  const mcbp::RequestHeader& header_;
};

// "vbucket-details": every vbucket's uuid, high seqno and item count. It
// takes all 1024 vbucket locks, so it is gathered on the executor pool (a
// would-block command) and answered on the owner thread.
void vbucketDetails(Cookie& c) {
  c.session.park();
  auto task = [bucket = c.session.bucketHandle(), header = c.header(), &loop = c.connection.loop(),
               anchor = c.session.anchor()] {
    runParkedTask(loop, anchor, [&] {
      auto details = std::make_shared<std::vector<engine::VBucketInfo>>();
      details->reserve(engine::kVBucketCount);
      for (uint16_t vb = 0; vb < engine::kVBucketCount; ++vb) {
        details->push_back(bucket->bucket.vbucketInfo(vb));
      }
      postToSession(loop, anchor, [details, header](McbpSession& session) {
        ResponseWriter out = session.responseWriter();
        StatSink add(out, header);
        for (size_t vb = 0; vb < details->size(); ++vb) {
          const engine::VBucketInfo& info = (*details)[vb];
          const std::string prefix = fmt::format("vb_{}:", vb);
          add(prefix + "state", "active");
          add(prefix + "uuid", info.uuid);
          add(prefix + "high_seqno", info.high_seqno);
          add(prefix + "num_items", info.items);
        }
        add.end();
        session.unpark();
      });
    });
  };
  if (!c.server.executors().submit(engine::TaskPriority::kLow, std::move(task))) {
    c.session.unpark();
    c.out.sendStatus(c.header(), Status::Etmpfail);
  }
}

}  // namespace

void executeStat(Cookie& c) {
  const std::string_view group = c.request.key;
  StatSink add(c);
  if (sharedStats(group, c.server, *c.bucket, add)) {
    add.end();
    return;
  }
  if (group == "vbucket-details") {
    vbucketDetails(c);
    return;
  } else if (group == "reset") {
    // Server-wide counters: only an administrator (or anyone on an open
    // server, as memcached) may reset them.
    if (c.server.authRequired() && !c.session.user()->admin()) {
      c.out.sendStatus(c.header(), Status::Eaccess);
      return;
    }
    c.server.resetTotals();
    c.bucket->resetStats();
    c.out.send(c.header(), Status::Success, {}, {}, {}, 0);
    return;
  } else {
    c.out.sendStatus(c.header(), Status::KeyEnoent);
  }
}

}  // namespace memkv::server
