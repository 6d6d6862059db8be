// The guest RAM the loader fuzz targets load into: one 16 MiB PC layout per process,
// reused across inputs. Loaders only write RAM after every check passed and never read
// back what an earlier image left, so reuse keeps runs fast without making them depend on
// each other.
#pragma once

#include "tests/fuzz/fuzz_input.h"
#include "vmm/guest_memory.h"

namespace kvpc::fuzz {

inline GuestMemory& loader_memory() {
  static GuestMemory memory = [] {
    auto created = GuestMemory::create_pc(16 << 20);
    KVPC_FUZZ_CHECK(created.ok());
    return std::move(created).value();
  }();
  return memory;
}

}  // namespace kvpc::fuzz
