#pragma once
// Per-worker command counters behind STAT (memcached's names). One instance
// per worker thread, written only there.
#include "common/counter.h"

namespace memkv::server {

#define MEMKV_COMMAND_COUNTERS(X) \
  X(cmd_get)                      \
  X(cmd_set)                      \
  X(cmd_flush)                    \
  X(cmd_touch)                    \
  X(get_hits)                     \
  X(get_misses)                   \
  X(get_expired)                  \
  X(get_flushed)                  \
  X(delete_hits)                  \
  X(delete_misses)                \
  X(incr_hits)                    \
  X(incr_misses)                  \
  X(decr_hits)                    \
  X(decr_misses)                  \
  X(cas_hits)                     \
  X(cas_misses)                   \
  X(cas_badval)                   \
  X(touch_hits)                   \
  X(touch_misses)                 \
  X(store_too_large)              \
  X(store_no_memory)              \
  X(not_my_vbucket)               \
  X(bytes_copied)                 \
  X(bytes_referenced)             \
  X(dcp_items_sent)               \
  X(dcp_bytes_sent)               \
  X(dcp_window_full_pauses)       \
  X(dcp_cursors_dropped)

struct CommandCounters {
#define MEMKV_DECLARE(name) Counter name;
  MEMKV_COMMAND_COUNTERS(MEMKV_DECLARE)
#undef MEMKV_DECLARE

  // incr/decr hits and misses, for every protocol. memcached counts neither
  // when the command created the counter from its initial value.
  void countCounter(bool increment, bool hit, bool created) {
    if (created) return;
    if (increment) {
      (hit ? incr_hits : incr_misses).add(1);
    } else {
      (hit ? decr_hits : decr_misses).add(1);
    }
  }
};

}  // namespace memkv::server
