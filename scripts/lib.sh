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
# Series debugraspi: an own debug kernel from linux-source-6.1 on that same
# raspi3b (build-debug-kernel.sh raspi), the engine cases under the checks.
ALL_KERNELS="6.1:amd64 6.1:arm64 6.12:amd64 6.12:arm64 raspi:arm64"
DEBUG_KERNELS="debug:amd64 debug:arm64 debugraspi:arm64"

. "$MEMDRIVER_TOP/scripts/arch.sh"

log() { printf '[memdriver] %s\n' "$*" >&2; }
die() { printf '[memdriver] error: %s\n' "$*" >&2; exit 1; }

# Where a fetched kernel lives: $KERNELS_DIR/<series>-<arch>/{vmlinuz,headers/}
# Series "debug" and "debugraspi" are own debug kernels
# (scripts/build-debug-kernel.sh <arch> and raspi), laid out the same way.
kernel_dir() {
	case $1 in
	debug) debug_kernel_dir "$2" ;;
	debugraspi) debug_kernel_dir raspi ;;
	raspi) echo "$KERNELS_DIR/6.12-$2" ;;
	*) echo "$KERNELS_DIR/$1-$2" ;;
	esac
}

# ---- building: one way to stage the sources, one build of each kind ----
# Every build works on a fresh copy of the sources, so the tree stays clean.
MODULE_SOURCES=(Makefile Kbuild memdriver.c memdriver.h kunit/memdriver_kunit.c)
USER_SOURCES=(Makefile memdriver.h memdriver_test.c tests)
stage_sources() { # dir files...
	local dir=$1
	shift
	rm -rf "$dir" && mkdir -p "$dir"
	(cd "$MEMDRIVER_TOP" && cp -r --parents "$@" "$dir/")
}
# memdriver.ko for one kernel of the matrix, through the project's Makefile.
# Further arguments go to make (the test command adds W=1 C=2).
build_module() { # series arch dir [make args...]
	local kdir series=$1 arch=$2 dir=$3
	shift 3
	kdir=$(kernel_dir "$series" "$arch")
	arch_facts "$arch"
	stage_sources "$dir" "${MODULE_SOURCES[@]}"
	make -C "$dir" KDIR="$kdir/headers" ARCH="$MAKE_ARCH" CROSS_COMPILE="$CROSS" \
		"$@" modules && test -f "$dir/memdriver.ko"
}
# memdriver_test for an arch, or its 32-bit user space with "32".
build_user() { # arch dir [32]
	local cc
	arch_facts "$1"
	cc=${CROSS}gcc
	[ "${3:-}" != 32 ] || cc=$COMPAT_CC
	stage_sources "$2" "${USER_SOURCES[@]}"
	make -s -C "$2" USER_CC="$cc" memdriver_test
}

# A guest's payload, the initramfs's files on top of busybox: the module,
# the tools named, the module installed as "make install" lays it out with
# contrib/memdriver.conf (for the guest's modprobe), and the guest's job as
# /run.sh (a file from scripts/guest/).
make_payload() { # dir series arch ko run.sh [files...]
	local dir=$1 series=$2 arch=$3 ko=$4 run=$5 release
	shift 5
	rm -rf "$dir" && mkdir -p "$dir"
	cp "$ko" "$@" "$dir/"
	release=$(cat "$(kernel_dir "$series" "$arch")/release")
	mkdir -p "$dir/lib/modules/$release/updates" "$dir/etc/modprobe.d"
	cp "$ko" "$dir/lib/modules/$release/updates/"
	depmod -b "$dir" "$release" 2>/dev/null
	cp "$MEMDRIVER_TOP/contrib/memdriver.conf" "$dir/etc/modprobe.d/"
	cp "$run" "$dir/run.sh"
}

# A fresh work dir with memdriver and memdriver_test built for one kernel
# and a payload whose /run.sh is scripts/guest/<job> (demo.sh, bench.sh,
# vm-run.sh --shell).
# Called as a plain command from scripts under set -e, so any step that
# fails ends them, as it did when each wrote these steps out.
tool_payload() { # series arch work job
	rm -rf "$3" && mkdir -p "$3"
	build_module "$1" "$2" "$3/module" -s
	build_user "$2" "$3/user"
	make_payload "$3/payload" "$1" "$2" "$3/module/memdriver.ko" \
		"$MEMDRIVER_TOP/scripts/guest/$4" "$3/user/memdriver_test"
}

# The raspi series' device tree, from the same Debian kernel package;
# debugraspi's, built from its own source beside its kernel.
raspi_dtb() { # [series]
	if [ "${1:-raspi}" = debugraspi ]; then
		ls "$(kernel_dir debugraspi arm64)/bcm2837-rpi-3-b.dtb" 2>/dev/null
	else
		ls "$(kernel_dir raspi arm64)"/root/usr/lib/linux-image-*/broadcom/bcm2837-rpi-3-b.dtb 2>/dev/null | head -1
	fi
}

# Where an own debug kernel lives (scripts/build-debug-kernel.sh <target>:
# amd64, arm64 or raspi), for the current fragments and source version:
# <dir>/{vmlinuz,build/,.complete}, and raspi's bcm2837-rpi-3-b.dtb
debug_kernel_dir() { "$MEMDRIVER_TOP/scripts/build-debug-kernel.sh" --print-dir "$1"; }
# A series that is an own debug kernel (vm-run.sh's and test.sh's tests).
is_debug_series() { case $1 in debug | debugraspi) return 0 ;; esac; return 1; }
# A series booted on QEMU's raspi3b, with its DMA engine.
is_raspi_series() { case $1 in raspi | debugraspi) return 0 ;; esac; return 1; }
