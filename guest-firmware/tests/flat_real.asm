; flat_real.asm - a real-mode flat binary (blob flat_real). kvpc loads it at 0x10000 and
; starts it at 1000:0000 (SP 0x8000); real mode only runs under KVM.
; Exit sequence: out 0xE9 of 'f','l','a','t','\n' (five 1-byte writes), then
; out 0x501 <- 0x21 (status 0x43).
bits 16
org 0

%include "board.inc"

EXIT_CODE equ 0x21

start:
    mov si, message                 ; CS-relative: DS is not part of the flat contract
    mov cx, message_len
    mov dx, PORT_DEBUGCON
.next:
    mov al, [cs:si]
    out dx, al
    inc si
    loop .next
    DEBUG_EXIT EXIT_CODE
    cli                             ; exit ignored: zero-limit IDT + ud2 = shutdown
    lidt [cs:zero_idt]
    ud2

message:     db `flat\n`
message_len  equ $ - message
zero_idt:    dw 0
             dd 0
