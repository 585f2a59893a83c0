#pragma once
// A stand-in protocol for net/ tests: length-prefixed frames ([u32 length]
// [payload]) echoed back whole. A frame whose payload is "PAUSE" disables
// reading, standing in for a request that parks until something finishes.
#include <atomic>
#include <cstring>
#include <span>
#include <string>

#include "common/byte_order.h"
#include "net/connection.h"

namespace memkv::net {

class EchoHandler final : public ConnectionHandler {
 public:
  InputResult onInput(Connection& conn, std::span<const uint8_t> input,
                      size_t max_frames) override {
    InputResult r;
    while (r.frames < max_frames && !conn.outputFull()) {
      auto rest = input.subspan(r.consumed);
      if (rest.size() < 4) break;
      const size_t frame = 4 + loadBe32(rest.data());
      if (rest.size() < frame) {
        r.next_frame_size = frame;
        break;
      }
      if (!conn.output().appendCopy(rest.first(frame))) conn.closeNow();
      r.consumed += frame;
      ++r.frames;
      if (frame == 9 && std::memcmp(rest.data() + 4, "PAUSE", 5) == 0) {
        // Stands in for a request that parks until something else finishes.
        conn.disableReading();
        paused_connection.store(&conn);
        break;
      }
    }
    return r;
  }
  static inline std::atomic<Connection*> paused_connection{nullptr};
};

inline std::string echoFrame(const std::string& payload) {
  std::string f(4, '\0');
  storeBe32(reinterpret_cast<uint8_t*>(f.data()), static_cast<uint32_t>(payload.size()));
  return f + payload;
}

}  // namespace memkv::net
