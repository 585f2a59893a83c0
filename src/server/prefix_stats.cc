#include "server/prefix_stats.h"

#include <iterator>

#include <fmt/format.h>

namespace memkv::server {

void PrefixStats::recordOn(std::string_view key, Op op, bool hit) {
  const size_t end = key.find(kDelimiter);
  if (end == std::string_view::npos) return;
  const std::string prefix(key.substr(0, end));
  std::lock_guard guard(mutex_);
  auto it = counts_.find(prefix);
  if (it == counts_.end()) {
    if (counts_.size() >= kMaxPrefixes) return;
    it = counts_.emplace(prefix, Counts{}).first;
  }
  Counts& c = it->second;
  switch (op) {
    case Op::kGet:
      ++c.gets;
      if (hit) ++c.hits;
      break;
    case Op::kSet:
      ++c.sets;
      break;
    case Op::kDelete:
      ++c.deletes;
      break;
  }
}

std::string PrefixStats::dump() const {
  std::string out;
  std::lock_guard guard(mutex_);
  for (const auto& [prefix, c] : counts_) {
    fmt::format_to(std::back_inserter(out), "PREFIX {} get {} hit {} set {} del {}\r\n", prefix,
                   c.gets, c.hits, c.sets, c.deletes);
  }
  out += "END\r\n";
  return out;
}

void PrefixStats::reset() {
  std::lock_guard guard(mutex_);
  counts_.clear();
}

}  // namespace memkv::server
