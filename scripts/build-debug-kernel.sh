#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the own kernel of a scenario (scripts/scenarios/, KERNEL=own) from a
# Debian linux-source-*: KERNEL_SOURCE, the newest of KERNEL_SUITES (with
# releases there, sid and trixie with its backports, the newest
# linux-source-<x.y> they have, resolved at run time), with the scripts/kconfig/ fragments KCONFIG names and, for a
# board, the device tree KERNEL_DTB built from the same source.
# Both are built with bookworm's compilers (sid's and trixie's tools need a
# newer glibc).
# `make tinyconfig` plus the fragments (a minimal QEMU guest, its machine's
# additions, and the debug checks: KASAN, kmemleak, lockdep, DMA-API debug,
# UBSAN, KFENCE, fault injection, KUnit, ...). Every option
# the fragments ask for is checked in the resolved .config; a missing one
# fails the build.
#
# usage: scripts/build-debug-kernel.sh [--print-dir|--config-only] <scenario>
#   --print-dir    only print where the kernel for the current key lives
#   --config-only  resolve and verify the .config, do not build
# LINUX_SOURCE_PKG / LINUX_SOURCE_VERSION pin another package / version.
#
# Output: $MEMDRIVER_CACHE/debug-kernels/<series>-<name>-<key>/ (name: the
# scenario's KERNEL_BUILD) with
#   vmlinuz   the boot image (bzImage / Image)
#   <dtb>     (KERNEL_DTB only) the device tree the board boots
#   build/    the O= tree: KDIR for `make -C build M=<dir> modules`, with
#             vmlinux and System.map for decoding reports
#   headers   -> build, and release: the layout of lib.sh's kernel_dir
#   info      what went into the key, the release and the build time
#   .complete written last; with it a rerun does nothing
# <key> hashes the linux-source package and version, the fragments, the
# compiler and this script's build settings. The source is unpacked once per
# version into debug-kernels/src-<version>; ccache keeps its objects in
# $MEMDRIVER_CACHE/ccache. A successful build removes the older keys of the
# same target and series only (another series may be in use by another
# build). Each target has its own lock, so raspi and arm64 build side by side.
# Prints the output directory on stdout.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/apt.sh"

