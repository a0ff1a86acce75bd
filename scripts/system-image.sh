#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build, or find in the cache, the system guest's disk image: Debian
# trixie arm64 with systemd as init, udev, apt, DKMS and a compiler, and
# the stock kernel scenario system-arm64 boots (16 KiB pages) with its
# headers (scripts/system.sh). Prints the image's directory:
#   disk.raw        the root file system (ext4, label sysroot, sparse);
#                   boots take copy-on-write overlays of it, never change it
#   vmlinuz, initrd.img, release
#                   the kernel and Debian's initramfs, taken out of the image
#   times           seconds each stage took when it was built
#   status          the installed system's dpkg status, which the kernel
#                   upgrade's packages are resolved against
#
# usage: scripts/system-image.sh
#
# Two stages, as there is no binfmt_misc here to run arm64 programs:
#  1. on the host, mmdebstrap --variant=extract downloads the packages (apt
#     resolves them; the debs are cached in $MEMDRIVER_CACHE/sysguest/debs)
#     and unpacks them.
#  2. on the host too, chrooted in the tree under proot, which runs every
#     arm64 program with qemu-aarch64 (user mode: no binfmt_misc needed),
#     scripts/guest/system/second-stage installs the packages for real
#     with dpkg and apt. The tree has a /proc of its own, its own /dev
#     nodes (mmdebstrap's) and no /sys: nothing in it may act on the
#     host's devices.
# The cache key covers everything that goes in: the package list, suites,
# kernel release, mmdebstrap's version and the guest-side files. Then
# mkfs.ext4 -d turns the tree into the disk image.
# mmdebstrap runs as root here (--mode=root): the tree must carry the
# packages' owners for mkfs.ext4 -d to copy them.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/apt.sh"
. "$(dirname "$0")/system.sh"

