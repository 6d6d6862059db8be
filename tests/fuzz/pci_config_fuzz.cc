// PCI configuration mechanism #1 (0xCF8-0xCFF) with the integration function and a plain
// memory-BAR function attached, plus direct config-space cycles at any offset, as the
// host bridge and the board perform them.
#include "devices/pci_host_bridge.h"
#include "integration/integration_device.h"
#include "tests/fuzz/device_script.h"

using namespace kvpc;
using namespace kvpc::fuzz;

namespace {

class PlainFunction final : public PciDevice {
 public:
  PlainFunction() : config_(PciIdentity{0x1234, 0x5678, 1, 0x020000, 0, 0, 1}) {
    config_.define_bar(0, PciBarKind::kMemory32, 4096);
    config_.define_bar(2, PciBarKind::kIo, 32);
  }
  std::string_view pci_name() const override { return "plain"; }
  PciConfigSpace& config() override { return config_; }
  IoDevice* bar_device(int) override { return nullptr; }

 private:
  PciConfigSpace config_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  GuestMemory memory;
  NullIrqLine irq;
  IntegrationDevice integration(memory, irq);
  PlainFunction plain;
  PciHostBridge bridge;
  KVPC_FUZZ_CHECK(bridge.attach(1, integration));
  KVPC_FUZZ_CHECK(bridge.attach(31, plain));
  KVPC_FUZZ_CHECK(!bridge.attach(0, plain));
  KVPC_FUZZ_CHECK(!bridge.attach(32, plain));
  PciConfigSpace* spaces[] = {&bridge.config(), &integration.config(), &plain.config()};
  run_device_script(bridge, PciHostBridge::kPortCount, in, 3, [&](unsigned kind, FuzzInput& args) {
    PciConfigSpace& space = *spaces[args.u8() % 3];
    uint32_t offset = args.u16();  // past 256 too: the model must clip
    size_t width = size_t{1} << (args.u8() % 4);
    uint8_t buffer[8] = {};
    std::span<uint8_t> bytes(buffer, width);
    switch (kind) {
      case 0:
        space.read(offset, bytes);
        if (offset >= pci::kConfigSize) KVPC_FUZZ_CHECK(load_le(bytes) == (width == 8 ? ~0ULL : (1ULL << (8 * width)) - 1));
        break;
      case 1:
        store_le(bytes, args.u64());
        space.write(offset, bytes);
        break;
      default: {
        int bar = args.u8() % 8 - 1;  // -1 and 6 are out of range
        space.set_bar_address(bar, args.u32());
        uint32_t bar_size = space.bar_size(bar);
        if (bar_size != 0) KVPC_FUZZ_CHECK((space.bar_address(bar) & (bar_size - 1)) == 0);
        space.set_interrupt_status(args.flag());
      }
    }
  });
  // The guest can never change a function's identity.
  KVPC_FUZZ_CHECK(plain.config().bar_size(0) == 4096);
  uint8_t id[4];
  plain.config().read(pci::kVendorId, id);
  KVPC_FUZZ_CHECK(load_le(id) == 0x56781234u);
  return 0;
}
