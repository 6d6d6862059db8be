; gdb_target.asm - the gdb stub's test guest (blob gdb_target, kvpc64), assembled as ELF64
; with symbols (build/guest-firmware/gdb_target.elf, for gdb's `file`) and flattened to the
; kvpc64 image (gdb_target.bin) that kvpc boots. Linked at 0x100000, so the ELF's symbol
; addresses are the guest's virtual (= physical, identity-mapped) addresses.
;
; Behaviour: calls bump() five times (bump increments `counter`), then exits through
; isa-debug-exit with the low byte of `exit_code`: status (exit_code << 1) | 1 = 0x63 (99)
; unless a debugger changed `exit_code` first. Tests break on bump / after_loop, watch
; `counter`, read `marker`, and write `exit_code`.
bits 64
default rel

section .text
global image_start, entry:function, bump:function, after_loop:function
global counter:data 8, marker:data 8, exit_code:data 8

image_start:
    db "KVPC64IM"                 ; magic
    dd 1                          ; version
    dd 48                         ; header size
    dq 0x100000                   ; load address
    dq entry - image_start        ; entry offset
    dq image_end - image_start    ; memory size
    dq 0x200000                   ; stack top

entry:
    xor ebx, ebx
.again:
    call bump
    inc ebx
    cmp rbx, 5
    jb .again
after_loop:
    mov al, [exit_code]
    mov dx, 0x501                 ; isa-debug-exit
    out dx, al
    ud2                           ; not reached: the exit ends the VM

bump:
    mov rax, [counter]
    add rax, 1
    mov [counter], rax
    ret

align 8
counter:   dq 0
marker:    dq 0x1122334455667788
exit_code: dq 0x31
image_end:

section .note.GNU-stack noalloc noexec nowrite progbits
