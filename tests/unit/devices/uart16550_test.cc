#include "devices/uart16550.h"

#include <algorithm>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/devices/fakes.h"

namespace kvpc {
namespace {

using testing::as_bytes;
using testing::RecordingIrqLine;

// Register offsets and bits, spelled out here rather than borrowed from the device so the
// tests check the device against the datasheet, not against itself.
constexpr uint64_t kThr = 0, kRbr = 0, kDll = 0, kIer = 1, kDlm = 1, kIir = 2, kFcr = 2, kLcr = 3, kMcr = 4,
                   kLsr = 5, kMsr = 6, kScr = 7;
constexpr uint8_t kIerRx = 0x01, kIerThre = 0x02, kIerLineStatus = 0x04, kIerModem = 0x08;
constexpr uint8_t kIirNone = 0x01, kIirLineStatus = 0x06, kIirRxData = 0x04, kIirTimeout = 0x0C, kIirThre = 0x02,
                  kIirModem = 0x00;
constexpr uint8_t kLcrDlab = 0x80;
constexpr uint8_t kMcrDtr = 0x01, kMcrRts = 0x02, kMcrOut1 = 0x04, kMcrOut2 = 0x08, kMcrLoop = 0x10;
constexpr uint8_t kLsrDr = 0x01, kLsrOe = 0x02, kLsrThre = 0x20, kLsrTemt = 0x40;
constexpr uint8_t kMsrCts = 0x10, kMsrDsr = 0x20, kMsrRi = 0x40, kMsrDcd = 0x80;

class Uart16550Test : public ::testing::Test {
 protected:
  uint8_t reg(uint64_t offset) { return static_cast<uint8_t>(testing::read_port(uart_, offset)); }
  void set(uint64_t offset, uint8_t value) { testing::write_port(uart_, offset, value); }
  uint8_t iir_id() { return reg(kIir) & 0x0F; }
  void receive(std::string_view text) { uart_.receive(as_bytes(text)); }

