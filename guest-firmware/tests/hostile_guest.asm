; hostile_guest.asm - the soak guest (blob hostile_guest, kvpc64): a hostile phase, then the
; built-in guest's well-behaved life.
;
; Command line: everything the built-in guest takes (users=, agent=, hostname=), plus
;   soak=R   rounds of hostile traffic (default 1; 0 skips the phase)
;   seed=S   xorshift64 seed (default 1; 0 is replaced by 1: xorshift never leaves 0)
;
; Boot: exactly the built-in guest's (IDT, PICs, COM1, sessions, agent ATTACH + HELLO). Then,
; with interrupts off, R rounds of (docs/security.md, "Hostile guest soak"):
;   1. every port 0-0xFFFF: a pseudo-random write of a random width (1/2/4), then a read of
;      the same width. Power ports are not skipped but defused, because their documented job
;      is to end or reset the VM, which is the guest's right and not a VMM failure: 0x501-0x502
;      (debug exit: any write exits) are only read; 0x64 never gets a pulse command that pulls
;      the reset line (0xF0-0xFF with bit 0 clear, 0xFE among them) nor 0xD1 (write output
;      port: the next 0x60 byte would drive the reset line); 0x92 never gets bit 0 (fast
;      reset); 0x605 never gets bit 5 (SLP_EN, bit 13 of PM1a_CNT).
;      Those ports are written a byte at a time, and a wider access that would reach one is
;      narrowed to a byte. The integration BAR0 window is left to step 3.
;   2. 4096 accesses of random width (1/2/4/8) at random addresses of the MMIO hole
;      0xC0000000-0xFFFFFFFF (PCI window, IOAPIC, LAPIC, high BIOS area), plus the first
;      256 bytes of the IOAPIC and LAPIC pages as dwords.
;   3. 1024 random operations on the integration device: garbage to every register at every
;      width, RESETs, CONTROL garbage, garbage PCI configuration writes, and ATTACHes of a
;      scratch ring (3..64 pages) followed by a flood of malformed, oversized, truncated and
;      well-formed-but-wrong frames, garbage ring indices and a DOORBELL. An ATTACH only ever
;      names the scratch ring: the host writes RX packets into the attached ring, and the
;      guest must survive to behave afterwards.
; Then it behaves: restores the configuration space of 00:00.0-00:03.0 as it was after boot (the
; PIIX3's PIRQ routing included) and the integration function (BAR0, command, line), re-initialises
; the PICs, ELCR and COM1, resets and re-attaches its agent on its real ring, prints
;   soak: done rounds=R accesses=N
; and serves the built-in guest's prompt and agent (Logoff works as in builtin_guest).
%define IDT_VECTORS 256
%include "kvpc64.inc"
%include "version.inc"

KVPC64_IMAGE 0x100000, hostile_start, kernel_stack_top

%include "board.inc"
%include "idt.inc"
%include "pic.inc"
%include "events.inc"
%include "serial.inc"
%include "serial_rx.inc"
%include "console.inc"
%include "bootinfo.inc"
%include "cmdline.inc"
%include "commands.inc"
%include "pci.inc"
%include "sessions.inc"
%include "agent.inc"

KERNEL_STACK_SIZE   equ 16384
SOAK_PORTS          equ 0x10000
SOAK_MMIO_BASE      equ 0xC0000000          ; the MMIO hole up to 4 GiB (identity-mapped)
SOAK_MMIO_ACCESSES  equ 4096
SOAK_IOAPIC         equ 0xFEC00000
SOAK_LAPIC          equ 0xFEE00000
SOAK_APIC_BYTES     equ 256
SOAK_DEVICE_OPS     equ 1024
SOAK_SCRATCH_PAGES  equ KVIC_MAX_RING_PAGES + 1 ; one spare page for 4 KiB alignment
SOAK_FLOOD_FRAMES   equ 16                  ; frames written per ATTACH (TX wraps if small)
SOAK_BODY_MAX       equ 64                  ; random body bytes written per frame
SOAK_HEADER_GARBAGE equ 128                 ; header-page bytes (the index words) scribbled on
SOAK_PCI_DEVICES    equ 4                   ; 00:00.0 host bridge .. 00:03.0 (empty slot)
PORT_ELCR_MASK_ALL  equ 0
SOAK_QUIET_LOW      equ PORT_PM1A_CNT + 2     ; ports SOAK_QUIET_LOW .. SOAK_QUIET_HIGH - 1 have no
SOAK_QUIET_HIGH     equ KVIC_DEFAULT_BAR0_PORT - 3 ; special port within 3 ports above them
PORT_PM1A_CNT_HIGH  equ PORT_PM1A_CNT + 1
PM1A_SLP_EN_HIGH    equ PM1A_CNT_POWEROFF >> 8  ; SLP_EN as seen in the high byte
SYSCTL_A_RESET      equ 0x01
I8042_CMD_PULSE_FIRST  equ 0xF0             ; 0xF0-0xFF: pulse output-port lines low (bit 0: reset)
I8042_PULSE_KEEP_RESET equ 0x01
I8042_CMD_WRITE_OUTPUT equ 0xD1             ; the next data byte is the output port (bit 0: reset)

section .bss
BSS_ALIGN 16
kernel_stack:     resb KERNEL_STACK_SIZE
kernel_stack_top:
soak_state:       resq 1                    ; xorshift64 state
soak_accesses:    resq 1                    ; port + MMIO + device accesses made
soak_rounds:      resq 1
soak_scratch:     resb SOAK_SCRATCH_PAGES * KVIC_PAGE_SIZE
soak_pci_saved:   resd SOAK_PCI_DEVICES * 64   ; config dwords of 00:00.0-00:03.0 before the soak

section .tables
command_table:
    COMMAND "help",        "help",        "list the commands",                      cmd_help
    COMMAND "echo",        "echo TEXT",   "print TEXT",                             cmd_echo
    COMMAND "exit",        "exit N",      "isa-debug-exit with N (0-255)",          cmd_exit
    COMMAND "poweroff",    "poweroff",    "ACPI power off",                         cmd_poweroff
    COMMAND "reboot",      "reboot",      "reset through the i8042",                cmd_reboot
    COMMAND "login",       "login NAME",  "log a user on (simulated session)",      cmd_login
    COMMAND "logout",      "logout NAME", "log a user off",                         cmd_logout
    COMMAND "who",         "who",         "list logged-on sessions",                cmd_who
    COMMAND "agent",       "agent",       "integration agent state",                cmd_agent
    COMMAND "agentreset",  "agentreset",  "reset the agent's link and re-attach",   cmd_agentreset
    COMMAND_TABLE_END

section .text
hostile_start:
    cld
    mov r12, rdi
    call idt_init
    mov rdi, r12
    call bootinfo_init
    call cmdline_init
    call pic_init
    call serial_rx_drain
    call serial_init
    mov edi, EVENT_SERIAL_RX
    lea rsi, [console_on_serial_rx]
    call event_set_handler
    lea rsi, [command_execute]
    call console_set_line_handler
    call serial_rx_enable
    CONSOLE_PUTS `kvpc hostile guest `
    CONSOLE_PUTS KVPC_GUEST_VERSION
    CONSOLE_PUTS `\ncmdline: `
    call cmdline_text
    call console_write
    call console_newline
    call sessions_init
    call agent_init
    call soak_pci_save          ; what the firmware set up (PIIX3 PIRQ routing, BARs, ...)
    call soak_parse
    CONSOLE_PUTS "soak: start rounds="
    mov rax, [soak_rounds]
    call console_put_dec
    call console_newline
.round:
    cmp qword [soak_rounds], 0
    je .behave
    call soak_ports
    call soak_mmio
    call soak_device
    dec qword [soak_rounds]
    jmp .round
.behave:
    call soak_restore
    CONSOLE_PUTS "soak: done rounds="
    call soak_parse             ; the count again, for the report
    mov rax, [soak_rounds]
    call console_put_dec
    CONSOLE_PUTS " accesses="
    mov rax, [soak_accesses]
    call console_put_dec
    call console_newline
    cmp dword [agent_state], AGENT_STATE_ATTACH_FAILED
    jb .prompt
    call cmd_agentreset         ; RESET, fresh header, ATTACH the real ring, HELLO
.prompt:
    call console_prompt
    jmp event_loop

; soak_parse: soak= and seed= into soak_rounds / soak_state.
soak_parse:
    mov qword [soak_rounds], 1
    mov qword [soak_state], 1
    CMDLINE_GET "soak"
    jc .seed
    call parse_uint
    jc .seed
    mov [soak_rounds], rax
.seed:
    CMDLINE_GET "seed"
    jc .done
    call parse_uint
    jc .done
    test rax, rax
    jz .done
    mov [soak_state], rax
.done:
    ret

; soak_rand: -> RAX = next xorshift64 value. Preserves everything else.
soak_rand:
    push rdx
    mov rax, [soak_state]
    mov rdx, rax
    shl rdx, 13
    xor rax, rdx
    mov rdx, rax
    shr rdx, 7
    xor rax, rdx
    mov rdx, rax
    shl rdx, 17
    xor rax, rdx
    mov [soak_state], rax
    pop rdx
    ret

; --- 1. ports ----------------------------------------------------------------------------------

; soak_port_class: EDX = port -> EAX = 0 ordinary, 1 read only (debug exit), 2 defused power
; port, 3 integration BAR0 (step 3 owns it). Preserves everything else.
soak_port_class:
    mov eax, 1
    cmp edx, PORT_DEBUG_EXIT
    je .done
    cmp edx, PORT_DEBUG_EXIT + 1
    je .done
    mov eax, 2
    cmp edx, PORT_I8042_CMD
    je .done
    cmp edx, PORT_SYSCTL_A
    je .done
    cmp edx, PORT_PM1A_CNT
    je .done
    cmp edx, PORT_PM1A_CNT_HIGH
    je .done
    mov eax, 3
    cmp edx, KVIC_DEFAULT_BAR0_PORT
    jb .ordinary
    cmp edx, KVIC_DEFAULT_BAR0_PORT + KVIC_BAR0_SIZE
    jb .done
.ordinary:
    xor eax, eax
.done:
    ret

; soak_defuse: EDX = power port, AL = byte to write -> AL without its reset/off meaning.
soak_defuse:
    cmp edx, PORT_I8042_CMD
    jne .port_a
    cmp al, I8042_CMD_PULSE_FIRST
    jb .not_pulse
    or al, I8042_PULSE_KEEP_RESET   ; 0xF0-0xFF pulse the lines whose bit is 0: keep bit 0 set
    ret
.not_pulse:
    cmp al, I8042_CMD_WRITE_OUTPUT
    jne .done
    dec al                      ; 0xD1 (the next 0x60 byte drives the reset line) -> 0xD0 (read)
    ret
.port_a:
    cmp edx, PORT_SYSCTL_A
    jne .pm
    and al, ~SYSCTL_A_RESET
    ret
.pm:
    cmp edx, PORT_PM1A_CNT_HIGH
    jne .done
    and al, ~PM1A_SLP_EN_HIGH
.done:
    ret

; soak_ports: one write and one read on every port. Clobbers RAX, RBX, RCX, RDX.
soak_ports:
    xor ebx, ebx
.port:
    ; Fast path (the emulator costs ~1 us per instruction): no special port within reach of
    ; a dword access from here, so any width goes.
    cmp ebx, SOAK_QUIET_LOW
    jb .classify
    cmp ebx, SOAK_QUIET_HIGH
    jb .any_width
    cmp ebx, KVIC_DEFAULT_BAR0_PORT + KVIC_BAR0_SIZE
    jae .any_width
.classify:
    mov edx, ebx
    call soak_port_class
    cmp eax, 3
    je .next
    cmp eax, 1
    je .read_only
    cmp eax, 2
    je .byte_defused
    ; width 1/2/4 from two random bits (3 -> 4); narrowed to a byte if it would reach a
    ; special port. Running past port 0xFFFF is allowed on purpose: the bus must cope with
    ; an access that wraps the port space.
    call soak_rand
    mov rcx, rax
    shr rcx, 32
    and ecx, 3
    jz .width1
    cmp ecx, 3
    jne .width_chosen
    mov ecx, 4
.width_chosen:
    ; check ports port+1 .. port+width-1
    jmp .check_reach
.any_width:
    call soak_rand
    mov edx, ebx
    test eax, 0x300
    jz .width1
    test eax, 0x200
    jz .width2
    out dx, eax
    in eax, dx
    jmp .counted
.check_reach:
    push rcx
    dec ecx
.reach:
    lea edx, [ebx + ecx]
    and edx, 0xFFFF
    push rax
    call soak_port_class
    test eax, eax
    pop rax
    jnz .narrow
    dec ecx
    jnz .reach
    pop rcx
    mov edx, ebx
    cmp ecx, 2
    je .width2
    out dx, eax
    in eax, dx
    jmp .counted
.narrow:
    pop rcx
.width1:
    mov edx, ebx
    out dx, al
    in al, dx
    jmp .counted
.width2:
    out dx, ax
    in ax, dx
    jmp .counted
.byte_defused:
    call soak_rand
    call soak_defuse
    out dx, al
    in al, dx
    jmp .counted
.read_only:
    in al, dx
    inc qword [soak_accesses]
    jmp .next
.counted:
    add qword [soak_accesses], 2
.next:
    inc ebx
    cmp ebx, SOAK_PORTS
    jb .port
    ret

; --- 2. MMIO -----------------------------------------------------------------------------------

; soak_mmio: random accesses across the MMIO hole, then the APIC pages. Clobbers RAX-RDX.
soak_mmio:
    mov ecx, SOAK_MMIO_ACCESSES
.access:
    call soak_rand
    mov ebx, eax
    or ebx, SOAK_MMIO_BASE      ; 0xC0000000..0xFFFFFFFF (zero-extended: below 4 GiB)
    shr rax, 32
    mov edx, eax
    and edx, 3
    call soak_rand
    cmp edx, 1
    je .w2
    cmp edx, 2
    je .w4
    cmp edx, 3
    je .w8
    mov [rbx], al
    mov al, [rbx]
    jmp .counted
.w2:
    and ebx, ~1                 ; keep every access inside the 4 GiB map
    mov [rbx], ax
    mov ax, [rbx]
    jmp .counted
.w4:
    and ebx, ~3
    mov [rbx], eax
    mov eax, [rbx]
    jmp .counted
.w8:
    and ebx, ~7
    mov [rbx], rax
    mov rax, [rbx]
.counted:
    add qword [soak_accesses], 2
    dec ecx
    jnz .access
    mov ebx, SOAK_IOAPIC
    call soak_apic_page
    mov ebx, SOAK_LAPIC
    call soak_apic_page
    ret

; soak_apic_page: EBX = page -> garbage dwords over its first 256 bytes, each read back.
soak_apic_page:
    xor ecx, ecx
.dword:
    call soak_rand
    mov [rbx + rcx], eax
    mov eax, [rbx + rcx]
    add qword [soak_accesses], 2
    add ecx, 4
    cmp ecx, SOAK_APIC_BYTES
    jb .dword
    ret

; --- 3. the integration device -----------------------------------------------------------------

; soak_reg_write: ECX = BAR0 offset, EAX = value (dword).
soak_reg_write:
    push rdx
    mov edx, KVIC_DEFAULT_BAR0_PORT
    add edx, ecx
    out dx, eax
    pop rdx
    inc qword [soak_accesses]
    ret

; soak_device: SOAK_DEVICE_OPS random operations. Clobbers RAX-RDX, RSI, RDI, R8-R11.
soak_device:
    mov r8d, SOAK_DEVICE_OPS
.op:
    call soak_rand
    mov rbx, rax
    shr rbx, 40
    and ebx, 7
    cmp ebx, 3
    jb .garbage_write
    je .narrow_access
    cmp ebx, 4
    je .read
    cmp ebx, 5
    je .flood
    cmp ebx, 6
    je .reset
    call soak_pci_garbage
    jmp .next
.garbage_write:                 ; random dword to a random register; CONTROL never ATTACHes
    mov ecx, eax
    shr ecx, 8
    and ecx, KVIC_BAR0_SIZE - 4
    call soak_rand
    cmp ecx, KVIC_REG_CONTROL
    jne .write
    cmp eax, KVIC_CONTROL_ATTACH
    jne .write
    mov eax, KVIC_CONTROL_RESET
.write:
    call soak_reg_write
    jmp .next
.narrow_access:                 ; byte or word, any offset: read all ones / dropped
    mov edx, eax
    shr edx, 8
    and edx, KVIC_BAR0_SIZE - 1
    add edx, KVIC_DEFAULT_BAR0_PORT
    call soak_rand
    test eax, 0x100
    jz .narrow_byte
    out dx, ax
    in ax, dx
    add qword [soak_accesses], 2
    jmp .next
.narrow_byte:
    out dx, al
    in al, dx
    add qword [soak_accesses], 2
    jmp .next
.read:
    mov edx, eax
    shr edx, 8
    and edx, KVIC_BAR0_SIZE - 4
    add edx, KVIC_DEFAULT_BAR0_PORT
    in eax, dx
    inc qword [soak_accesses]
    jmp .next
.flood:
    call soak_flood
    jmp .next
.reset:
    mov eax, KVIC_CONTROL_RESET
    mov ecx, KVIC_REG_CONTROL
    call soak_reg_write
.next:
    dec r8d
    jnz .op
    ret

; soak_pci_garbage: a random dword to a random config register of 00:00.0-00:03.0, then a
; read of it. Clobbers RAX, RSI, RDI.
soak_pci_garbage:
    call soak_rand
    mov esi, eax
    and esi, SOAK_PCI_DEVICES - 1
    shl esi, PCI_DEVICE_SHIFT
    or esi, PCI_CONFIG_ENABLE
    mov edi, eax
    shr edi, 8
    and edi, PCI_REGISTER_MASK
    call soak_rand
    call pci_write32
    call pci_read32
    add qword [soak_accesses], 4   ; address + data, twice
    ret

; soak_flood: ATTACH the scratch ring with 3..64 pages, fill TX with SOAK_FLOOD_FRAMES
; hostile frames, scribble on the indices, ring DOORBELL. Clobbers RAX-RDX, RSI, RDI, R9-R11.
soak_flood:
    lea r9, [soak_scratch + KVIC_PAGE_SIZE - 1]
    and r9, -KVIC_PAGE_SIZE     ; ring base
    call soak_rand
    xor edx, edx
    mov ecx, KVIC_MAX_RING_PAGES - KVIC_MIN_RING_PAGES + 1
    div rcx
    lea r10d, [edx + KVIC_MIN_RING_PAGES]      ; pages
    ; header page: garbage over the index words (the spec says zero them; a hostile guest
    ; does not, and the host must not care)
    mov rdi, r9
    mov ecx, SOAK_HEADER_GARBAGE / 8
.header:
    call soak_rand
    stosq
    dec ecx
    jnz .header
    mov eax, r9d
    mov ecx, KVIC_REG_RING_GPA_LO
    call soak_reg_write
    mov rax, r9
    shr rax, 32
    mov ecx, KVIC_REG_RING_GPA_HI
    call soak_reg_write
    mov eax, r10d
    mov ecx, KVIC_REG_RING_PAGES
    call soak_reg_write
    mov eax, KVIC_CONTROL_ATTACH
    mov ecx, KVIC_REG_CONTROL
    call soak_reg_write
    ; TX data: (pages - 1) / 2 pages after the header
    lea eax, [r10d - 1]
    shr eax, 1
    shl eax, 12
    mov r11d, eax               ; tx size
    xor esi, esi                ; write index
    mov ecx, SOAK_FLOOD_FRAMES
.frame:
    push rcx
    call soak_frame
    pop rcx
    dec ecx
    jnz .frame
    ; tx_write: the frames written, or (one time in eight) garbage that overstates them
    call soak_rand
    test eax, 0x700
    jnz .honest
    mov esi, eax
.honest:
    mov [r9 + KVIC_TX_WRITE], esi
    call soak_rand
    mov [r9 + KVIC_RX_READ], eax
    shr rax, 32
    and eax, 1
    mov [r9 + KVIC_RX_INTERRUPT_MASK], eax
    xor eax, eax
    mov ecx, KVIC_REG_DOORBELL
    call soak_reg_write
    ret

; soak_frame: one hostile packet at TX index ESI (ring R9, TX size R11D) -> ESI advanced by
; the packet's padded length (as the guest claims it). Kinds, from two random bits:
;   0 random header words (channel, reserved, length: anything, often oversized)
;   1 oversized: length 4089..65535+, message header valid
;   2 well framed, random channel 0-7, random type/flags/version, size = length - 24,
;     body random (unknown channel, not open, unknown type, wrong direction, short bodies)
;   3 well framed HELLO/OPEN/CLOSE/NEGOTIATE request with a random body (channel state
;     machine churn: second HELLOs reset every channel)
; Clobbers RAX-RDX, RDI.
soak_frame:
    call soak_rand
    mov rbx, rax
    shr rbx, 20
    and ebx, 3
    mov edx, eax                ; payload length candidate, per kind below
    cmp ebx, 0
    je .kind_raw
    cmp ebx, 1
    je .kind_oversized
    ; kinds 2 and 3: payload 24..24+255
    and edx, 0xFF
    add edx, KVIC_MESSAGE_HEADER_SIZE
    jmp .write_header
.kind_oversized:
    and edx, 0xFFFF
    or edx, KVIC_MAX_PAYLOAD + 1
    jmp .write_header
.kind_raw:
    ; a random dword pair as the packet header; advance by a small random amount
    call soak_rand
    mov edi, esi
    call soak_tx_store32
    shr rax, 32
    add edi, 4
    call soak_tx_store32
    call soak_rand
    and eax, 0x1F8
    lea esi, [esi + eax + 8]
    ret
.write_header:
    ; packet header: channel (random 0-7, kind 3: 0), reserved 0, length
    call soak_rand
    and eax, 7
    cmp ebx, 3
    jne .channel
    xor eax, eax
.channel:
    mov edi, esi
    call soak_tx_store32
    mov eax, edx
    add edi, 4
    call soak_tx_store32
    ; message header
    add edi, 4
    call soak_rand
    shl eax, 16                 ; message_type: random (kind 2) ...
    cmp ebx, 3
    jne .type_done
    and eax, 0x00070000         ; ... or 0-7 for kind 3 (HELLO, OFFER, OPEN, CLOSE, NEGOTIATE, unknown)
.type_done:
    or eax, KVIC_FRAMEWORK_VERSION
    call soak_tx_store32
    add edi, 4
    call soak_rand
    and eax, 0x00070001         ; version 0/1, flags 0-7 (0, several: malformed)
    cmp ebx, 3
    jne .flags_done
    mov eax, (KVIC_FLAG_REQUEST << 16) | KVIC_MESSAGE_VERSION
.flags_done:
    call soak_tx_store32
    add edi, 4
    lea eax, [edx - KVIC_MESSAGE_HEADER_SIZE]   ; size (kind 1: agrees with the huge length)
    call soak_tx_store32
    add edi, 4
    xor eax, eax                ; status
    call soak_tx_store32
    add edi, 4
    call soak_rand              ; transaction id
    call soak_tx_store32
    add edi, 4
    xor eax, eax                ; reserved
    call soak_tx_store32
    ; body: random dwords, at most SOAK_BODY_MAX bytes of it (the rest of a longer claimed
    ; body is whatever an earlier frame left there)
    mov ecx, edx
    sub ecx, KVIC_MESSAGE_HEADER_SIZE
    cmp ecx, SOAK_BODY_MAX
    jbe .body_len
    mov ecx, SOAK_BODY_MAX
.body_len:
    add ecx, 3
    shr ecx, 2
    jz .advance
.body:
    add edi, 4
    call soak_rand
    call soak_tx_store32
    dec ecx
    jnz .body
.advance:
    ; advance by header + payload, padded to 8 (kind 1: by what was written, so the next
    ; frame lands where a host that skipped the bad length would look)
    cmp ebx, 1
    jne .padded
    lea esi, [esi + KVIC_PACKET_HEADER_SIZE + KVIC_MESSAGE_HEADER_SIZE + SOAK_BODY_MAX]
    ret
.padded:
    lea eax, [edx + KVIC_PACKET_HEADER_SIZE + KVIC_PACKET_ALIGNMENT - 1]
    and eax, -KVIC_PACKET_ALIGNMENT
    add esi, eax
    ret

; soak_tx_store32: EAX -> TX byte index EDI (mod TX size R11D; indices here are multiples of
; 4 and TX sizes multiples of 4096, so a dword never straddles the end). Preserves all.
soak_tx_store32:
    push rax
    push rdx
    push rcx
    mov ecx, eax
    mov eax, edi
    xor edx, edx
    div r11d
    mov eax, ecx
    mov [r9 + KVIC_PAGE_SIZE + rdx], eax
    pop rcx
    pop rdx
    pop rax
    ret

; --- afterwards: behave ------------------------------------------------------------------------

; soak_pci_config_each: RBX = per-dword routine (ESI = config address, EDI = register,
; R9 = its slot in soak_pci_saved) over devices 0-3, registers 0xFC down to 0x08, then 0x04:
; the command register goes last, so decoding comes back only once the BARs are right.
soak_pci_config_each:
    xor ecx, ecx
.device:
    mov esi, ecx
    shl esi, PCI_DEVICE_SHIFT
    or esi, PCI_CONFIG_ENABLE
    mov edi, 0xFC
.register:
    cmp edi, PCI_REG_COMMAND
    je .skip_command
    mov r9d, ecx
    shl r9d, 8
    add r9d, edi
    call rbx
.skip_command:
    sub edi, 4
    cmp edi, PCI_REG_COMMAND
    ja .register
    mov r9d, ecx
    shl r9d, 8
    add r9d, edi
    call rbx
    inc ecx
    cmp ecx, SOAK_PCI_DEVICES
    jb .device
    ret

soak_pci_save_one:
    call pci_read32
    mov [soak_pci_saved + r9], eax
    ret

soak_pci_restore_one:
    mov eax, [soak_pci_saved + r9]
    jmp pci_write32

; soak_pci_save / soak_pci_restore: every config dword of 00:00.0-00:03.0 (the PIIX3's PIRQ
; routing at 0x60-0x63 decides where the integration device's INTA# arrives).
soak_pci_save:
    lea rbx, [soak_pci_save_one]
    jmp soak_pci_config_each

soak_pci_restore:
    lea rbx, [soak_pci_restore_one]
    jmp soak_pci_config_each

; soak_restore: undo what the soak did to the machine state this guest relies on.
soak_restore:
    mov eax, KVIC_CONTROL_RESET         ; the scratch ring is no longer the link
    mov ecx, KVIC_REG_CONTROL
    call soak_reg_write
    call soak_pci_restore
    mov esi, [agent_pci]
    test esi, esi
    jz .platform
    mov edi, PCI_REG_BAR0
    mov eax, KVIC_DEFAULT_BAR0_PORT | PCI_BAR_IO
    call pci_write32
    mov edi, PCI_REG_COMMAND
    mov ax, PCI_COMMAND_IO | PCI_COMMAND_BUS_MASTER
    call pci_write16
    mov edi, PCI_REG_INTERRUPT
    mov eax, [agent_irq]
    call pci_write32
.platform:
    call pic_init
    mov al, PORT_ELCR_MASK_ALL
    mov dx, PORT_ELCR1
    out dx, al
    mov dx, PORT_ELCR2
    out dx, al
    call serial_init
    call serial_rx_enable
    cmp dword [agent_state], AGENT_STATE_ATTACH_FAILED
    jb .done
    mov eax, [agent_irq]
    call pic_set_level
    call pic_unmask
.done:
    ret

KVPC64_IMAGE_END