[ $# = 0 ] || die "usage: $0"
system_facts
release=$SYS_RELEASE
pkgs="$SYSTEM_PKGS linux-image-$release linux-headers-$release"
guest=$MEMDRIVER_TOP/scripts/guest/system
[ "$(id -u)" = 0 ] || die "mmdebstrap --mode=root needs root (the packages' owners)"
apt_install_missing $SYSTEM_HOST_PKGS >&2

key=$( {
	echo "$pkgs" "$SYSTEM_SUITES" "$SYSTEM_DISK_SIZE" "$SYSTEM_ROOT_LABEL"
	debian_sources arm64 $SYSTEM_SUITES
	mmdebstrap --version
	# This script without its comments: they change no image.
	grep -v '^[[:space:]]*#' "$0"
	cat "$(command -v proot)" "$MEMDRIVER_TOP/scripts/guest/exit.c" \
		"$guest"/second-stage "$guest"/memdriver-job* \
		"$guest"/memdriver-exit "$guest"/initramfs.conf
} | sha256sum | cut -c1-12)
dir=$SYSTEM_DIR/image-$key
if [ -f "$dir/.complete" ]; then
	echo "$dir"
	exit 0
fi
# One build at a time: the test command starts one early, in the
# background, and the system guest's boot waits here for it.
mkdir -p "$SYSTEM_DIR"
exec 9>"$SYSTEM_DIR/.lock"
flock 9
if [ -f "$dir/.complete" ]; then
	echo "$dir"
	exit 0
fi

work=$SYSTEM_DIR/work-$key
debs=$SYSTEM_DEBS
rm -rf "$work" && mkdir -p "$work" "$debs"
root=$work/root
times=$work/times
: >"$times"
stage() { # name seconds
	log "system image: $1 took $2 s"
	echo "$1 $2" >>"$times"
}

# ---- stage 1: download and unpack on the host ----
SECONDS=0
log "system image $key: unpacking $SYSTEM_RELEASE arm64 with $release"
# Merged /usr (bin, sbin, lib as links into usr/) before anything is
# unpacked, as debootstrap makes it; mmdebstrap's hook does that and
# registers a dummy usr-is-merged. The deb cache is copied in before the
# download (apt takes a complete file it finds there) and back out after.
seed="cp -n $debs/*.deb \"\$1/var/cache/apt/archives/\" 2>/dev/null || true"
debian_sources arm64 $SYSTEM_SUITES >"$work/sources.list"
mmdebstrap --variant=extract --mode=root --arch=arm64 \
	--skip=check/qemu --skip=cleanup/apt \
	--setup-hook=/usr/share/mmdebstrap/hooks/merged-usr/setup00.sh \
	--setup-hook="mkdir -p \"\$1/var/cache/apt/archives\"; $seed" \
	--extract-hook="cp -n \"\$1\"/var/cache/apt/archives/*.deb $debs/;
		printf '%s\\n' \$MMDEBSTRAP_ESSENTIAL >$work/resolved.debs" \
	--include='?essential' --include='?priority(required)' \
	--include="$(echo $pkgs | tr ' ' ,)" \
	"$SYSTEM_RELEASE" "$root" "$work/sources.list" >"$work/mmdebstrap.log" 2>&1 ||
	die "mmdebstrap failed, see $work/mmdebstrap.log"
[ -d "$root/lib/modules/$release" ] || die "no modules of $release in the tree"
# The packages' links to /dev/null (masked units) go: dpkg, installing over
# the unpacked tree, compares an existing link's lstat size with what
# readlink gives, and under proot "/dev/null" reads back a byte longer
# (trixie's sudo: "symbolic link '/usr/lib/systemd/system/sudo.service'
# size has changed from 9 to 10"). dpkg makes them again.
find "$root" -xdev -type l -lname /dev/null -delete

# What the second stage installs: Essential packages by dpkg, the rest by
# apt, by name. Exactly what apt resolved and mmdebstrap unpacked (its
# extract hook's MMDEBSTRAP_ESSENTIAL): the seeded cache holds more, such
# as an older kernel's packages.
[ -s "$work/resolved.debs" ] || die "mmdebstrap named no unpacked packages"
for f in $(cat "$work/resolved.debs"); do
	f=$root/$f
	if [ "$(dpkg-deb -f "$f" Essential)" = yes ]; then
		echo "${f##*/}" >>"$work/essential.debs"
	else
		dpkg-deb -f "$f" Package >>"$work/other.pkgs"
	fi
done
mkdir -p "$root/sysguest"
cp "$guest/second-stage" "$work/essential.debs" "$work/other.pkgs" "$work/resolved.debs" \
	"$root/sysguest/"
echo "$release" >"$root/sysguest/release"

# The system's own settings: the root by label, the job's unit enabled,
# the exit helper, a small initramfs, no resolver.
gexit=$(guest_exit_helper arm64)
install -D -m 0755 "$gexit" "$root/usr/local/sbin/guest-exit"
install -D -m 0755 "$guest/memdriver-job" "$root/usr/local/sbin/memdriver-job"
install -m 0644 "$guest/memdriver-job.service" "$root/etc/systemd/system/"
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -sf /etc/systemd/system/memdriver-job.service \
	"$root/etc/systemd/system/multi-user.target.wants/"
# The console is the job's: no login prompt cuts into its KTAP lines.
ln -sf /dev/null "$root/etc/systemd/system/serial-getty@$SYS_CONSOLE.service"
mkdir -p "$root/usr/lib/systemd/system-shutdown"
install -m 0755 "$guest/memdriver-exit" "$root/usr/lib/systemd/system-shutdown/"
install -m 0644 "$guest/initramfs.conf" "$root/etc/initramfs-tools/conf.d/memdriver"
# The root disk's modules (ext4 names crc32c only as a soft dependency).
printf '%s\n' virtio_pci virtio_blk crc32c_generic ext4 >>"$root/etc/initramfs-tools/modules"
echo "LABEL=$SYSTEM_ROOT_LABEL / ext4 errors=remount-ro 0 1" >"$root/etc/fstab"
echo memdriver-pi >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tmemdriver-pi\n' >"$root/etc/hosts"
rm -f "$root/etc/resolv.conf"
stage "unpack (mmdebstrap, host)" $SECONDS

# ---- stage 2: install, on the host under proot with qemu-user ----
# proot 5.1 translates the paths of the system calls it knows, and passes
# newer ones (statx, faccessat2) to the host untranslated: under "-r
# root", "test -x /lib/ld-linux-aarch64.so.1" asked the host, ldd failed
# and mkinitramfs made an initrd without a shell. So proot runs chrooted
# in the tree, in a mount namespace of its own with the tree's /proc:
# translated or not, every path is the tree's. proot, its libraries and a
# static qemu-aarch64 are copied in for the time of the install.
SECONDS=0
log "system image: second stage (dpkg and apt, arm64 under proot and qemu-aarch64)"
tools=$(system_host_tools)
mkdir -p "$root/.host"
cp "$tools"/* "$root/.host/"
rc=0
env -i TERM=dumb PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	unshare -m sh -c 'mount -t proc proc "$1/proc" && exec chroot "$1" \
		/.host/ld-linux-x86-64.so.2 --library-path /.host /.host/proot \
		-q /.host/qemu-aarch64-static -w / \
		/bin/sh /sysguest/second-stage' sh "$root" >"$work/second-stage.log" 2>&1 || rc=$?
rm -rf "$root/.host"
stage "second stage (proot)" $SECONDS
[ $rc = 0 ] || die "second stage failed ($rc), see $work/second-stage.log"

SECONDS=0
system_ext4 "$root" "$work/disk.raw" "$SYSTEM_ROOT_LABEL" "$SYSTEM_DISK_SIZE"
stage "mkfs.ext4 -d" $SECONDS

# The kernel and Debian's initramfs, for booting without a boot loader.
for f in vmlinuz initrd.img; do
	cp "$root/boot/$f-$release" "$work/$f" || die "no /boot/$f-$release in the tree"
done
cp "$root/var/lib/dpkg/status" "$work/status"
rm -rf "$root"
echo "$release" >"$work/release"
rm -rf "$dir"
mv "$work" "$dir"
touch "$dir/.complete"
echo "$dir"
