#include "guest-agent/linux/ring_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "guest-agent/linux/wire.h"

namespace kvpc::agent {
namespace {

constexpr size_t kHugePage = 2u << 20;
constexpr uint32_t kFallbackPages = 256;

bool write_proc(const char* path, const char* text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, text, strlen(text)) == static_cast<ssize_t>(strlen(text));
  close(fd);
  return ok;
}

void* map_huge() {
  int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE | MAP_LOCKED;
  void* p = mmap(nullptr, kHugePage, PROT_READ | PROT_WRITE, flags, -1, 0);
  if (p != MAP_FAILED) return p;
  // No free huge page: reserve one more (root). Succeeds early in boot, when memory is not fragmented.
  std::ifstream in("/proc/sys/vm/nr_hugepages");
  unsigned long count = 0;
  in >> count;
  if (!write_proc("/proc/sys/vm/nr_hugepages", std::to_string(count + 1).c_str())) return nullptr;
  p = mmap(nullptr, kHugePage, PROT_READ | PROT_WRITE, flags, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

}  // namespace

std::optional<uint64_t> physical_address(const void* virtual_address) {
  int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  uint64_t page = reinterpret_cast<uintptr_t>(virtual_address) / wire::kPageSize;
  uint64_t entry = 0;
  ssize_t n = pread(fd, &entry, sizeof entry, static_cast<off_t>(page * sizeof entry));
  close(fd);
  constexpr uint64_t kPresent = 1ull << 63;
  constexpr uint64_t kPfnMask = (1ull << 55) - 1;
  if (n != sizeof entry || !(entry & kPresent) || (entry & kPfnMask) == 0) return std::nullopt;  // 0: no CAP_SYS_ADMIN
  return (entry & kPfnMask) * wire::kPageSize + reinterpret_cast<uintptr_t>(virtual_address) % wire::kPageSize;
}

std::optional<RingMemory> allocate_ring_memory(uint32_t pages, std::string* how, std::string* error) {
  if (pages < wire::kMinRingPages || pages > wire::kMaxRingPages) {
    *error = "ring pages must be 3..64";
    return std::nullopt;
  }
  if (void* huge = map_huge()) {
    std::memset(huge, 0, pages * wire::kPageSize);
    if (auto phys = physical_address(huge)) {
      *how = "a 2 MiB hugetlb page";
      return RingMemory{static_cast<uint8_t*>(huge), *phys, pages};
    }
    munmap(huge, kHugePage);
    *error = "no physical addresses in /proc/self/pagemap (the agent must run as root)";
    return std::nullopt;
  }
  // Fallback: a physically contiguous run inside locked ordinary pages.
  write_proc("/proc/sys/vm/compact_unevictable_allowed", "0");
  size_t bytes = size_t{kFallbackPages} * wire::kPageSize;
  void* area = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | MAP_LOCKED, -1, 0);
  if (area == MAP_FAILED) {
    *error = std::string("cannot map and lock ring memory: ") + strerror(errno);
    return std::nullopt;
  }
  auto* base = static_cast<uint8_t*>(area);
  uint32_t run_start = 0;
  std::optional<uint64_t> previous;
  for (uint32_t i = 0; i < kFallbackPages; ++i) {
    auto phys = physical_address(base + size_t{i} * wire::kPageSize);
    if (!phys) {
      munmap(area, bytes);
      *error = "no physical addresses in /proc/self/pagemap (the agent must run as root)";
      return std::nullopt;
    }
    if (!previous || *phys != *previous + wire::kPageSize) run_start = i;
    previous = phys;
    if (i + 1 - run_start == pages) {
      uint8_t* ring = base + size_t{run_start} * wire::kPageSize;
      *how = "locked ordinary pages (no hugetlbfs)";
      return RingMemory{ring, *physical_address(ring), pages};
    }
  }
  munmap(area, bytes);
  *error = "no physically contiguous run of pages found (enable hugetlbfs)";
  return std::nullopt;
}

}  // namespace kvpc::agent
