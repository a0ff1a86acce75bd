#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install everything a fresh Debian bookworm machine lacks to build and prove
# memdriver: host tools (apt), the Debian kernels and kbuild headers that the
# scenarios boot (scripts/scenarios/, KERNEL=debian; SCENARIOS picks some),
# and checkpatch.pl from linux-source-6.1. Kernels are unpacked into the cache
# directory ($MEMDRIVER_CACHE); the system's apt sources are never touched.
# Idempotent: a second run only checks. With --demo, only what the demo
# needs (scripts/demo.sh): no static checkers, packaging tools, 32-bit
# compilers, checkpatch or system guest.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/apt.sh"
. "$(dirname "$0")/system.sh"

# What the demo needs (scripts/demo.sh: build the module and the tool for
# one scenario, boot it); its architecture adds QEMU and, if foreign, the
# cross compiler (arch.sh).
DEMO_PKGS="make gcc libc6-dev qemu-system-data busybox-static cpio xz-utils kmod
 ca-certificates"
# What the test command needs besides, for every architecture: the static
# checks (sparse, checkpatch's perl), the debug kernels' builds, ccache,
# the install checks (dkms, udev), the 32-bit builds.
HOST_PKGS="$DEMO_PKGS bc flex bison libelf-dev dpkg-dev perl dwarves ccache dkms
 udev psmisc sparse"
# clang: memdriver_test must build with it too (tests/harness.h's format
# attributes), as a newer Pi OS's compiler might be.
HOST_PKGS+=" clang"
# The Debian packages (make deb): dpkg-buildpackage wants build-essential;
# no fakeroot, since debian/control says Rules-Requires-Root: no.
HOST_PKGS+=" build-essential debhelper dh-dkms lintian"
for a in amd64 arm64; do
	arch_facts "$a"
	HOST_PKGS+=" $ARCH_PKGS $COMPAT_PKGS"
done

