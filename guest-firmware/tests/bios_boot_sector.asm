; bios_boot_sector.asm - a PC boot sector (blob bios_boot_sector, exactly 512 bytes ending
; 55 AA) for the --bios disk-boot tests. Firmware loads it at 0000:7C00 with DL = boot drive.
; It talks to the hardware directly (COM1 at 0x3F8, polled) so it needs no video BIOS, and
; uses the firmware only for the disk: an int 13h AH=42h extended read of LBA 1..3 to
; 0000:8000. The test image puts "KVPCSEC1" at the start of LBA 1 and "KVPCSEC3" at the
; start of LBA 3 (LBA 2 is filler), so a read that returns the wrong sectors fails.
;
; COM1: "kvpc-boot: sector running\r\n", then on success "kvpc-boot: int13 read <8 bytes of
; LBA 3>\r\n" and out 0x501 <- 0x21 (status 0x43); int 13h error (CF set): "kvpc-boot: int13
; error\r\n", 0x22 (status 0x45); signature mismatch: "kvpc-boot: bad signature\r\n", 0x23
; (status 0x47). If the exit port is absent it halts.
bits 16
org 0x7C00

%include "board.inc"

BUFFER equ 0x8000

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7C00
    sti
    mov [boot_drive], dl
    mov si, msg_running
    call print
    mov si, dap                     ; DS:SI = disk address packet
    mov dl, [boot_drive]
    mov ah, 0x42
    int 0x13
    jc .io_error
    mov si, BUFFER                  ; LBA 1
    mov di, sig1
    call compare8
    jne .bad
    mov si, BUFFER + 2 * 512        ; LBA 3
    mov di, sig3
    call compare8
    jne .bad
    mov si, msg_read
    call print
    mov si, BUFFER + 2 * 512        ; echo what int 13h returned, not the expected bytes
    mov cx, 8
.echo:
    lodsb
    call putc
    loop .echo
    mov si, msg_crlf
    call print
    mov al, 0x21
    jmp exit
.io_error:
    mov si, msg_io_error
    call print
    mov al, 0x22
    jmp exit
.bad:
    mov si, msg_bad
    call print
    mov al, 0x23
exit:
    mov dx, PORT_DEBUG_EXIT
    out dx, al
.halt:
    cli
    hlt
    jmp .halt

; ZF set when the 8 bytes at DS:SI equal those at ES:DI.
compare8:
    mov cx, 8
    cld
    repe cmpsb
    ret

; Prints the NUL-terminated string at DS:SI on COM1.
print:
    lodsb
    test al, al
    jz .done
    call putc
    jmp print
.done:
    ret

; Sends AL on COM1 once the transmitter holding register is empty (LSR bit 5).
putc:
    push dx
    push ax
    mov dx, PORT_COM1 + 5
.wait:
    in al, dx
    test al, 0x20
    jz .wait
    pop ax
    mov dx, PORT_COM1
    out dx, al
    pop dx
    ret

dap:                                ; int 13h extensions disk address packet
    db 16, 0
    dw 3                            ; sectors
    dw BUFFER, 0                    ; offset, segment
    dq 1                            ; first LBA
sig1:         db "KVPCSEC1"
sig3:         db "KVPCSEC3"
msg_running:  db "kvpc-boot: sector running", 13, 10, 0
msg_read:     db "kvpc-boot: int13 read ", 0
msg_crlf:     db 13, 10, 0
msg_io_error: db "kvpc-boot: int13 error", 13, 10, 0
msg_bad:      db "kvpc-boot: bad signature", 13, 10, 0
boot_drive:   db 0

    times 510 - ($ - $$) db 0
    dw 0xAA55
