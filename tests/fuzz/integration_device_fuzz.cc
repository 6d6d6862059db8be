// The integration device as a hostile guest sees it: BAR0 registers at any offset and width,
// ATTACH of any ring address and size, raw bytes scribbled anywhere in guest RAM (ring
// header and indices included), raw packets of any shape, and the host's event-loop work
// (process, timers, API calls, resets) interleaved in the order the input says.
#include "tests/fuzz/device_script.h"
#include "tests/fuzz/integration_rig.h"

using namespace kvpc;
using namespace kvpc::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  IntegrationRig rig;
  IoDevice& bar0 = *rig.device.bar_device(0);
  for (size_t step = 0; step < kMaxScriptSteps && !in.empty(); ++step) {
    switch (in.u8() % 12) {
      case 0: {  // a few register accesses
        FuzzInput script(in.chunk());
        run_device_script(bar0, proto::kBar0Size, script);
        break;
      }
      case 1: {  // ATTACH a ring somewhere (sometimes outside RAM, sometimes misaligned)
        uint64_t gpa = in.flag() ? IntegrationRig::kRingGpa : uint64_t{in.u32()} << (in.u8() % 16);
        rig.guest.attach_at(gpa, in.u8());
        break;
      }
      case 2: rig.guest.attach(); break;
      case 3: {  // scribble on guest RAM, biased towards the ring
        uint64_t gpa = in.flag() ? IntegrationRig::kRingGpa + in.u16() % (IntegrationRig::kRingPages * proto::kPageSize)
                                 : in.u32() % IntegrationRig::kRamBytes;
        auto bytes = in.chunk();
        (void)rig.memory.write(gpa, bytes);
        break;
      }
      case 4: rig.guest.send_raw(in.chunk(8)); break;
      case 5: rig.guest.set_header_u32((in.u8() % 32) * 4, in.u32()); break;
      case 6:
        rig.guest.doorbell();
        rig.services.process();
        break;
      case 7: rig.guest.step(); break;
      case 8:
        rig.clock.advance(std::chrono::milliseconds(in.u16() * 16));
        if (in.flag()) rig.services.heartbeat_tick();
        else rig.services.time_sync_tick();
        break;
      case 9: rig.api_call(in); break;
      case 10:
        if (in.flag()) rig.device.reset();
        else rig.device.host_reset_link();
        break;
      default: rig.guest.say_hello(in.u32()); break;
    }
    KVPC_FUZZ_CHECK(rig.irq.level() == rig.device.irq_asserted());
  }
  rig.finish();
  return 0;
}
