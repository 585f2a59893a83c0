// Document commands: reads, writes, counters, touch.
#include "common/byte_order.h"
#include "server/cookie.h"

namespace memkv::server {

using engine::EngineStatus;
using mcbp::Opcode;
using mcbp::Status;

Status toWireStatus(EngineStatus status) {
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
  }
  return Status::Einternal;
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

}  // namespace

void executeGet(Cookie& c) {
  const bool with_key = c.spec.base == Opcode::GetK;
  auto& counters = c.counters();
  counters.cmd_get.add(1);
  engine::LookupResult r = c.server.bucket().get(c.request.key);
  if (!r.item) {
    counters.get_misses.add(1);
    if (r.expired) counters.get_expired.add(1);
    sendMiss(c, with_key);
    return;
  }
  counters.get_hits.add(1);
  c.out.sendItem(c.header(), std::move(r.item), with_key);
}

void executeTouch(Cookie& c) {
  auto& counters = c.counters();
  counters.cmd_touch.add(1);
  const uint32_t expiry = loadBe32(c.request.extras.data());
  engine::LookupResult r = c.server.bucket().getAndTouch(c.request.key, expiry);
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
    c.out.send(c.header(), Status::Success, flags, {}, {}, r.item->cas());
    return;
  }
  c.out.sendItem(c.header(), std::move(r.item), c.spec.base == Opcode::GatK);
}

void executeStore(Cookie& c) {
  auto& counters = c.counters();
  counters.cmd_set.add(1);
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
  sr.key = c.request.key;
  sr.value = c.request.value;
  sr.cas = c.server.settings().cas_enabled ? c.header().cas : 0;
  // No datatype is negotiated (HELLO comes with the Couchbase session
  // work), so, as memcached does, the client's datatype byte is not kept:
  // another client must never receive a JSON/Snappy flag it did not ask for.
  sr.datatype = 0;
  sr.preserve_ttl = c.frame_infos.preserve_ttl;
  const engine::MutationResult r = c.server.bucket().store(sr);
  if (sr.cas != 0) {
    if (r.status == EngineStatus::kSuccess) {
      counters.cas_hits.add(1);
    } else if (r.status == EngineStatus::kKeyEexists) {
      counters.cas_badval.add(1);
    } else if (r.status == EngineStatus::kKeyEnoent) {
      counters.cas_misses.add(1);
    }
  }
  c.replyStatus(toWireStatus(r.status), r.cas);
}

void executeDelete(Cookie& c) {
  auto& counters = c.counters();
  const uint64_t cas = c.server.settings().cas_enabled ? c.header().cas : 0;
  const engine::MutationResult r = c.server.bucket().remove(c.request.key, cas);
  if (r.status == EngineStatus::kKeyEnoent) {
    counters.delete_misses.add(1);
  } else if (r.status == EngineStatus::kSuccess) {
    counters.delete_hits.add(1);
  }
  // memcached reports CAS 0 for a delete.
  c.replyStatus(toWireStatus(r.status), 0);
}

void executeCounter(Cookie& c) {
  auto& counters = c.counters();
  const uint8_t* extras = c.request.extras.data();
  engine::CounterRequest cr;
  cr.key = c.request.key;
  cr.increment = c.spec.base == Opcode::Increment;
  cr.delta = loadBe64(extras);
  cr.initial = loadBe64(extras + 8);
  cr.expiry = loadBe32(extras + 16);
  cr.cas = c.server.settings().cas_enabled ? c.header().cas : 0;
  const engine::CounterResult r = c.server.bucket().counter(cr);
  // memcached counts neither a hit nor a miss when `initial` creates the counter.
  if (!r.created) {
    const bool hit = r.status != EngineStatus::kKeyEnoent;
    if (cr.increment) {
      (hit ? counters.incr_hits : counters.incr_misses).add(1);
    } else {
      (hit ? counters.decr_hits : counters.decr_misses).add(1);
    }
  }
  if (r.status != EngineStatus::kSuccess) {
    c.out.sendStatus(c.header(), toWireStatus(r.status));
    return;
  }
  if (c.quiet()) return;
  uint8_t value[8];
  storeBe64(value, r.value);
  c.out.send(c.header(), Status::Success, {}, {}, value, r.cas);
}

}  // namespace memkv::server
