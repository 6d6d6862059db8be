// The 16550A UART's eight registers under random guest accesses, interleaved with what the
// event loop does to it (host input, rx_space, reset, statistics).
#include "devices/uart16550.h"
#include "tests/fuzz/device_script.h"

using namespace kvpc;
using namespace kvpc::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  CaptureCharBackend output(64 * 1024);
  LevelIrqLine irq;
  Uart16550 uart("uart0", output, irq);
  uint64_t drained = 0;
  uart.set_rx_drained_callback([&drained] { ++drained; });
  run_device_script(uart, Uart16550::kPortCount, in, 3, [&](unsigned kind, FuzzInput& args) {
    switch (kind) {
      case 0: {
        size_t space = uart.rx_space();
        auto bytes = args.chunk(32);  // up to 8 KiB: more than the 4 KiB buffer holds
        size_t accepted = uart.receive(bytes);
        KVPC_FUZZ_CHECK(accepted <= bytes.size());
        KVPC_FUZZ_CHECK(accepted == std::min(space, bytes.size()));
        break;
      }
      case 1: uart.reset(); break;
      default: {
        auto stats = uart.stats();
        KVPC_FUZZ_CHECK(stats.tx_bytes <= output.stats().bytes_written + output.stats().bytes_dropped);
        KVPC_FUZZ_CHECK(uart.rx_space() <= Uart16550::kRxBufferSize);
      }
    }
  });
  KVPC_FUZZ_CHECK(irq.repeats == 0);  // the line is passed on only when it changes
  return 0;
}
