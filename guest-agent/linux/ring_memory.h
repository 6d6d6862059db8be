// Guest-physically contiguous, pinned memory for the ring area, from userspace.
//
// A process has no DMA API, so the agent gets physical addresses from /proc/self/pagemap
// (root: CAP_SYS_ADMIN shows PFNs). First choice: one 2 MiB hugetlb page (MAP_HUGETLB; the
// agent reserves one through /proc/sys/vm/nr_hugepages if none is free): contiguous by
// construction, never swapped or moved by compaction. Fallback for kernels without hugetlbfs:
// map and lock 1 MiB of ordinary pages, look for a physically contiguous run of `pages` of
// them, and switch off compaction of locked pages (vm.compact_unevictable_allowed = 0) so the
// run stays where the device was told it is. docs/linux-agent.md discusses the choice.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "guest-agent/linux/transport.h"

namespace kvpc::agent {

std::optional<RingMemory> allocate_ring_memory(uint32_t pages, std::string* how, std::string* error);

// The physical address of a mapped, present page of this process (pagemap), or nullopt.
std::optional<uint64_t> physical_address(const void* virtual_address);

}  // namespace kvpc::agent
