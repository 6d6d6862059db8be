// integration/protocol/protocol.inc (for the nasm agent) must say exactly what protocol.h says.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "integration/protocol.h"

namespace kvpc::testing {
namespace {

using namespace proto;

std::map<std::string, uint64_t> cpp_constants() {
  auto u = [](auto v) { return static_cast<uint64_t>(static_cast<uint32_t>(v)); };
  return {
      {"VENDOR_ID", kVendorId}, {"DEVICE_ID", kDeviceId}, {"REVISION", kRevision}, {"CLASS_CODE", kClassCode},
      {"SUBSYSTEM_VENDOR_ID", kSubsystemVendorId}, {"SUBSYSTEM_ID", kSubsystemId}, {"BAR0_SIZE", kBar0Size},
      {"DEFAULT_BAR0_PORT", kDefaultBar0Port}, {"INTERRUPT_PIN", kInterruptPinIntA},
      {"REG_MAGIC", kRegMagic}, {"REG_DEVICE_VERSION", kRegDeviceVersion}, {"REG_RING_GPA_LO", kRegRingGpaLo},
      {"REG_RING_GPA_HI", kRegRingGpaHi}, {"REG_RING_PAGES", kRegRingPages}, {"REG_CONTROL", kRegControl},
      {"REG_DOORBELL", kRegDoorbell}, {"REG_ISR", kRegIsr}, {"REG_STATUS", kRegStatus},
      {"REG_ERROR_COUNT", kRegErrorCount}, {"MAGIC", kMagic}, {"DEVICE_VERSION", kDeviceVersion},
      {"CONTROL_ATTACH", kControlAttach}, {"CONTROL_RESET", kControlReset}, {"ISR_RX", kIsrRx},
      {"ISR_RESET", kIsrReset}, {"STATUS_ATTACHED", kStatusAttached}, {"STATUS_ERROR_SHIFT", kStatusErrorShift},
      {"STATUS_ERROR_MASK", kStatusErrorMask}, {"PAGE_SIZE", kPageSize}, {"MIN_RING_PAGES", kMinRingPages},
      {"MAX_RING_PAGES", kMaxRingPages}, {"TX_WRITE", kTxWriteOffset}, {"TX_READ", kTxReadOffset},
      {"RX_WRITE", kRxWriteOffset}, {"RX_READ", kRxReadOffset}, {"RX_INTERRUPT_MASK", kRxInterruptMaskOffset},
      {"PACKET_HEADER_SIZE", kPacketHeaderSize}, {"PACKET_ALIGNMENT", kPacketAlignment},
      {"MIN_PAYLOAD", kMinPayload}, {"MAX_PAYLOAD", kMaxPayload}, {"MAX_PACKET", kMaxPacket},
      {"PKT_CHANNEL", kPacketChannelOffset}, {"PKT_RESERVED", kPacketReservedOffset},
      {"PKT_LENGTH", kPacketLengthOffset}, {"MESSAGE_HEADER_SIZE", kMessageHeaderSize},
      {"FRAMEWORK_VERSION", kFrameworkVersion}, {"MESSAGE_VERSION", kMessageVersion},
      {"FLAG_REQUEST", kFlagRequest}, {"FLAG_RESPONSE", kFlagResponse}, {"FLAG_NOTIFICATION", kFlagNotification},
      {"MAX_BODY", kMaxBody}, {"HDR_FRAMEWORK_VERSION", kHeaderFrameworkOffset}, {"HDR_TYPE", kHeaderTypeOffset},
      {"HDR_VERSION", kHeaderVersionOffset}, {"HDR_FLAGS", kHeaderFlagsOffset}, {"HDR_SIZE", kHeaderSizeOffset},
      {"HDR_STATUS", kHeaderStatusOffset}, {"HDR_TRANSACTION_ID", kHeaderTransactionOffset},
      {"HDR_RESERVED", kHeaderReservedOffset}, {"CONTROL_CHANNEL", kControlChannel},
      {"HEARTBEAT_CHANNEL", kHeartbeatChannel}, {"OS_INFO_CHANNEL", kOsInfoChannel},
      {"SHUTDOWN_CHANNEL", kShutdownChannel}, {"TIME_SYNC_CHANNEL", kTimeSyncChannel},
      {"SERVICE_HEARTBEAT", kServiceHeartbeat}, {"SERVICE_OS_INFO", kServiceOsInfo},
      {"SERVICE_SHUTDOWN", kServiceShutdown}, {"SERVICE_TIME_SYNC", kServiceTimeSync}, {"MSG_HELLO", kMsgHello},
      {"MSG_OFFER", kMsgOffer}, {"MSG_OPEN", kMsgOpen}, {"MSG_CLOSE", kMsgClose}, {"MSG_NEGOTIATE", kMsgNegotiate},
      {"HOST_VERSION", kHostVersion}, {"AGENT_NAME_SIZE", kAgentNameSize},
      {"FEATURE_HEARTBEAT", kFeatureHeartbeat}, {"FEATURE_OS_INFO", kFeatureOsInfo},
      {"FEATURE_SHUTDOWN", kFeatureShutdown}, {"FEATURE_RESTART", kFeatureRestart},
      {"FEATURE_LOGOFF", kFeatureLogoff}, {"FEATURE_TIME_SYNC", kFeatureTimeSync},
      {"FEATURE_SESSION_LIST", kFeatureSessionList}, {"MSG_BEAT", kMsgBeat}, {"MSG_OS_INFO_GET", kMsgOsInfoGet},
      {"MSG_OS_INFO_CHANGED", kMsgOsInfoChanged}, {"MSG_SHUTDOWN", kMsgShutdown}, {"MSG_RESTART", kMsgRestart},
      {"MSG_LOGOFF", kMsgLogoff}, {"MSG_PROGRESS", kMsgProgress}, {"MSG_COMPLETE", kMsgComplete},
      {"MSG_SESSIONS", kMsgSessions}, {"MSG_SESSION_CHANGED", kMsgSessionChanged}, {"MSG_TIME", kMsgTime},
      {"SHUTDOWN_FLAG_FORCED", kShutdownFlagForced}, {"SESSION_NAME_SIZE", kSessionNameSize},
      {"MAX_SESSIONS", kMaxSessions}, {"MAX_PACKETS_PER_DOORBELL", kMaxPacketsPerDoorbell},
      {"MAX_QUEUED_MESSAGES", kMaxQueuedMessages},
      {"ERR_NONE", u(LinkError::kNone)}, {"ERR_ATTACH", u(LinkError::kAttach)},
      {"ERR_TX_INDICES", u(LinkError::kTxIndices)}, {"ERR_PACKET_LENGTH", u(LinkError::kPacketLength)},
      {"ERR_MESSAGE_SIZE", u(LinkError::kMessageSize)}, {"ERR_UNKNOWN_CHANNEL", u(LinkError::kUnknownChannel)},
      {"ERR_CHANNEL_NOT_READY", u(LinkError::kChannelNotReady)},
      {"ERR_UNKNOWN_MESSAGE", u(LinkError::kUnknownMessage)},
      {"ERR_MALFORMED_MESSAGE", u(LinkError::kMalformedMessage)}, {"ERR_RX_OVERFLOW", u(LinkError::kRxOverflow)},
      {"ERR_RX_INDICES", u(LinkError::kRxIndices)}, {"ERR_UNEXPECTED_MESSAGE", u(LinkError::kUnexpectedMessage)},
      {"S_OK", u(S_OK)}, {"E_NOTIMPL", u(E_NOTIMPL)}, {"E_FAIL", u(E_FAIL)}, {"E_INVALIDARG", u(E_INVALIDARG)},
      {"E_ACCESSDENIED", u(E_ACCESSDENIED)}, {"E_NOT_READY", u(E_NOT_READY)}, {"E_BUSY", u(E_BUSY)},
      {"E_SHUTDOWN_IN_PROGRESS", u(E_SHUTDOWN_IN_PROGRESS)}, {"E_MACHINE_LOCKED", u(E_MACHINE_LOCKED)},
      {"E_NO_SUCH_LOGON_SESSION", u(E_NO_SUCH_LOGON_SESSION)}, {"E_INVALID_STATE", u(E_INVALID_STATE)},
  };
}

std::map<std::string, uint64_t> inc_constants(const std::string& text) {
  std::map<std::string, uint64_t> out;
  std::regex line(R"(^\s*KVIC_([A-Z0-9_]+)\s+equ\s+(0x[0-9A-Fa-f]+|[0-9]+)\s*(;.*)?$)");
  std::istringstream in(text);
  std::string s;
  while (std::getline(in, s)) {
    std::smatch m;
    if (std::regex_match(s, m, line)) out[m[1]] = std::stoull(m[2], nullptr, 0);
  }
  return out;
}

TEST(ProtocolInc, EveryConstantMatchesTheCppHeaderBothWays) {
  std::ifstream file(std::string(KVPC_SOURCE_DIR) + "/integration/protocol/protocol.inc");
  ASSERT_TRUE(file) << "cannot open protocol.inc";
  std::stringstream text;
  text << file.rdbuf();
  auto inc = inc_constants(text.str());
  auto cpp = cpp_constants();
  for (const auto& [name, value] : inc) {
    auto it = cpp.find(name);
    if (it == cpp.end()) {
      ADD_FAILURE() << "KVIC_" << name << " is in protocol.inc but not checked against protocol.h";
      continue;
    }
    EXPECT_EQ(value, it->second) << "KVIC_" << name;
  }
  for (const auto& [name, value] : cpp) EXPECT_TRUE(inc.count(name)) << "KVIC_" << name << " missing from protocol.inc";
  // Every "equ" line must have been understood (no constant silently skipped by the parser).
  size_t equ_lines = 0;
  std::istringstream lines(text.str());
  for (std::string s; std::getline(lines, s);) {
    if (s.rfind("KVIC_", 0) == 0 && s.find(" equ ") != std::string::npos) ++equ_lines;
  }
  EXPECT_EQ(equ_lines, inc.size());
}

}  // namespace
}  // namespace kvpc::testing
