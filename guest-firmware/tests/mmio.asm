; mmio.asm - MMIO exits (blob mmio, kvpc64).
; Exit sequence: 4-byte write of 0x12345678 to guest-physical 0xD0000000, 1-byte read
; from 0xD0000010, out 0x501 <- (byte read & 0x7F). Nothing claims that range by
; default, so the read gives 0xFF and the exit status is 0xFF; a test device mapped
; there decides the status instead.
%include "kvpc64.inc"
%include "board.inc"

KVPC64_IMAGE 0x100000, start

MMIO_TEST_BASE  equ 0xD0000000
MMIO_TEST_READ  equ 0x10
EXIT_CODE_MASK  equ 0x7F

start:
    ; Through a register: an absolute disp32 would be sign-extended to 0xFFFFFFFFD0000000.
    mov ebx, MMIO_TEST_BASE
    mov dword [rbx], 0x12345678
    mov al, [rbx + MMIO_TEST_READ]
    and al, EXIT_CODE_MASK
    mov dx, PORT_DEBUG_EXIT
    out dx, al
    ud2                         ; exit ignored: no IDT is loaded, so this triple-faults

KVPC64_IMAGE_END
