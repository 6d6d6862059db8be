; string_io.asm - string port I/O (blob string_io, kvpc64).
; Exit sequence: one `rep outsb` of the 13 bytes "hello, world\n" to port 0xE9 (byte
; writes, count 13), then out 0x501 <- 0x11: exit status 0x23.
%include "kvpc64.inc"
%include "board.inc"

KVPC64_IMAGE 0x100000, start

EXIT_CODE equ 0x11

start:
    lea rsi, [message]
    mov ecx, message_len
    mov dx, PORT_DEBUGCON
    cld
    rep outsb
    DEBUG_EXIT EXIT_CODE
    ud2                         ; exit ignored: no IDT is loaded, so this triple-faults

section .rodata
message:     db `hello, world\n`
message_len  equ $ - message

KVPC64_IMAGE_END
