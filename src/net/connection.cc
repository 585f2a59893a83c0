#include "net/connection.h"

#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

namespace memkv::net {

namespace {
constexpr size_t kMaxIov = IOV_MAX;
// TLS sends one record per write, so it looks at no more pieces than fit in
// a record of the smallest useful size.
constexpr size_t kTlsMaxIov = 64;
constexpr size_t kTlsRecord = 16384;  // the largest TLS record's plaintext

// TCP_CORK held for one flush: TLS writes one record per write(2), and
// without it each record leaves as its own segment (TCP_NODELAY).
class TcpCork {
 public:
  TcpCork() = default;
  TcpCork(const TcpCork&) = delete;
  TcpCork& operator=(const TcpCork&) = delete;
  ~TcpCork() {
    if (fd_ < 0) return;
    const int off = 0;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_CORK, &off, sizeof off);
  }
  bool tried() const { return tried_; }
  void engage(int fd) {
    tried_ = true;
    const int on = 1;
    // Not a TCP socket (a test's socketpair): nothing to cork.
    if (::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on) == 0) fd_ = fd;
  }

 private:
  int fd_ = -1;
  bool tried_ = false;
};
}  // namespace

std::string_view closeReasonText(CloseReason reason) {
  switch (reason) {
    case CloseReason::kNone:
      return "unknown";
    case CloseReason::kClientClosed:
      return "client closed";
    case CloseReason::kSocketError:
      return "socket error";
    case CloseReason::kQuit:
      return "quit";
    case CloseReason::kProtocolError:
      return "protocol error";
    case CloseReason::kAuthFailure:
      return "authentication failed";
    case CloseReason::kIdleTimeout:
      return "not authenticated in time";
    case CloseReason::kOutputStall:
      return "output stall";
    case CloseReason::kReadStall:
      return "read stall";
    case CloseReason::kTlsHandshakeTimeout:
      return "TLS handshake timeout";
    case CloseReason::kDcpIdle:
      return "DCP consumer idle";
    case CloseReason::kDcpNameTaken:
      return "DCP name taken by a newer connection";
    case CloseReason::kShutdown:
      return "server shutdown";
    case CloseReason::kServerError:
      return "server error";
  }
  return "unknown";
}

Connection::Connection(int fd, ConnectionEnv& env, std::unique_ptr<TlsStream> tls)
    : fd_(fd), env_(env), output_(env.pool), tls_(std::move(tls)) {
  if (tls_) {
    tls_->accepted_ms = env_.loop.nowMs();
    env_.counters.tls_connections.add(1);
    env_.counters.tls_total_connections.add(1);
  }
}

Connection::~Connection() {
  if (tls_) env_.counters.tls_connections.sub(1);
  if (inbox_) {
    inbox_->close();
    env_.counters.inboxes.sub(1);
  }
  releaseReadBuffer();
  output_.clear();
  reportOutputQueued();
  if (fd_ >= 0) ::close(fd_);
}

bool Connection::start() {
  return env_.loop.add(fd_, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, this);
}

size_t Connection::memoryInUse() const {
  return rcap_ + output_.size() + (inbox_ ? inbox_->queuedBytes() : 0);
}

std::shared_ptr<Inbox> Connection::inbox() {
  env_.loop.owner().check("Connection::inbox");
  if (!inbox_) {
    inbox_ = std::make_shared<Inbox>(env_.loop, env_.limits.inbox_budget, [this] {
      pullInbox();
      if (!closed_) flushOutput();
      if (closed_) finishClose();
    });
    env_.counters.inboxes.add(1);
  }
  return inbox_;
}

void Connection::releaseIdleInbox() {
  env_.loop.owner().check("Connection::releaseIdleInbox");
  // use_count() == 1 is stable here: only this thread can hand out new
  // references (inbox()), and a pending wake-up holds one of its own.
  if (!inbox_ || inbox_.use_count() != 1 || inbox_->queuedBytes() != 0) return;
  inbox_->close();
  inbox_.reset();
  env_.counters.inboxes.sub(1);
}

