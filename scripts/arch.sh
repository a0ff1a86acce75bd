# SPDX-License-Identifier: GPL-2.0
# Everything that differs by architecture, in one place; sourced by lib.sh.
#
# arch_facts <amd64|arm64> sets, for a Debian architecture name:
#   KARCH          the kernel's name (x86_64, arm64); MAKE_ARCH what kbuild's
#                  ARCH= takes (x86, arm64); UNAME_M what uname -m says
#   CROSS          CROSS_COMPILE prefix, empty when the build machine's own
#   COMPAT_ARCH    the 32-bit user space the 64-bit guest also runs (through
#   COMPAT_CC      compat_ioctl), and its compiler
#   KIMAGE         the boot image's make target; KIMAGE_PATH in the O= tree
#   QEMU           the machine: binary, board, CPU, exit device (an array)
#   CONSOLE        the serial console the guest writes to
#   PASS_RC        QEMU's exit status when the guest passes (scripts/guest/exit.c)
#   BUSYBOX        the static busybox the initramfs runs
#   ELF_MACHINE    what readelf -h says of its programs ("Machine:")
#   ARCH_PKGS      the Debian packages that build and boot it here: QEMU
#                  and, when not native, the cross compiler
#   COMPAT_PKGS    the 32-bit compiler's (the test command's 32-bit build)
arch_facts() {
	case $1 in
	amd64)
		KARCH=x86_64 MAKE_ARCH=x86 triplet=x86_64-linux-gnu
		COMPAT_ARCH=i386 COMPAT_CC=i686-linux-gnu-gcc
		KIMAGE=bzImage KIMAGE_PATH=arch/x86/boot/bzImage
		# isa-debug-exit: writing N makes QEMU exit with 2N+1.
		QEMU=(qemu-system-x86_64 -M pc -cpu max
			-device isa-debug-exit,iobase=0xf4,iosize=0x04)
		CONSOLE=ttyS0 PASS_RC=1 ELF_MACHINE="Advanced Micro Devices X86-64"
		BUSYBOX=/bin/busybox
		ARCH_PKGS=qemu-system-x86
		COMPAT_PKGS="gcc-i686-linux-gnu libc6-dev-i386-cross"
		;;
	arm64)
		KARCH=arm64 MAKE_ARCH=arm64 triplet=aarch64-linux-gnu
		COMPAT_ARCH=armhf COMPAT_CC=arm-linux-gnueabihf-gcc
		KIMAGE=Image KIMAGE_PATH=arch/arm64/boot/Image
		# cortex-a76, not max: pointer-auth emulation makes max ~5x
		# slower; it has the 16 KiB granule the Pi 5's kernel needs.
		# Semihosting SYS_EXIT: QEMU exits with N.
		QEMU=(qemu-system-aarch64 -M virt -cpu cortex-a76
			-semihosting-config enable=on,target=native,userspace=on)
		CONSOLE=ttyAMA0 PASS_RC=0 ELF_MACHINE=AArch64
		BUSYBOX=$MEMDRIVER_CACHE/busybox/arm64/busybox
		ARCH_PKGS=qemu-system-arm
		COMPAT_PKGS="gcc-arm-linux-gnueabihf libc6-dev-armhf-cross"
		;;
	*) die "unknown arch '$1' (amd64 or arm64)" ;;
	esac
	UNAME_M=${triplet%%-*} CROSS=
	if [ "$(uname -m)" != "$UNAME_M" ]; then
		CROSS=$triplet-
		ARCH_PKGS+=" gcc-$triplet libc6-dev-$1-cross"
	fi
}

# The loaded scenario's machine (scenario_load in lib.sh): QEMU and its
# arguments, MACHINE_ARGS (memory, CPUs, device tree), for MACHINE:
#   pc, virt  arch_facts' own (amd64, arm64)
#   raspi3b   QEMU's Raspberry Pi 3B (arm64): its fixed 4 Cortex-A53s and
#             1 GiB, the PL011 as ttyAMA0, semihosting still exits; boots
#             with the scenario's device tree (the DMA controller at
#             3f007000, bus addresses at the 0xC0000000 alias)
machine_facts() { # [dtb]
	arch_facts "$ARCH"
	case $MACHINE-$ARCH in
	pc-amd64 | virt-arm64) ;;
	raspi3b-arm64)
		QEMU=(qemu-system-aarch64 -M raspi3b
			-semihosting-config enable=on,target=native,userspace=on)
		;;
	*) die "scenario $SCENARIO: no machine $MACHINE for $ARCH" ;;
	esac
	MACHINE_ARGS=(-m "$MEMORY")
	[ -z "$SMP" ] || MACHINE_ARGS+=(-smp "$SMP")
	[ -z "${1:-}" ] || MACHINE_ARGS+=(-dtb "$1")
}
