// memcached's meta commands: mg, ms, md, ma and me (mn is answered by the
// text session). Return flags come back in the order the client sent them,
// each as one space and the flag letter with its value; then mg's Z, X and W
// markers. Errors are never hidden by q; q hides only the uninteresting
// reply (EN for mg, HD for ms/md/ma).
#include <array>
#include <cstdint>

#include "protocol/text_reply.h"
#include "server/mcbp_session.h"
#include "server/text_session.h"

namespace memkv::server {

using engine::EngineStatus;
using text::MetaFlags;

namespace {

// A meta command's key: the raw token, or its decoding with the b flag
// (the parser has checked that it decodes).
class MetaKey final {
 public:
  explicit MetaKey(const text::TextCommand& cmd) : token_(cmd.key), base64_(cmd.meta.has('b')) {
    if (!base64_) {
      key_ = token_;
      return;
    }
    const size_t n = text::decodeBase64Key(token_, decoded_);
    key_ = {reinterpret_cast<const char*>(decoded_.data()), n};
  }
  std::string_view key() const { return key_; }
  bool base64() const { return base64_; }
  // The k return flag: the key as the client sent it, then a separate b
  // token when it is base64.
  void reflect(TextLine& line) const {
    line.text(" k").text(token_);
    if (base64_) line.text(" b");
  }
  // mg's k on a hit: base64 (and b) when the item was stored with a base64
  // key, whatever this request sent.
  void reflectStored(TextLine& line, const engine::Item& item) const {
    if ((item.metaState() & engine::Item::kBinaryKey) == 0) {
      line.text(" k").text(key_);
      return;
    }
    std::array<char, text::kMaxBase64KeyLength> encoded;
    const size_t n = text::encodeBase64Key(key_, encoded);
    line.text(" k").text({encoded.data(), n}).text(" b");
  }

