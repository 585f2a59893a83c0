#pragma once
// PeerAddress: a client's IP address and port as accept(2) returned them,
// kept raw (28 bytes) and formatted only when a log line names it, so a
// connection at the default log level pays no formatting and no allocation.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace memkv::net {

class PeerAddress final {
 public:
  PeerAddress() { addr_.family = AF_UNSPEC; }
  // From accept(2)'s result; anything but IPv4/IPv6 is kept as unknown.
  static PeerAddress from(const sockaddr_storage& addr, socklen_t len);
  // "1.2.3.4:5678", "[::1]:5678", or "unknown".
  std::string toString() const;

 private:
  union {
    sa_family_t family;
    sockaddr_in in4;
    sockaddr_in6 in6;
  } addr_;
};

// Where a connection came from: a process-wide id (assigned by the acceptor,
// so log lines of one connection can be followed across workers' output)
// and the peer. id 0: unknown (a socket a test handed in).
struct ConnectionOrigin {
  uint64_t id = 0;
  PeerAddress peer;
};

}  // namespace memkv::net
