; Byte-exact integration-protocol packets (docs/integration-protocol.md section 9).
; Assembled into the blob protocol_vectors; tests/unit/integration/ finds each by name through
; the index at the start (layout in vectors.inc) and checks the C++ codec and the host against it.
; The story they tell: agent "kvpc-agent" with every feature says HELLO (txid 1), opens and
; negotiates the shutdown channel (txids 2, 3), the host asks for sessions (host txid 1), then
; a LOGOFF (host txid 7) over two sessions, "alice" and "bob".

%include "../integration/protocol/protocol.inc"
%include "../integration/protocol/vectors.inc"

bits 64
org 0

kvic_vector_index \
  hello_request, hello_response, offer_heartbeat, offer_os_info, offer_shutdown, offer_time_sync, \
  open_shutdown_request, open_shutdown_response, negotiate_shutdown_request, negotiate_shutdown_response, \
  sessions_request, sessions_response, \
  beat_request, beat_response, os_info_get_request, os_info_get_response, \
  logoff_request, logoff_ack, progress_alice, progress_bob, complete_ok, complete_no_session, \
  bad_length_short, bad_length_long, bad_size_mismatch, bad_flags, bad_framework, unknown_channel_request

; --- Handshake -----------------------------------------------------------------------------------
kvic_vector hello_request
  kvic_packet KVIC_CONTROL_CHANNEL, KVIC_MSG_HELLO, KVIC_FLAG_REQUEST, KVIC_S_OK, 1
    dd 1, 0x7F
    kvic_fixed_string 'kvpc-agent', KVIC_AGENT_NAME_SIZE
  kvic_end_packet
kvic_vector_end hello_request

kvic_vector hello_response
  kvic_packet KVIC_CONTROL_CHANNEL, KVIC_MSG_HELLO, KVIC_FLAG_RESPONSE, KVIC_S_OK, 1
    dd KVIC_HOST_VERSION, 4
  kvic_end_packet
kvic_vector_end hello_response

%macro offer_vector 2  ; name, channel/service
kvic_vector %1
  kvic_packet KVIC_CONTROL_CHANNEL, KVIC_MSG_OFFER, KVIC_FLAG_NOTIFICATION, KVIC_S_OK, 0
    dw %2, %2, 1, 1
  kvic_end_packet
kvic_vector_end %1
%endmacro
offer_vector offer_heartbeat, KVIC_HEARTBEAT_CHANNEL
offer_vector offer_os_info, KVIC_OS_INFO_CHANNEL
offer_vector offer_shutdown, KVIC_SHUTDOWN_CHANNEL
offer_vector offer_time_sync, KVIC_TIME_SYNC_CHANNEL

kvic_vector open_shutdown_request
  kvic_packet KVIC_CONTROL_CHANNEL, KVIC_MSG_OPEN, KVIC_FLAG_REQUEST, KVIC_S_OK, 2
    dw KVIC_SHUTDOWN_CHANNEL, 0
  kvic_end_packet
kvic_vector_end open_shutdown_request

kvic_vector open_shutdown_response
  kvic_packet KVIC_CONTROL_CHANNEL, KVIC_MSG_OPEN, KVIC_FLAG_RESPONSE, KVIC_S_OK, 2
    dw KVIC_SHUTDOWN_CHANNEL, 0
  kvic_end_packet
kvic_vector_end open_shutdown_response

kvic_vector negotiate_shutdown_request
  kvic_packet KVIC_CONTROL_CHANNEL, KVIC_MSG_NEGOTIATE, KVIC_FLAG_REQUEST, KVIC_S_OK, 3
    dw KVIC_SHUTDOWN_CHANNEL, 1, 1, 0
  kvic_end_packet
kvic_vector_end negotiate_shutdown_request

kvic_vector negotiate_shutdown_response
  kvic_packet KVIC_CONTROL_CHANNEL, KVIC_MSG_NEGOTIATE, KVIC_FLAG_RESPONSE, KVIC_S_OK, 3
    dw KVIC_SHUTDOWN_CHANNEL, 1
  kvic_end_packet
kvic_vector_end negotiate_shutdown_response

kvic_vector sessions_request
  kvic_packet KVIC_SHUTDOWN_CHANNEL, KVIC_MSG_SESSIONS, KVIC_FLAG_REQUEST, KVIC_S_OK, 1
  kvic_end_packet
kvic_vector_end sessions_request

kvic_vector sessions_response
  kvic_packet KVIC_SHUTDOWN_CHANNEL, KVIC_MSG_SESSIONS, KVIC_FLAG_RESPONSE, KVIC_S_OK, 1
    dd 2
    kvic_fixed_string 'alice', KVIC_SESSION_NAME_SIZE
    kvic_fixed_string 'bob', KVIC_SESSION_NAME_SIZE
  kvic_end_packet
kvic_vector_end sessions_response

; --- Services ------------------------------------------------------------------------------------
kvic_vector beat_request
  kvic_packet KVIC_HEARTBEAT_CHANNEL, KVIC_MSG_BEAT, KVIC_FLAG_REQUEST, KVIC_S_OK, 5
    dq 1
  kvic_end_packet
kvic_vector_end beat_request