mode=build
case ${1:-} in
--print-dir) mode=print; shift ;;
--config-only) mode=config; shift ;;
esac
[ $# -eq 1 ] || die "usage: $0 [--print-dir|--config-only] <scenario>"
scenario_load "$1" --no-kdir
[ "$KERNEL" = own ] || die "scenario $1 boots a Debian kernel, not an own one"
# target: the build's name (locks and the cache directory's name).
target=$KERNEL_BUILD
[ -n "$target" ] || die "scenario $1: KERNEL_BUILD missing"
arch_facts "$ARCH"
image=$KIMAGE image_path=$KIMAGE_PATH karch=$KARCH cross=$CROSS

DK_DIR=$MEMDRIVER_CACHE/debug-kernels
KCONFIG_DIR=$MEMDRIVER_TOP/scripts/kconfig
FRAGMENTS=()
for f in $KCONFIG; do FRAGMENTS+=("$KCONFIG_DIR/$f.config"); done
DTB=$KERNEL_DTB
# Fixed build identity: the same inputs give the same kernel (and ccache hits).
export KBUILD_BUILD_TIMESTAMP='Thu Jan  1 00:00:00 UTC 2026'
export KBUILD_BUILD_USER=memdriver KBUILD_BUILD_HOST=memdriver
export KBUILD_BUILD_VERSION=1
# Everything below that shapes the kernel goes into the key. Bump BUILD_REV
# when the build steps change in a way the other inputs do not show.
BUILD_REV=1
# uname -r in the guest says which kernel this is.
KMAKE_ARGS=(ARCH="$karch" CROSS_COMPILE="$cross" LOCALVERSION=-memdriver-debug)
SETTINGS="rev=$BUILD_REV base=tinyconfig image=$image args=${KMAKE_ARGS[*]}
 timestamp=$KBUILD_BUILD_TIMESTAMP
 cc=$("${cross}gcc" --version | head -1)
 hostcc=$(gcc --version | head -1)"
# Only a board's key has this line: the others stay what they were.
[ -z "$DTB" ] || SETTINGS+="
 dtb=$DTB"

# Which linux-source, as "package version suite". With KERNEL_SUITES naming
# Debian releases (sid, trixie: with its backports), the newest any of them
# has (scripts/apt.sh: newest_linux_source), "suite" then being the
# release; a build refreshes the lists (at most daily), so it follows the
# newest release; --print-dir answers from the lists as they are, so it
# names what the last build used.
source_spec() {
	local pkg=${LINUX_SOURCE_PKG:-$KERNEL_SOURCE} suite= v= s sv
	# shellcheck disable=SC2086 # a list of words
	if all_releases $KERNEL_SUITES; then
		read -r pkg v suite < <(newest_linux_source \
			"$([ $mode = print ] && echo asis || echo refresh)" "$KERNEL_SUITES" "$pkg") ||
			die "no ${pkg:-linux-source-*} in $KERNEL_SUITES"
	else
		[ $mode != print ] ||
			[ -z "$(ls "$APT_DIR/lists" 2>/dev/null | grep Packages | head -1)" ] &&
			private_apt_setup >&2
		# The newest of the suites' versions (bookworm-security's, say,
		# over the point release's), the first suite on a tie.
		for s in $KERNEL_SUITES; do
			sv=$(suite_version "$pkg" "$s")
			[ -n "$sv" ] || continue
			if [ -z "$v" ] || [ "$(printf '%s\n' "$v" "$sv" | sort -V | tail -1)" != "$v" ]; then
				v=$sv suite=$s
			fi
		done
	fi
	v=${LINUX_SOURCE_VERSION:-$v}
	[ -n "$v" ] || die "no $pkg in $KERNEL_SUITES"
	echo "$pkg $v $suite"
}

read -r pkg version suite < <(source_spec)
[ -n "${version:-}" ] || exit 1
series=${pkg#linux-source-}
key=$({
	echo "$pkg=$version"
	echo "$SETTINGS"
	for f in "${FRAGMENTS[@]}"; do
		[ -f "$f" ] || die "$f missing"
		echo "== ${f##*/}"
		cat "$f"
	done
} | sha256sum | cut -c1-12)
out=$DK_DIR/$series-$target-$key
if [ $mode = print ]; then
	echo "$out"
	exit 0
fi
if [ $mode = build ] && [ -f "$out/.complete" ]; then
	log "debug kernel $target: $(cat "$out/release") from $pkg=$version cached in $out"
	echo "$out"
	exit 0
fi

mkdir -p "$DK_DIR"
# One builder per target, one unpacker per source version.
exec 9>"$DK_DIR/.lock-$target"
flock 9

# ---- the source, unpacked once per version ----
src=$DK_DIR/src-$version
fresh_source=false
unpack_source() {
	[ -f "$src/.complete" ] && return 0
	exec 8>"$DK_DIR/.lock-src"
	flock 8
	if [ ! -f "$src/.complete" ]; then
		log "fetching $pkg=$version from $suite"
		rm -f "$APT_DIR/debs/${pkg}_"*.deb
		# shellcheck disable=SC2086 # a list of words
		if all_releases $KERNEL_SUITES; then
			release_apt_setup "$suite"
			release_download "$suite" "$pkg=$version"
		else
			private_apt_setup
			download "$pkg=$version"
		fi
		local deb tmp
		deb=$(ls "$APT_DIR/debs/${pkg}_"*.deb)
		tmp=$src.tmp
		rm -rf "$tmp" "$src"
		mkdir -p "$tmp"
		log "unpacking $pkg=$version"
		# The .deb holds usr/src/linux-source-<x.y>.tar.xz; unpack it in one go.
		dpkg-deb --fsys-tarfile "$deb" |
			tar -xO --wildcards "./usr/src/$pkg.tar.*" |
			xz -dc | tar -x -C "$tmp" --strip-components=1
		[ -f "$tmp/Makefile" ] || die "$pkg unpacked to nothing"
		echo "$version" >"$tmp/.debian-version"
		touch "$tmp/.complete"
		mv "$tmp" "$src"
		fresh_source=true
		rm -f "$deb"
	fi
	exec 8>&-
}
unpack_source

# ---- configure: tinyconfig + fragments, then verify ----
bdir=$out/build
mkdir -p "$bdir"
SECONDS=0
export CCACHE_DIR=${CCACHE_DIR:-$MEMDRIVER_CACHE/ccache}
export CCACHE_BASEDIR=$DK_DIR CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-2G}
# ccache through its compiler links keeps CC the plain compiler name, so
# `make M=` later sees the same CC as the kernel was built with. A changed
# fragment changes autoconf.h, which every object includes: ccache's direct
# mode misses, but its preprocessor mode still hits for the objects whose
# preprocessed source did not change (a rebuild takes about 3 minutes).
[ -d /usr/lib/ccache ] && command -v ccache >/dev/null &&
	export PATH=/usr/lib/ccache:$PATH
# A source version unpacked just now has nothing in the cache: every object
# misses, and the preprocessor mode's extra pass per miss (about 20% of a
# KASAN compile, measured) is pure cost, 5 minutes of a cold run. Depend
# mode hashes the compiler's own dependency file instead; the price: the
# first fragment change after it rebuilds in full, not in 3 minutes.
if $fresh_source; then
	export CCACHE_DEPEND=1
fi
kmake() { make -C "$src" O="$bdir" "${KMAKE_ARGS[@]}" "$@"; }

log "debug kernel $target: configuring in $bdir"
rm -f "$bdir/.config"
kmake -s tinyconfig >"$out/merge.log" 2>&1
# -m: merge only; olddefconfig then resolves dependencies.
"$src/scripts/kconfig/merge_config.sh" -m -O "$bdir" "$bdir/.config" \
	"${FRAGMENTS[@]}" >>"$out/merge.log"
kmake -s olddefconfig 2>>"$out/merge.log"

# Every CONFIG_X=v and "# CONFIG_X is not set" of the fragments must hold in
# the resolved .config: Kconfig drops what it cannot satisfy without a word.
# An option this source does not define at all is one upstream removed or
# folded into another (7.3 built /proc/sys with SYSCTL alone, no
# PROC_SYSCTL): said, not counted; the fragments serve 6.1 to the newest.
defined() { # CONFIG_X
	grep -rqE --include='Kconfig*' "^[[:space:]]*(menu)?config ${1#CONFIG_}\$" "$src"
}
missing=()
while IFS= read -r line; do
	case $line in
	CONFIG_*=*)
		grep -qxF -- "$line" "$bdir/.config" && continue
		;;
	"# CONFIG_"*" is not set")
		sym=${line#\# }
		sym=${sym%% *}
		grep -q "^$sym=" "$bdir/.config" || continue
		;;
	*) continue ;;
	esac
	sym=${line#\# }
	sym=${sym%%[= ]*}
	if defined "$sym"; then
		missing+=("$line")
	else
		log "  $line: no $sym in this source's Kconfig (removed upstream), not checked"
	fi
done < <(cat "${FRAGMENTS[@]}")
if [ ${#missing[@]} -gt 0 ]; then
	for m in "${missing[@]}"; do
		sym=${m#\# }
		sym=${sym%%[= ]*}
		got=$(grep -E "^$sym=|^# $sym is not set" "$bdir/.config" || echo "(absent)")
		log "  requested: $m  resolved: $got"
	done
	die "debug kernel $target: ${#missing[@]} requested option(s) did not land in $bdir/.config"
fi
log "debug kernel $target: all $(cat "${FRAGMENTS[@]}" | grep -cE '^CONFIG_|^# CONFIG_.* is not set') requested options verified"
[ $mode = config ] && exit 0

# ---- build ----
jobs=$(nproc)
log "debug kernel $target: building $image and modules with $jobs jobs (log $out/build.log)"
# No -Werror: KASAN_STACK's frame-size warnings are expected and harmless.
if ! { kmake -j"$jobs" "$image" && kmake -j"$jobs" modules &&
	kmake modules_prepare && { [ -z "$DTB" ] || kmake "$DTB"; }; } >"$out/build.log" 2>&1; then
	tail -40 "$out/build.log" >&2
	die "debug kernel $target: build failed, see $out/build.log"
fi
[ -f "$bdir/$image_path" ] && [ -f "$bdir/Module.symvers" ] ||
	die "debug kernel $target: $image or Module.symvers missing after the build"
ln -sfn "build/$image_path" "$out/vmlinuz"
if [ -n "$DTB" ]; then
	cp "$bdir/arch/$karch/boot/dts/$DTB" "$out/${DTB##*/}" ||
		die "debug kernel $target: $DTB missing after the build"
fi
# The layout of a stock kernel's dir (lib.sh kernel_dir), so "debug" works as
# a series wherever 6.1 and 6.12 do.
ln -sfn build "$out/headers"
echo "$(cat "$bdir/include/config/kernel.release")" >"$out/release"
{
	echo "$pkg=$version ($suite)"
	echo "$SETTINGS"
	echo "fragments: ${FRAGMENTS[*]##*/}"
	echo "release: $(cat "$bdir/include/config/kernel.release")"
	echo "build seconds: $SECONDS"
} >"$out/info"
touch "$out/.complete"
# Older keys of this target and series are dead weight now. Other series and
# targets (raspi's 6.1-raspi-* beside arm64's 6.12-arm64-*, and the
# <arch>-<key> dirs of the 6.1 builds before this layout) may be in use.
for old in "$DK_DIR/$series-$target"-*; do
	[ "$old" = "$out" ] || rm -rf "$old"
done
log "debug kernel $target: $(cat "$out/release") from $pkg=$version built in ${SECONDS}s, $out"
echo "$out"
