/*
 * syscall-pf-probe ENTRY: makes system calls the way the nested KVM delivers SYSCALL to the
 * test kernel (../../docs/linux-guests.md, patch 0002): RCX = return address, R11 = RFLAGS,
 * RAX = number, then user-mode execution continues at entry_SYSCALL_64 (ENTRY, a kernel
 * address from `nm vmlinux`; the test kernel has no KASLR) and faults on the instruction fetch.
 * A kernel booted with syscall_pf_fixup=1 completes each call and returns to RCX; without it
 * the program gets SIGSEGV. This is how the fixup is exercised where SYSCALL itself works
 * (QEMU TCG): tools/qemu-boot-test-kernel.sh --probe.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

static long call_through_fault(uintptr_t entry, long nr, long a1, long a2, long a3, long *rbx_after) {
	long ret;
	long rbx = 0x5eed5eed5eedL; /* callee-saved: must survive */
	__asm__ volatile(
		"lea 1f(%%rip), %%rcx\n\t"
		"pushfq\n\t"
		"pop %%r11\n\t"
		"jmp *%[entry]\n"
		"1:\n\t"
		: "=a"(ret), "+b"(rbx)
		: "a"(nr), "D"(a1), "S"(a2), "d"(a3), [entry] "r"(entry)
		: "rcx", "r11", "memory", "cc");
	*rbx_after = rbx;
	return ret;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: syscall-pf-probe ENTRY_SYSCALL_64_ADDRESS\n");
		return 2;
	}
	uintptr_t entry = (uintptr_t)strtoull(argv[1], NULL, 16);
	long rbx;
	const char msg[] = "syscall-pf-probe: write through the fault path\n";
	long written = call_through_fault(entry, SYS_write, 1, (long)msg, (long)strlen(msg), &rbx);
	long pid = call_through_fault(entry, SYS_getpid, 0, 0, 0, &rbx);
	long bad = call_through_fault(entry, 100000, 0, 0, 0, &rbx); /* no such call: -ENOSYS */
	int ok = written == (long)strlen(msg) && pid == getpid() && bad == -38 && rbx == 0x5eed5eed5eedL;
	printf("syscall-pf-probe: %s (write %ld, getpid %ld vs %ld, unknown call %ld, rbx %s)\n", ok ? "ok" : "FAILED",
	       written, pid, (long)getpid(), bad, rbx == 0x5eed5eed5eedL ? "kept" : "clobbered");
	fflush(stdout);
	return ok ? 0 : 1;
}
