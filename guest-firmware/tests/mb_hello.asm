; mb_hello.asm - the start-up benchmark guest (blob mb_hello): a Multiboot v1 kernel (a.out
; kludge, flat 32-bit protected mode) that both kvpc and QEMU boot with -kernel, so the two
; run the same bytes. It prints one line on COM1, optionally makes N port exits, and exits.
;
; Exit sequence:
;   COM1: "hello from a Multiboot guest\n" (polling LSR.THRE before each byte);
;   N x out 0x5F8 <- 0x00, N from "n=<decimal>" anywhere in the Multiboot command line
;   (QEMU puts the kernel's file name first), default 0;
;   out 0x501 <- 0x00 (kvpc and QEMU's isa-debug-exit: exit status 1).
; EAX != 0x2BADB002 -> out 0x501 <- 0x7E (status 0xFD).
bits 32
org 0x100000

%include "board.inc"

MB_HEADER_MAGIC     equ 0x1BADB002
MB_FLAG_AOUT_KLUDGE equ 1 << 16
MB_HEADER_FLAGS     equ MB_FLAG_AOUT_KLUDGE
MB_BOOT_MAGIC       equ 0x2BADB002
MB_INFO_FLAGS       equ 0
MB_INFO_CMDLINE     equ 16
MB_INFO_HAS_CMDLINE equ 1 << 2
UART_LSR            equ 5
UART_LSR_THRE       equ 0x20
BENCH_PORT          equ 0x5F8
EXIT_OK             equ 0x00
EXIT_BAD_MAGIC      equ 0x7E
STACK_SIZE          equ 1024

section .text
mb_header:
    dd MB_HEADER_MAGIC
    dd MB_HEADER_FLAGS
    dd -(MB_HEADER_MAGIC + MB_HEADER_FLAGS)
    dd mb_header                    ; header_addr
    dd mb_header                    ; load_addr
    dd load_end                     ; load_end_addr
    dd bss_end                      ; bss_end_addr
    dd start                        ; entry_addr

start:
    mov esp, stack_top
    cld
    cmp eax, MB_BOOT_MAGIC
    jne .bad_magic
    mov ebp, ebx
    mov esi, text_hello
.print:
    lodsb
    test al, al
    jz .printed
    mov ah, al
    mov dx, PORT_COM1 + UART_LSR
.wait:
    in al, dx
    test al, UART_LSR_THRE
    jz .wait
    mov al, ah
    mov dx, PORT_COM1
    out dx, al
    jmp .print
.printed:
    xor ecx, ecx                    ; N
    test dword [ebp + MB_INFO_FLAGS], MB_INFO_HAS_CMDLINE
    jz .loop
    mov esi, [ebp + MB_INFO_CMDLINE]
    mov bl, ' '                     ; previous character: "n=" must start a word
.scan:
    mov al, [esi]
    test al, al
    jz .loop
    inc esi
    cmp bl, ' '
    mov bl, al
    jne .scan
    cmp al, 'n'
    jne .scan
    cmp byte [esi], '='
    jne .scan
    inc esi
.digit:
    movzx eax, byte [esi]
    sub eax, '0'
    cmp eax, 9
    ja .loop
    imul ecx, ecx, 10
    add ecx, eax
    inc esi
    jmp .digit
.loop:
    mov dx, BENCH_PORT
    xor eax, eax
    jecxz .done
.exit_once:
    out dx, al
    loop .exit_once
.done:
    DEBUG_EXIT EXIT_OK
    jmp fail_stop
.bad_magic:
    DEBUG_EXIT EXIT_BAD_MAGIC

; fail_stop: the exit port was ignored; a zero-limit IDT turns ud2 into a triple fault.
fail_stop:
    cli
    lidt [zero_idt]
    ud2

text_hello:     db `hello from a Multiboot guest\n`, 0
zero_idt:       dw 0
                dd 0
load_end:

section .bss align=16
stack:          resb STACK_SIZE
stack_top:
bss_end:
