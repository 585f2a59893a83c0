#pragma once
// docs/architecture.md invariant 1: a connection's socket, read buffer and
// OutputChain are touched only by the worker thread that owns them. Debug and
// sanitizer builds check it on every such call and abort with a clear message.
#include <thread>

namespace memkv::net {

[[noreturn]] void ownerViolation(const char* what);

class OwnerThread {
 public:
  // Binds to the calling thread (the loop's thread calls this when it starts).
  void bindToCurrentThread() { owner_ = std::this_thread::get_id(); }
  bool isCurrent() const { return owner_ == std::this_thread::get_id(); }
  void check([[maybe_unused]] const char* what) const {
#if MEMKV_OWNER_CHECKS
    if (!isCurrent()) ownerViolation(what);
#endif
  }

 private:
  std::thread::id owner_ = std::this_thread::get_id();
};

}  // namespace memkv::net
