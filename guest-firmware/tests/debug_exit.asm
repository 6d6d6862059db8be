; debug_exit.asm - the smallest clean exit (blob debug_exit, kvpc64).
; Exit sequence: out 0x501 <- 0x31 (1 byte): exit status (0x31 << 1) | 1 = 0x63 (99).
%include "kvpc64.inc"
%include "board.inc"

KVPC64_IMAGE 0x100000, start

EXIT_CODE equ 0x31

start:
    DEBUG_EXIT EXIT_CODE
    ud2                         ; exit ignored: no IDT is loaded, so this triple-faults

KVPC64_IMAGE_END
