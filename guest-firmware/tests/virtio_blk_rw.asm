; virtio_blk_rw.asm - write-then-read-back through the first virtio-blk disk (blob
; virtio_blk_rw, kvpc64). Sets the disk up with virtio_blk_legacy.inc (the legacy virtio PCI
; transport, driven as SeaBIOS and Linux do), then three requests, each polled on the used
; ring (no interrupts):
;   1. OUT  sector TEST_SECTOR, 1024 bytes, byte i = (i * 7 + 0x3D) & 0xFF
;   2. IN   the same two sectors into a zeroed buffer; compared with what was written
;   3. FLUSH
; Exit (out 0x501): 0x44 success (status 137); failures 0x50 no device, 0x51 queue size,
; 0x52 OUT status, 0x53 IN status, 0x54 IN length, 0x55 data mismatch, 0x56 FLUSH status,
; 0x57 a request never completed. The host then checks the image file holds the pattern.
%include "kvpc64.inc"
%include "board.inc"

KVPC64_IMAGE 0x100000, start, 0x1F0000

WRITE_BUF         equ 0x205000
READ_BUF          equ 0x206000
DATA_BYTES        equ 1024
TEST_SECTOR       equ 4100           ; inside the second 2 MiB block of a dynamic VHD

start:
    call virtio_blk_setup                     ; EBX = BAR0 I/O base, R12D = 0

    mov edi, WRITE_BUF                        ; the pattern, and a zeroed read buffer
    xor ecx, ecx
.fill:
    imul eax, ecx, 7
    add eax, 0x3D
    mov [rdi + rcx], al
    mov byte [rdi + rcx + (READ_BUF - WRITE_BUF)], 0
    inc ecx
    cmp ecx, DATA_BYTES
    jb .fill

    mov eax, REQ_OUT
    mov r8d, WRITE_BUF
    mov r9d, DATA_BYTES
    xor r10d, r10d                            ; data is device-readable
    mov r11d, TEST_SECTOR
    call virtio_blk_request
    cmp al, 0
    mov al, 0x52
    jne exit

    mov eax, REQ_IN
    mov r8d, READ_BUF
    mov r9d, DATA_BYTES
    mov r10d, DESC_WRITE
    mov r11d, TEST_SECTOR
    call virtio_blk_request
    cmp al, 0
    mov al, 0x53
    jne exit
    cmp r13d, DATA_BYTES + 1                  ; used length: the data and the status byte
    mov al, 0x54
    jne exit
    mov esi, WRITE_BUF
    mov edi, READ_BUF
    mov ecx, DATA_BYTES
    repe cmpsb
    mov al, 0x55
    jne exit

    mov eax, REQ_FLUSH
    xor r9d, r9d                              ; no data descriptor
    mov r11d, TEST_SECTOR
    call virtio_blk_request
    cmp al, 0
    mov al, 0x56
    jne exit
    mov al, 0x44

exit:
    mov dx, PORT_DEBUG_EXIT
    out dx, al
    ud2

%include "pci.inc"
%include "virtio_blk_legacy.inc"

KVPC64_IMAGE_END