void Connection::pullInbox() {
  if (!inbox_ || closed_) return;
  inbox_->drainInto(output_, env_.limits.output_high_watermark);
  if (inbox_->queuedBytes() != 0) return;
  if (handler_) handler_->inboxDrained(*this);
  releaseIdleInbox();
}

bool Connection::outputStalled(int64_t now_ms) {
  if (output_.empty()) {
    kernel_queue_ = -1;
    return false;
  }
  // Our own queue may sit still while a slow reader drains the kernel's send
  // queue (megabytes with autotuning): sampled every tick, a shrinking
  // kernel queue counts as progress too.
  int queued = 0;
  if (::ioctl(fd_, SIOCOUTQ, &queued) == 0) {
    if (kernel_queue_ >= 0 && queued < kernel_queue_) output_progress_ms_ = now_ms;
    kernel_queue_ = queued;
  }
  return now_ms - output_progress_ms_ > env_.limits.output_stall_timeout_ms;
}

bool Connection::inputStalled(int64_t now_ms) {
  const bool partial = rend_ > rstart_ || discard_ > 0;
  // The clock runs only while the client alone keeps the request unfinished:
  // not between requests, and not while the server holds off reading
  // (backpressure, a parked request, no read memory, a yield).
  if (env_.limits.read_stall_timeout_ms <= 0 || !partial || read_disabled_ != 0 ||
      waiting_for_buffer_ || scheduled_ || readable_) {
    read_progress_ms_ = now_ms;
    return false;
  }
  return now_ms - read_progress_ms_ > env_.limits.read_stall_timeout_ms;
}

bool Connection::handshakeExpired(int64_t now_ms) const {
  return tls_ && !tls_->established() &&
         now_ms - tls_->accepted_ms > env_.limits.tls_handshake_timeout_ms;
}

void Connection::onEvent(uint32_t events) {
  env_.loop.owner().check("Connection::onEvent");
  // Clear the flag first: a connection closed while scheduled must still
  // lose it, or the worker would never reap it (a leaked -c slot, and a
  // shutdown that never ends).
  if (events == 0) scheduled_ = false;
  if (closed_) return;
  written_this_event_ = 0;
  if (events & (EPOLLERR)) {
    closeNow(CloseReason::kSocketError);
  } else {
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) {
      readable_ = true;
      tls_write_wants_read_ = false;
    }
    if (events & (EPOLLRDHUP | EPOLLHUP)) peer_shutdown_seen_ = true;
    if (events & EPOLLOUT) {
      writable_ = true;
      if (tls_read_wants_write_) {
        tls_read_wants_write_ = false;
        readable_ = true;
      }
    }
    if (tls_ && !tls_->established() && !continueHandshake()) {
      if (closed_) finishClose();
      return;
    }
    if (writable_ && !output_.empty()) flushOutput();
    if (inbox_ && inbox_->queuedBytes() != 0 &&
        output_.size() <= env_.limits.output_low_watermark) {
      pullInbox();
      flushOutput();
    }
    if (backpressured_ && output_.size() <= env_.limits.output_low_watermark) {
      backpressured_ = false;
      --read_disabled_;
    }
    serve();
  }
  if (closed_) finishClose();
}

