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

// Counters since `stats reset` (what STAT and `stats` show, as memcached) or
// since the server started (what /metrics shows: Prometheus counters never
// go down).
enum class CountFrom : uint8_t { kReset, kStart };

// The general group ("stats" / STAT with no key): server, bucket and memkv's
// send-path counters. `bucket` is the connection's bucket.
void generalStats(ServerContext& server, engine::Bucket& bucket, StatWriter& add,
                  CountFrom from = CountFrom::kReset);
// TLS counters, in the general group when TLS is configured.
void tlsStats(ServerContext& server, StatWriter& add);
// "settings". maxbytes is the bucket's quota now (cache_memlimit moves it).
void settingsStats(ServerContext& server, engine::Bucket& bucket, StatWriter& add);
// "items" and "slabs": memkv allocates each item exactly (no slab classes),
// so both report one class, 1, holding every item; nothing when empty, as
// memcached shows no empty class. docs/architecture.md, "STAT".
void itemsStats(ServerContext& server, engine::Bucket& bucket, StatWriter& add);
void slabsStats(ServerContext& server, engine::Bucket& bucket, StatWriter& add);
// "timings": every command family's latency histogram, added up over the
// workers (command_timings.h): FAMILY:count, FAMILY:sum_ns and cumulative
// FAMILY:le_us:BOUND; families that served nothing are left out.
void timingsStats(ServerContext& server, StatWriter& add);
// "dcp": DCP producers and the bucket's tombstones (docs/dcp.md).
void dcpStats(ServerContext& server, engine::Bucket& bucket, StatWriter& add,
              CountFrom from = CountFrom::kReset);
// "sizes": memcached's item size histogram, off unless started with it.
void sizesStats(StatWriter& add);
// The groups both protocols answer alike ("", settings, items, slabs,
// sizes, timings): writes the group and returns true, or false for any other group.
bool sharedStats(std::string_view group, ServerContext& server, engine::Bucket& bucket,
                 StatWriter& add);

}  // namespace memkv::server
