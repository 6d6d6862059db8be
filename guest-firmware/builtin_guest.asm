; builtin_guest.asm - the guest kvpc boots when no image is given (blob builtin_guest).
;
; A tiny 64-bit test OS in the kvpc64 format: it brings up its IDT, the PICs and COM1,
; prints its banner and command line, then serves a command prompt on COM1 from an
; interrupt-driven loop (sti; hlt between events: an idle guest costs no host CPU).
; It also simulates logon sessions (sessions.inc) and runs an integration agent
; (agent.inc) that serves kvpc's integration device: heartbeat, os-info, shutdown /
; restart / logoff / session list, time sync (docs/integration-protocol.md).
; Everything runs at CPL0, which the target emulates at ~1 us per instruction, so each
; path is kept to thousands of instructions. Commands: see command_table below and
; docs/guest-firmware.md.
;
; Memory layout (load address 0x100000, identity-mapped by the host; exact addresses in
; docs/guest-firmware.md, or assemble with -DKVPC_MAP to get builtin_guest.map):
;   0x100000  kvpc64 header, .text (code; the 256 16-byte IDT stubs), .rodata (strings),
;             .tables (command_table), .data (variables with initial values); end of file
;   .bss      IDT (4 KiB), ISR handler table (256 x 8), event handler table, COM1 receive
;             ring (256 B), line buffer, boot info/command line pointers, session table,
;             agent ring area (9 pages, aligned to 4 KiB at run time) and message buffers,
;             the 16 KiB kernel
;             stack (kernel_stack_top = header stack_top), the 256-byte tail stack, end
;             of image (memory_size).
%define IDT_VECTORS 256
%include "kvpc64.inc"
%include "version.inc"

KVPC64_IMAGE 0x100000, builtin_start, kernel_stack_top

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
%include "vga.inc"
%include "kbd.inc"

%ifdef KVPC_MAP
[map all builtin_guest.map]
%endif

; Boot-progress codes on port 0x80, one per phase.
PROGRESS_ENTRY   equ 0x01      ; reached the entry point
PROGRESS_IDT     equ 0x02      ; IDT loaded: exceptions are reported from here on
PROGRESS_PIC     equ 0x03      ; PICs remapped, everything masked
PROGRESS_SERIAL  equ 0x04      ; COM1 up, RX interrupt wired (IRQ 4 unmasked)
PROGRESS_BANNER  equ 0x05      ; banner and command line printed
PROGRESS_READY   equ 0x06      ; entering the event loop, prompt shown

KERNEL_STACK_SIZE equ 16384

section .bss
BSS_ALIGN 16
kernel_stack:     resb KERNEL_STACK_SIZE
kernel_stack_top:

section .tables
command_table:
    COMMAND "help",        "help",        "list the commands",                      cmd_help
    COMMAND "echo",        "echo TEXT",   "print TEXT",                             cmd_echo
    COMMAND "cmdline",     "cmdline",     "print the kernel command line",          cmd_cmdline
    COMMAND "mem",         "mem",         "RAM size and e820 map",                  cmd_mem
    COMMAND "cpus",        "cpus",        "number of vCPUs",                        cmd_cpus
    COMMAND "exit",        "exit N",      "isa-debug-exit with N (0-255)",          cmd_exit
    COMMAND "poweroff",    "poweroff",    "ACPI power off",                         cmd_poweroff
    COMMAND "reboot",      "reboot",      "reset through the i8042",                cmd_reboot
    COMMAND "triplefault", "triplefault", "load an empty IDT and fault",            cmd_triplefault
    COMMAND "progress",    "progress N",  "write N (0-255) to the progress port",   cmd_progress
    COMMAND "login",       "login NAME",  "log a user on (simulated session)",      cmd_login
    COMMAND "logout",      "logout NAME", "log a user off",                         cmd_logout
    COMMAND "who",         "who",         "list logged-on sessions",                cmd_who
    COMMAND "agent",       "agent",       "integration agent state",                cmd_agent
    COMMAND "agentreset",  "agentreset",  "reset the agent's link and re-attach",   cmd_agentreset
    COMMAND "date",        "date",        "host time from the last time sync",      cmd_date
    COMMAND "vga",         "vga text|vbe", "draw the display test pattern",          cmd_vga
    COMMAND_TABLE_END

section .text
builtin_start:
    ; Entry: CPL0, interrupts off, RSP = kernel_stack_top, RDI = boot info.
    cld
    mov r12, rdi
    PROGRESS PROGRESS_ENTRY
    call idt_init
    PROGRESS PROGRESS_IDT
    mov rdi, r12
    call bootinfo_init          ; a bad block only costs cmdline/mem/cpus their data
    call cmdline_init
    call pic_init
    PROGRESS PROGRESS_PIC
    call serial_rx_drain        ; keep input sent before we were up: serial_init's FIFO
    call serial_init            ; enable would discard it
    mov edi, EVENT_SERIAL_RX
    lea rsi, [console_on_serial_rx]
    call event_set_handler
    lea rsi, [command_execute]
    call console_set_line_handler
    call serial_rx_enable
    call keyboard_init          ; PS/2 keys feed the same line editor (IRQ 1)
    PROGRESS PROGRESS_SERIAL

    CONSOLE_PUTS `kvpc built-in guest `
    CONSOLE_PUTS KVPC_GUEST_VERSION
    CONSOLE_PUTS ` (64-bit)\n`
    CONSOLE_PUTS "cmdline: "
    call cmdline_text
    call console_write
    call console_newline
    call sessions_init          ; users= (before the agent: its first list is complete)
    call agent_init             ; PCI, IRQ, ATTACH, HELLO; the rest is event-driven
    PROGRESS PROGRESS_BANNER

    call console_prompt
    PROGRESS PROGRESS_READY
    jmp event_loop              ; enables interrupts; never returns

KVPC64_IMAGE_END