void Connection::serve() {
  size_t budget = env_.limits.requests_per_event;
  while (!closed_ && !close_after_flush_ && read_disabled_ == 0) {
    if (rend_ > rstart_ && !processInput(&budget)) break;
    if (closed_ || close_after_flush_ || read_disabled_ != 0 || budget == 0) break;
    if (!readable_) break;
    const ReadOutcome r = readSome();
    if (r == ReadOutcome::kAgain) {
      // Waiting for a pool buffer keeps readable_: the bytes are still there.
      if (!waiting_for_buffer_) readable_ = false;
      break;
    }
    if (r == ReadOutcome::kError) {
      closeNow(CloseReason::kSocketError);
      break;
    }
    if (r == ReadOutcome::kEof) {
      readable_ = false;
      // Answer what the peer already sent, then go.
      if (rend_ > rstart_) processInput(&budget);
      if (!closed_) closeAfterFlush(CloseReason::kClientClosed);
      break;
    }
  }
  if (!closed_ && budget == 0 && !scheduled_ && read_disabled_ == 0 && !close_after_flush_ &&
      (readable_ || rend_ > rstart_)) {
    // Fairness: let the other connections of this worker run first.
    scheduled_ = true;
    env_.counters.conn_yields.add(1);
    env_.loop.schedule(this);
  }
  const bool more =
      handler_ && !closed_ && !close_after_flush_ && !outputFull() && handler_->produce(*this);
  if (!closed_) flushOutput();
  if (more && !closed_ && !scheduled_ && output_.size() <= env_.limits.output_low_watermark) {
    // The kernel took what was produced without an EAGAIN: no EPOLLOUT will
    // come, so come back from the loop (after the other connections).
    scheduled_ = true;
    env_.loop.schedule(this);
  }
  if (!closed_) settleReadBuffer();
}

bool Connection::processInput(size_t* budget) {
  while (rend_ > rstart_ && !closed_ && !close_after_flush_) {
    if (discard_ > 0) {
      const size_t n = std::min(discard_, rend_ - rstart_);
      rstart_ += n;
      discard_ -= n;
      continue;
    }
    if (*budget == 0 || read_disabled_ != 0) return false;
    if (outputFull()) {
      if (!backpressured_) {
        backpressured_ = true;
        ++read_disabled_;
        env_.counters.backpressure_pauses.add(1);
      }
      return false;
    }
    const InputResult r = handler_->onInput(*this, {rbuf_ + rstart_, rend_ - rstart_}, *budget);
    rstart_ += r.consumed;
    *budget -= std::min(*budget, r.frames);
    discard_ = r.discard;
    next_frame_size_ = r.next_frame_size;
    if (r.consumed == 0 && r.discard == 0) return true;  // need more bytes
  }
  if (rstart_ == rend_) rstart_ = rend_ = 0;
  return true;
}

bool Connection::ensureReadSpace() {
  const size_t pending = rend_ - rstart_;
  // A frame larger than a pool buffer gets its exact-size block only once a
  // pool buffer's worth of it has arrived: a client that announces a big
  // value and stalls pins only what it sent (spilled to exact size), not
  // the size it announced.
  const size_t needed =
      (next_frame_size_ > BufferPool::kBufferSize && pending < BufferPool::kBufferSize)
          ? pending + 1
          : std::max(next_frame_size_, pending + 1);
  if (rbuf_ != nullptr && rcap_ - rend_ > 0 && rcap_ >= needed) return true;
  if (rbuf_ != nullptr && rcap_ >= needed && rstart_ > 0) {
    std::memmove(rbuf_, rbuf_ + rstart_, pending);
    rstart_ = 0;
    rend_ = pending;
    return true;
  }
  // A new buffer: a pool buffer when the pending frame fits one, else an
  // exact-size block for that frame.
  uint8_t* fresh;
  size_t cap;
  const bool pooled = needed <= BufferPool::kBufferSize;
  if (pooled) {
    fresh = env_.pool.acquireForRead();
    cap = BufferPool::kBufferSize;
    if (fresh == nullptr) env_.counters.pool_exhausted.add(1);
  } else {
    // Charged to the server-wide read budget: when it is spent, this
    // connection waits (is not read) until others give bytes back.
    fresh = env_.pool.allocateForRead(needed);
    cap = needed;
  }
  if (fresh == nullptr) return false;
  if (pending) std::memcpy(fresh, rbuf_ + rstart_, pending);
  releaseReadBuffer();
  rbuf_ = fresh;
  rcap_ = cap;
  pooled_ = pooled;
  rstart_ = 0;
  rend_ = pending;
  if (pooled) {
    env_.counters.read_buffers_out.add(1);
  } else {
    env_.counters.large_frame_bytes.add(cap);
  }
  return true;
}

