// Randomly damaged images must never crash a loader (or read past the image: run under
// -DKVPC_SANITIZE=ON to prove that): each either loads or returns an error.
#include <random>

#include <gtest/gtest.h>

#include "tests/unit/boot/image_builders.h"
#include "vmm/boot/kernel_loader.h"

namespace kvpc {
namespace {

using test::Bytes;

constexpr int kMutationsPerImage = 2000;

// Values that tend to find boundary bugs: zero, all ones, sign bits, page and 4 GiB edges.
constexpr uint64_t kInterestingValues[] = {0,          1,          0xFF,       0x1000,     0x7FFFFFFF,
                                           0x80000000, 0xFFFFF000, 0xFFFFFFFF, 1ULL << 32, ~0ULL,
                                           0x8000,     0x100000,   0x9FFFF,    48,         0x1BADB002};

Bytes mutate(const Bytes& original, std::mt19937_64& rng) {
  Bytes image = original;
  auto pick = [&](uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng); };
  int edits = 1 + static_cast<int>(pick(4));
  for (int e = 0; e < edits && !image.empty(); ++e) {
    // Most fields live in the first KiB (headers); aim there more often than not.
    uint64_t limit = pick(4) == 0 ? image.size() : std::min<uint64_t>(image.size(), 0x440);
    uint64_t at = pick(limit);
    switch (pick(5)) {
      case 0: image[at] ^= static_cast<uint8_t>(1u << pick(8)); break;
      case 1: image[at] = static_cast<uint8_t>(pick(256)); break;
      case 2: {
        uint64_t value = kInterestingValues[pick(std::size(kInterestingValues))];
        uint64_t width = pick(2) == 0 ? 4 : 8;
        for (uint64_t i = 0; i < width && at + i < image.size(); ++i) image[at + i] = static_cast<uint8_t>(value >> (8 * i));
        break;
      }
      case 3: image.resize(pick(image.size() + 1)); break;
      default: image.insert(image.begin() + static_cast<long>(at), static_cast<uint8_t>(pick(256))); break;
    }
  }
  return image;
}

void survive_mutations(const Bytes& good, uint64_t seed) {
  auto memory = std::move(GuestMemory::create_pc(16ULL << 20).value());
  Bytes initrd = test::pattern(3000, 9);
  KernelLoadRequest request;
  request.path = "fuzz";
  request.cmdline = "a=b";
  // The unmodified image must load, or the test proves nothing.
  request.image = good;
  auto baseline = load_kernel(request, memory);
  ASSERT_TRUE(baseline) << baseline.error().message;

  std::mt19937_64 rng(seed);
  int loaded = 0, refused = 0;
  for (int i = 0; i < kMutationsPerImage; ++i) {
    Bytes image = mutate(good, rng);
    request.image = image;
    request.initrd.reset();
    if (i % 2 == 1) request.initrd = std::span<const uint8_t>(initrd);
    auto r = load_kernel(request, memory);
    if (r) {
      ++loaded;
    } else {
      ++refused;
      EXPECT_FALSE(r.error().message.empty());
    }
  }
  // Both outcomes must occur: mutations that only ever fail (or never do) test little.
  EXPECT_GT(loaded, 0);
  EXPECT_GT(refused, 0);
  ::testing::Test::RecordProperty("loaded", loaded);
  ::testing::Test::RecordProperty("refused", refused);
}

TEST(LoaderRobustness, MultibootElf) {
  survive_mutations(test::build_multiboot_elf({test::load_segment(0x100000, test::pattern(0x300, 1)),
                                               test::load_segment(0x200000, test::pattern(0x40, 2), 0x1000)},
                                              0x100010)
                        .bytes,
                    1);
}

TEST(LoaderRobustness, MultibootAout) {
  test::AoutSpec spec;
  spec.text = test::pattern(0x600, 0x31);
  spec.bss_bytes = 0x400;
  survive_mutations(test::build_aout_kludge(spec), 2);
}

TEST(LoaderRobustness, Kvpc64) { survive_mutations(test::build_kvpc64(0x200000, test::pattern(0x400, 9), 0x1000), 3); }

TEST(LoaderRobustness, BzImageStubAndFlat) {
  // Only detection runs on these, plus the flat loader for whatever stops looking like one.
  auto memory = std::move(GuestMemory::create_pc(16ULL << 20).value());
  std::mt19937_64 rng(4);
  Bytes good = test::build_bzimage_stub();
  for (int i = 0; i < kMutationsPerImage; ++i) {
    Bytes image = mutate(good, rng);
    KernelLoadRequest request;
    request.image = image;
    request.path = "fuzz";
    auto r = load_kernel(request, memory);
    if (!r) {
      EXPECT_FALSE(r.error().message.empty());
    }
  }
}

}  // namespace
}  // namespace kvpc
