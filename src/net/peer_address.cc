#include "net/peer_address.h"

#include <arpa/inet.h>

#include <cstring>

namespace memkv::net {

PeerAddress PeerAddress::from(const sockaddr_storage& addr, socklen_t len) {
  PeerAddress p;
  if (addr.ss_family == AF_INET && len >= sizeof(sockaddr_in)) {
    std::memcpy(&p.addr_.in4, &addr, sizeof(sockaddr_in));
  } else if (addr.ss_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    std::memcpy(&p.addr_.in6, &addr, sizeof(sockaddr_in6));
  }
  return p;
}

std::string PeerAddress::toString() const {
  char host[INET6_ADDRSTRLEN] = {};
  if (addr_.family == AF_INET) {
    if (!::inet_ntop(AF_INET, &addr_.in4.sin_addr, host, sizeof(host))) return "unknown";
    return std::string(host) + ":" + std::to_string(ntohs(addr_.in4.sin_port));
  }
  if (addr_.family == AF_INET6) {
    if (!::inet_ntop(AF_INET6, &addr_.in6.sin6_addr, host, sizeof(host))) return "unknown";
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(addr_.in6.sin6_port));
  }
  return "unknown";
}

}  // namespace memkv::net