kvic_vector beat_response
  kvic_packet KVIC_HEARTBEAT_CHANNEL, KVIC_MSG_BEAT, KVIC_FLAG_RESPONSE, KVIC_S_OK, 5
    dq 2
  kvic_end_packet
kvic_vector_end beat_response

kvic_vector os_info_get_request
  kvic_packet KVIC_OS_INFO_CHANNEL, KVIC_MSG_OS_INFO_GET, KVIC_FLAG_REQUEST, KVIC_S_OK, 4
  kvic_end_packet
kvic_vector_end os_info_get_request

kvic_vector os_info_get_response
  kvic_packet KVIC_OS_INFO_CHANNEL, KVIC_MSG_OS_INFO_GET, KVIC_FLAG_RESPONSE, KVIC_S_OK, 4
    db 'ComputerName=KVPC-GUEST', 0
    db 'OSName=kvpc test OS', 0
    db 'OSMajorVersion=1', 0
  kvic_end_packet
kvic_vector_end os_info_get_response

kvic_vector logoff_request
  kvic_packet KVIC_SHUTDOWN_CHANNEL, KVIC_MSG_LOGOFF, KVIC_FLAG_REQUEST, KVIC_S_OK, 7
    dd 0
  kvic_end_packet
kvic_vector_end logoff_request

kvic_vector logoff_ack
  kvic_packet KVIC_SHUTDOWN_CHANNEL, KVIC_MSG_LOGOFF, KVIC_FLAG_RESPONSE, KVIC_S_OK, 7
    dd 2
  kvic_end_packet
kvic_vector_end logoff_ack

kvic_vector progress_alice
  kvic_packet KVIC_SHUTDOWN_CHANNEL, KVIC_MSG_PROGRESS, KVIC_FLAG_NOTIFICATION, KVIC_S_OK, 0
    dd 7, 1, 2
    kvic_fixed_string 'alice', KVIC_SESSION_NAME_SIZE
  kvic_end_packet
kvic_vector_end progress_alice

kvic_vector progress_bob
  kvic_packet KVIC_SHUTDOWN_CHANNEL, KVIC_MSG_PROGRESS, KVIC_FLAG_NOTIFICATION, KVIC_S_OK, 0
    dd 7, 2, 2
    kvic_fixed_string 'bob', KVIC_SESSION_NAME_SIZE
  kvic_end_packet
kvic_vector_end progress_bob

kvic_vector complete_ok
  kvic_packet KVIC_SHUTDOWN_CHANNEL, KVIC_MSG_COMPLETE, KVIC_FLAG_NOTIFICATION, KVIC_S_OK, 0
    dd 7
  kvic_end_packet
kvic_vector_end complete_ok

kvic_vector complete_no_session
  kvic_packet KVIC_SHUTDOWN_CHANNEL, KVIC_MSG_COMPLETE, KVIC_FLAG_NOTIFICATION, KVIC_E_NO_SUCH_LOGON_SESSION, 0
    dd 7
  kvic_end_packet
kvic_vector_end complete_no_session

; --- Malformed (each written by hand: the macros only make well-formed packets) --------------------
kvic_vector bad_length_short      ; payload length 16 < 24
  dw KVIC_CONTROL_CHANNEL, 0
  dd 16
  times 16 db 0
kvic_vector_end bad_length_short

kvic_vector bad_length_long       ; payload length 4089 > 4088 (only the header is here)
  dw KVIC_CONTROL_CHANNEL, 0
  dd KVIC_MAX_PAYLOAD + 1
  dw KVIC_FRAMEWORK_VERSION, KVIC_MSG_HELLO, 1, KVIC_FLAG_REQUEST
  dd KVIC_MAX_PAYLOAD + 1 - KVIC_MESSAGE_HEADER_SIZE, 0, 9, 0
kvic_vector_end bad_length_long

kvic_vector bad_size_mismatch     ; packet says 32 bytes of payload, message says 4 of body (24 + 4 != 32)
  dw KVIC_CONTROL_CHANNEL, 0
  dd 32
  dw KVIC_FRAMEWORK_VERSION, KVIC_MSG_OPEN, 1, KVIC_FLAG_REQUEST
  dd 4, 0, 9, 0
  dd 3, 0
kvic_vector_end bad_size_mismatch

kvic_vector bad_flags             ; REQUEST | RESPONSE
  kvic_packet KVIC_CONTROL_CHANNEL, KVIC_MSG_OPEN, KVIC_FLAG_REQUEST | KVIC_FLAG_RESPONSE, KVIC_S_OK, 9
    dw KVIC_SHUTDOWN_CHANNEL, 0
  kvic_end_packet
kvic_vector_end bad_flags

kvic_vector bad_framework         ; framework_version 2
  dw KVIC_CONTROL_CHANNEL, 0
  dd KVIC_MESSAGE_HEADER_SIZE + 4
  dw 2, KVIC_MSG_OPEN, 1, KVIC_FLAG_REQUEST
  dd 4, 0, 9, 0
  dw KVIC_SHUTDOWN_CHANNEL, 0
  dd 0                            ; padding to 8
kvic_vector_end bad_framework

kvic_vector unknown_channel_request
  kvic_packet 9, 1, KVIC_FLAG_REQUEST, KVIC_S_OK, 10
  kvic_end_packet
kvic_vector_end unknown_channel_request
