#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# memdriver installed the way a Pi user installs it, on a real Debian
# system (scripts/system-image.sh: trixie arm64, systemd, udev, apt, dkms
# 3.2, gcc 14, a stock kernel with 16 KiB pages), from the Debian packages
# the test command built, in three boots of one disk; each boot runs one
# job of scripts/guest/system/jobs/:
#   1. install.sh, trixie's kernel: the README's Pi section as pi (make
#      with gcc 14, its commands run from README.md itself and their output
#      compared), then apt install of both .debs, DKMS builds
#      the module natively for the running kernel with no "Deprecated"
#      line, modprobe, the udev rule and group, pi's suite and cat/echo
#      demo, a user outside the group refused, modprobe.d and
#      modules-load.d set up for the next boot
#   2. upgrade.sh, the same kernel: loaded at boot with the options; the
#      packages updated to a newer version (built here from the same
#      sources), which DKMS builds in the old one's place; then
#      trixie-backports' newest 16 KiB kernel installed from .debs,
#      offline, and DKMS builds memdriver for it by itself
#   3. upgraded.sh, the kernel it installed: loaded at boot from
#      updates/dkms, pi's suite; apt purge leaves nothing behind
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

# The upgrade's kernel and what it needs that the image lacks, as apt
# itself resolves it against the image's installed packages (its dpkg
# status) with the release's lists, from the upgrade's suite first (-t, as
# a user installs from backports: its kernel pre-depends on backports'
# linux-base); downloaded once, handed in as .debs.
kernel_debs() { # dir image-dir
	local line file name rest v arch
	mkdir -p "$1" "$SYSTEM_DEBS"
	release_get "$SYSTEM_RELEASE" -o Dir::State::status="$2/status" \
		-o APT::Architecture=arm64 -o APT::Install-Recommends=false \
		-t "${UPGRADE_SUITES%% *}" -q=2 --print-uris install "linux-image-$SYS_UPGRADE" \
		"linux-headers-$SYS_UPGRADE" >"$work/upgrade.uris" ||
		die "apt cannot resolve $SYS_UPGRADE against the image"
	while read -r line; do
		file=$(echo "$line" | cut -d' ' -f2)
		name=${file%%_*} rest=${file#*_}
		v=${rest%_*} arch=${rest##*_}
		v=${v//%3a/:} arch=${arch%.deb}
		[ -f "$SYSTEM_DEBS/$file" ] ||
			(cd "$SYSTEM_DEBS" && release_get "$SYSTEM_RELEASE" download -q \
				"$name:$arch=$v" >/dev/null)
		cp "$SYSTEM_DEBS/$file" "$1/"
	done <"$work/upgrade.uris"
	ls "$1"/linux-image-"$SYS_UPGRADE"_*.deb >/dev/null || die "no image of $SYS_UPGRADE"
	echo "$SYS_UPGRADE" >"$1/release"
}
# The packages one version newer, from the same sources, for the update.
next_debs() { # dir
	local next=$ver+next
	MEMDRIVER_DEB_VERSION=$next "$MEMDRIVER_TOP/scripts/build-deb.sh" "$work/next" arm64 \
		>"$work/next.log" 2>&1 || die "the $next packages did not build, see $work/next.log"
	mkdir -p "$1"
	mv "$work/next/memdriver-dkms_${next}_all.deb" "$work/next/memdriver-tools_${next}_arm64.deb" "$1/"
	rm -rf "$work/next"
	echo "$next" >"$1/next-version"
}

image=$("$MEMDRIVER_TOP/scripts/system-image.sh")
job_dir "$work/job-install" install.sh
cp "$debs/memdriver-dkms_${ver}_all.deb" "$debs/memdriver-tools_${ver}_arm64.deb" \
	"$work/job-install/"
# The source tree as a clone has it (the tracked files, as they are now),
# for the README's Pi section, and that section's blocks, with the guests'
# helpers that judge them.
mkdir -p "$work/job-install/memdriver"
git -C "$MEMDRIVER_TOP" ls-files -z | (cd "$MEMDRIVER_TOP" && xargs -0 cp --parents -t "$work/job-install/memdriver")
"$MEMDRIVER_TOP/scripts/readme-blocks.sh" "$work/job-install/readme" "$MEMDRIVER_TOP/README.md" >/dev/null
cp "$MEMDRIVER_TOP/scripts/guest/common.sh" "$work/job-install/"
job_dir "$work/job-upgrade" upgrade.sh
kernel_debs "$work/job-upgrade/debs" "$image"
next_debs "$work/job-upgrade/next"
job_dir "$work/job-upgraded" upgraded.sh
echo "$SYS_UPGRADE" >"$work/job-upgraded/release"
cat "$work/job-upgrade/next/next-version" >"$work/job-upgraded/version"

boot install "$work/job-install" &&
	boot upgrade "$work/job-upgrade" &&
	boot upgraded --kernel "$SYS_UPGRADE" "$work/job-upgraded" || true
rm -f "$work/disk.qcow2"
exit $verdict
