#!/usr/bin/env python3
"""Writes the hand-made seed inputs (seed-*) of every fuzz target into corpus/<target>/.

Seeds are small, valid-looking inputs that start each fuzzer deep in its code: a UART init
sequence, a PCI BAR sizing, a connected integration agent doing a Logoff, a Multiboot
kernel, a kvpc64 image, a few instructions. Inputs the fuzzers found (crashes fixed,
coverage kept by `tools/fuzz.sh --merge`) sit next to them under other names.
Run from anywhere: python3 tests/fuzz/make_seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "seed-" + name), "wb") as f:
        f.write(bytes(data))


def u16(v): return struct.pack("<H", v & 0xFFFF)
def u32(v): return struct.pack("<I", v & 0xFFFFFFFF)
def u64(v): return struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)


# --- device scripts (tests/fuzz/device_script.h) ----------------------------------------
def op(kinds, kind, width=1):
    code = {1: 0, 2: 1, 4: 2, 8: 3}[width]
    for o in range(256):
        if o % kinds == kind and (o >> 4) & 3 == code:
            return o
    raise ValueError((kinds, kind, width))


class Script:
    def __init__(self, kinds=2):
        self.kinds, self.b = kinds, bytearray()

    def rd(self, offset, width=1):
        self.b += bytes([op(self.kinds, 0, width), offset])
        return self

    def wr(self, offset, value, width=1):
        self.b += bytes([op(self.kinds, 1, width), offset]) + u64(value)
        return self

    def host(self, kind, args=b""):
        self.b += bytes([op(self.kinds, 2 + kind)]) + bytes(args)
        return self


def devices():
    s = Script(5)  # uart: read, write, receive, reset, stats
    s.wr(1, 0x0F).wr(2, 0xC7).wr(3, 0x03).wr(4, 0x0B).wr(0, ord("k"))
    s.host(0, bytes([1]) + b"hello, uart" + bytes(21)).rd(2).rd(5)
    for _ in range(6):
        s.rd(0)
    s.rd(2).rd(6).wr(3, 0x80).wr(0, 1).wr(1, 0).wr(3, 0x03).wr(4, 0x10).wr(0, 0x55).rd(0).rd(5)
    s.host(2).host(1).rd(5).rd(0, 4).wr(6, 0x1234, 4)
    write("uart16550", "init-io-loopback", s.b)
    write("uart16550", "fifo-overrun", Script(5).wr(2, 0x07).wr(4, 0x08).wr(1, 1).host(0, bytes([200]) + bytes(6400)).rd(5).rd(2).b)

    def i8042_chunk(port, script):
        return bytes([port, len(script.b)]) + script.b
    kb = Script(4)
    write("i8042", "self-test-and-ram", i8042_chunk(1, Script(4).wr(0, 0xAA).wr(0, 0x20).rd(0)) +
          i8042_chunk(0, Script(4).rd(0).rd(0)) + i8042_chunk(1, Script(4).wr(0, 0x60)) +
          i8042_chunk(0, Script(4).wr(0, 0x47)) + i8042_chunk(1, Script(4).wr(0, 0xD0).rd(0)) +
          i8042_chunk(0, Script(4).rd(0)))
    write("i8042", "reset-pulse", i8042_chunk(1, Script(4).wr(0, 0xD1)) + i8042_chunk(0, Script(4).wr(0, 0xFE)) +
          i8042_chunk(1, Script(4).wr(0, 0xFE).host(0).rd(0, 4)))
    del kb
    write("debugcon", "hello", b"".join(Script().wr(0, c).b for c in b"hello\n") + Script().rd(0).wr(0, 0x4241, 2).b)
    write("debug_exit", "exit-codes", Script().rd(0).wr(0, 0x31).wr(1, 0x10, 2).wr(0, 0xFFFFFFFF, 4).b)
    write("post_port", "codes", b"".join(Script(3).wr(0, c).b for c in range(0, 40, 3)) + Script(3).rd(0).host(0).b)
    write("sysctl_port_a", "a20-and-reset", Script(3).wr(0, 0x02).rd(0).wr(0, 0x03).rd(0).host(0).rd(0, 2).b)
    write("acpi_pm", "sleep", Script().wr(0, 0x0001, 2).rd(0, 2).wr(0, 0x1401, 2).wr(1, 0x20).rd(1).wr(0, 0x3C01, 4).b)

    p = Script(5)  # pci: read, write, config read, config write, bar/irq
    for slot in (0, 1, 2, 31):
        p.wr(0, 0x80000000 | slot << 11, 4).rd(4, 4).rd(6, 2)
    p.wr(0, 0x80000810, 4).wr(4, 0xFFFFFFFF, 4).rd(4, 4).wr(4, 0xC000, 4).rd(4, 4)
    p.wr(0, 0x80000804, 4).wr(4, 0x0007, 2).rd(5).rd(6, 2)
    p.wr(0, 0x8000F810, 4).wr(4, 0xFFFFFFFF, 4).rd(4, 4).wr(0, 0x800000FC, 4).rd(7).rd(4, 4)
    p.wr(0, 0x81000800, 4).rd(4, 4).wr(0, 0x12, 1).rd(0, 2)
    p.host(0, bytes([1]) + u16(0x10) + bytes([2])).host(1, bytes([2]) + u16(0xFE) + bytes([3]) + u64(0x1122334455667788))
    p.host(2, bytes([1, 1]) + u32(0xC040) + bytes([1]))
    write("pci_config", "enumerate-and-size-bars", p.b)


# --- integration (tests/fuzz/integration_rig.h) ------------------------------------------
def packet(channel, mtype, flags, transaction, body, status=0, version=1, framework=1, reserved=0):
    payload = u16(framework) + u16(mtype) + u16(version) + u16(flags) + u32(len(body)) + u32(status) + \
        u32(transaction) + u32(reserved) + bytes(body)
    raw = u16(channel) + u16(0) + u32(len(payload)) + payload
    return raw + bytes((-len(raw)) % 8)


def hello_body(name=b"seed-agent", features=0x7F):
    return u32(1) + u32(features) + name + bytes(32 - len(name))


def integration():
    dev = bytearray()
    dev += bytes([2])                         # attach
    dev += bytes([11]) + u32(1)               # HELLO
    for _ in range(6):
        dev += bytes([6, 7])                  # doorbell+process, guest step
    dev += bytes([9, 0x02 << 0 | 2 << 0])     # API: begin logoff (op 2 -> kind logoff, case 0)
    for _ in range(6):
        dev += bytes([6, 7])
    dev += bytes([8]) + u16(500) + bytes([1]) + bytes([6, 7]) + bytes([8]) + u16(4000) + bytes([0])
    dev += bytes([4, 3]) + packet(0, 1, 1, 99, hello_body())[:24]
    dev += bytes([5, 1]) + u32(0xFFFFFFF0) + bytes([6])
    dev += bytes([0, 6]) + Script().rd(0x20, 4).b + Script().rd(0x24, 4).b[:0]
    dev += bytes([10, 1, 1, 0, 6])
    write("integration_device", "connect-logoff-abuse", dev)
    bad = bytearray([1, 0]) + u32(0x12345) + bytes([12, 0x20])
    bad += bytes([3, 1]) + u16(0x10) + bytes([16]) + bytes(range(16)) + bytes([6, 10, 0])
    write("integration_device", "bad-attach-scribble", bad)

    def msg(channel, mtype, flag_choice, body, status=None, tx=None):
        out = bytearray([0x80])  # op 0 with doorbell+process
        out += bytes([mtype, flag_choice])
        out += bytes([1]) if tx is None else bytes([0]) + u32(tx)
        out += bytes([1]) if status is None else bytes([0]) + u32(status)
        out += bytes([channel, 0, len(body)]) + bytes(body)
        return out
    ch = bytearray([1, 1])  # answer operations, connect first
    ch += msg(2, 2, 2, b"OSName=seed\0Version=1\0")                       # os-info changed
    ch += msg(3, 7, 2, u32(2) + b"alice" + bytes(27) + b"bob" + bytes(29))  # session changed
    ch += bytes([3]) + bytes([0x02])                                      # API logoff
    ch += bytes([0x82, 0x82, 0x82])
    ch += msg(3, 4, 2, u32(1) + u32(1) + u32(2) + b"alice" + bytes(27))   # progress
    ch += msg(3, 5, 2, u32(1))                                            # complete
    ch += msg(0, 3, 0, u16(9))                                            # open unknown channel
    ch += msg(0, 4, 0, u16(1)) + msg(1, 1, 0, u64(5))                      # close heartbeat, beat on it
    ch += msg(0, 1, 0, hello_body(b"second"))                             # a second HELLO
    ch += bytes([0x83, 0x82])
    write("integration_channels", "connected-session", ch)
    write("integration_channels", "unconnected", bytes([0, 0]) + msg(3, 3, 0, u32(0)) + msg(0, 5, 0, u16(1) + u16(1) + u16(1)))

    write("integration_protocol", "hello", hello_body())
    write("integration_protocol", "message-header", packet(0, 1, 1, 1, hello_body())[8:])
    write("integration_protocol", "session-list", u32(3) + b"a" + bytes(31) + b"bb" + bytes(30) + b"ccc" + bytes(29))
    write("integration_protocol", "key-values", b"OSName=x\0=bad\0novalue\0Key=" + b"v" * 300 + b"\0last=1")
    write("integration_protocol", "progress", u32(7) + u32(1) + u32(2) + b"alice\x01\x02" + bytes(25))


# --- loaders ------------------------------------------------------------------------------
MB_MAGIC = 0x1BADB002


def mb_header(flags, fields=()):
    h = u32(MB_MAGIC) + u32(flags) + u32((-(MB_MAGIC + flags)) & 0xFFFFFFFF)
    for f in fields:
        h += u32(f)
    return h


def put(buf, offset, data):
    if len(buf) < offset + len(data):
        buf.extend(bytes(offset + len(data) - len(buf)))
    buf[offset:offset + len(data)] = data


def multiboot_elf():
    b = bytearray(0x1000)
    put(b, 0, b"\x7fELF" + bytes([1, 1, 1]))
    put(b, 16, u16(2) + u16(3) + u32(1) + u32(0x100010) + u32(52))
    put(b, 40, u16(52) + u16(32) + u16(1))
    put(b, 52, u32(1) + u32(0x1000) + u32(0x100000) + u32(0x100000) + u32(0x40) + u32(0x2000) + u32(7) + u32(0x1000))
    put(b, 0x400, mb_header(0x3))
    b += bytes([0xF4]) * 0x40
    return bytes(b)


def multiboot_aout():
    b = bytearray(bytes([0x90]) * 0x200)
    load = 0x100000
    put(b, 0x40, mb_header(0x10003, [load + 0x40, load, load + len(b), load + len(b) + 0x1000, load + 0x80]))
    return bytes(b)


def kvpc64(code=bytes([0xF4]), load=0x200000):
    h = b"KVPC64IM" + u32(1) + u32(48) + u64(load) + u64(48) + u64(48 + len(code) + 0x1000) + u64(0)
    return h + code


def bzimage():
    b = bytearray(0x400)
    put(b, 0x1FE, u16(0xAA55))
    put(b, 0x202, b"HdrS" + u16(0x020F))
    return bytes(b)


def loaders():
    for name, image in (("multiboot-elf", multiboot_elf()), ("multiboot-aout", multiboot_aout()),
                        ("kvpc64", kvpc64()), ("bzimage", bzimage()), ("flat", bytes([0xEB, 0xFE])),
                        ("elf-not-multiboot", b"\x7fELF" + bytes(60))):
        write("kernel_format", name, image)
    write("multiboot", "elf", bytes([0x05]) + b"a=1 b" + multiboot_elf())
    write("multiboot", "aout-module", bytes([0x13]) + b"x=y" + bytes([2]) + bytes(range(32)) + multiboot_aout())
    write("elf32", "multiboot-elf", multiboot_elf())
    write("flat", "loop", bytes([0xB0, 0x41, 0xE6, 0xE9, 0xEB, 0xFE]))
    write("firmware", "reset-vector", bytes([1]) + bytes([0xEA, 0x5B, 0xE0, 0x00, 0xF0]))
    write("firmware", "unpadded", bytes([0]) + bytes(100))
    write("kvpc64", "hlt", bytes([0x45]) + b"quiet" + kvpc64())
    write("kvpc64", "big-bss", bytes([0x80]) + kvpc64(bytes(64), 0x100000))
    write("kernel_loader", "auto-multiboot", bytes([0x18, 4]) + b"a=b " + bytes([1]) + bytes(16) + multiboot_elf())
    write("kernel_loader", "kvpc64-forced", bytes([0x22]) + kvpc64())
    write("kernel_loader", "flat-auto", bytes([0x20, 0xEB, 0xFE]))
    write("kernel_loader", "bzimage", bytes([0x20]) + bzimage())
    write("linux_boot", "bzimage-stub", bytes([0, 9]) + b"console=1" + bzimage())
    elf64 = bytearray(64)
    put(elf64, 0, b"\x7fELF" + bytes([2, 1, 1]))
    put(elf64, 16, u16(2) + u16(0x3E) + u32(1))
    write("linux_boot", "elf64-header", bytes([1, 0]) + bytes(elf64))


# --- the interpreter ----------------------------------------------------------------------
def emu():
    code64 = bytes([
        0xB0, 0x41, 0xE6, 0xE9,                    # mov al,0x41 ; out 0xe9,al
        0xE4, 0x60,                                # in al,0x60
        0x48, 0xC7, 0xC1, 0x10, 0, 0, 0,           # mov rcx,16
        0x48, 0xC7, 0xC7, 0, 0, 2, 0,              # mov rdi,0x20000
        0xF3, 0xAA,                                # rep stosb
        0x48, 0xB8, 0, 0, 0, 0xD0, 0, 0, 0, 0,     # mov rax,0xd0000000
        0x8B, 0x18, 0x89, 0x18,                    # mov ebx,[rax] ; mov [rax],ebx
        0x0F, 0xA2,                                # cpuid
        0xCC,                                      # int3
        0xFB, 0xF4,                                # sti ; hlt
        0x0F, 0x20, 0xC0, 0x0F, 0x22, 0xC0,        # mov rax,cr0 ; mov cr0,rax
        0x0F, 0x01, 0xF8,                          # swapgs
        0xCD, 0x80, 0x0F, 0x0B,                    # int 0x80 ; ud2
    ])
    write("emu_exec", "long-mode-mix", bytes([0]) + u64(0x0123456789ABCDEF) + code64)
    code32 = bytes([0xB8, 0x10, 0, 0, 0, 0x8E, 0xD8, 0x66, 0xBA, 0xF8, 0x03, 0xEE, 0xEC, 0x31, 0xC9, 0xF7, 0xF1])
    write("emu_exec", "protected-mode-div0", bytes([1]) + u64(7) + code32)
    write("emu_exec", "user-gates-no-idt", bytes([6]) + u64(0) + bytes([0xCD, 0x03, 0xF4]))
    write("emu_decoder", "mix", code64)
    write("emu_decoder", "prefixes", bytes([0x66, 0x67, 0xF3, 0x2E, 0x48, 0x0F, 0xB7, 0x84, 0x88, 0x11, 0x22, 0x33, 0x44]))


def control():
    write("control_socket", "requests", b'\x05{"id":1,"method":"echo","params":{"a":[1,2,{"b":null}]}}\n'
          b'{"method":"events"}\n{"id":[1],"method":"status","params":{"x":1}}\nnot json\n[]\n'
          b'{"id":2,"method":7}\n{"id":3,"method":"nope"}\n{"id":4,"method":"later","params":[]}\n   \n'
          b'{"id":"\xff\xfe","method":"echo","params":{"s":"\xc3\xa9"}}\n')


# --- disk images (tests/fuzz/block_image_script.h, vhd_fuzz.cc, raw_fuzz.cc) -------------------
def be(fmt, *v): return struct.pack(">" + fmt, *v)


def vhd_checksum(data, at):
    total = sum(b for i, b in enumerate(data) if not at <= i < at + 4)
    return ~total & 0xFFFFFFFF


def vhd_footer(size, disk_type, data_offset):
    f = bytearray(512)
    f[0:8] = b"conectix"
    f[8:28] = be("IIQI", 2, 0x00010000, data_offset, 0)
    f[28:40] = b"kvpc" + be("II", 0x00010000, 0x5769326B)
    f[40:64] = be("QQHBBI", size, size, size // 512 // (16 * 63), 16, 63, disk_type)
    f[68:84] = bytes(range(16))
    f[64:68] = be("I", vhd_checksum(f, 64))
    return bytes(f)


def vhd_dynamic(size, block, allocated=(), bitmap_fill=0xFF):
    blocks = (size + block - 1) // block
    bat_bytes = (blocks * 4 + 511) // 512 * 512
    bitmap = ((block // 512 + 7) // 8 + 511) // 512 * 512
    footer = vhd_footer(size, 3, 512)
    header = bytearray(1024)
    header[0:8] = b"cxsparse"
    header[8:36] = be("QQIII", 0xFFFFFFFFFFFFFFFF, 1536, 0x00010000, blocks, block)
    header[36:40] = be("I", vhd_checksum(header, 36))
    bat = [0xFFFFFFFF] * blocks
    body = bytearray()
    at = 1536 + bat_bytes
    for n in allocated:
        bat[n] = (at + len(body)) // 512
        body += bytes([bitmap_fill]) * bitmap + bytes((n * 3 + i) & 0xFF for i in range(block))
    table = b"".join(be("I", e) for e in bat).ljust(bat_bytes, b"\xff")
    return footer + bytes(header) + table + bytes(body) + footer


class BlockScript:
    """Steps of tests/fuzz/block_image_script.h; the first byte's bit 0 is the target's flag."""
    def __init__(self, flag=0):
        self.b = bytearray([flag])

    def read(self, sector, count):
        self.b += bytes([0]) + u32(sector) + bytes([count]); return self

    def write(self, sector, count, fill):
        self.b += bytes([1]) + u32(sector) + bytes([count, fill]); return self

    def flush(self):
        self.b += bytes([2]) + u32(0) + bytes([0]); return self

    def unaligned(self, sector, count, skew):
        self.b += bytes([3]) + u32(sector) + bytes([count, skew]); return self

    def input(self, image):
        return u16(len(self.b)) + self.b + image


def disks():
    mixed = (BlockScript().read(0, 8).read(9, 3).write(2, 4, 0x11).read(0, 8).write(14, 4, 0x22).flush()
             .write(100, 8, 0x33).read(124, 4).write(127, 1, 0x44).read(126, 2).unaligned(5, 2, 7)
             .unaligned(5, 2, 8).write(128, 1, 0x55).read(125, 4).flush())
    write("vhd", "dynamic-sparse", mixed.input(vhd_dynamic(64 << 10, 4096, allocated=(1, 5), bitmap_fill=0xA5)))
    write("vhd", "dynamic-512-byte-blocks", mixed.input(vhd_dynamic(16 << 10, 512, allocated=(3,))))
    write("vhd", "fixed", mixed.input(bytes((i * 11) & 0xFF for i in range(32 << 10)) + vhd_footer(32 << 10, 2, 0xFFFFFFFFFFFFFFFF)))
    bad = bytearray(vhd_dynamic(64 << 10, 4096, allocated=(2,)))
    bad[1536 + 2 * 4:1536 + 3 * 4] = be("I", 0x7FFFFFF0)  # BAT entry past the end; flag fixes checksums
    write("vhd", "bad-bat-entry", BlockScript(1).read(16, 8).input(bytes(bad)))
    raw_script = (BlockScript().read(0, 4).write(1, 2, 0x66).read(0, 4).write(30, 4, 0x77).read(31, 1)
                  .unaligned(3, 1, 9).flush())
    write("raw", "with-partial-sector", raw_script.input(bytes(range(256)) * 64 + b"tail"))
    write("raw", "read-only", BlockScript(1).write(0, 1, 1).read(0, 2).input(bytes(2048)))


# --- virtio-blk (tests/fuzz/virtio_blk_fuzz.cc) -------------------------------------------
class VirtioScript:
    def __init__(self, pfn=1, read_only=0, firmware=b""):
        self.b = bytearray([len(firmware)]) + firmware + bytes([read_only, pfn])

    def reg_write(self, offset, width_code, value):
        self.b += bytes([0, offset, width_code]) + u32(value); return self

    def reg_read(self, offset, width_code):
        self.b += bytes([1, offset, width_code]); return self

    def desc(self, index, addr, length, flags, nxt):
        self.b += bytes([2, index, 0]) + u32(addr) + u16(length) + bytes([flags, nxt]); return self

    def publish(self, head):
        self.b += bytes([3, 0, head]); return self

    def avail_idx(self, value):
        self.b += bytes([4]) + u16(value); return self

    def ram(self, gpa, data):
        self.b += bytes([5]) + u32(gpa) + bytes([len(data)]) + data; return self

    def header(self, gpa, type_pick, sector):
        self.b += bytes([6]) + u32(gpa) + bytes([type_pick, 0, sector]); return self

    def process(self):
        self.b += bytes([7]); return self

    def command(self, value):
        self.b += bytes([8]) + u16(value); return self

    def driver_init(self, pfn):
        self.b += bytes([9, 0, pfn]); return self

    def request(self, first, header_gpa, type_pick, sector, data_gpa, length, device_writes):
        self.header(header_gpa, type_pick, sector)
        self.desc(first, header_gpa, 16, 1, first + 1)
        self.desc(first + 1, data_gpa, length, 1 | (2 if device_writes else 0), first + 2)
        self.desc(first + 2, header_gpa + 16, 1, 2, 0)
        return self.publish(first)


def virtio():
    good = VirtioScript()
    good.ram(0x21000, bytes(range(200)))
    good.request(0, 0x20000, 1, 3, 0x21000, 512, False).process()    # OUT sector 3
    good.request(3, 0x20100, 0, 3, 0x22000, 1024, True).process()    # IN sectors 3-4
    good.request(6, 0x20200, 3, 0, 0x23000, 20, True).process()      # GET_ID
    good.header(0x20300, 2, 0).desc(9, 0x20300, 16, 1, 10).desc(10, 0x20310, 1, 2, 0).publish(9).process()  # FLUSH
    good.reg_read(0x13, 0).reg_read(0x14, 2)
    write("virtio_blk", "requests", good.b)
    hostile = VirtioScript(pfn=2)
    hostile.desc(0, 0x20000, 16, 1, 0).publish(0).process()           # a loop: NEEDS_RESET
    hostile.reg_read(0x12, 0).driver_init(2)
    hostile.request(0, 0x20000, 0, 200, 0x21000, 512, True).process()  # past the disk: IOERR
    hostile.avail_idx(0x8000).process().reg_write(0x12, 0, 0).driver_init(3)
    hostile.request(0, 0x20000, 0, 1, 0x3FF00, 0x200, True).process()  # data runs past RAM
    write("virtio_blk", "hostile-chains", hostile.b)
    write("virtio_blk", "bus-master-off", VirtioScript().command(1).request(0, 0x20000, 0, 1, 0x21000, 512, True)
          .process().command(5).process().b)


if __name__ == "__main__":
    devices()
    integration()
    loaders()
    emu()
    control()
    disks()
    virtio()
