# The list of guest blobs: kvpc_guest_blob(<symbol> <source.asm>). Each symbol gets an
# accessor kvpc::firmware::<symbol>() declared in blobs.h. docs/guest-firmware.md
# documents every blob's format and exact exit behaviour.
kvpc_guest_blob(builtin_guest builtin_guest.asm)

# Tiny test guests, one per feature (symbol = file base name).
kvpc_guest_blob(pio_out tests/pio_out.asm)
kvpc_guest_blob(pio_in tests/pio_in.asm)
kvpc_guest_blob(mmio tests/mmio.asm)
kvpc_guest_blob(string_io tests/string_io.asm)
kvpc_guest_blob(triple_fault tests/triple_fault.asm)
kvpc_guest_blob(debug_exit tests/debug_exit.asm)
kvpc_guest_blob(serial_echo tests/serial_echo.asm)
kvpc_guest_blob(multiboot_info tests/multiboot_info.asm)
kvpc_guest_blob(flat_real tests/flat_real.asm)
kvpc_guest_blob(bench_exits tests/bench_exits.asm)
kvpc_guest_blob(hostile_guest tests/hostile_guest.asm)
kvpc_guest_blob(protocol_vectors ../integration/protocol/vectors.asm)
kvpc_guest_blob(mb_hello tests/mb_hello.asm)
kvpc_guest_blob(virtio_blk_rw tests/virtio_blk_rw.asm)
kvpc_guest_blob(virtio_blk_fill tests/virtio_blk_fill.asm)
# ELF64 with symbols (gdb_target.elf) plus its flat kvpc64 image: the gdb stub's test guest.
kvpc_guest_elf_blob(gdb_target tests/gdb_target.asm)
kvpc_guest_blob(bios_boot_sector tests/bios_boot_sector.asm)