void Connection::releaseReadBuffer() {
  if (rbuf_ == nullptr) return;
  if (pooled_) {
    env_.pool.releaseFromRead(rbuf_);
    env_.counters.read_buffers_out.sub(1);
  } else {
    env_.pool.freeForRead(rbuf_, rcap_);
    // An exact-size block is either a large frame or a spill.
    if (rcap_ > BufferPool::kBufferSize) {
      env_.counters.large_frame_bytes.sub(rcap_);
    } else {
      env_.counters.spill_bytes.sub(rcap_);
    }
  }
  rbuf_ = nullptr;
  rcap_ = rstart_ = rend_ = 0;
  pooled_ = false;
}

void Connection::settleReadBuffer() {
  if (rbuf_ == nullptr) return;
  const size_t pending = rend_ - rstart_;
  if (pending == 0) {
    releaseReadBuffer();
    return;
  }
  if (!pooled_ || readable_ || scheduled_) return;
  // A partial request waits for more bytes: park it in an exact-size spill so
  // the pool buffer goes back (memcached pins 16 KiB here).
  uint8_t* spill = env_.pool.allocateForRead(pending);
  if (spill == nullptr) return;  // keep the pool buffer; correct, just larger
  std::memcpy(spill, rbuf_ + rstart_, pending);
  releaseReadBuffer();
  rbuf_ = spill;
  rcap_ = rend_ = pending;
  env_.counters.spill_bytes.add(pending);
}

bool Connection::continueHandshake() {
  switch (tls_->handshake()) {
    case TlsStream::Result::kDone:
      env_.counters.tls_handshakes.add(1);
      // Requests may have come with the client's last handshake flight and
      // be waiting in OpenSSL's buffer: no edge will announce them.
      readable_ = true;
      if (handler_) handler_->onTlsEstablished(*this);
      return !closed_;
    case TlsStream::Result::kWantRead:
      readable_ = false;
      return false;
    case TlsStream::Result::kWantWrite:
      writable_ = false;
      return false;
    case TlsStream::Result::kClosed:
    case TlsStream::Result::kError:
      // Not a TLS client, a refused version or certificate, or gone.
      env_.counters.tls_handshake_errors.add(1);
      closeNow(CloseReason::kSocketError);
      return false;
  }
  return false;
}

Connection::ReadOutcome Connection::readTls() {
  size_t got = 0;
  switch (tls_->read(rbuf_ + rend_, rcap_ - rend_, &got)) {
    case TlsStream::Result::kDone:
      rend_ += got;
      read_progress_ms_ = env_.loop.nowMs();
      env_.counters.bytes_read.add(got);
      env_.counters.tls_bytes_decrypted.add(got);
      tls_write_wants_read_ = false;
      // As for plain reads: stop before a read that could only say "want
      // read" when the socket was empty at OpenSSL's last read and nothing
      // decrypted or undecrypted waits in OpenSSL.
      if (tls_->socketDrained() && !tls_->hasBuffered() && !peer_shutdown_seen_) {
        readable_ = false;
      }
      return ReadOutcome::kData;
    case TlsStream::Result::kWantRead:
      return ReadOutcome::kAgain;
    case TlsStream::Result::kWantWrite:
      // OpenSSL must send something first (an alert, a KeyUpdate) and the
      // socket is full: read again once it is writable.
      tls_read_wants_write_ = true;
      writable_ = false;
      return ReadOutcome::kAgain;
    case TlsStream::Result::kClosed:
      return ReadOutcome::kEof;
    case TlsStream::Result::kError:
      env_.counters.tls_stream_errors.add(1);
      return ReadOutcome::kError;
  }
  return ReadOutcome::kError;
}

