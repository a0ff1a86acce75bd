#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the system guest (scripts/system-image.sh: Debian bookworm arm64,
# systemd as init) with a job, and judge the run as scripts/vm-run.sh does.
# The job is a directory: its run.sh and whatever it needs (a source tree,
# .deb files), handed in as an ext4 disk labelled MDJOB; once the system is
# up, the unit memdriver-job.service runs run.sh as root from there, its
# output (KTAP) on the console, then powers off.
#
# usage: scripts/system-run.sh [--overlay FILE] [--kernel RELEASE] <job-dir> <log-file> [timeout-s]
#   --overlay FILE  the guest's disk: a qcow2 copy-on-write overlay of the
#                   cached image, made when missing and kept, so the next
#                   boot with the same FILE finds what this one left (a
#                   reboot). Without it, a fresh overlay that is removed.
#   --kernel REL    boot /boot/vmlinuz-REL with Debian's initrd.img-REL from
#                   the guest's disk (a kernel installed in an earlier boot),
#                   instead of the image's own.
#   Exits 0 on PASS, 2 when the job ran to its end and reported failures,
#   1 on any other FAIL. The QEMU command is kept in <log-file>.qemu.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/apt.sh"
. "$(dirname "$0")/system.sh"

usage="usage: $0 [--overlay FILE] [--kernel RELEASE] <job-dir> <log-file> [timeout-s]"
overlay= kernel_release=
while [ $# -gt 0 ]; do
	case $1 in
	--overlay) overlay=$2 && shift 2 ;;
	--kernel) kernel_release=$2 && shift 2 ;;
	*) break ;;
	esac
done
[ $# -ge 2 ] && [ $# -le 3 ] || die "$usage"
job=$1 logfile=$2 tmo=${3:-1800}
[ -f "$job/run.sh" ] || die "$job/run.sh missing"
system_facts
image=$("$MEMDRIVER_TOP/scripts/system-image.sh")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -z "$overlay" ]; then
	overlay=$tmp/disk.qcow2
fi
if [ ! -f "$overlay" ]; then
	mkdir -p "$(dirname "$overlay")"
	qemu-img create -q -f qcow2 -b "$image/disk.raw" -F raw "$overlay"
fi

kernel=$image/vmlinuz initrd=$image/initrd.img
if [ -n "$kernel_release" ]; then
	# debugfs reads ext4 images, not qcow2 overlays: read a raw copy
	# (sparse; only the written blocks are copied).
	qemu-img convert -O raw "$overlay" "$tmp/disk.raw"
	for f in vmlinuz initrd.img; do
		debugfs -R "dump /boot/$f-$kernel_release $tmp/$f" "$tmp/disk.raw" 2>/dev/null
		[ -s "$tmp/$f" ] || die "no /boot/$f-$kernel_release on $overlay"
	done
	rm "$tmp/disk.raw"
	kernel=$tmp/vmlinuz initrd=$tmp/initrd.img
fi

system_ext4 "$job" "$tmp/job.img" "$SYSTEM_JOB_LABEL"
mkdir -p "$(dirname "$logfile")"
log "system guest: booting ${kernel_release:-$(cat "$image/release")} on $overlay, job $job"
system_boot "$logfile" "$tmo" "$kernel" "$initrd" "$SYSTEM_CMDLINE" \
	-drive if=none,id=root,file="$overlay",format=qcow2 \
	-device virtio-blk-pci,drive=root \
	-drive if=none,id=job,file="$tmp/job.img",format=raw \
	-device virtio-blk-pci,drive=job
