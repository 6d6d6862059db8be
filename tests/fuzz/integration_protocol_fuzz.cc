// The integration protocol's pure decoders (docs/integration-protocol.md sections 3-6) on
// arbitrary bytes: each must stay inside its span, and whatever decodes must re-encode to
// a body the decoder accepts again with the same values.
#include <algorithm>

#include "integration/protocol.h"
#include "integration/ring.h"
#include "tests/fuzz/fuzz_input.h"

using namespace kvpc;
using namespace kvpc::proto;
using namespace kvpc::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  (void)decode_packet_header(bytes);
  MessageHeader header;
  PayloadCheck check = validate_payload(bytes, &header);
  if (check == PayloadCheck::kOk) {
    KVPC_FUZZ_CHECK(header.size == size - kMessageHeaderSize);
    KVPC_FUZZ_CHECK(header.is_request() || header.is_response() || header.is_notification());
  }
  if (auto hello = decode_hello_request(bytes)) {
    // char[32], NUL padded: a guest may fill all 32 bytes; the host's encoder keeps 31 + NUL.
    KVPC_FUZZ_CHECK(hello->agent_name.size() <= kAgentNameSize);
    auto again = decode_hello_request(encode(*hello));
    KVPC_FUZZ_CHECK(again && again->features == hello->features);
    if (hello->agent_name.size() < kAgentNameSize) KVPC_FUZZ_CHECK(again->agent_name == hello->agent_name);
  }
  if (auto offer = decode_offer(bytes)) KVPC_FUZZ_CHECK(decode_offer(encode(*offer))->service_id == offer->service_id);
  if (auto ref = decode_channel_ref(bytes)) KVPC_FUZZ_CHECK(decode_channel_ref(encode(*ref))->channel_id == ref->channel_id);
  if (auto negotiate = decode_negotiate_request(bytes)) {
    KVPC_FUZZ_CHECK(decode_negotiate_request(encode(*negotiate))->max_version == negotiate->max_version);
  }
  (void)decode_hello_response(bytes);
  (void)decode_negotiate_response(bytes);
  (void)decode_operation_ack(bytes);
  (void)decode_complete(bytes);
  (void)decode_u64(bytes);
  if (auto progress = decode_progress(bytes)) {
    KVPC_FUZZ_CHECK(progress->session_name.size() <= kSessionNameSize);
    auto again = decode_progress(encode(*progress));
    KVPC_FUZZ_CHECK(again && again->done == progress->done);
    if (progress->session_name.size() < kSessionNameSize) KVPC_FUZZ_CHECK(again->session_name == progress->session_name);
  }
  if (auto sessions = decode_session_list(bytes)) {
    KVPC_FUZZ_CHECK(sessions->size() <= kMaxSessions);
    bool short_names = true;
    for (const auto& name : *sessions) short_names = short_names && name.size() < kSessionNameSize;
    auto again = decode_session_list(encode_session_list(*sessions));
    KVPC_FUZZ_CHECK(again && again->size() == sessions->size());
    if (short_names) KVPC_FUZZ_CHECK(*again == *sessions);
  }
  KeyValueParse parsed = decode_key_values(bytes);
  KVPC_FUZZ_CHECK(parsed.pairs.size() <= kMaxKeyValuePairs);
  for (const auto& [key, value] : parsed.pairs) {
    KVPC_FUZZ_CHECK(!key.empty() && key.size() <= kMaxKeyLength && value.size() <= kMaxValueLength);
  }
  // Ring copies with a free-running index anywhere, over a data area of whole pages.
  FuzzInput in(bytes);
  uint32_t index = in.u32();
  std::vector<uint8_t> area(kPageSize * (1 + in.u8() % 2), 0);
  auto payload = in.bytes(area.size());
  std::vector<uint8_t> out(payload.size());
  copy_to_ring(area, index, payload);
  copy_from_ring(area, index, out);
  KVPC_FUZZ_CHECK(std::equal(out.begin(), out.end(), payload.begin()));
  return 0;
}
