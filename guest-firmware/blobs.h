// Accessors for the nasm blobs embedded in the kvpc binary (see blobs.cmake).
// docs/guest-firmware.md gives each blob's format and exact exit behaviour.
#pragma once

#include <cstdint>
#include <span>

namespace kvpc::firmware {

// The guest kvpc boots when no image is given: kvpc64, a command prompt on COM1.
std::span<const uint8_t> builtin_guest();

// Tiny test guests (kvpc64 unless noted).
std::span<const uint8_t> pio_out();         // 0xE9 "OK\n", 0x510 word, 0x514 dword, exit 0x10
std::span<const uint8_t> pio_in();          // in 0xE9 echoed, exit (in 0x5F0) & 0x7F
std::span<const uint8_t> mmio();            // write 0xD0000000, read 0xD0000010, exit byte & 0x7F
std::span<const uint8_t> string_io();       // rep outsb "hello, world\n" to 0xE9, exit 0x11
std::span<const uint8_t> triple_fault();    // zero-limit IDT + ud2
std::span<const uint8_t> debug_exit();      // exit 0x31
std::span<const uint8_t> serial_echo();     // polled COM1 echo until 'q', exit 0x12
std::span<const uint8_t> multiboot_info();  // Multiboot v1 (a.out kludge), 32-bit; exit 0x20
std::span<const uint8_t> flat_real();       // real-mode flat binary at 1000:0000; exit 0x21
std::span<const uint8_t> bench_exits();     // CPL3 PIO/MMIO exit benchmark; exit 0x00
std::span<const uint8_t> mb_hello();        // Multiboot start-up guest: COM1 line, n= port exits, exit 0x00
std::span<const uint8_t> virtio_blk_rw();   // virtio-blk write, read back, flush; exit 0x44
std::span<const uint8_t> gdb_target();      // gdb stub test guest (ELF with symbols: gdb_target.elf); exit 0x31
std::span<const uint8_t> hostile_guest();   // soak=R seed=S hostile rounds, then the built-in guest's life

// Not a guest: the integration protocol's byte-exact test vectors (integration/protocol/vectors.asm).
std::span<const uint8_t> protocol_vectors();

}  // namespace kvpc::firmware
