; multiboot_info.asm - a Multiboot v1 kernel that prints what the loader told it
; (blob multiboot_info; a.out kludge, flat 32-bit protected mode, runs under KVM).
;
; Exit sequence:
;   EAX != 0x2BADB002               -> out 0x501 <- 0x7E               (status 0xFD)
;   else on 0xE9: "cmdline=<info.cmdline>\n"  (empty when info flag bit 2 is clear)
;   info flag bit 0 (mem_*) clear    -> out 0x501 <- 0x7D               (status 0xFB)
;   else on 0xE9: "mem_upper=<info.mem_upper in decimal KiB>\n"
;                                    -> out 0x501 <- 0x20               (status 0x41)
bits 32
org 0x100000

%include "board.inc"

MB_HEADER_MAGIC     equ 0x1BADB002
MB_FLAG_MEMINFO     equ 1 << 1     ; ask for mem_lower/mem_upper
MB_FLAG_AOUT_KLUDGE equ 1 << 16    ; the address fields below replace an ELF header
MB_HEADER_FLAGS     equ MB_FLAG_MEMINFO | MB_FLAG_AOUT_KLUDGE
MB_BOOT_MAGIC       equ 0x2BADB002 ; in EAX at entry
MB_INFO_FLAGS       equ 0
MB_INFO_MEM_UPPER   equ 8
MB_INFO_CMDLINE     equ 16
MB_INFO_HAS_MEM     equ 1 << 0
MB_INFO_HAS_CMDLINE equ 1 << 2

EXIT_OK             equ 0x20
EXIT_BAD_MAGIC      equ 0x7E
EXIT_NO_MEMINFO     equ 0x7D
STACK_SIZE          equ 4096

section .text
mb_header:                          ; 4-byte aligned, in the first 8 KiB
    dd MB_HEADER_MAGIC
    dd MB_HEADER_FLAGS
    dd -(MB_HEADER_MAGIC + MB_HEADER_FLAGS)
    dd mb_header                    ; header_addr
    dd mb_header                    ; load_addr: the file is loaded from its first byte
    dd load_end                     ; load_end_addr: end of the file's contents
    dd bss_end                      ; bss_end_addr: zeroed by the loader (our stack)
    dd start                        ; entry_addr

start:
    mov esp, stack_top              ; Multiboot leaves ESP undefined
    cld
    cmp eax, MB_BOOT_MAGIC
    jne .bad_magic
    mov ebp, ebx                    ; EBX = Multiboot info
    mov esi, text_cmdline
    call print
    test dword [ebp + MB_INFO_FLAGS], MB_INFO_HAS_CMDLINE
    jz .cmdline_done
    mov esi, [ebp + MB_INFO_CMDLINE]
    call print
.cmdline_done:
    mov esi, text_newline
    call print
    test dword [ebp + MB_INFO_FLAGS], MB_INFO_HAS_MEM
    jz .no_meminfo
    mov esi, text_mem_upper
    call print
    mov eax, [ebp + MB_INFO_MEM_UPPER]
    call print_dec
    mov esi, text_newline
    call print
    DEBUG_EXIT EXIT_OK
    jmp fail_stop
.bad_magic:
    DEBUG_EXIT EXIT_BAD_MAGIC
    jmp fail_stop
.no_meminfo:
    DEBUG_EXIT EXIT_NO_MEMINFO
    ; fall through

; fail_stop: the exit port was ignored; a zero-limit IDT turns ud2 into a triple fault.
fail_stop:
    cli
    lidt [zero_idt]
    ud2

; print: ESI = NUL-terminated string -> port 0xE9. Clobbers EAX, ESI.
print:
    mov al, [esi]
    test al, al
    jz .done
    out PORT_DEBUGCON, al
    inc esi
    jmp print
.done:
    ret

; print_dec: EAX = value, printed in decimal on 0xE9. Clobbers EAX, ECX, EDX, ESI.
print_dec:
    mov esi, digits_end
    mov byte [esi], 0
    mov ecx, 10
.digit:
    xor edx, edx
    div ecx
    add dl, '0'
    dec esi
    mov [esi], dl
    test eax, eax
    jnz .digit
    jmp print

text_cmdline:   db "cmdline=", 0
text_mem_upper: db "mem_upper=", 0
text_newline:   db `\n`, 0
zero_idt:       dw 0
                dd 0
load_end:

section .bss align=16
digits:         resb 11             ; 10 digits of 2^32-1, then the NUL
digits_end      equ digits + 10
                resb 5              ; keep the stack 16-byte aligned
stack:          resb STACK_SIZE
stack_top:
bss_end:
