# SPDX-License-Identifier: GPL-2.0
# Shared settings for memdriver's scripts; sourced, never run.

MEMDRIVER_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Everything downloaded or built outside the repo lives here.
MEMDRIVER_CACHE=${MEMDRIVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/memdriver}
KERNELS_DIR=$MEMDRIVER_CACHE/kernels
OUT_DIR=${MEMDRIVER_OUT:-$MEMDRIVER_CACHE/out}
# trixie's dkms, unpacked (scripts/install-deps.sh): usr/sbin/dkms.
DKMS_TRIXIE_DIR=$MEMDRIVER_CACHE/dkms-trixie

# The guests: one file each in scripts/scenarios/ (see its README), named
# <kernel>-<arch>. A run boots every one; SCENARIOS picks some.
SCENARIO_DIR=$MEMDRIVER_TOP/scripts/scenarios
all_scenarios() { (cd "$SCENARIO_DIR" && ls | grep -vx README); }
# What a run boots: $SCENARIOS, or KERNELS' older "<series>:<arch>" words,
# or every scenario.
run_scenarios() {
	local s=${SCENARIOS:-${KERNELS:-}}
	[ -n "$s" ] && echo "${s//:/-}" || all_scenarios
}

. "$MEMDRIVER_TOP/scripts/arch.sh"

log() { printf '[memdriver] %s\n' "$*" >&2; }
die() { printf '[memdriver] error: %s\n' "$*" >&2; exit 1; }

# The suite's sections (functions of scripts/guest/suite.sh) a scenario
# runs unless it says otherwise.
SUITE_DEFAULT="defaults custom hold modprobe bad_params load_faults cycles dma"

# Load scenario $1 into the variables below, defaults first. A scenario
# file sets only what differs (scripts/scenarios/README). KDIR_ROOT is
# where its kernel lives, unless --no-kdir (build-debug-kernel.sh, which
# is what tells where an own kernel lives).
scenario_load() { # name [--no-kdir]
	local f=$SCENARIO_DIR/$1
	[ -f "$f" ] || die "no scenario '$1' (scripts/scenarios: $(all_scenarios | tr '\n' ' '))"
	SCENARIO=$1
	ARCH= KERNEL= KERNEL_SERIES= KERNEL_SUITES= KERNEL_SOURCE= KCONFIG=
	KERNEL_BUILD= KERNEL_DTB= MACHINE= MEMORY=1024 SMP=2 CMDLINE=
	TIMEOUT=900 FUZZ_DIVISOR=1 TIMEOUT_SCALE=1 DEBUG=0 EXPECT_ENGINE=0 TESTDMA=1
	SUITE=$SUITE_DEFAULT EXTRA_BOOTS=() SKIPS=() RANK=3 KIND=busybox
	UPGRADE_SUITES= KERNEL_FLAVOUR= COMPAT_SUITE=1
	. "$f"
	case $ARCH in amd64 | arm64) ;; *) die "$f: ARCH must be amd64 or arm64" ;; esac
	case $KERNEL in debian | own) ;; *) die "$f: KERNEL must be debian or own" ;; esac
	case $KIND in busybox | system) ;; *) die "$f: KIND must be busybox or system" ;; esac
	[ -n "$MACHINE" ] || case $ARCH in amd64) MACHINE=pc ;; arm64) MACHINE=virt ;; esac
	# The test DMA engine is an engine the cases must see.
	[ "$KIND" = busybox ] || TESTDMA=0
	[ "$TESTDMA" = 0 ] || EXPECT_ENGINE=1
	# A system guest's kernel is its disk image's: none on the host.
	KDIR_ROOT=
	[ "${2:-}" = --no-kdir ] || [ "$KIND" = system ] || KDIR_ROOT=$(kernel_dir)
}

# Where the loaded scenario's kernel lives: <dir>/{vmlinuz,headers/,release}.
# Debian's: $KERNELS_DIR/<series>-<arch> (scripts/install-deps.sh), shared
# by the scenarios that boot the same package; own kernels: where
# scripts/build-debug-kernel.sh builds them for their current key.
kernel_dir() {
	if [ "$KERNEL" = own ]; then
		"$MEMDRIVER_TOP/scripts/build-debug-kernel.sh" --print-dir "$SCENARIO"
	else
		echo "$KERNELS_DIR/$KERNEL_SERIES-$ARCH"
	fi
}
# The loaded scenario's device tree (KERNEL_DTB): from the Debian kernel
# package, or built beside an own kernel.
scenario_dtb() {
	if [ "$KERNEL" = own ]; then
		ls "$KDIR_ROOT/${KERNEL_DTB##*/}" 2>/dev/null
	else
		ls "$KDIR_ROOT"/root/usr/lib/linux-image-*/"$KERNEL_DTB" 2>/dev/null | head -1
	fi
}

# The guest's exit helper (scripts/guest/exit.c) for an arch, built once
# and again when its source changes; prints its path.
guest_exit_helper() { # arch
	local src=$MEMDRIVER_TOP/scripts/guest/exit.c
	local gexit=$MEMDRIVER_CACHE/guest-exit/$1/guest-exit
	if [ ! -x "$gexit" ] || [ "$src" -nt "$gexit" ]; then
		arch_facts "$1"
		mkdir -p "${gexit%/*}"
		# Guests boot two at a time: each builds into a file of its own.
		"${CROSS}gcc" -static -O2 -Wall -Wextra -Werror \
			-o "$gexit.$$.tmp" "$src"
		mv "$gexit.$$.tmp" "$gexit"
	fi
	echo "$gexit"
}

# An initramfs root: busybox with its applet links (the host's busybox is
# the same Debian version, so its list fits the arm64 one too), the exit
# helper as /bin/guest-exit and the given script as /init.
busybox_root() { # dir busybox guest-exit init
	local root=$1 applet
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp}
	cp "$2" "$root/bin/busybox"
	for applet in $(/bin/busybox --list-full); do
		[ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
	done
	cp "$3" "$root/bin/guest-exit"
	cp "$4" "$root/init"
	chmod +x "$root/init"
}

# ---- building: one way to stage the sources, one build of each kind ----
# Every build works on a fresh copy of the sources, so the tree stays clean.
# memdriver.c includes its parts from driver/ (one compilation unit).
MODULE_SOURCES=(Makefile Kbuild memdriver.c memdriver.h $(cd "$MEMDRIVER_TOP" && echo driver/*)
	kunit/memdriver_kunit.c)
USER_SOURCES=(Makefile memdriver.h memdriver_test.c tests debian/changelog)
stage_sources() { # dir files...
	local dir=$1
	shift
	rm -rf "$dir" && mkdir -p "$dir"
	(cd "$MEMDRIVER_TOP" && cp -r --parents "$@" "$dir/")
}
# memdriver's version: its one home is debian/changelog's first line.
memdriver_version() {
	sed -n '1s/^memdriver (\([^)]*\)).*/\1/p' "$MEMDRIVER_TOP/debian/changelog"
}
# The sources DKMS builds, as dh_dkms -V hands them over: in <dir>, with
# dkms.conf's version placeholder replaced by <version>.
stage_dkms_sources() { # dir version
	stage_sources "$1" dkms.conf LICENSE "${MODULE_SOURCES[@]}"
	sed -i "s/#MODULE_VERSION#/$2/" "$1/dkms.conf"
}
# The architectures of the Debian packages (scripts/build-deb.sh): the build
# machine's and arm64, the Pi 5's (cross-built on x86_64).
deb_arches() {
	printf '%s\n' "$(dpkg --print-architecture)" arm64 | awk '!seen[$0]++'
}
# A kernel object for one kernel of the matrix, through the project's
# Makefile, from a fresh copy of the sources the array @sources names.
# Further arguments go to make (the test command adds W=1 C=2).
build_kbuild() { # scenario dir make-target built-file sources [make args...]
	local dir=$2 target=$3 built=$4 sources="$5[@]"
	scenario_load "$1"
	shift 5
	arch_facts "$ARCH"
	stage_sources "$dir" "${!sources}"
	make -C "$dir" KDIR="$KDIR_ROOT/headers" ARCH="$MAKE_ARCH" CROSS_COMPILE="$CROSS" \
		"$@" "$target" && test -f "$dir/$built"
}
# memdriver.ko, into <dir>/memdriver.ko.
build_module() { # scenario dir [make args...]
	build_kbuild "$1" "$2" modules memdriver.ko MODULE_SOURCES "${@:3}"
}
# The test DMA engine (tests/testdma/), into
# <dir>/tests/testdma/memdriver_testdma.ko.
TESTDMA_SOURCES=(Makefile tests/testdma)
build_testdma() { # scenario dir [make args...]
	build_kbuild "$1" "$2" testdma tests/testdma/memdriver_testdma.ko TESTDMA_SOURCES "${@:3}"
}
# memdriver_test for an arch, or its 32-bit user space with "32".
build_user() { # arch dir [32]
	local cc
	arch_facts "$1"
	cc=${CROSS}gcc
	[ "${3:-}" != 32 ] || cc=$COMPAT_CC
	stage_sources "$2" "${USER_SOURCES[@]}"
	make -s -C "$2" USER_CC="$cc" USER_WERROR=-Werror memdriver_test
}

# The tutorial's own program, compiled unchanged (-w: not ours to restyle).
build_tutorial() { # arch dir
	arch_facts "$1"
	"${CROSS}gcc" -O2 -w -static -o "$2/tutorial_test" "$MEMDRIVER_TOP/scripts/tutorial_test.c"
}
# A guest's payload, the initramfs's files on top of busybox: the module,
# the tools named, the module installed as "make install" lays it out with
# contrib/memdriver.conf (for the guest's modprobe), and the guest's job as
# /run.sh (a file from scripts/guest/).
make_payload() { # dir scenario ko run.sh [files...]
	local dir=$1 ko=$3 run=$4 release
	scenario_load "$2"
	shift 4
	rm -rf "$dir" && mkdir -p "$dir"
	cp "$ko" "$@" "$dir/"
	release=$(cat "$KDIR_ROOT/release")
	mkdir -p "$dir/lib/modules/$release/updates" "$dir/etc/modprobe.d"
	cp "$ko" "$dir/lib/modules/$release/updates/"
	# Debian's modules kept for the guests (install-deps.sh), such as vgem.
	if [ -d "$KDIR_ROOT/modules" ]; then
		mkdir -p "$dir/lib/modules/$release/kernel"
		cp "$KDIR_ROOT"/modules/*.ko "$dir/lib/modules/$release/kernel/"
	fi
	depmod -b "$dir" "$release" 2>/dev/null
	cp "$MEMDRIVER_TOP/contrib/memdriver.conf" "$dir/etc/modprobe.d/"
	cp "$MEMDRIVER_TOP/scripts/guest/common.sh" "$dir/"
	cp "$run" "$dir/run.sh"
}

# Model-based fuzzing: 200k + 50k operations per stock guest, and the
# stress test's 1000 rounds, divided by the scenario's FUZZ_DIVISOR on the
# slower ones.
# A failure prints its seed; MEMDRIVER_FUZZ_SEED=N replays it.
FUZZ_SEED=${MEMDRIVER_FUZZ_SEED:-$(date +%s)}
FUZZ_OPS=${MEMDRIVER_FUZZ_OPS:-200000}
FUZZ_CAPS_OPS=${MEMDRIVER_FUZZ_CAPS_OPS:-50000}
# The guest's settings (/guest.conf, read by scripts/guest/suite.sh and
# try.sh) for the loaded scenario.
guest_conf() { # sections
	echo "FUZZ_SEED=$FUZZ_SEED FUZZ_OPS=$((FUZZ_OPS / FUZZ_DIVISOR))" \
		"FUZZ_CAPS_OPS=$((FUZZ_CAPS_OPS / FUZZ_DIVISOR))" \
		"STRESS_ROUNDS=$((1000 / FUZZ_DIVISOR)) DEBUG=$DEBUG"
	echo "EXPECT_ENGINE=$EXPECT_ENGINE TESTDMA=$TESTDMA TIMEOUT_SCALE=$TIMEOUT_SCALE"
	echo "COMPAT_SUITE=$COMPAT_SUITE"
	# Debian's kernels ship vgem and brd; the payload carries them
	# (make_payload). Every own kernel has vgem built in (qemu.config),
	# and brd where it is built with the block fragment.
	echo "VGEM=1"
	echo "BRD=$({ [ "$KERNEL" = debian ] || [[ " $KCONFIG " = *" block "* ]]; } &&
		echo 1 || echo 0)"
	echo "SUITE='$1'"
}
# A fresh work dir with memdriver and memdriver_test built for one scenario
# and a payload whose /run.sh is scripts/guest/<job> (demo.sh, bench.sh,
# vm-run.sh --shell).
# Called as a plain command from scripts under set -e, so any step that
# fails ends them, as it did when each wrote these steps out.
tool_payload() { # scenario work job
	rm -rf "$2" && mkdir -p "$2"
	build_module "$1" "$2/module" -s
	build_user "$ARCH" "$2/user"
	build_tutorial "$ARCH" "$2/user"
	make_payload "$2/payload" "$1" "$2/module/memdriver.ko" \
		"$MEMDRIVER_TOP/scripts/guest/$3" "$2/user/memdriver_test" "$2/user/tutorial_test"
	# The commands README.md tells a user to type (scripts/demo.sh's job).
	"$MEMDRIVER_TOP/scripts/readme-blocks.sh" "$2/payload/readme" "$MEMDRIVER_TOP/README.md" >/dev/null
}
