#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# memdriver installed the way a Pi user installs it, on a real Debian
# system (scripts/system-image.sh: bookworm arm64, systemd, udev, apt,
# DKMS), from the Debian packages the test command built, in three boots
# of one disk; each boot runs one job of scripts/guest/system/jobs/:
#   1. install.sh, Debian's 6.1: apt install of both .debs, DKMS builds the
#      module, modprobe, the udev rule and group, pi's suite and cat/echo
#      demo, a user outside the group refused, modprobe.d and
#      modules-load.d set up for the next boot
#   2. upgrade.sh, 6.1 again: loaded at boot with the options; then
#      bookworm-backports' 6.12 installed from .debs, offline, and DKMS
#      builds memdriver for it by itself
#   3. on-6.12.sh, the 6.12 it installed: loaded at boot from updates/dkms,
#      pi's suite; apt purge leaves nothing behind
# <log> gets every boot's console, one after the other (KTAP each), and
# the verdict is scripts/vm-run.sh's: exits 0 on PASS, 2 when every boot
# ran to its end and some check failed, 1 on any other FAIL (a boot that
# did not end is the last: the next ones need what it should have done).
#
# usage: scripts/system-test.sh <deb-dir> <log> [timeout-s per boot]
#   deb-dir: memdriver-dkms_<v>_all.deb and memdriver-tools_<v>_arm64.deb
#   (scripts/build-deb.sh)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/apt.sh"
. "$(dirname "$0")/system.sh"

[ $# -ge 2 ] && [ $# -le 3 ] || die "usage: $0 <deb-dir> <log> [timeout-s per boot]"
debs=$1 logfile=$2 tmo=${3:-1800}
ver=$(memdriver_version)
for p in memdriver-dkms_${ver}_all memdriver-tools_${ver}_arm64; do
	[ -f "$debs/$p.deb" ] || die "no $debs/$p.deb (scripts/build-deb.sh)"
done
jobs_src=$MEMDRIVER_TOP/scripts/guest/system/jobs
work=$logfile.d
rm -rf "$work" && mkdir -p "$work"
: >"$logfile"
system_facts
"$MEMDRIVER_TOP/scripts/system-image.sh" >/dev/null

# A job directory: the KTAP helpers, one job as run.sh, the version.
job_dir() { # dir job
	mkdir -p "$1"
	cp "$jobs_src/ktap.sh" "$1/"
	cp "$jobs_src/$2" "$1/run.sh"
	echo "$ver" >"$1/version"
}
# One boot of the shared disk; its console is appended to <log>.
verdict=0
boot() { # name [system-run.sh options...] job-dir
	local name=$1 rc=0
	shift
	"$MEMDRIVER_TOP/scripts/system-run.sh" --overlay "$work/disk.qcow2" "$@" \
		"$work/$name.log" "$tmo" || rc=$?
	cat "$work/$name.log" >>"$logfile"
	[ $rc = 0 ] || [ $verdict = 1 ] || verdict=$rc
	[ $rc != 1 ]
}

# The scenario's UPGRADE_SERIES kernel (scripts/install-deps.sh caches its
# image and headers), the arm64 kbuild that the guest runs, and what backports'
# kbuild needs beyond the image (pahole for BTF, at the versions that fit
# bookworm's libelf1): from the system guest's own deb cache, fetched once
# (in $APT_DIR/debs, install-deps.sh would take the arm64 kbuild for the
# host's).
kernel_debs() { # dir
	local p name arch deb v rel abi
	rel=$(cat "$KERNELS_DIR/$UPGRADE_SERIES-arm64/release" 2>/dev/null) ||
		die "no $UPGRADE_SERIES-arm64 kernel: run SCENARIOS=$SYSTEM_SCENARIO scripts/install-deps.sh"
	abi=${rel%-arm64}
	mkdir -p "$1"
	private_apt_setup
	for p in "linux-image-$rel:arm64" "linux-headers-$rel:arm64" \
		"linux-headers-$abi-common" "linux-kbuild-$abi:arm64" \
		pahole:arm64 libbpf1:arm64 libdw1:arm64; do
		name=${p%:*} arch=${p#*:}
		[ "$arch" != "$p" ] || arch=all
		case $name in
		linux-*) v=$(papt_cache madison "$p" | awk -F'|' 'NR==1 {gsub(/ /,"",$2); print $2}') ;;
		*) v=$(suite_version "$p" bookworm) ;;
		esac
		deb=$SYSTEM_DIR/debs/${name}_${v/:/%3a}_$arch.deb
		[ -f "$deb" ] || [ ! -f "$APT_DIR/debs/${deb##*/}" ] ||
			cp "$APT_DIR/debs/${deb##*/}" "$deb"
		[ -f "$deb" ] || (cd "$SYSTEM_DIR/debs" && papt_get download -q "$p=$v" >/dev/null)
		cp "$deb" "$1/"
	done
	echo "$rel" >"$1/release"
}

job_dir "$work/job-install" install.sh
cp "$debs/memdriver-dkms_${ver}_all.deb" "$debs/memdriver-tools_${ver}_arm64.deb" \
	"$work/job-install/"
job_dir "$work/job-upgrade" upgrade.sh
kernel_debs "$work/job-upgrade/debs"
new=$(cat "$work/job-upgrade/debs/release")
job_dir "$work/job-612" on-6.12.sh
echo "$new" >"$work/job-612/release"

boot install "$work/job-install" &&
	boot upgrade "$work/job-upgrade" &&
	boot on-6.12 --kernel "$new" "$work/job-612" || true
rm -f "$work/disk.qcow2"
exit $verdict
