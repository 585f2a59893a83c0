#pragma once
// The statistics STAT (binary) and `stats` (text) report, gathered once for
// both: each protocol supplies a StatWriter that encodes name/value pairs.
// Names and formats follow memcached 1.6 where memcached has the statistic;
// memkv's own keep their names (docs/architecture.md, "STAT").
#include <iterator>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "engine/bucket.h"
#include "server/server_context.h"

namespace memkv::server {

class StatWriter {
 public:
  virtual ~StatWriter() = default;
  virtual void add(std::string_view name, std::string_view value) = 0;
  template <typename T>
  void operator()(std::string_view name, const T& value) {
    buffer_.clear();
    fmt::format_to(std::back_inserter(buffer_), "{}", value);
    add(name, buffer_);
  }

 private:
  std::string buffer_;
};

// The general group ("stats" / STAT with no key): server, bucket and memkv's
// send-path counters. `bucket` is the connection's bucket.
void generalStats(ServerContext& server, engine::Bucket& bucket, StatWriter& add);
// "settings".
void settingsStats(ServerContext& server, StatWriter& add);

}  // namespace memkv::server