# Debian's modules that the busybox guests load beside memdriver, kept
# with every module they depend on, uncompressed (6.12's are .ko.xz):
# vgem, DRM's virtual GEM driver, imports memdriver's dma-bufs; brd, the
# RAM disk, is the block device that O_DIRECT reads and writes.
GUEST_MODULES="vgem brd"
keep_guest_modules() { # kernel dir, release
	local out=$1/modules tree=$1/root/lib/modules/$2 todo=$GUEST_MODULES m f
	rm -rf "$out" && mkdir -p "$out"
	while [ -n "$todo" ]; do
		m=${todo%% *}
		todo=${todo#"$m"}
		todo=${todo# }
		[ -e "$out/$m.ko" ] && continue
		f=$(find "$tree" -name "$m.ko*" -o -name "${m//_/-}.ko*" | head -1)
		[ -n "$f" ] || die "$m.ko missing from linux-image-$2"
		case $f in
		*.xz) xz -dc "$f" ;;
		*) cat "$f" ;;
		esac >"$out/$m.ko"
		todo="$todo $(/sbin/modinfo -F depends "$out/$m.ko" | tr ',' ' ')"
		todo=${todo# }
		todo=${todo% }
	done
	echo "$GUEST_MODULES" >"$1/guest-modules"
}

# The loaded scenario's Debian kernel: the image of its series from the
# first of its suites that has one, with its headers.
fetch_kernel() {
	local arch=$ARCH suite dir=$KDIR_ROOT
	for suite in $KERNEL_SUITES; do
		[ -z "$(suite_version "linux-image-$arch:$arch" "$suite")" ] || break
	done
	local img release flavour hdr common kbuild v
	img=$(resolve_image "linux-image-$arch:$arch" "$suite")
	[ -n "$img" ] || die "cannot resolve linux-image-$arch in $suite"
	release=${img#linux-image-}
	release=${release%-unsigned}
	flavour=${release##*-}
	# Cached, unless the suite has moved to a new ABI since (or the guests
	# want other modules).
	if [ -f "$dir/.complete" ] && [ "$(cat "$dir/release")" = "$release" ] &&
	   [ "$(cat "$dir/guest-modules" 2>/dev/null)" = "$GUEST_MODULES" ]; then
		return 0
	fi
	log "fetching $release ($arch) from $suite"
	hdr=linux-headers-$release
	common=$(papt_cache show "$hdr:$arch" | awk -F': ' '/^Depends:/ {print $2; exit}' |
		tr ',' '\n' | grep -o 'linux-headers-[^ ]*-common[^ ]*' | head -1)
	kbuild=$(papt_cache show "$hdr:$arch" | awk -F': ' '/^Depends:/ {print $2; exit}' |
		tr ',' '\n' | grep -o 'linux-kbuild-[^ ]*' | head -1)
	[ -n "$common" ] && [ -n "$kbuild" ] || die "cannot resolve headers of $release"
	rm -rf "$dir" && mkdir -p "$dir/root"
	# kbuild's host tools must run here, so always take the build machine's.
	local host_arch
	host_arch=$(dpkg --print-architecture)
	local pkgs=("$img:$arch" "$hdr:$arch" "$common" "$kbuild:$host_arch")
	local p deb
	for p in "${pkgs[@]}"; do
		v=$(papt_cache policy "$p" | awk '/Candidate:/ {print $2}')
		# Backports packages are not candidates; take the highest version.
		[ "$v" != "(none)" ] && [ -n "$v" ] ||
			v=$(papt_cache madison "$p" | awk -F'|' 'NR==1 {gsub(/ /,"",$2); print $2}')
		download "$p=$v"
	done
	for p in "$img" "$hdr" "$common" "$kbuild"; do
		deb=$(ls -t "$APT_DIR/debs/${p}_"*.deb | head -1)
		dpkg-deb -x "$deb" "$dir/root"
	done
	local hdir=$dir/root/usr/src/linux-headers-$release
	[ -d "$hdir" ] || die "headers missing in $hdr"
	# The flavour Makefile includes -common by absolute path: make it ours.
	sed -i "s#/usr/src/#$dir/root/usr/src/#" "$hdir/Makefile"
	ln -sfn "$hdir" "$dir/headers"
	ln -sfn "$(ls "$dir"/root/boot/vmlinuz-*)" "$dir/vmlinuz"
	echo "$release" >"$dir/release"
	echo "$flavour" >"$dir/flavour"
	keep_guest_modules "$dir" "$release"
	rm -rf "$dir/root/lib/modules" # keep the cache small
	touch "$dir/.complete"
}

# checkpatch.pl and its data files ship only in linux-source-6.1.
fetch_checkpatch() {
	local dir=$MEMDRIVER_CACHE/checkpatch
	[ -x "$dir/checkpatch.pl" ] && return 0
	log "fetching checkpatch.pl from linux-source-6.1"
	local v deb tarball tmp
	v=$(papt_cache policy linux-source-6.1 | awk '/Candidate:/ {print $2}')
	download "linux-source-6.1=$v"
	deb=$(ls -t "$APT_DIR"/debs/linux-source-6.1_*.deb | head -1)
	tmp=$(mktemp -d)
	dpkg-deb -x "$deb" "$tmp"
	tarball=$(ls "$tmp"/usr/src/linux-source-6.1.tar.*)
	mkdir -p "$dir"
	tar -xf "$tarball" -C "$tmp" --wildcards \
		'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch'
	cp "$tmp"/linux-source-6.1/scripts/{checkpatch.pl,spelling.txt,const_structs.checkpatch} "$dir/"
	rm -rf "$tmp" "$deb"
}

# The guest's busybox for arm64 (the host's busybox-static is amd64).
fetch_busybox_arm64() {
	local dir=$MEMDRIVER_CACHE/busybox/arm64 deb tmp
	[ -x "$dir/busybox" ] && return 0
	log "fetching busybox-static:arm64"
	download "busybox-static:arm64"
	deb=$(ls -t "$APT_DIR"/debs/busybox-static_*_arm64.deb | head -1)
	tmp=$(mktemp -d)
	dpkg-deb -x "$deb" "$tmp"
	mkdir -p "$dir"
	cp "$tmp/bin/busybox" "$dir/busybox"
	rm -rf "$tmp" "$deb"
}

# dkms 3.2 from trixie, today's Raspberry Pi OS's, beside the host's
# (bookworm's 3.0): scripts/package-check.sh runs DKMS with both. A shell
# script (Architecture: all), unpacked, never installed.
fetch_dkms_trixie() {
	local v deb
	release_apt_setup trixie
	v=$(release_cache trixie madison dkms | awk -F'|' '{gsub(/ /,"",$2); print $2}' |
		sort -V | tail -1)
	[ -n "$v" ] || die "no dkms in trixie"
	[ "$(cat "$DKMS_TRIXIE_DIR/version" 2>/dev/null)" = "$v" ] && return 0
	log "fetching dkms $v from trixie"
	release_download trixie "dkms=$v"
	deb=$(ls "$APT_DIR/debs/dkms_${v/*:/}_all.deb")
	rm -rf "$DKMS_TRIXIE_DIR" && dpkg-deb -x "$deb" "$DKMS_TRIXIE_DIR"
	rm -f "$deb"
	echo "$v" >"$DKMS_TRIXIE_DIR/version"
}

# --demo: only what scripts/demo.sh needs for the scenarios given.
main() {
	local demo= s system= pkgs=$HOST_PKGS
	[ "${1:-}" != --demo ] || demo=1
	if [ -n "$demo" ]; then
		pkgs=$DEMO_PKGS
		for s in $(run_scenarios); do
			scenario_load "$s" --no-kdir
			arch_facts "$ARCH"
			pkgs+=" $ARCH_PKGS"
		done
	fi
	apt_install_missing $pkgs
	private_apt_setup
	for s in $(run_scenarios); do
		scenario_load "$s"
		# Own kernels are built, not fetched (scripts/test.sh); a system
		# guest's come with its disk image (scripts/system-image.sh).
		[ "$KIND" != system ] || system=1
		[ "$KERNEL" = debian ] && [ "$KIND" = busybox ] || continue
		fetch_kernel
		[ -z "$KERNEL_DTB" ] || [ -n "$(scenario_dtb)" ] ||
			die "$KERNEL_DTB missing in $(cat "$KDIR_ROOT/release")"
	done
	fetch_busybox_arm64
	if [ -z "$demo" ]; then
		# The system guest's image is built on the host (scripts/system-image.sh).
		[ -z "$system" ] || apt_install_missing $SYSTEM_HOST_PKGS
		fetch_checkpatch
		fetch_dkms_trixie
	fi
	log "dependencies ready in $MEMDRIVER_CACHE"
}

main "$@"
