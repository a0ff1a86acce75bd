// SPDX-License-Identifier: GPL-2.0
/*
 * guest-exit: make QEMU exit with a status derived from N, so the host sees
 * the guest's verdict without parsing the console. Run inside the guest as
 * "/bin/guest-exit N" (0 = pass). Static, no dependencies.
 *
 * x86_64:  writes N to I/O port 0xf4; QEMU's isa-debug-exit device then
 *          exits with 2N+1.
 * aarch64: Arm semihosting SYS_EXIT (ADP_Stopped_ApplicationExit, N);
 *          QEMU with -semihosting-config enable=on,userspace=on exits with N.
 */
#include <stdio.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <sys/io.h>

static void guest_exit(unsigned int n)
{
	if (ioperm(0xf4, 4, 1)) {
		perror("guest-exit: ioperm");
		return;
	}
	outb(n, 0xf4);
}
#elif defined(__aarch64__)
static void guest_exit(unsigned int n)
{
	/* SYS_EXIT (0x18) with {ADP_Stopped_ApplicationExit, status} */
	unsigned long block[2] = { 0x20026, n };

	asm volatile("mov x0, #0x18\n\tmov x1, %0\n\thlt #0xf000"
		     : : "r"(block) : "x0", "x1", "memory");
}
#else
#error "guest-exit supports x86_64 and aarch64 only"
#endif

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s N\n", argv[0]);
		return 1;
	}
	/* QEMU dies at once: let the serial console send what is queued. */
	tcdrain(STDOUT_FILENO);
	guest_exit((unsigned int)strtoul(argv[1], NULL, 0));
	/* Still here: no debug-exit device or semihosting disabled. */
	fprintf(stderr, "guest-exit: QEMU did not exit\n");
	return 1;
}
