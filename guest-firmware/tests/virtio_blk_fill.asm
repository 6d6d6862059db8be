; virtio_blk_fill.asm - fill the first virtio-blk disk until the host refuses a write (blob
; virtio_blk_fill, kvpc64). The disk-full fault test (tests/e2e/disk_full_test.cc) puts the
; image on a file system too small for it; this guest shows what the guest sees.
;
; The disk is set up by virtio_blk_legacy.inc (legacy virtio PCI, queue 0 of 256, requests
; polled on the used ring, no interrupts), as in virtio_blk_rw.asm. Then:
;   1. OUT requests of CHUNK_BYTES each at sectors 0, 128, 256, ... until one completes
;      with a status other than VIRTIO_BLK_S_OK or the disk's capacity is reached. Chunk i
;      holds the qwords PATTERN_TAG | i << 16 | j (j = qword index 0..8191), so the host can
;      check every acknowledged chunk byte for byte and tell chunks apart.
;   2. IN of the last acknowledged chunk, compared with its pattern (the device still
;      serves requests after an error).
;   3. FLUSH.
; Serial (COM1), one line each:
;   "fill: ok=N status=S"     N chunks acknowledged, S the first failing status (or "none")
;   "readback: status=S match=M"   (only when N > 0; M = 1 if the bytes matched)
;   "flush: status=S"
;   "fill: waiting"
; then it polls COM1 for a 'q' from the host and exits (out 0x501) with 0x44 (status 137).
; Setup failures exit at once: 0x50 no device, 0x51 queue size, 0x57 a request never
; completed (the host hung it).
%include "kvpc64.inc"
%include "board.inc"

KVPC64_IMAGE 0x100000, start, 0x1F0000

WRITE_BUF         equ 0x210000
READ_BUF          equ 0x220000
CHUNK_BYTES       equ 0x10000
CHUNK_SECTORS     equ CHUNK_BYTES / 512
PATTERN_TAG       equ 0xD15C000000000000

start:
    call serial_init
    call virtio_blk_setup                     ; EBX = BAR0 I/O base, R12D = 0

    lea edx, [rbx + VP_CAPACITY]              ; R15 = capacity in sectors
    in eax, dx
    mov r15d, eax
    add edx, 4
    in eax, dx
    shl rax, 32
    or r15, rax

    xor r14d, r14d                            ; R14 = chunks acknowledged
    mov byte [abs fail_status], 0xFF          ; 0xFF: no failure yet
.next_chunk:
    mov rax, r14                              ; stop at the end of the disk
    inc rax
    imul rax, rax, CHUNK_SECTORS
    cmp rax, r15
    ja .filled
    mov rax, r14
    mov edi, WRITE_BUF
    call fill_pattern
    mov eax, REQ_OUT
    mov r8d, WRITE_BUF
    mov r9d, CHUNK_BYTES
    xor r10d, r10d                            ; data is device-readable
    imul r11, r14, CHUNK_SECTORS
    call virtio_blk_request
    test al, al
    jnz .refused
    inc r14
    jmp .next_chunk
.refused:
    mov [abs fail_status], al
.filled:
    mov rsi, msg_fill_ok
    call serial_puts
    mov rax, r14
    call serial_put_dec
    mov rsi, msg_status
    call serial_puts
    movzx eax, byte [abs fail_status]
    cmp al, 0xFF
    jne .numeric
    mov rsi, msg_none
    call serial_puts
    jmp .fill_line_done
.numeric:
    call serial_put_dec
.fill_line_done:
    mov al, 10
    call serial_putc

    test r14, r14                             ; read the last acknowledged chunk back
    jz .flush
    lea rax, [r14 - 1]
    mov edi, READ_BUF + CHUNK_BYTES           ; expected bytes next to the read buffer
    call fill_pattern
    mov edi, READ_BUF
    mov ecx, CHUNK_BYTES / 8
    xor eax, eax
    rep stosq
    mov eax, REQ_IN
    mov r8d, READ_BUF
    mov r9d, CHUNK_BYTES
    mov r10d, DESC_WRITE
    lea r11, [r14 - 1]
    imul r11, r11, CHUNK_SECTORS
    call virtio_blk_request
    movzx r13d, al
    mov rsi, msg_readback
    call serial_puts
    mov eax, r13d
    call serial_put_dec
    mov rsi, msg_match
    call serial_puts
    mov esi, READ_BUF
    mov edi, READ_BUF + CHUNK_BYTES
    mov ecx, CHUNK_BYTES
    repe cmpsb
    sete al
    movzx eax, al
    call serial_put_dec
    mov al, 10
    call serial_putc

.flush:
    mov eax, REQ_FLUSH
    xor r9d, r9d                              ; no data descriptor
    xor r11d, r11d
    call virtio_blk_request
    movzx r13d, al
    mov rsi, msg_flush
    call serial_puts
    mov eax, r13d
    call serial_put_dec
    mov al, 10
    call serial_putc
    mov rsi, msg_waiting
    call serial_puts

.wait_for_quit:                               ; idle politely: one LSR read per PAUSE burst
    mov ecx, 20000
.idle:
    pause
    dec ecx
    jnz .idle
    mov dx, PORT_COM1 + UART_LSR
    in al, dx
    test al, LSR_DATA_READY
    jz .wait_for_quit
    mov dx, PORT_COM1 + UART_RBR
    in al, dx
    cmp al, 'q'
    jne .wait_for_quit
    mov al, 0x44

exit:
    mov dx, PORT_DEBUG_EXIT
    out dx, al
    ud2

; fill_pattern: RAX = chunk index, RDI = buffer -> CHUNK_BYTES of qwords
; PATTERN_TAG | index << 16 | qword number. Clobbers RAX, RCX, RDX, RDI.
fill_pattern:
    shl rax, 16
    mov rdx, PATTERN_TAG
    or rax, rdx
    xor ecx, ecx
.qword:
    mov [rdi + rcx * 8], rax
    inc rax
    inc ecx
    cmp ecx, CHUNK_BYTES / 8
    jb .qword
    ret

%include "pci.inc"
%include "virtio_blk_legacy.inc"
%include "serial.inc"

section .rodata
msg_fill_ok:  db "fill: ok=", 0
msg_status:   db " status=", 0
msg_none:     db "none", 0
msg_readback: db "readback: status=", 0
msg_match:    db " match=", 0
msg_flush:    db "flush: status=", 0
msg_waiting:  db "fill: waiting", 10, 0

section .data
fail_status:  db 0

KVPC64_IMAGE_END
