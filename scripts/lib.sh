# SPDX-License-Identifier: GPL-2.0
# Shared settings for memdriver's scripts; sourced, never run.

MEMDRIVER_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Everything downloaded or built outside the repo lives here.
MEMDRIVER_CACHE=${MEMDRIVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/memdriver}
KERNELS_DIR=$MEMDRIVER_CACHE/kernels
OUT_DIR=${MEMDRIVER_OUT:-$MEMDRIVER_CACHE/out}

# The kernel matrix: "<series>:<debian arch>". Debian's kernels, and own
# debug kernels (series debug: KASAN, kmemleak, lockdep, fault injection...)
# that scripts/build-debug-kernel.sh builds from Debian's linux-source-6.12
# (arm64, 16 KiB pages: the Pi 5's) and sid's newest linux-source (x86_64).
# Series raspi: Debian's 6.12 arm64 kernel (same package and headers as
# 6.12:arm64) on QEMU's emulated Raspberry Pi 3B, whose BCM2835 DMA
# controller gives MEM_IOCTL_DMA_COPY a real dmaengine memcpy channel.
ALL_KERNELS="6.1:amd64 6.1:arm64 6.12:amd64 6.12:arm64 raspi:arm64"
DEBUG_KERNELS="debug:amd64 debug:arm64"

log() { printf '[memdriver] %s\n' "$*" >&2; }
die() { printf '[memdriver] error: %s\n' "$*" >&2; exit 1; }

# Debian arch -> kernel ARCH, CROSS_COMPILE, user-space compiler.
kernel_arch() { case $1 in amd64) echo x86_64 ;; arm64) echo arm64 ;; esac; }
cross_prefix() {
	case $1 in
	amd64) [ "$(uname -m)" = x86_64 ] || echo x86_64-linux-gnu- ;;
	arm64) [ "$(uname -m)" = aarch64 ] || echo aarch64-linux-gnu- ;;
	esac
}

# Where a fetched kernel lives: $KERNELS_DIR/<series>-<arch>/{vmlinuz,headers/}
# Series "debug" is an own debug kernel (scripts/build-debug-kernel.sh), laid
# out the same way.
kernel_dir() {
	case $1 in
	debug) debug_kernel_dir "$2" ;;
	raspi) echo "$KERNELS_DIR/6.12-$2" ;;
	*) echo "$KERNELS_DIR/$1-$2" ;;
	esac
}

# Build memdriver.ko and memdriver_test for one kernel of the matrix in
# <dir>, from a fresh copy of the sources, so the tree stays clean.
build_for_kernel() { # series arch dir
	local kdir cross
	kdir=$(kernel_dir "$1" "$2")
	cross=$(cross_prefix "$2")
	rm -rf "$3" && mkdir -p "$3"
	cp "$MEMDRIVER_TOP"/{memdriver.c,memdriver.h,Kbuild,Makefile,memdriver_test.c} "$3/"
	cp -r "$MEMDRIVER_TOP/tests" "$3/"
	log "building memdriver.ko for $(cat "$kdir/release")"
	make -s -C "$3" KDIR="$kdir/headers" \
		ARCH="$(kernel_arch "$2" | sed 's/x86_64/x86/')" CROSS_COMPILE="$cross" \
		USER_CC="${cross}gcc" modules memdriver_test
}

# Where an own debug kernel lives (scripts/build-debug-kernel.sh), for the
# current fragments and source version: <dir>/{vmlinuz,build/,.complete}
# The raspi series' device tree, from the same Debian kernel package.
raspi_dtb() { ls "$(kernel_dir raspi arm64)"/root/usr/lib/linux-image-*/broadcom/bcm2837-rpi-3-b.dtb 2>/dev/null | head -1; }

debug_kernel_dir() { "$MEMDRIVER_TOP/scripts/build-debug-kernel.sh" --print-dir "$1"; }
