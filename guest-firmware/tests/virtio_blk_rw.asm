; virtio_blk_rw.asm - write-then-read-back through the first virtio-blk disk (blob
; virtio_blk_rw, kvpc64). Drives the legacy virtio PCI transport the way SeaBIOS and Linux do:
; find 1af4:1001 on bus 0, BAR0 I/O, enable I/O + bus mastering, reset, ACKNOWLEDGE|DRIVER,
; accept FLUSH, queue 0 (size 256) at RING, DRIVER_OK; then three requests, each polled on
; the used ring (no interrupts):
;   1. OUT  sector TEST_SECTOR, 1024 bytes, byte i = (i * 7 + 0x3D) & 0xFF
;   2. IN   the same two sectors into a zeroed buffer; compared with what was written
;   3. FLUSH
; Exit (out 0x501): 0x44 success (status 137); failures 0x50 no device, 0x51 queue size,
; 0x52 OUT status, 0x53 IN status, 0x54 IN length, 0x55 data mismatch, 0x56 FLUSH status,
; 0x57 a request never completed. The host then checks the image file holds the pattern.
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
STATUS_ACK_DRIVER equ 0x03
STATUS_DRIVER_OK  equ 0x07
FEATURE_FLUSH     equ 1 << 9
QUEUE_SIZE        equ 256

RING              equ 0x200000       ; descriptors, then avail; used at RING + USED_OFFSET
RING_BYTES        equ 0x3000
AVAIL             equ RING + 16 * QUEUE_SIZE
USED_OFFSET       equ 0x2000         ; align_up(16*256 + 6 + 2*256, 4096)
USED              equ RING + USED_OFFSET
HEADER            equ 0x204000       ; u32 type, u32 reserved, u64 sector
STATUS_BYTE       equ 0x204010
WRITE_BUF         equ 0x205000
READ_BUF          equ 0x206000
DATA_BYTES        equ 1024
TEST_SECTOR       equ 4100           ; inside the second 2 MiB block of a dynamic VHD

DESC_NEXT         equ 1
DESC_WRITE        equ 2
REQ_IN            equ 0
REQ_OUT           equ 1
REQ_FLUSH         equ 4
POLL_LIMIT        equ 200000000

start:
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

    xor r12d, r12d                            ; R12 = requests published so far
    mov eax, REQ_OUT
    mov r8d, WRITE_BUF
    mov r9d, DATA_BYTES
    xor r10d, r10d                            ; data is device-readable
    call request
    cmp al, 0
    mov al, 0x52
    jne exit

    mov eax, REQ_IN
    mov r8d, READ_BUF
    mov r9d, DATA_BYTES
    mov r10d, DESC_WRITE
    call request
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
    call request
    cmp al, 0
    mov al, 0x56
    jne exit
    mov al, 0x44

exit:
    mov dx, PORT_DEBUG_EXIT
    out dx, al
    ud2

; request: EAX = type, R8 = data address, R9D = data length (0: no data descriptor),
; R10W = data descriptor flags (0 or DESC_WRITE). Builds descriptors 0..2 (header, data,
; status), publishes head 0, kicks, and polls the used ring. Returns AL = status byte and
; R13D = the used length; on timeout it exits with 0x57. Clobbers RAX, RCX, RDX, RDI, R13.
request:
    mov dword [abs HEADER], eax
    mov dword [abs HEADER + 4], 0
    mov qword [abs HEADER + 8], TEST_SECTOR
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
    lea eax, [r12d - 1]                       ; the element just completed
    and eax, QUEUE_SIZE - 1
    mov r13d, [USED + 4 + rax * 8 + 4]
    mov al, [abs STATUS_BYTE]
    ret

%include "pci.inc"

KVPC64_IMAGE_END
