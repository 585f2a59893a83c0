#include "common/logging.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace memkv {

namespace {

constexpr const char* kPattern = "%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v";

// A file sink that can open its path again: logrotate renames the file and
// sends SIGUSR1, and from then on lines must go to a new file of the old
// name. Each line is one write(2) to an O_APPEND descriptor: nothing waits
// in a user-space buffer (a crash loses no line, a reader sees each line at
// once) and lines from several threads never interleave.
class ReopenableFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit ReopenableFileSink(std::string path) : path_(std::move(path)) {}
  ~ReopenableFileSink() override {
    if (fd_ >= 0) ::close(fd_);
  }

  // Opens path_ and swaps it in under the sink's mutex, so no line is cut
  // between the two files; on failure the old descriptor stays.
  bool reopen(std::string* error) {
    const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
      *error = path_ + ": " + std::strerror(errno);
      return false;
    }
    int old;
    {
      std::lock_guard lock(mutex_);
      old = fd_;
      fd_ = fd;
    }
    if (old >= 0) ::close(old);
    return true;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    const char* p = line.data();
    size_t left = line.size();
    while (left > 0) {
      const ssize_t n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // a full disk drops the line; nothing better to do here
      p += n;
      left -= static_cast<size_t>(n);
    }
  }
  void flush_() override {}

 private:
  const std::string path_;
  int fd_ = -1;  // guarded by mutex_ (base_sink's, held around sink_it_)
};

std::shared_ptr<ReopenableFileSink>& fileSink() {
  static std::shared_ptr<ReopenableFileSink> sink;
  return sink;
}

}  // namespace

void setLogVerbosity(int verbosity) {
  switch (verbosity) {
    case 0:
      spdlog::set_level(spdlog::level::warn);
      break;
    case 1:
      spdlog::set_level(spdlog::level::info);
      break;
    default:
      // memcached's -vv already shows every client command (and -vvv adds
      // its internal state transitions, which memkv does not log), so both
      // are trace here: connections (debug) and commands.
      spdlog::set_level(verbosity < 0 ? spdlog::level::warn : spdlog::level::trace);
      break;
  }
  g_log_level.store(static_cast<int>(spdlog::get_level()), std::memory_order_relaxed);
}

bool setupLogging(int verbosity, const std::string& log_file, std::string* error) {
  std::shared_ptr<spdlog::logger> logger;
  if (log_file.empty()) {
    logger = spdlog::stderr_color_mt("memkv");
  } else {
    auto sink = std::make_shared<ReopenableFileSink>(log_file);
    if (!sink->reopen(error)) return false;
    fileSink() = sink;
    logger = std::make_shared<spdlog::logger>("memkv", sink);
  }
  spdlog::set_default_logger(logger);
  spdlog::set_pattern(kPattern, spdlog::pattern_time_type::utc);
  setLogVerbosity(verbosity);
  return true;
}

std::string escapeForLog(std::string_view text, size_t max_bytes) {
  std::string out;
  const size_t n = std::min(text.size(), max_bytes);
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  if (text.size() > max_bytes) out += "...";
  return out;
}

void reopenLogFile() {
  const std::shared_ptr<ReopenableFileSink> sink = fileSink();
  if (!sink) return;
  std::string error;
  // Logged after the sink's mutex is released: the line goes through it.
  if (sink->reopen(&error)) {
    spdlog::info("log file reopened");
  } else {
    spdlog::error("log file reopen failed, still writing to the old file: {}", error);
  }
}

}  // namespace memkv
