#pragma once
// Borrowed bytes in an OutputChain: memory someone else owns (an item's
// value), kept alive by a reference the chain holds until the kernel accepted
// every byte, then dropped through release(ctx). A plain function pointer, not
// std::function: one of these is made per large value sent.
#include <cstddef>
#include <cstdint>

namespace memkv::net {

struct Fragment {
  const uint8_t* data = nullptr;
  size_t size = 0;
  void (*release)(void* ctx) = nullptr;  // called exactly once
  void* ctx = nullptr;
};

}  // namespace memkv::net
