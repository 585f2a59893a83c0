#pragma once
// Log lines about one connection: "conn=ID peer=ADDR event=NAME ...", so an
// operator can grep one client's story (accept, auth failure, close and
// why) out of a busy log. Nothing is formatted, and the peer address not
// even turned into text, unless the level is on: at the default level an
// accept or a close costs one relaxed load of the level.
//
// Lines a client can cause at will (hostile frames, auth failures, stalls)
// go through logLimited(): a flood of bad clients writes at most a few lines
// a second, and the next line says how many were dropped.
#include <spdlog/spdlog.h>

#include <cstdint>
#include <string>
#include <utility>

#include "common/log_rate_limit.h"
#include "common/logging.h"
#include "net/connection.h"

namespace memkv::net {

template <typename... Args>
void logConnection(spdlog::level::level_enum level, const Connection& conn, std::string_view event,
                   fmt::format_string<Args...> format, Args&&... args) {
  if (!logEnabled(level)) return;
  spdlog::log(level, "conn={} peer={} event={} {}", conn.id(), conn.peer().toString(), event,
              fmt::format(format, std::forward<Args>(args)...));
}

// As logConnection, through the kind's rate limiter (common/log_rate_limit.h);
// the event name is the kind's.
template <typename... Args>
void logLimited(spdlog::level::level_enum level, LogKind kind, const Connection& conn,
                fmt::format_string<Args...> format, Args&&... args) {
  if (!logEnabled(level)) return;
  uint64_t suppressed = 0;
  if (!logLimiter(kind).allow(&suppressed)) return;
  std::string text = fmt::format(format, std::forward<Args>(args)...);
  if (suppressed != 0) text += fmt::format(" ({} similar messages suppressed)", suppressed);
  spdlog::log(level, "conn={} peer={} event={} {}", conn.id(), conn.peer().toString(),
              logKindName(kind), text);
}

}  // namespace memkv::net