Connection::ReadOutcome Connection::readSome() {
  const bool was_waiting = waiting_for_buffer_;
  waiting_for_buffer_ = !ensureReadSpace();
  if (waiting_for_buffer_) {
    if (!was_waiting) env_.counters.read_waits.add(1);
    return ReadOutcome::kAgain;
  }
  if (tls_) return readTls();
  const size_t space = rcap_ - rend_;
  const ssize_t n = ::recv(fd_, rbuf_ + rend_, space, 0);
  if (n > 0) {
    rend_ += static_cast<size_t>(n);
    read_progress_ms_ = env_.loop.nowMs();
    env_.counters.bytes_read.add(static_cast<uint64_t>(n));
    // A short read emptied the socket: with edge-triggered epoll, new bytes
    // raise a new edge, so skip the recv that would only say EAGAIN (one
    // syscall in four at pipeline depth 1). Not once the peer has shut its
    // side: its FIN raised no edge of its own and must still be read.
    if (static_cast<size_t>(n) < space && !peer_shutdown_seen_) readable_ = false;
    return ReadOutcome::kData;
  }
  if (n == 0) return ReadOutcome::kEof;
  // EINTR: the bytes are still there and no new edge will announce them.
  if (errno == EINTR) return ReadOutcome::kData;
  if (errno == EAGAIN || errno == EWOULDBLOCK) return ReadOutcome::kAgain;
  return ReadOutcome::kError;
}

void Connection::flushOutput() {
  env_.loop.owner().check("Connection::flushOutput");
  iovec iov[kMaxIov];
  TcpCork cork;
  // The stall clock starts when output appears, and restarts whenever the
  // client takes some of it.
  if (output_was_empty_ && !output_.empty()) output_progress_ms_ = env_.loop.nowMs();
  output_was_empty_ = output_.empty();
  while (writable_ && !output_.empty() && !tls_write_wants_read_) {
    if (written_this_event_ >= env_.limits.bytes_per_event) {
      // Fairness: the rest goes out after the worker's other connections ran.
      if (!scheduled_) {
        scheduled_ = true;
        env_.loop.schedule(this);
      }
      reportOutputQueued();
      return;
    }
    if (tls_) {
      // Several records at once (a large value): cork the socket so the
      // kernel sends full segments instead of one per 16 KiB record, and
      // uncork on the way out (the guard), which sends the rest at once.
      // Measured with 100 KiB GETs: 15% less server CPU per GET.
      if (!cork.tried() && output_.size() > 2 * kTlsRecord) cork.engage(fd_);
      const size_t count = output_.gather(iov, kTlsMaxIov);
      if (!writeTls(iov, count)) {
        reportOutputQueued();
        return;
      }
      continue;
    }
    const size_t count = output_.gather(iov, kMaxIov);
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = count;
    const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        writable_ = false;
        // STAT's output_bytes_queued must see output that waits on a
        // full socket, the moment it matters most.
        reportOutputQueued();
      } else {
        closeNow(CloseReason::kSocketError);
      }
      return;
    }
    output_.drain(static_cast<size_t>(n));
    env_.counters.bytes_written.add(static_cast<uint64_t>(n));
    written_this_event_ += static_cast<size_t>(n);
    output_progress_ms_ = env_.loop.nowMs();
    output_was_empty_ = output_.empty();
  }
  reportOutputQueued();
  if (output_.empty() && close_after_flush_) closeNow();
  const bool inbox_waiting = inbox_ && inbox_->queuedBytes() != 0;
  if ((backpressured_ || inbox_waiting) && !closed_ &&
      output_.size() <= env_.limits.output_low_watermark && !scheduled_) {
    // The kernel took the output without an EAGAIN, so no EPOLLOUT edge will
    // come to end the pause: resume from the loop (after the others' turn).
    // Without this a paused connection with its output all sent stopped
    // answering for good.
    scheduled_ = true;
    env_.loop.schedule(this);
  }
}

