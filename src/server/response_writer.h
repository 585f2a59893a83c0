#pragma once
// Encodes MCBP responses into a connection's OutputChain. Each response is
// reserved once: header, extras and key (and a value up to
// kCopyValueThreshold) are written contiguously into the tail buffer; a
// larger value goes out by reference to its Item (zero copy).
#include <cstdint>
#include <span>
#include <string_view>

#include "engine/item.h"
#include "net/connection.h"
#include "protocol/datatype.h"
#include "protocol/request.h"
#include "protocol/status.h"
#include "server/command_counters.h"

namespace memkv::server {

// Values at least this large are sent by reference. Below it, a copy into the
// tail buffer costs less than the extra iovec and refcount traffic
// (kv_engine chains above 4 KiB for the same reason).
inline constexpr size_t kCopyValueThreshold = 4096;

// The release hook of a Fragment that carries a reference to an Item (a
// value sent by reference): drops that reference. Any thread.
void releaseItemReference(void* item);

class ResponseWriter final {
 public:
  // json: the client negotiated JSON, so the JSON datatype bit may reach it.
  ResponseWriter(net::Connection& conn, CommandCounters& counters, bool cas_enabled,
                 bool json = false)
      : conn_(conn),
        counters_(counters),
        cas_enabled_(cas_enabled),
        datatype_mask_(json ? mcbp::datatype::kJson : 0) {}

  void send(const mcbp::RequestHeader& req, mcbp::Status status, std::span<const uint8_t> extras,
            std::string_view key, std::span<const uint8_t> value, uint64_t cas,
            uint8_t datatype = 0);
  // A status alone; error statuses carry memcached's text as the value.
  void sendStatus(const mcbp::RequestHeader& req, mcbp::Status status, uint64_t cas = 0);
  // After a HELLO: whether the JSON datatype may reach this client.
  void setJson(bool json) { datatype_mask_ = json ? mcbp::datatype::kJson : 0; }
  // A GET-family hit: 4 bytes of flags, the key if not empty, then the
  // value; cas is what the client may see (kLockedCas while locked).
  void sendItem(const mcbp::RequestHeader& req, engine::ItemRef item, std::string_view key,
                uint64_t cas);

  // A server request on a Duplex connection (config push), framed as
  // send() frames a response. Owner thread.
  void sendServerRequest(mcbp::ServerOpcode opcode, std::span<const uint8_t> extras,
                         std::string_view key, std::span<const uint8_t> value, uint8_t datatype);

 private:
  uint64_t wireCas(uint64_t cas) const { return cas_enabled_ ? cas : 0; }

  net::Connection& conn_;
  CommandCounters& counters_;
  const bool cas_enabled_;
  uint8_t datatype_mask_;  // datatype bits this client negotiated
};

}  // namespace memkv::server
