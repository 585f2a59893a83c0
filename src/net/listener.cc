#include "net/listener.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <spdlog/spdlog.h>

namespace memkv::net {

Listener::Listener(EventLoop& loop, std::vector<Worker*> workers,
                   std::atomic<size_t>& live_connections, size_t max_connections, int backlog)
    : loop_(loop),
      workers_(std::move(workers)),
      max_connections_(max_connections),
      backlog_(backlog),
      live_(live_connections) {}

Listener::~Listener() {
  close();
}

void Listener::listen(const ListenAddress& address) {
  if (address.tls && tls_ == nullptr) {
    throw std::runtime_error("a TLS listener needs ssl_chain_cert and ssl_key");
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  const std::string port = std::to_string(address.port);
  const bool any = address.host.empty() || address.host == "*";
  addrinfo* result = nullptr;
  const int rc = ::getaddrinfo(any ? nullptr : address.host.c_str(), port.c_str(), &hints, &result);
  if (rc != 0) {
    throw std::runtime_error("cannot resolve listen address '" + address.host +
                             "': " + ::gai_strerror(rc));
  }
  std::string last_error = "no usable address";
  int bound = 0;
  for (addrinfo* ai = result; ai; ai = ai->ai_next) {
    const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, backlog_) != 0) {
      last_error = std::strerror(errno);
      ::close(fd);
      continue;
    }
    sockaddr_storage local{};
    socklen_t len = sizeof local;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
    uint16_t actual = 0;
    if (local.ss_family == AF_INET) {
      actual = ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port);
    } else {
      actual = ntohs(reinterpret_cast<sockaddr_in6*>(&local)->sin6_port);
    }
    auto socket = std::make_unique<Socket>(*this, fd, actual, address.tls);
    // Level-triggered: a backlog left while paused (EMFILE) is seen again.
    loop_.add(fd, EPOLLIN, socket.get());
    sockets_.push_back(std::move(socket));
    ++bound;
  }
  ::freeaddrinfo(result);
  if (bound == 0) {
    throw std::runtime_error("cannot listen on '" + (any ? std::string("*") : address.host) + ":" +
                             port + "': " + last_error);
  }
}

std::vector<uint16_t> Listener::boundPorts() const {
  std::vector<uint16_t> ports;
  for (const auto& s : sockets_) ports.push_back(s->port());
  return ports;
}

uint16_t Listener::firstPort(bool tls) const {
  for (const auto& s : sockets_) {
    if (s->tls() == tls) return s->port();
  }
  return 0;
}

void Listener::close() {
  for (auto& s : sockets_) {
    if (!s->paused) loop_.remove(s->fd());
    ::close(s->fd());
  }
  sockets_.clear();
}

void Listener::Socket::onEvent(uint32_t) {
  owner_.acceptFrom(*this);
}

void Listener::resumePaused() {
  for (auto& s : sockets_) {
    if (s->paused) {
      s->paused = false;
      loop_.add(s->fd(), EPOLLIN, s.get());
    }
  }
}

void Listener::acceptFrom(Socket& socket) {
  resumePaused();
  for (int i = 0; i < 64; ++i) {
    // The peer's address comes with the accept at no extra cost; it is
    // formatted only if a log line names it.
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof(peer);
    const int fd = ::accept4(socket.fd(), reinterpret_cast<sockaddr*>(&peer), &peer_len,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: stop accepting until the next posted resume.
        spdlog::warn("accept: {}; pausing accepts", std::strerror(errno));
        socket.paused = true;
        loop_.remove(socket.fd());
        return;
      }
      return;  // EAGAIN, or a connection that died in the backlog
    }
    if (live_.load(std::memory_order_relaxed) >= max_connections_) {
      rejected_.fetch_add(1, std::memory_order_relaxed);
      ::close(fd);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    live_.fetch_add(1, std::memory_order_relaxed);
    workers_[next_worker_]->adopt(
        fd, socket.tls() ? tls_->current() : nullptr,
        ConnectionOrigin{++last_connection_id_, PeerAddress::from(peer, peer_len)});
    next_worker_ = (next_worker_ + 1) % workers_.size();
  }
}

}  // namespace memkv::net
