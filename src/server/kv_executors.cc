// Document commands: reads, writes, counters, touch.
#include <nlohmann/json.hpp>

#include "common/byte_order.h"
#include "server/executors.h"

namespace memkv::server {

using engine::EngineStatus;
using mcbp::Opcode;
using mcbp::Status;

static Status toWireStatus(EngineStatus status) {
  switch (status) {
    case EngineStatus::kSuccess:
      return Status::Success;
    case EngineStatus::kKeyEnoent:
      return Status::KeyEnoent;
    case EngineStatus::kKeyEexists:
      return Status::KeyEexists;
    case EngineStatus::kNotStored:
      return Status::NotStored;
    case EngineStatus::kE2big:
      return Status::E2big;
    case EngineStatus::kEnomem:
      return Status::Enomem;
    case EngineStatus::kDeltaBadval:
      return Status::DeltaBadval;
    case EngineStatus::kLocked:
    case EngineStatus::kLockedTmpfail:
      return Status::Locked;
    case EngineStatus::kNotLocked:
      return Status::NotLocked;
  }
  return Status::Einternal;
}

Status Cookie::wireStatus(EngineStatus status) const {
  if (!xerror()) {
    // Clients from before extended errors know neither LOCKED nor
    // NOT_LOCKED: a locked document reads as a CAS conflict to writers and
    // as a temporary failure to lockers (Couchbase Server does the same).
    switch (status) {
      case EngineStatus::kLocked:
        return Status::KeyEexists;
      case EngineStatus::kLockedTmpfail:
      case EngineStatus::kNotLocked:
        return Status::Etmpfail;
      default:
        break;
    }
  }
  return toWireStatus(status);
}

void Cookie::replyMutation(const engine::MutationResult& r) {
  if (r.status != EngineStatus::kSuccess) {
    out.sendStatus(header(), wireStatus(r.status));
    return;
  }
  if (quiet()) return;
  if (session.features().has(mcbp::Feature::MutationSeqno)) {
    uint8_t token[16];
    storeBe64(token, r.vbuuid);
    storeBe64(token + 8, r.seqno);
    out.send(header(), Status::Success, token, {}, {}, r.cas);
    return;
  }
  out.send(header(), Status::Success, {}, {}, {}, r.cas);
}

namespace {

// GETK misses echo the key (memcached 1.6); plain GET misses say "Not found".
void sendMiss(Cookie& c, bool with_key) {
  if (c.quiet()) return;
  if (with_key) {
    c.out.send(c.header(), Status::KeyEnoent, {}, c.request.key, {}, 0);
  } else {
    c.out.sendStatus(c.header(), Status::KeyEnoent);
  }
}

// The datatype a value is stored with. Without JSON negotiated the byte is
// not kept (as memcached): no other client may receive a flag it did not
// ask for. With it, a value that claims to be JSON must be JSON, and bits
// memkv did not grant (Snappy, Xattr) are refused.
bool storedDatatype(Cookie& c, uint8_t* out) {
  const uint8_t datatype = c.header().datatype;
  if (!c.session.features().has(mcbp::Feature::Json)) {
    *out = 0;
    return true;
  }
  if ((datatype & ~mcbp::datatype::kJson) != 0) return false;
  if (datatype & mcbp::datatype::kJson) {
    const auto& v = c.request.value;
    if (!nlohmann::json::accept(v.begin(), v.end())) return false;
  }
  *out = datatype;
  return true;
}

}  // namespace

void executeGet(Cookie& c) {
  const bool with_key = c.spec.base == Opcode::GetK;
  auto& counters = c.counters();
  counters.cmd_get.add(1);
  engine::LookupResult r = c.bucket->get(c.key);
  c.server.prefixStats().record(c.key, PrefixStats::Op::kGet, static_cast<bool>(r.item));
  if (!r.item) {
    counters.get_misses.add(1);
    if (r.expired) counters.get_expired.add(1);
    if (r.flushed) counters.get_flushed.add(1);
    sendMiss(c, with_key);
    return;
  }
  counters.get_hits.add(1);
  c.out.sendItem(c.header(), std::move(r.item), with_key ? c.request.key : std::string_view(),
                 r.cas);
}

void executeTouch(Cookie& c) {
  auto& counters = c.counters();
  counters.cmd_touch.add(1);
  const uint32_t expiry = loadBe32(c.request.extras.data());
  engine::LookupResult r = c.bucket->getAndTouch(c.key, expiry);
  if (r.locked) {
    c.out.sendStatus(c.header(), c.wireStatus(EngineStatus::kLockedTmpfail));
    return;
  }
  if (!r.item) {
    counters.touch_misses.add(1);
    sendMiss(c, c.spec.base == Opcode::GatK);
    return;
  }
  counters.touch_hits.add(1);
  if (c.spec.base == Opcode::Touch) {
    // memcached answers TOUCH with the flags and no value.
    uint8_t flags[4];
    storeBe32(flags, r.item->flags());
    c.out.send(c.header(), Status::Success, flags, {}, {}, r.cas);
    return;
  }
  c.out.sendItem(c.header(), std::move(r.item),
                 c.spec.base == Opcode::GatK ? c.request.key : std::string_view(), r.cas);
}

void executeStore(Cookie& c) {
  auto& counters = c.counters();
  counters.cmd_set.add(1);
  c.server.prefixStats().record(c.key, PrefixStats::Op::kSet);
  engine::StoreRequest sr;
  switch (c.spec.base) {
    case Opcode::Add:
      sr.mode = engine::StoreMode::kAdd;
      break;
    case Opcode::Replace:
      sr.mode = engine::StoreMode::kReplace;
      break;
    case Opcode::Append:
      sr.mode = engine::StoreMode::kAppend;
      break;
    case Opcode::Prepend:
      sr.mode = engine::StoreMode::kPrepend;
      break;
    default:
      sr.mode = engine::StoreMode::kSet;
      break;
  }
  if (!c.request.extras.empty()) {
    sr.flags = loadBe32(c.request.extras.data());
    sr.expiry = loadBe32(c.request.extras.data() + 4);
  }
  sr.key = c.key;
  sr.value = c.request.value;
  sr.cas = c.server.settings().cas_enabled ? c.header().cas : 0;
  if (!storedDatatype(c, &sr.datatype)) {
    c.out.sendStatus(c.header(), Status::Einval);
    return;
  }
  sr.preserve_ttl = c.frame_infos.preserve_ttl;
  const engine::MutationResult r = c.bucket->store(sr);
  if (r.status == EngineStatus::kE2big) counters.store_too_large.add(1);
  if (r.status == EngineStatus::kEnomem) counters.store_no_memory.add(1);
  if (sr.cas != 0) {
    if (r.status == EngineStatus::kSuccess) {
      counters.cas_hits.add(1);
    } else if (r.status == EngineStatus::kKeyEexists) {
      counters.cas_badval.add(1);
    } else if (r.status == EngineStatus::kKeyEnoent) {
      counters.cas_misses.add(1);
    }
  }
  c.replyMutation(r);
}

void executeDelete(Cookie& c) {
  auto& counters = c.counters();
  const uint64_t cas = c.server.settings().cas_enabled ? c.header().cas : 0;
  c.server.prefixStats().record(c.key, PrefixStats::Op::kDelete);
  engine::MutationResult r = c.bucket->remove(c.key, cas);
  if (r.status == EngineStatus::kKeyEnoent) {
    counters.delete_misses.add(1);
  } else if (r.status == EngineStatus::kSuccess) {
    counters.delete_hits.add(1);
  }
  // memcached reports CAS 0 for a delete; Couchbase clients (they negotiate
  // mutation tokens) get the deletion's CAS, as Couchbase Server sends.
  if (!c.session.features().has(mcbp::Feature::MutationSeqno)) r.cas = 0;
  c.replyMutation(r);
}

void executeCounter(Cookie& c) {
  auto& counters = c.counters();
  const uint8_t* extras = c.request.extras.data();
  engine::CounterRequest cr;
  cr.key = c.key;
  cr.increment = c.spec.base == Opcode::Increment;
  cr.delta = loadBe64(extras);
  cr.initial = loadBe64(extras + 8);
  cr.expiry = loadBe32(extras + 16);
  cr.cas = c.server.settings().cas_enabled ? c.header().cas : 0;
  const engine::CounterResult r = c.bucket->counter(cr);
  counters.countCounter(cr.increment, r.status != EngineStatus::kKeyEnoent, r.created);
  if (r.status != EngineStatus::kSuccess) {
    c.out.sendStatus(c.header(), c.wireStatus(r.status));
    return;
  }
  if (c.quiet()) return;
  uint8_t value[8];
  storeBe64(value, r.value);
  if (c.session.features().has(mcbp::Feature::MutationSeqno)) {
    uint8_t token[16];
    storeBe64(token, r.vbuuid);
    storeBe64(token + 8, r.seqno);
    c.out.send(c.header(), Status::Success, token, {}, value, r.cas);
    return;
  }
  c.out.send(c.header(), Status::Success, {}, {}, value, r.cas);
}

void executeGetLocked(Cookie& c) {
  if (!c.server.settings().cas_enabled) {
    // Without CAS values the client could never learn the lock's CAS, and
    // the document would stay unwritable until the lock expired.
    c.out.sendStatus(c.header(), Status::NotSupported);
    return;
  }
  const uint32_t seconds = c.request.extras.empty() ? 0 : loadBe32(c.request.extras.data());
  engine::LockResult r = c.bucket->getLocked(c.key, seconds);
  if (r.status != EngineStatus::kSuccess) {
    c.out.sendStatus(c.header(), c.wireStatus(r.status));
    return;
  }
  c.counters().cmd_get.add(1);
  c.counters().get_hits.add(1);
  c.out.sendItem(c.header(), std::move(r.item), {}, r.cas);
}

void executeUnlock(Cookie& c) {
  if (!c.server.settings().cas_enabled) {
    c.out.sendStatus(c.header(), Status::NotSupported);
    return;
  }
  const EngineStatus status = c.bucket->unlock(c.key, c.header().cas);
  c.replyStatus(c.wireStatus(status));
}

}  // namespace memkv::server
