; triple_fault.asm - a guest that triple-faults (blob triple_fault, kvpc64).
; Exit sequence: no port or MMIO access at all. It loads an IDT with limit 0 and executes
; ud2: #UD cannot be delivered -> #GP -> #DF -> triple fault (shutdown), which kvpc
; reports as a triple fault / reset of the VM.
%include "kvpc64.inc"

KVPC64_IMAGE 0x100000, start

start:
    lidt [zero_idt]
    ud2

section .rodata
zero_idt:
    dw 0                        ; limit 0: not even vector 0 fits
    dq 0

KVPC64_IMAGE_END
