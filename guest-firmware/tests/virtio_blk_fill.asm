; virtio_blk_fill.asm - fill the first virtio-blk disk until the host refuses a write (blob
; virtio_blk_fill, kvpc64). The disk-full fault test (tests/e2e/disk_full_test.cc) puts the
; image on a file system too small for it; this guest shows what the guest sees.
;
; Same transport set-up as virtio_blk_rw.asm (legacy virtio PCI, queue 0 of 256 at RING,
; requests polled on the used ring, no interrupts). Then:
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

VIRTIO_BLK_ID     equ 0x10011AF4     ; device 1001 << 16 | vendor 1af4
VP_HOST_FEATURES  equ 0x00
VP_GUEST_FEATURES equ 0x04
VP_QUEUE_PFN      equ 0x08
VP_QUEUE_SIZE     equ 0x0C
VP_QUEUE_SELECT   equ 0x0E
VP_QUEUE_NOTIFY   equ 0x10
VP_STATUS         equ 0x12
VP_CAPACITY       equ 0x14           ; device config: u64 capacity in sectors
STATUS_ACK_DRIVER equ 0x03
STATUS_DRIVER_OK  equ 0x07
FEATURE_FLUSH     equ 1 << 9
QUEUE_SIZE        equ 256

RING              equ 0x200000
RING_BYTES        equ 0x3000
AVAIL             equ RING + 16 * QUEUE_SIZE
USED_OFFSET       equ 0x2000
USED              equ RING + USED_OFFSET
HEADER            equ 0x204000       ; u32 type, u32 reserved, u64 sector
STATUS_BYTE       equ 0x204010
WRITE_BUF         equ 0x210000
READ_BUF          equ 0x220000
CHUNK_BYTES       equ 0x10000
CHUNK_SECTORS     equ CHUNK_BYTES / 512
PATTERN_TAG       equ 0xD15C000000000000

DESC_NEXT         equ 1
DESC_WRITE        equ 2
REQ_IN            equ 0
REQ_OUT           equ 1
REQ_FLUSH         equ 4
POLL_LIMIT        equ 200000000

start:
    call serial_init
    mov eax, VIRTIO_BLK_ID
    call pci_find
    mov al, 0x50
    jc exit
    mov edi, PCI_REG_BAR0
    call pci_read32
    and eax, PCI_BAR_IO_MASK
    mov ebx, eax                              ; EBX = BAR0 I/O base for the rest
    mov edi, PCI_REG_COMMAND
    mov ax, PCI_COMMAND_IO | PCI_COMMAND_BUS_MASTER
    call pci_write16

    lea edx, [rbx + VP_STATUS]
    xor eax, eax
    out dx, al                                ; reset
    mov al, STATUS_ACK_DRIVER
    out dx, al
    lea edx, [rbx + VP_HOST_FEATURES]
    in eax, dx
    and eax, FEATURE_FLUSH
    lea edx, [rbx + VP_GUEST_FEATURES]
    out dx, eax
    lea edx, [rbx + VP_QUEUE_SELECT]
    xor eax, eax
    out dx, ax
    lea edx, [rbx + VP_QUEUE_SIZE]
    in ax, dx
    cmp ax, QUEUE_SIZE
    mov al, 0x51
    jne exit

    mov edi, RING                             ; a fresh queue is all zeros
    mov ecx, RING_BYTES / 8
    xor eax, eax
    rep stosq
    lea edx, [rbx + VP_QUEUE_PFN]
    mov eax, RING >> 12
    out dx, eax
    lea edx, [rbx + VP_STATUS]
    mov al, STATUS_DRIVER_OK
    out dx, al

    lea edx, [rbx + VP_CAPACITY]              ; R15 = capacity in sectors
    in eax, dx
    mov r15d, eax
    add edx, 4
    in eax, dx
    shl rax, 32
    or r15, rax

    xor r12d, r12d                            ; R12 = requests published so far
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
    call request
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
    call request
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
    call request
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

; request: EAX = type, R8 = data address, R9D = data length (0: no data descriptor),
; R10W = data descriptor flags (0 or DESC_WRITE), R11 = sector. Builds descriptors 0..2
; (header, data, status), publishes head 0, kicks, and polls the used ring. Returns AL =
; status byte; on timeout it exits with 0x57. Clobbers RAX, RCX, RDX, RDI.
request:
    mov dword [abs HEADER], eax
    mov dword [abs HEADER + 4], 0
    mov qword [abs HEADER + 8], r11
    mov byte [abs STATUS_BYTE], 0xFF
    mov edi, RING
    mov qword [rdi], HEADER                   ; descriptor 0: header
    mov dword [rdi + 8], 16
    mov word [rdi + 12], DESC_NEXT
    mov word [rdi + 14], 1
    test r9d, r9d
    jnz .with_data
    mov word [rdi + 14], 2                    ; no data: header -> status
.with_data:
    mov [rdi + 16], r8                        ; descriptor 1: data
    mov [rdi + 16 + 8], r9d
    mov ax, r10w
    or ax, DESC_NEXT
    mov [rdi + 16 + 12], ax
    mov word [rdi + 16 + 14], 2
    mov qword [rdi + 32], STATUS_BYTE         ; descriptor 2: status
    mov dword [rdi + 32 + 8], 1
    mov word [rdi + 32 + 12], DESC_WRITE
    mov word [rdi + 32 + 14], 0

    movzx eax, r12w                           ; avail.ring[idx % 256] = 0, then idx + 1
    and eax, QUEUE_SIZE - 1
    mov word [AVAIL + 4 + rax * 2], 0
    inc r12d
    mov [abs AVAIL + 2], r12w
    lea edx, [rbx + VP_QUEUE_NOTIFY]
    xor eax, eax
    out dx, ax

    mov ecx, POLL_LIMIT
.poll:
    cmp [abs USED + 2], r12w
    je .done
    pause
    dec ecx
    jnz .poll
    mov al, 0x57
    jmp exit
.done:
    mov al, [abs STATUS_BYTE]
    ret

%include "pci.inc"
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
