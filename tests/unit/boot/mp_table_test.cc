// The MP tables: checksums, the floating pointer's link, and an entry for every processor,
// bus, the I/O APIC and every interrupt source, routed the way KVM's default GSI routing is.
#include "vmm/boot/mp_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/boot/image_builders.h"

namespace kvpc {
namespace {

using test::Bytes;
using ::testing::HasSubstr;

uint8_t sum(const Bytes& b, size_t begin, size_t end) {
  uint8_t s = 0;
  for (size_t i = begin; i < end; ++i) s = static_cast<uint8_t>(s + b[i]);
  return s;
}
uint16_t u16(const Bytes& b, size_t o) { return static_cast<uint16_t>(b[o] | b[o + 1] << 8); }
uint32_t u32(const Bytes& b, size_t o) { return u16(b, o) | uint32_t{u16(b, o + 2)} << 16; }

struct Entry {
  uint8_t type;
  Bytes bytes;
};

// Splits the configuration table into entries by their type's size.
std::vector<Entry> entries_of(const Bytes& b) {
  std::vector<Entry> out;
  size_t at = 16 + 44, end = 16 + u16(b, 16 + 4);
  while (at < end) {
    size_t size = b[at] == 0 ? 20 : 8;
    out.push_back({b[at], Bytes(b.begin() + at, b.begin() + at + size)});
    at += size;
  }
  return out;
}

TEST(MpTable, ChecksumsAndLinks) {
  MpTableDescription d;
  d.cpus = 2;
  d.pci_interrupts = {{2, 0, 10}};
  auto bytes = build_mp_table(d, 0xF0000);
  ASSERT_TRUE(bytes) << bytes.error().message;
  const Bytes& b = *bytes;
  EXPECT_EQ(std::string(b.begin(), b.begin() + 4), "_MP_");
  EXPECT_EQ(u32(b, 4), 0xF0010u);
  EXPECT_EQ(b[8], 1);
  EXPECT_EQ(b[9], 4);
  EXPECT_EQ(sum(b, 0, 16), 0);
  EXPECT_EQ(std::string(b.begin() + 16, b.begin() + 20), "PCMP");
  EXPECT_EQ(u16(b, 16 + 4), b.size() - 16);
  EXPECT_EQ(sum(b, 16, b.size()), 0);
  EXPECT_EQ(u32(b, 16 + 36), 0xFEE00000u);
  EXPECT_EQ(u16(b, 16 + 34), entries_of(b).size());
}

TEST(MpTable, DescribesProcessorsBusesApicAndRouting) {
  MpTableDescription d;
  d.cpus = 3;
  d.pci_interrupts = {{2, 0, 10}, {5, 1, 11}};
  const Bytes b = build_mp_table(d, 0xF0000).value();
  auto entries = entries_of(b);
  int processors = 0, isa_irqs = 0;
  std::vector<Bytes> pci, local;
  for (const auto& e : entries) {
    if (e.type == 0) {
      EXPECT_EQ(e.bytes[1], processors);                           // APIC ID
      EXPECT_EQ(e.bytes[3] & 0x3, processors == 0 ? 0x3 : 0x1);    // enabled, BSP only first
      ++processors;
    } else if (e.type == 1) {
      std::string type(e.bytes.begin() + 2, e.bytes.end());
      EXPECT_TRUE((e.bytes[1] == 0 && type == "PCI   ") || (e.bytes[1] == 1 && type == "ISA   ")) << type;
    } else if (e.type == 2) {
      EXPECT_EQ(e.bytes[1], 3);  // the first ID after the CPUs
      EXPECT_EQ(e.bytes[3], 1);
      EXPECT_EQ(u32(e.bytes, 4), 0xFEC00000u);
    } else if (e.type == 3 && e.bytes[4] == 1) {
      EXPECT_EQ(e.bytes[5], e.bytes[7]) << "ISA IRQ n is on pin n";
      EXPECT_NE(e.bytes[5], 2) << "no entry for the cascade";
      ++isa_irqs;
    } else if (e.type == 3) {
      pci.push_back(e.bytes);
    } else if (e.type == 4) {
      local.push_back(e.bytes);
    }
  }
  EXPECT_EQ(processors, 3);
  EXPECT_EQ(isa_irqs, 15);
  ASSERT_EQ(pci.size(), 2u);
  EXPECT_EQ(pci[0][5], 2 << 2 | 0);  // device 2, INTA#
  EXPECT_EQ(pci[0][7], 10);
  EXPECT_EQ(u16(pci[0], 2), 0xF);    // level, active low
  EXPECT_EQ(pci[1][5], 5 << 2 | 1);  // device 5, INTB#
  EXPECT_EQ(pci[1][7], 11);
  ASSERT_EQ(local.size(), 2u);
  EXPECT_EQ(local[0][1], 3);  // ExtINT on LINT0
  EXPECT_EQ(local[0][7], 0);
  EXPECT_EQ(local[1][1], 1);  // NMI on LINT1
  EXPECT_EQ(local[1][7], 1);
}

TEST(MpTable, RejectsImpossibleDescriptions) {
  MpTableDescription none;
  none.cpus = 0;
  EXPECT_THAT(build_mp_table(none, 0xF0000).error().message, HasSubstr("0 CPUs"));
  MpTableDescription bad_pin;
  bad_pin.pci_interrupts = {{2, 4, 10}};
  EXPECT_THAT(build_mp_table(bad_pin, 0xF0000).error().message, HasSubstr("out of range"));
  MpTableDescription bad_gsi;
  bad_gsi.pci_interrupts = {{2, 0, 24}};
  EXPECT_FALSE(build_mp_table(bad_gsi, 0xF0000));
}

TEST(MpTable, WrittenWhereTheSpecificationLetsTheKernelSearch) {
  auto memory = std::move(GuestMemory::create_pc(16ULL << 20).value());
  ASSERT_TRUE(write_mp_table(memory, MpTableDescription{}));
  EXPECT_EQ(test::guest_bytes(memory, 0xF0000, 4), (Bytes{'_', 'M', 'P', '_'}));
  // The BIOS area is reserved in the memory map, so the kernel never reuses the table's memory.
  for (const auto& e : memory.e820()) {
    if (e.type == E820Entry::kRam) {
      EXPECT_FALSE(e.addr <= 0xF0000 && 0xF0000 < e.addr + e.size);
    }
  }
}

}  // namespace
}  // namespace kvpc
