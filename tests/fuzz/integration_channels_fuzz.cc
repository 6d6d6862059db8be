// The channel state machine and the host services, fed well-framed messages with arbitrary
// headers and bodies: any channel, type, flags, transaction id, status and body, before or
// after HELLO/OPEN/NEGOTIATE, mixed with a cooperative agent's replies and API calls.
// Framing is always right here (integration_device covers bad framing) so every input
// reaches ChannelTable::route and the services' decoders.
#include "tests/fuzz/integration_rig.h"

using namespace kvpc;
using namespace kvpc::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  IntegrationRig rig;
  rig.guest.behavior.answer_operations = (in.u8() & 1) != 0;
  rig.guest.attach();
  if (in.flag()) {  // start from a connected agent with every channel ready
    rig.guest.say_hello();
    for (int i = 0; i < 8; ++i) {
      rig.services.process();
      rig.guest.step();
    }
  }
  static constexpr uint16_t kFlags[] = {proto::kFlagRequest, proto::kFlagResponse, proto::kFlagNotification};
  for (size_t step = 0; step < 2048 && !in.empty(); ++step) {
    uint8_t op = in.u8();
    switch (op % 4) {
      case 0:
      case 1: {
        proto::MessageHeader header;
        header.type = static_cast<uint16_t>(in.u8() % 10);
        uint8_t flag_choice = in.u8();
        header.flags = flag_choice < 240 ? kFlags[flag_choice % 3] : in.u16();
        header.transaction_id = in.flag() ? rig.services.counters().operations_started : in.u32();
        header.status = in.flag() ? S_OK : static_cast<HRESULT>(in.u32());
        uint16_t channel = static_cast<uint16_t>(in.u8() % 7);
        auto body = in.chunk(in.flag() ? 16 : 1);
        header.size = static_cast<uint32_t>(body.size());
        rig.guest.send(channel, header, body);
        if (op & 0x80) {
          rig.guest.doorbell();
          rig.services.process();
        }
        break;
      }
      case 2:
        rig.services.process();
        if (op & 0x80) rig.guest.step();
        else (void)rig.guest.receive();
        break;
      default:
        if (op & 0x80) {
          rig.clock.advance(std::chrono::seconds(7));
          rig.services.heartbeat_tick();
        } else {
          rig.api_call(in);
        }
    }
  }
  rig.services.process();
  rig.finish();
  return 0;
}
