; pio_in.asm - port-input exits (blob pio_in, kvpc64).
; Exit sequence: in 0xE9 (1 byte; debugcon answers 0xE9), out 0xE9 <- the byte read,
; in 0x5F0 (1 byte; unclaimed, reads all ones), out 0x501 <- (that byte & 0x7F).
; With kvpc's all-ones policy: debugcon output 0xE9, exit status (0x7F << 1) | 1 = 0xFF.
%include "kvpc64.inc"
%include "board.inc"

KVPC64_IMAGE 0x100000, start

PORT_UNCLAIMED  equ 0x5F0
EXIT_CODE_MASK  equ 0x7F       ; isa-debug-exit statuses must fit in 8 bits

start:
    in al, PORT_DEBUGCON
    out PORT_DEBUGCON, al
    mov dx, PORT_UNCLAIMED
    in al, dx
    and al, EXIT_CODE_MASK
    mov dx, PORT_DEBUG_EXIT
    out dx, al
    ud2                         ; exit ignored: no IDT is loaded, so this triple-faults

KVPC64_IMAGE_END