bool Connection::writeTls(const iovec* iov, size_t count) {
  // What goes into the next record. OpenSSL copies our bytes into its record
  // buffer and encrypts them there (the one copy encryption needs) and the
  // kernel takes the record from there. Pieces shorter than a record would each make a record
  // of their own (a header before a value held by reference, say): when two
  // or more whole pieces fit in one record they are gathered in the worker's
  // staging buffer first, one copy of a few KiB that saves a record and a
  // write(2). A retry passes exactly the bytes of the record OpenSSL still
  // holds (its rule; the output's front cannot have changed meanwhile).
  const size_t retry = tls_->retryLength();
  const uint8_t* data = static_cast<const uint8_t*>(iov[0].iov_base);
  size_t len = std::min(iov[0].iov_len, kTlsRecord);
  if (retry > 0) len = retry;
  size_t staged = 0;
  if (env_.tls_staging != nullptr && count > 1 &&
      (retry > iov[0].iov_len || (retry == 0 && iov[0].iov_len + iov[1].iov_len <= kTlsRecord))) {
    const size_t limit = retry > 0 ? retry : kTlsRecord;
    for (size_t i = 0; i < count && staged < limit; ++i) {
      const size_t take = std::min(iov[i].iov_len, limit - staged);
      if (retry == 0 && take < iov[i].iov_len) break;  // whole pieces only
      std::memcpy(env_.tls_staging + staged, iov[i].iov_base, take);
      staged += take;
    }
    data = env_.tls_staging;
    len = staged;
    env_.counters.tls_bytes_staged.add(staged);
  } else if (retry > iov[0].iov_len) {
    closeNow(CloseReason::kServerError);  // cannot rebuild the pending record (no staging buffer)
    return false;
  }
  size_t n = 0;
  switch (tls_->write(data, len, &n)) {
    case TlsStream::Result::kDone:
      output_.drain(n);
      env_.counters.bytes_written.add(n);
      env_.counters.tls_bytes_encrypted.add(n);
      env_.counters.tls_records_written.add(1);
      written_this_event_ += n;
      output_progress_ms_ = env_.loop.nowMs();
      output_was_empty_ = output_.empty();
      return true;
    case TlsStream::Result::kWantWrite:
      writable_ = false;
      return false;
    case TlsStream::Result::kWantRead:
      tls_write_wants_read_ = true;
      return false;
    case TlsStream::Result::kClosed:
    case TlsStream::Result::kError:
      env_.counters.tls_stream_errors.add(1);
      closeNow(CloseReason::kSocketError);
      return false;
  }
  return false;
}

void Connection::reportOutputQueued() {
  const size_t now = output_.size();
  if (now > reported_output_) {
    env_.counters.output_queued.add(now - reported_output_);
  } else {
    env_.counters.output_queued.sub(reported_output_ - now);
  }
  reported_output_ = now;
  if (now > env_.counters.output_queued_max.get()) env_.counters.output_queued_max.set(now);
}

void Connection::disableReading() {
  env_.loop.owner().check("Connection::disableReading");
  ++read_disabled_;
}

void Connection::enableReading() {
  env_.loop.owner().check("Connection::enableReading");
  if (--read_disabled_ == 0 && !closed_ && !scheduled_) {
    // Requests may be waiting in the read buffer, and their readiness edge
    // is long gone: continue from the loop.
    scheduled_ = true;
    env_.loop.schedule(this);
  }
}

void Connection::flushSoon() {
  env_.loop.owner().check("Connection::flushSoon");
  if (!closed_ && !scheduled_) {
    scheduled_ = true;
    env_.loop.schedule(this);
  }
}

void Connection::closeAfterFlush(CloseReason reason) {
  if (close_reason_ == CloseReason::kNone) close_reason_ = reason;
  close_after_flush_ = true;
  if (output_.empty()) closeNow(reason);
}

void Connection::closeNow(CloseReason reason) {
  if (closed_) return;
  if (close_reason_ == CloseReason::kNone) close_reason_ = reason;
  closed_ = true;
  env_.closed_list.push_back(this);
}

void Connection::finishClose() {
  if (fd_ < 0) return;
  if (inbox_) inbox_->close();
  env_.loop.remove(fd_);
  if (tls_) tls_->shutdown();
  ::close(fd_);
  fd_ = -1;
  releaseReadBuffer();
  output_.clear();
  reportOutputQueued();
}

}  // namespace memkv::net
