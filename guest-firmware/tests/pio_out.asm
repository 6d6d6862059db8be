; pio_out.asm - port-output exits of every width (blob pio_out, kvpc64).
; Exit sequence: out 0xE9 'O', out 0xE9 'K', out 0xE9 '\n' (three 1-byte writes),
; out 0x510 <- 0xBEEF (2 bytes), out 0x514 <- 0xDEADBEEF (4 bytes),
; out 0x501 <- 0x10 (1 byte): kvpc exits with status 0x21.
%include "kvpc64.inc"
%include "board.inc"

KVPC64_IMAGE 0x100000, start

TEST_PORT_WORD  equ 0x510
TEST_PORT_DWORD equ 0x514
EXIT_CODE       equ 0x10

start:
    mov al, 'O'
    out PORT_DEBUGCON, al
    mov al, 'K'
    out PORT_DEBUGCON, al
    mov al, `\n`
    out PORT_DEBUGCON, al
    mov dx, TEST_PORT_WORD
    mov ax, 0xBEEF
    out dx, ax
    mov dx, TEST_PORT_DWORD
    mov eax, 0xDEADBEEF
    out dx, eax
    DEBUG_EXIT EXIT_CODE
    ud2                         ; exit ignored: no IDT is loaded, so this triple-faults

KVPC64_IMAGE_END
