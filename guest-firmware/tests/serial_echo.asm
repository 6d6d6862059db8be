; serial_echo.asm - polled COM1 echo (blob serial_echo, kvpc64).
; Programs COM1 (115200 8N1, FIFO on without discarding received bytes, interrupts off),
; then forever: poll LSR until data
; ready, read RBR, poll LSR until THRE, write the byte back to THR. After echoing a 'q'
; it exits: out 0x501 <- 0x12, exit status 0x25. Polling is deliberate here (the test is
; about the UART registers); `pause` keeps the spin polite.
%include "kvpc64.inc"
%include "board.inc"
%include "uart.inc"

KVPC64_IMAGE 0x100000, start

QUIT_CHAR equ 'q'
EXIT_CODE equ 0x12

; UART_WRITE reg, value
%macro UART_WRITE 2
    mov dx, PORT_COM1 + %1
    mov al, %2
    out dx, al
%endmacro

start:
    UART_WRITE UART_IER, 0
    UART_WRITE UART_LCR, LCR_DLAB
    UART_WRITE UART_DLL, UART_DIVISOR_115200 & 0xFF
    UART_WRITE UART_DLM, UART_DIVISOR_115200 >> 8
    UART_WRITE UART_LCR, LCR_8N1
    UART_WRITE UART_FCR, FCR_ENABLE | FCR_CLEAR_TX   ; keep RX: input may already be waiting
    UART_WRITE UART_MCR, MCR_DTR | MCR_RTS
.wait_rx:
    mov dx, PORT_COM1 + UART_LSR
    in al, dx
    test al, LSR_DATA_READY
    jnz .receive
    pause
    jmp .wait_rx
.receive:
    mov dx, PORT_COM1 + UART_RBR
    in al, dx
    mov bl, al
.wait_tx:
    mov dx, PORT_COM1 + UART_LSR
    in al, dx
    test al, LSR_THRE
    jnz .send
    pause
    jmp .wait_tx
.send:
    mov al, bl
    mov dx, PORT_COM1 + UART_THR
    out dx, al
    cmp bl, QUIT_CHAR
    jne .wait_rx
    DEBUG_EXIT EXIT_CODE
    ud2                         ; exit ignored: no IDT is loaded, so this triple-faults

KVPC64_IMAGE_END
