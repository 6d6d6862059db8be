// The POST code port: a bounded ring of timestamped codes, read back by the host.
#include "devices/post_port.h"
#include "tests/fuzz/device_script.h"

using namespace kvpc;
using namespace kvpc::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  uint64_t now = 0;
  PostPort device([&now] { return now += 7; });
  run_device_script(device, PostPort::kPortCount, in, 1, [&](unsigned, FuzzInput&) {
    auto entries = device.entries();
    KVPC_FUZZ_CHECK(entries.size() <= PostPort::kCapacity);
    KVPC_FUZZ_CHECK(entries.size() <= device.total_writes());
    for (size_t i = 1; i < entries.size(); ++i) KVPC_FUZZ_CHECK(entries[i - 1].timestamp_ns < entries[i].timestamp_ns);
    if (!entries.empty()) KVPC_FUZZ_CHECK(entries.back().code == device.last_code());
  });
  return 0;
}