 private:
  std::string_view token_;
  bool base64_;
  std::array<uint8_t, text::kMaxKeyLength> decoded_;
  std::string_view key_;
};

// The O and k reflections, which every reply code carries.
bool reflectCommon(char flag, const text::TextCommand& cmd, const MetaKey& key, TextLine& line) {
  if (flag == 'O') {
    line.text(" O").text(cmd.meta.opaque);
    return true;
  }
  if (flag == 'k') {
    key.reflect(line);
    return true;
  }
  return false;
}

// A reply that is only a code and the O/k reflections.
void replyCode(TextCookie& c, const MetaKey& key, std::string_view code) {
  TextLine line;
  line.text(code);
  const MetaFlags& m = c.command.meta;
  for (size_t i = 0; i < m.count; ++i) reflectCommon(m.order[i], c.command, key, line);
  c.out.line(line.view());
}

int64_t ttlOf(uint32_t expiry, uint32_t now) {
  return expiry == 0 ? -1 : static_cast<int64_t>(expiry) - static_cast<int64_t>(now);
}

uint64_t visibleCas(const TextCookie& c, uint64_t cas) {
  return c.server.settings().cas_enabled ? cas : 0;
}

}  // namespace

void executeMetaGet(TextCookie& c) {
  const text::TextCommand& cmd = c.command;
  const MetaFlags& m = cmd.meta;
  const MetaKey key(cmd);
  CommandCounters& counters = c.counters();
  engine::MetaGetRequest request;
  request.key = key.key();
  request.touch = m.has('T');
  request.touch_expiry = engineExpiry(m.ttl);
  request.vivify = m.has('N');
  request.vivify_expiry = engineExpiry(m.vivify_ttl);
  request.vivify_cas = m.has('E') ? m.new_cas : 0;
  request.recache = m.has('R');
  request.recache_seconds = m.recache_ttl < 0 ? 0 : static_cast<uint32_t>(m.recache_ttl);
  request.no_bump = m.has('u');
  request.binary_key = key.base64();
  const engine::MetaGetResult r = c.bucket->metaGet(request);
  counters.cmd_get.add(1);
  if (request.touch) counters.cmd_touch.add(1);
  c.server.prefixStats().record(request.key, PrefixStats::Op::kGet, static_cast<bool>(r.item));
  if (!r.item) {
    counters.get_misses.add(1);
    if (r.expired) counters.get_expired.add(1);
    if (request.touch) counters.touch_misses.add(1);
    if (!m.has('q')) replyCode(c, key, text::kMetaMiss);
    return;
  }
  counters.get_hits.add(1);
  if (request.touch) counters.touch_hits.add(1);
  const engine::Item& item = *r.item;
  const bool with_value = m.has('v');
  TextLine line;
  if (with_value) {
    line.text(text::kMetaValue).ch(' ').number(item.value().size());
  } else {
    line.text(text::kMetaStored);
  }
  // t before T reports the expiry before the touch, after it the new one.
  bool touched = false;
  for (size_t i = 0; i < m.count; ++i) {
    const char flag = m.order[i];
    switch (flag) {
      case 'O':
        line.text(" O").text(m.opaque);
        break;
      case 'k':
        key.reflectStored(line, item);
        break;
      case 'c':
        line.text(" c").number(visibleCas(c, r.cas));
        break;
      case 'f':
        line.text(" f").number(item.flags());
        break;
      case 'h':
        line.text(r.fetched_before ? " h1" : " h0");
        break;
      case 'l':
        line.text(" l").number(r.idle_seconds);
        break;
      case 's':
        line.text(" s").number(item.value().size());
        break;
      case 't':
        line.text(" t").signedNumber(ttlOf(touched ? item.expiry() : r.expiry_before, r.now));
        break;
      case 'T':
        touched = true;
        break;
      default:
        break;
    }
  }
  if (r.token_sent) line.text(" Z");
  if (r.stale) line.text(" X");
  if (r.won) line.text(" W");
  if (with_value) {
    c.out.withValue(line.view(), r.item);
  } else {
    c.out.line(line.view());
  }
}

void executeMetaSet(TextCookie& c) {
  const text::TextCommand& cmd = c.command;
  const MetaFlags& m = cmd.meta;
  const MetaKey key(cmd);
  c.counters().cmd_set.add(1);
  c.server.prefixStats().record(key.key(), PrefixStats::Op::kSet);
  engine::StoreRequest sr;
  switch (m.mode) {
    case 'E':
      sr.mode = engine::StoreMode::kAdd;
      break;
    case 'A':
      sr.mode = engine::StoreMode::kAppend;
      break;
    case 'P':
      sr.mode = engine::StoreMode::kPrepend;
      break;
    case 'R':
      sr.mode = engine::StoreMode::kReplace;
      break;
    default:
      sr.mode = engine::StoreMode::kSet;
      break;
  }
  const bool compare = m.has('C') && sr.mode != engine::StoreMode::kAdd;  // add ignores C
  sr.key = key.key();
  sr.value = c.value();
  sr.flags = m.client_flags;
  sr.expiry = engineExpiry(m.ttl);
  sr.cas = compare ? compareCas(m.compare_cas) : 0;
  sr.invalidate = m.has('I');
  sr.new_cas = m.has('E') ? m.new_cas : 0;
  sr.binary_key = key.base64();
  engine::MutationResult r{EngineStatus::kE2big};
  if (cmd.value_length <= c.server.settings().item_size_max) r = c.bucket->store(sr);
  std::string_view code;
  switch (r.status) {
    case EngineStatus::kSuccess:
      if (m.has('q')) return;
      code = text::kMetaStored;
      break;
    case EngineStatus::kKeyEexists:
      code = sr.mode == engine::StoreMode::kAdd ? text::kMetaNotStored : text::kMetaExists;
      break;
    case EngineStatus::kLocked:
      code = text::kMetaExists;
      break;
    case EngineStatus::kKeyEnoent:
      code = compare ? text::kMetaNotFound : text::kMetaNotStored;
      break;
    case EngineStatus::kNotStored:
      code = text::kMetaNotStored;
      break;
    case EngineStatus::kE2big:
    case EngineStatus::kEnomem:
      // As for a text set: no stale value outlives the failed write.
      c.bucket->remove(sr.key, 0);
      (r.status == EngineStatus::kE2big ? c.counters().store_too_large
                                        : c.counters().store_no_memory)
          .add(1);
      c.out.raw(r.status == EngineStatus::kE2big ? text::kTooLarge : text::kOutOfMemory);
      return;
    default:
      c.out.raw(text::kTemporaryFailure);
      return;
  }
  TextLine line;
  line.text(code);
  for (size_t i = 0; i < m.count; ++i) {
    const char flag = m.order[i];
    if (reflectCommon(flag, cmd, key, line)) continue;
    if (flag == 'c') line.text(" c").number(visibleCas(c, r.cas));  // 0 when not stored
  }
  c.out.line(line.view());
}

void executeMetaDelete(TextCookie& c) {
  const text::TextCommand& cmd = c.command;
  const MetaFlags& m = cmd.meta;
  const MetaKey key(cmd);
  engine::MetaDeleteRequest request;
  request.key = key.key();
  request.cas = m.has('C') ? compareCas(m.compare_cas) : 0;
  request.new_cas = m.has('E') ? m.new_cas : 0;
  request.invalidate = m.has('I');
  request.empty_value = m.has('x');
  request.has_expiry = m.has('T');
  request.expiry = engineExpiry(m.ttl);
  request.flags = m.client_flags;
  c.server.prefixStats().record(request.key, PrefixStats::Op::kDelete);
  const engine::MutationResult r = c.bucket->metaDelete(request);
  CommandCounters& counters = c.counters();
  switch (r.status) {
    case EngineStatus::kSuccess:
      counters.delete_hits.add(1);
      if (!m.has('q')) replyCode(c, key, text::kMetaStored);
      return;
    case EngineStatus::kKeyEnoent:
      counters.delete_misses.add(1);
      replyCode(c, key, text::kMetaNotFound);
      return;
    case EngineStatus::kKeyEexists:
    case EngineStatus::kLocked:
      replyCode(c, key, text::kMetaExists);
      return;
    case EngineStatus::kEnomem:
      replyCode(c, key, text::kMetaNotStored);
      return;
    default:
      c.out.raw(text::kTemporaryFailure);
      return;
  }
}

void executeMetaArithmetic(TextCookie& c) {
  const text::TextCommand& cmd = c.command;
  const MetaFlags& m = cmd.meta;
  const MetaKey key(cmd);
  engine::CounterRequest cr;
  cr.key = key.key();
  cr.increment = m.mode != 'D' && m.mode != '-';
  cr.delta = m.delta;
  cr.initial = m.initial;
  cr.expiry = m.has('N') ? engineExpiry(m.vivify_ttl) : engine::kCounterNoCreate;
  cr.cas = m.has('C') ? compareCas(m.compare_cas) : 0;
  cr.touch = m.has('T');
  cr.touch_expiry = engineExpiry(m.ttl);
  cr.new_cas = m.has('E') ? m.new_cas : 0;
  const engine::CounterResult r = c.bucket->counter(cr);
  CommandCounters& counters = c.counters();
  counters.countCounter(cr.increment, r.status != EngineStatus::kKeyEnoent, r.created);
  switch (r.status) {
    case EngineStatus::kSuccess:
      break;
    case EngineStatus::kKeyEnoent:
      replyCode(c, key, text::kMetaNotFound);
      return;
    case EngineStatus::kKeyEexists:
    case EngineStatus::kLocked:
      replyCode(c, key, text::kMetaExists);
      return;
    case EngineStatus::kDeltaBadval:
      c.out.raw(text::kNonNumeric);
      return;
    case EngineStatus::kEnomem:
      replyCode(c, key, text::kMetaNotStored);
      return;
    default:
      c.out.raw(text::kTemporaryFailure);
      return;
  }
  if (m.has('q')) return;
  TextLine number;
  number.number(r.value);
  const bool with_value = m.has('v');
  TextLine line;
  if (with_value) {
    line.text(text::kMetaValue).ch(' ').number(number.size());
  } else {
    line.text(text::kMetaStored);
  }
  for (size_t i = 0; i < m.count; ++i) {
    const char flag = m.order[i];
    if (reflectCommon(flag, cmd, key, line)) continue;
    if (flag == 'c') line.text(" c").number(visibleCas(c, r.cas));
    if (flag == 't') line.text(" t").signedNumber(ttlOf(r.expiry, c.bucket->now()));
  }
  c.out.line(line.view());
  if (with_value) c.out.line(number.view());
}

void executeMetaDebug(TextCookie& c) {
  const MetaKey key(c.command);
  engine::MetaGetRequest request;
  request.key = key.key();
  request.no_bump = true;
  const engine::MetaGetResult r = c.bucket->metaGet(request);
  if (!r.item) {
    c.out.line(text::kMetaMiss);
    return;
  }
  TextLine line;
  line.text(text::kMetaDebugReply).ch(' ').text(c.command.key);
  line.text(" exp=").signedNumber(ttlOf(r.expiry_before, r.now));
  line.text(" la=").number(r.idle_seconds);
  line.text(" cas=").number(visibleCas(c, r.cas));
  line.text(r.fetched_before ? " fetch=yes" : " fetch=no");
  // memkv has no slab classes: one class, and the bytes the item charges.
  line.text(" cls=1 size=").number(r.item->footprint());
  c.out.line(line.view());
}

}  // namespace memkv::server