  CaptureCharBackend output_;
  RecordingIrqLine irq_;
  Uart16550 uart_{"uart0", output_, irq_};
};

TEST_F(Uart16550Test, NameIsTheOneGivenAtConstruction) { EXPECT_EQ(uart_.name(), "uart0"); }

TEST_F(Uart16550Test, PowerOnRegistersHaveResetValues) {
  EXPECT_EQ(reg(kIer), 0x00);
  EXPECT_EQ(reg(kIir), kIirNone);
  EXPECT_EQ(reg(kLcr), 0x00);
  EXPECT_EQ(reg(kMcr), 0x00);
  EXPECT_EQ(reg(kLsr), kLsrThre | kLsrTemt);
  EXPECT_EQ(reg(kMsr), kMsrCts | kMsrDsr | kMsrDcd);
  EXPECT_EQ(reg(kScr), 0x00);
  EXPECT_TRUE(irq_.levels().empty());
}

TEST_F(Uart16550Test, DivisorLatchRoundTripsWhileDlabIsSet) {
  set(kLcr, kLcrDlab | 0x03);

  set(kDll, 0x01);
  set(kDlm, 0x02);

  EXPECT_EQ(reg(kDll), 0x01);
  EXPECT_EQ(reg(kDlm), 0x02);
  EXPECT_EQ(reg(kLcr), kLcrDlab | 0x03);
}

TEST_F(Uart16550Test, DivisorLatchWritesLeaveThrAndIerAlone) {
  set(kIer, kIerModem);
  set(kLcr, kLcrDlab);

  set(kDll, 'x');
  set(kDlm, 0xFF);
  set(kLcr, 0x03);

  EXPECT_EQ(output_.text(), "");
  EXPECT_EQ(reg(kIer), kIerModem);
}

TEST_F(Uart16550Test, DivisorLatchIsHiddenAgainWhenDlabIsCleared) {
  set(kLcr, kLcrDlab);
  set(kDll, 0x60);
  set(kLcr, 0x03);

  set(kLcr, kLcrDlab);
  const uint8_t low = reg(kDll);
  set(kLcr, 0x03);

  EXPECT_EQ(low, 0x60);
  EXPECT_EQ(reg(kIer), 0x00);
}

TEST_F(Uart16550Test, ScratchRegisterRoundTrips) {
  set(kScr, 0xA5);

  EXPECT_EQ(reg(kScr), 0xA5);
}

TEST_F(Uart16550Test, IerKeepsOnlyTheFourDefinedBits) {
  set(kIer, 0xFF);

  EXPECT_EQ(reg(kIer), 0x0F);
}

TEST_F(Uart16550Test, McrKeepsOnlyTheFiveDefinedBits) {
  set(kMcr, 0xFF);

  EXPECT_EQ(reg(kMcr), 0x1F);
}

TEST_F(Uart16550Test, LsrAndMsrWritesAreIgnored) {
  set(kLsr, 0xFF);
  set(kMsr, 0x00);

  EXPECT_EQ(reg(kLsr), kLsrThre | kLsrTemt);
  EXPECT_EQ(reg(kMsr), kMsrCts | kMsrDsr | kMsrDcd);
}

TEST_F(Uart16550Test, ThrWriteGoesStraightToTheBackend) {
  for (char c : std::string("hi\n")) set(kThr, static_cast<uint8_t>(c));

  EXPECT_EQ(output_.text(), "hi\n");
  EXPECT_EQ(reg(kLsr) & (kLsrThre | kLsrTemt), kLsrThre | kLsrTemt);
  EXPECT_EQ(uart_.stats().tx_bytes, 3u);
}

TEST_F(Uart16550Test, ThreInterruptIsRaisedWhenIerEnablesIt) {
  set(kMcr, kMcrOut2);

  set(kIer, kIerThre);

  EXPECT_TRUE(irq_.level());
  EXPECT_EQ(iir_id(), kIirThre);
}

TEST_F(Uart16550Test, ThreInterruptIsClearedByReadingIir) {
  set(kMcr, kMcrOut2);
  set(kIer, kIerThre);

  const uint8_t first = reg(kIir);

  EXPECT_EQ(first, kIirThre);
  EXPECT_EQ(reg(kIir), kIirNone);
  EXPECT_FALSE(irq_.level());
}

TEST_F(Uart16550Test, ThreInterruptReturnsAfterEveryTransmittedByte) {
  set(kMcr, kMcrOut2);
  set(kIer, kIerThre);
  (void)reg(kIir);

  set(kThr, 'a');

  EXPECT_TRUE(irq_.level());
  EXPECT_EQ(iir_id(), kIirThre);
}

TEST_F(Uart16550Test, ThreInterruptReturnsWhenIerIsReEnabled) {
  // Linux's 8250 driver checks that a real 16550 re-asserts THRE this way.
  set(kIer, kIerThre);
  (void)reg(kIir);
  set(kIer, 0);

  set(kIer, kIerThre);

  EXPECT_EQ(iir_id(), kIirThre);
}

TEST_F(Uart16550Test, ReceivedByteSetsDataReadyAndIsReadFromRbr) {
  receive("A");

  EXPECT_EQ(reg(kLsr) & kLsrDr, kLsrDr);
  EXPECT_EQ(reg(kRbr), 'A');
  EXPECT_EQ(reg(kLsr) & kLsrDr, 0);
}

TEST_F(Uart16550Test, RbrReadsZeroWhenNothingWasReceived) { EXPECT_EQ(reg(kRbr), 0x00); }

TEST_F(Uart16550Test, RxDataInterruptIsRaisedWithoutFifoAndClearedByReadingRbr) {
  set(kMcr, kMcrOut2);
  set(kIer, kIerRx);

  receive("x");
  const bool raised = irq_.level();
  const uint8_t id = iir_id();
  (void)reg(kRbr);

  EXPECT_TRUE(raised);
  EXPECT_EQ(id, kIirRxData);
  EXPECT_FALSE(irq_.level());
  EXPECT_EQ(iir_id(), kIirNone);
}

TEST_F(Uart16550Test, RxDataInterruptWaitsForIerToEnableIt) {
  set(kMcr, kMcrOut2);
  receive("x");
  const bool before = irq_.level();

  set(kIer, kIerRx);

  EXPECT_FALSE(before);
  EXPECT_TRUE(irq_.level());
}

class Uart16550TriggerTest : public Uart16550Test, public ::testing::WithParamInterface<std::pair<uint8_t, size_t>> {};

TEST_P(Uart16550TriggerTest, BelowTriggerLevelReportsTimeoutAndAtTheLevelReportsRxData) {
  const auto [fcr_bits, level] = GetParam();
  set(kFcr, static_cast<uint8_t>(fcr_bits | 0x01));
  set(kIer, kIerRx);

  uart_.receive(as_bytes(std::string(level - 1, 'a')));
  const uint8_t below = reg(kIir);
  receive("b");
  const uint8_t at = reg(kIir);

  if (level > 1) {
    EXPECT_EQ(below, 0xC0 | kIirTimeout);
  }
  EXPECT_EQ(at, 0xC0 | kIirRxData);
}

INSTANTIATE_TEST_SUITE_P(AllFourLevels, Uart16550TriggerTest,
                         ::testing::Values(std::pair<uint8_t, size_t>{0x00, 1}, std::pair<uint8_t, size_t>{0x40, 4},
                                           std::pair<uint8_t, size_t>{0x80, 8}, std::pair<uint8_t, size_t>{0xC0, 14}));

TEST_F(Uart16550Test, RxInterruptFallsBackToTimeoutWhenGuestReadsBelowTheTriggerLevel) {
  set(kFcr, 0x41);  // FIFO on, trigger 4
  set(kIer, kIerRx);
  receive("abcd");

  (void)reg(kRbr);

  EXPECT_EQ(iir_id(), kIirTimeout);
}

TEST_F(Uart16550Test, FcrEnableShowsFifoBitsInIir) {
  set(kFcr, 0x01);
  const uint8_t enabled = reg(kIir);
  set(kFcr, 0x00);
  const uint8_t disabled = reg(kIir);

  EXPECT_EQ(enabled, 0xC1);
  EXPECT_EQ(disabled, 0x01);
}

TEST_F(Uart16550Test, FcrClearRxEmptiesTheReceiveBuffer) {
  set(kFcr, 0x01);
  receive("stale input");

  set(kFcr, 0x03);

  EXPECT_EQ(reg(kLsr) & kLsrDr, 0);
  EXPECT_EQ(uart_.rx_space(), Uart16550::kRxBufferSize);
}

TEST_F(Uart16550Test, FcrClearTxIsAcceptedAndLeavesTransmitterEmpty) {
  set(kFcr, 0x05);

  EXPECT_EQ(reg(kLsr), kLsrThre | kLsrTemt);
}

TEST_F(Uart16550Test, TogglingFifoModeClearsTheReceiveBuffer) {
  receive("abc");

  set(kFcr, 0x01);

  EXPECT_EQ(reg(kLsr) & kLsrDr, 0);
}

TEST_F(Uart16550Test, FcrBitsOtherThanEnableAreIgnoredWhileFifoStaysOff) {
  receive("abc");

  set(kFcr, 0xC2);  // clear-RX and trigger 14, but FIFO enable is 0

  EXPECT_EQ(reg(kLsr) & kLsrDr, kLsrDr);
  EXPECT_EQ(reg(kIir) & 0xC0, 0);
}

TEST_F(Uart16550Test, RxSpaceShrinksAsInputArrivesAndGrowsAsGuestReads) {
  receive("abc");
  const size_t after_receive = uart_.rx_space();

  (void)reg(kRbr);

  EXPECT_EQ(after_receive, Uart16550::kRxBufferSize - 3);
  EXPECT_EQ(uart_.rx_space(), Uart16550::kRxBufferSize - 2);
}

TEST_F(Uart16550Test, ReceiveBufferHoldsMoreThanTheFifoInOrder) {
  std::string input;
  for (int i = 0; i < 100; ++i) input.push_back(static_cast<char>('0' + i % 10));
  set(kFcr, 0x01);

  receive(input);
  std::string read_back;
  while ((reg(kLsr) & kLsrDr) != 0) read_back.push_back(static_cast<char>(reg(kRbr)));

  EXPECT_EQ(read_back, input);
}

TEST_F(Uart16550Test, OverrunWhenBufferIsFullDropsAndCountsTheExcess) {
  const std::string input(Uart16550::kRxBufferSize + 10, 'z');

  const size_t accepted = uart_.receive(as_bytes(input));

  EXPECT_EQ(accepted, Uart16550::kRxBufferSize);
  EXPECT_EQ(uart_.stats().rx_overrun_bytes, 10u);
  EXPECT_EQ(uart_.stats().rx_bytes, Uart16550::kRxBufferSize);
  EXPECT_EQ(uart_.rx_space(), 0u);
}

TEST_F(Uart16550Test, OverrunSetsLsrOeUntilLsrIsRead) {
  uart_.receive(as_bytes(std::string(Uart16550::kRxBufferSize + 1, 'z')));

  const uint8_t first = reg(kLsr);
  const uint8_t second = reg(kLsr);

  EXPECT_EQ(first & kLsrOe, kLsrOe);
  EXPECT_EQ(second & kLsrOe, 0);
  EXPECT_EQ(second & kLsrDr, kLsrDr);
}

TEST_F(Uart16550Test, OverrunRaisesLineStatusInterruptClearedByLsrRead) {
  set(kMcr, kMcrOut2);
  set(kIer, kIerLineStatus);

  uart_.receive(as_bytes(std::string(Uart16550::kRxBufferSize + 1, 'z')));
  const bool raised = irq_.level();
  const uint8_t id = iir_id();
  (void)reg(kLsr);

  EXPECT_TRUE(raised);
  EXPECT_EQ(id, kIirLineStatus);
  EXPECT_FALSE(irq_.level());
}

TEST_F(Uart16550Test, IirReportsSourcesInPriorityOrder) {
  // Make all four sources pending at once: overrun (line status), data (RX), THRE, and a
  // modem-status delta (entering loopback drops CTS/DSR/DCD).
  set(kFcr, 0x01);
  set(kMcr, kMcrLoop);
  set(kMcr, 0x00);
  uart_.receive(as_bytes(std::string(Uart16550::kRxBufferSize + 1, 'z')));
  set(kIer, kIerRx | kIerThre | kIerLineStatus | kIerModem);

  const uint8_t first = iir_id();
  (void)reg(kLsr);
  const uint8_t second = iir_id();
  set(kFcr, 0x03);
  const uint8_t third = iir_id();  // reading IIR while THRE is reported acknowledges it
  const uint8_t fourth = iir_id();
  (void)reg(kMsr);
  const uint8_t fifth = iir_id();

  EXPECT_EQ(first, kIirLineStatus);
  EXPECT_EQ(second, kIirRxData);
  EXPECT_EQ(third, kIirThre);
  EXPECT_EQ(fourth, kIirModem);
  EXPECT_EQ(fifth, kIirNone);
}

TEST_F(Uart16550Test, IirReadDoesNotAcknowledgeThreWhileAHigherSourceIsReported) {
  set(kIer, kIerRx | kIerThre);
  receive("a");

  const uint8_t first = iir_id();
  (void)reg(kRbr);

  EXPECT_EQ(first, kIirRxData);
  EXPECT_EQ(iir_id(), kIirThre);
}

TEST_F(Uart16550Test, LoopbackSendsTransmittedBytesToReceiverNotBackend) {
  set(kMcr, kMcrLoop);

  set(kThr, 0x5A);

  EXPECT_EQ(output_.text(), "");
  EXPECT_EQ(reg(kLsr) & kLsrDr, kLsrDr);
  EXPECT_EQ(reg(kRbr), 0x5A);
  EXPECT_EQ(uart_.stats().loopback_bytes, 1u);
}

TEST_F(Uart16550Test, LoopbackMirrorsMcrOutputsIntoMsrInputs) {
  set(kMcr, kMcrLoop | kMcrRts);
  const uint8_t rts = reg(kMsr) & 0xF0;
  set(kMcr, kMcrLoop | kMcrDtr);
  const uint8_t dtr = reg(kMsr) & 0xF0;
  set(kMcr, kMcrLoop | kMcrOut1);
  const uint8_t out1 = reg(kMsr) & 0xF0;
  set(kMcr, kMcrLoop | kMcrOut2);
  const uint8_t out2 = reg(kMsr) & 0xF0;

  EXPECT_EQ(rts, kMsrCts);
  EXPECT_EQ(dtr, kMsrDsr);
  EXPECT_EQ(out1, kMsrRi);
  EXPECT_EQ(out2, kMsrDcd);
}

TEST_F(Uart16550Test, LinuxLoopbackProbeSeesDcdAndCts) {
  set(kMcr, kMcrLoop | kMcrOut2 | kMcrRts);

  EXPECT_EQ(reg(kMsr) & 0xF0, kMsrDcd | kMsrCts);
}

TEST_F(Uart16550Test, ModemDeltaBitsRecordChangesUntilMsrIsRead) {
  set(kMcr, kMcrLoop | kMcrOut1);  // CTS, DSR, DCD fall; RI rises
  const uint8_t entering = reg(kMsr);
  set(kMcr, kMcrLoop);  // RI falls: trailing edge
  const uint8_t ri_falls = reg(kMsr);
  const uint8_t quiet = reg(kMsr);

  EXPECT_EQ(entering, 0x0B | kMsrRi);  // DCTS | DDSR | DDCD
  EXPECT_EQ(ri_falls, 0x04);           // TERI
  EXPECT_EQ(quiet, 0x00);
}

TEST_F(Uart16550Test, ModemStatusInterruptFollowsDeltaBits) {
  set(kIer, kIerModem);

  set(kMcr, kMcrLoop);
  const uint8_t pending = iir_id();
  (void)reg(kMsr);

  EXPECT_EQ(pending, kIirModem);
  EXPECT_EQ(iir_id(), kIirNone);
}

TEST_F(Uart16550Test, Out2GatesTheInterruptLine) {
  set(kIer, kIerThre);
  const bool without_out2 = irq_.level();

  set(kMcr, kMcrOut2);
  const bool with_out2 = irq_.level();
  set(kMcr, 0);

  EXPECT_FALSE(without_out2);
  EXPECT_TRUE(with_out2);
  EXPECT_FALSE(irq_.level());
  EXPECT_EQ(iir_id(), kIirThre);  // still pending inside the chip
}

TEST_F(Uart16550Test, LoopbackKeepsTheLineLowEvenWithOut2) {
  set(kIer, kIerThre);

  set(kMcr, kMcrLoop | kMcrOut2);

  EXPECT_FALSE(irq_.level());
  EXPECT_EQ(iir_id(), kIirThre);
}

TEST_F(Uart16550Test, LineIsDrivenOnlyWhenItsLevelChanges) {
  set(kMcr, kMcrOut2);
  set(kIer, kIerRx);

  receive("a");
  receive("b");
  (void)reg(kScr);
  (void)reg(kRbr);
  (void)reg(kRbr);

  EXPECT_EQ(irq_.levels(), (std::vector<bool>{true, false}));
}

TEST_F(Uart16550Test, HostInputIsRefusedAndCountedInLoopback) {
  set(kMcr, kMcrLoop);

  const size_t space = uart_.rx_space();
  const size_t accepted = uart_.receive(as_bytes("typed"));

  EXPECT_EQ(space, 0u);
  EXPECT_EQ(accepted, 0u);
  EXPECT_EQ(uart_.stats().rx_dropped_in_loopback, 5u);
  EXPECT_EQ(reg(kLsr) & kLsrDr, 0);
}

TEST_F(Uart16550Test, DrainedCallbackRunsWhenGuestEmptiesTheBuffer) {
  int calls = 0;
  uart_.set_rx_drained_callback([&calls] { ++calls; });
  receive("ab");

  (void)reg(kRbr);
  const int after_first = calls;
  (void)reg(kRbr);
  (void)reg(kRbr);

  EXPECT_EQ(after_first, 0);
  EXPECT_EQ(calls, 1);
}

TEST_F(Uart16550Test, DrainedCallbackRunsWhenFcrClearsTheBuffer) {
  int calls = 0;
  uart_.set_rx_drained_callback([&calls] { ++calls; });
  set(kFcr, 0x01);
  receive("ab");

  set(kFcr, 0x03);

  EXPECT_EQ(calls, 1);
}

TEST_F(Uart16550Test, DrainedCallbackRunsWhenLoopbackEndsAndMayCallBackIn) {
  size_t space_seen = 0;
  uart_.set_rx_drained_callback([&] { space_seen = uart_.rx_space(); });
  set(kMcr, kMcrLoop);

  set(kMcr, kMcrOut2);

  EXPECT_EQ(space_seen, Uart16550::kRxBufferSize);
}

TEST_F(Uart16550Test, ResetRestoresPowerOnStateAndLowersTheLine) {
  set(kMcr, kMcrOut2);
  set(kIer, kIerThre);
  set(kLcr, 0x03);
  set(kScr, 0x77);
  set(kFcr, 0x01);
  receive("pending");

  uart_.reset();

  EXPECT_FALSE(irq_.level());
  EXPECT_EQ(reg(kIer), 0);
  EXPECT_EQ(reg(kIir), kIirNone);
  EXPECT_EQ(reg(kLcr), 0);
  EXPECT_EQ(reg(kMcr), 0);
  EXPECT_EQ(reg(kLsr), kLsrThre | kLsrTemt);
  EXPECT_EQ(reg(kScr), 0);
}

TEST_F(Uart16550Test, WideWriteSplitsIntoConsecutiveRegisters) {
  testing::write_port(uart_, kLcr, 0x0B03, 2);

  EXPECT_EQ(reg(kLcr), 0x03);
  EXPECT_EQ(reg(kMcr), 0x0B);
}

TEST_F(Uart16550Test, WideReadPastTheLastRegisterFillsWithOnes) {
  set(kScr, 0x42);

  EXPECT_EQ(testing::read_port(uart_, kScr, 2), 0xFF42u);
}

TEST_F(Uart16550Test, LinuxAutoconfigDetects16550AAndNothingFancier) {
  // Scratch test through IER.
  set(kIer, 0x00);
  const uint8_t ier_cleared = reg(kIer) & 0x0F;
  set(kIer, 0x0F);
  const uint8_t ier_set = reg(kIer) & 0x0F;
  set(kIer, 0x00);
  // FIFO detection: IIR bits 6-7 both set means a working 16550A FIFO.
  set(kLcr, 0x00);
  set(kFcr, 0x01);
  const uint8_t fifo_bits = reg(kIir) >> 6;
  // EFR probe (LCR 0xBF): a 16650 would read 0 at offset 2.
  set(kLcr, 0xBF);
  const uint8_t efr = reg(kIir);
  // 16750 probe: 64-byte FIFO bit (FCR bit 5) must not show in IIR bit 5.
  set(kLcr, kLcrDlab);
  set(kFcr, 0x21);
  const uint8_t with_dlab = reg(kIir) >> 5;
  set(kLcr, 0x00);
  set(kFcr, 0x21);
  const uint8_t without_dlab = reg(kIir) >> 5;
  // UUE bit of XScale UARTs (IER bit 6) must not stick.
  set(kIer, 0x40);
  const uint8_t uue = reg(kIer) & 0x40;

  EXPECT_EQ(ier_cleared, 0x00);
  EXPECT_EQ(ier_set, 0x0F);
  EXPECT_EQ(fifo_bits, 3);
  EXPECT_NE(efr, 0);
  EXPECT_EQ(with_dlab, 6);
  EXPECT_EQ(without_dlab, 6);
  EXPECT_EQ(uue, 0);
}

TEST_F(Uart16550Test, SeaBiosDetectionSeesIerEchoAndThreInterrupt) {
  set(kIer, 0x02);

  const uint8_t ier = reg(kIer);
  const uint8_t iir = reg(kIir);

  EXPECT_EQ(ier, 0x02);
  EXPECT_EQ(iir & 0x3F, 0x02);
}

TEST_F(Uart16550Test, GarbageAtEveryOffsetAndWidthNeverBreaksTheDevice) {
  std::mt19937_64 random(0x16550);
  for (int round = 0; round < 200; ++round) {
    for (uint64_t offset = 0; offset < Uart16550::kPortCount; ++offset) {
      for (size_t width : {1u, 2u, 4u, 8u}) {
        testing::write_port(uart_, offset, random(), width);
        (void)testing::read_port(uart_, offset, width);
      }
    }
    uart_.receive(as_bytes("noise"));
  }

  // Whatever state the garbage left, the transmitter is idle and the device still works.
  set(kLcr, 0x03);
  set(kMcr, 0x00);
  EXPECT_EQ(reg(kLsr) & (kLsrThre | kLsrTemt), kLsrThre | kLsrTemt);
  output_.clear();
  set(kThr, '!');
  EXPECT_EQ(output_.text(), "!");
}

TEST_F(Uart16550Test, HostAndGuestThreadsPassEveryByteInOrder) {
  constexpr size_t kTotal = 20000;
  set(kFcr, 0x01);

  std::thread host([this] {
    size_t sent = 0;
    while (sent < kTotal) {
      const size_t room = std::min(uart_.rx_space(), kTotal - sent);
      std::vector<uint8_t> chunk(room);
      for (size_t i = 0; i < room; ++i) chunk[i] = static_cast<uint8_t>((sent + i) % 251);
      sent += uart_.receive(chunk);
      if (room == 0) std::this_thread::yield();
    }
  });
  size_t received = 0;
  bool in_order = true;
  while (received < kTotal) {
    if ((reg(kLsr) & kLsrDr) == 0) continue;
    in_order = in_order && reg(kRbr) == received % 251;
    ++received;
  }
  host.join();

  EXPECT_TRUE(in_order);
  EXPECT_EQ(uart_.stats().rx_overrun_bytes, 0u);
}

}  // namespace
}  // namespace kvpc
