; bench_exits.asm - exit-cost benchmark (blob bench_exits, kvpc64).
;
; CPL0 does only the setup (IDT, parse n=<N> from the command line), then iretq drops to
; CPL3 (CS 0x2b, SS 0x23, IF=0), where the loops run: on the target CPL3 code runs
; natively while CPL0 code is emulated, so the measured cost is the exits, not the loop.
; The host's TSS I/O bitmap allows every port at CPL3; the identity map is user-accessible.
;
; Exit sequence (N = n=<decimal or 0x-hex> from the command line, default 100000):
;   out 0x80 <- 0xB1; N x out 0x5F8 <- 0x00 (1 byte);
;   out 0x80 <- 0xB2; N x 4-byte MMIO write of 0 to 0xD0000100;
;   out 0x80 <- 0xB3; out 0x501 <- 0x00 (status 1).
; A malformed n= value: out 0x501 <- 0x7C (status 0xF9) before any marker.
; A fault is reported by idt.inc (exception line on COM1, exit 0x40 + vector).
%define IDT_VECTORS 32             ; exceptions only: no interrupt is ever enabled
%include "kvpc64.inc"

KVPC64_IMAGE 0x100000, bench_start, kernel_stack_top

%include "board.inc"
%include "idt.inc"
%include "bootinfo.inc"
%include "cmdline.inc"
%include "fmt.inc"

BENCH_DEFAULT_N   equ 100000
BENCH_PIO_PORT    equ 0x5F8
BENCH_MMIO_ADDR   equ 0xD0000100
MARK_PIO_START    equ 0xB1
MARK_MMIO_START   equ 0xB2
MARK_DONE         equ 0xB3
EXIT_DONE         equ 0x00
EXIT_BAD_N        equ 0x7C
STACK_SIZE        equ 4096

section .bss
BSS_ALIGN 16
kernel_stack:     resb STACK_SIZE  ; also TSS.RSP0: exceptions from CPL3 land here
kernel_stack_top:
user_stack:       resb STACK_SIZE
user_stack_top:

section .text
bench_start:
    cld
    mov r12, rdi
    call idt_init
    mov rdi, r12
    call bootinfo_init
    call cmdline_init
    mov r13d, BENCH_DEFAULT_N
    CMDLINE_GET "n"
    jc .have_n
    call parse_uint
    jc .bad_n
    mov r13, rax
.have_n:
    ; iretq frame: SS, RSP, RFLAGS, CS, RIP. RFLAGS = 2: IF=0, IOPL=0 (ports are
    ; allowed by the I/O bitmap, not by IOPL). GPRs survive, so R13 carries N.
    push SEL_USER_DATA
    lea rax, [user_stack_top]
    push rax
    push RFLAGS_RESERVED
    push SEL_USER_CODE64
    lea rax, [bench_user]
    push rax
    iretq
.bad_n:
    DEBUG_EXIT EXIT_BAD_N
    jmp fail_stop

; CPL3 from here on. R13 = N.
bench_user:
    mov al, MARK_PIO_START
    out PORT_POST, al
    mov rcx, r13
    mov dx, BENCH_PIO_PORT
    xor eax, eax
    jrcxz .pio_done
.pio:
    out dx, al
    loop .pio
.pio_done:
    mov al, MARK_MMIO_START
    out PORT_POST, al
    mov ebx, BENCH_MMIO_ADDR         ; via a register: a disp32 would sign-extend
    mov rcx, r13
    xor eax, eax
    jrcxz .mmio_done
.mmio:
    mov [rbx], eax
    loop .mmio
.mmio_done:
    mov al, MARK_DONE
    out PORT_POST, al
    DEBUG_EXIT EXIT_DONE
    ud2                             ; exit ignored: #UD -> reported, exit 0x46

KVPC64_IMAGE_END
