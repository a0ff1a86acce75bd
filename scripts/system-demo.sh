#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# memdriver on a real Debian system guest (scripts/system-image.sh), as a
# user would install it, in four boots of one persistent disk:
#   1. Debian's 6.1: DKMS builds memdriver natively from
#      /usr/src/memdriver-1.0, modprobe loads it, udev gives /dev/memdriver0
#      to the group memdriver, the user pi uses it without sudo
#      (scripts/guest/system/jobs/dkms.sh)
#   2. the same disk again (a reboot): it loads at boot, the node is set up
#      (after-reboot.sh)
#   3. bookworm-backports' 6.12 installed from .debs with apt, offline; DKMS
#      builds memdriver for it by itself (kernel-6.12.sh)
#   4. the 6.12 it installed, booted: memdriver loads from updates/dkms
#      (on-6.12.sh)
# Each boot prints KTAP; a table of each boot's result and seconds ends it.
#
# usage: scripts/system-demo.sh [--no-6.12]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/apt.sh"
. "$(dirname "$0")/system.sh"

with_612=true
[ "${1:-}" != --no-6.12 ] || with_612=false
jobs_src=$MEMDRIVER_TOP/scripts/guest/system/jobs
work=$OUT_DIR/system-demo-$(date +%Y%m%d-%H%M%S)
mkdir -p "$work"
disk=$work/disk.qcow2
results=()

SECONDS=0
"$MEMDRIVER_TOP/scripts/system-image.sh" >/dev/null
results+=("image $SECONDS")

# A job directory: the KTAP helpers and one job as run.sh.
job_dir() { # dir job
	rm -rf "$1" && mkdir -p "$1"
	cp "$jobs_src/ktap.sh" "$1/"
	cp "$jobs_src/$2" "$1/run.sh"
}
# One boot; the demo goes on after a failure, so every boot reports.
boot() { # name [system-run.sh options...] job-dir
	local name=$1 rc=0
	shift
	SECONDS=0
	"$MEMDRIVER_TOP/scripts/system-run.sh" --overlay "$disk" "$@" "$work/$name.log" || rc=$?
	# The job's own KTAP lines, not the nested ones ("# ok"); an image
	# built before the job's unit wrote to the console raw prefixes
	# them as the journal does.
	sed -nE "s/^(\[ *[0-9.]+\] [^ ]+: )?((not )?ok [0-9]+ - )/[$name] \2/p" \
		"$work/$name.log"
	results+=("$name $SECONDS $([ $rc = 0 ] && echo PASS || echo FAIL)")
}

# The tree as a user has it: sources, dkms.conf, contrib/.
job_dir "$work/job-dkms" dkms.sh
stage_sources "$work/job-dkms/memdriver" $(printf '%s\n' "${MODULE_SOURCES[@]}" \
	"${USER_SOURCES[@]}" dkms.conf contrib | sort -u)
build_user arm64 "$work/user"
cp "$work/user/memdriver_test" "$work/job-dkms/"
boot dkms "$work/job-dkms"
job_dir "$work/job-reboot" after-reboot.sh
boot reboot "$work/job-reboot"

if $with_612; then
	# Scenario 6.12-arm64's kernel: its image and headers are cached by
	# scripts/install-deps.sh; the arm64 kbuild (the guest runs its tools)
	# is fetched here once, into the system guest's own deb cache: in
	# $APT_DIR/debs, install-deps.sh would take it for the host's kbuild.
	private_apt_setup
	rel=$(cat "$KERNELS_DIR/6.12-arm64/release" 2>/dev/null) ||
		die "no 6.12-arm64 kernel: run SCENARIOS=6.12-arm64 scripts/install-deps.sh"
	abi=${rel%-arm64}
	job_dir "$work/job-612" kernel-6.12.sh
	mkdir -p "$work/job-612/debs"
	for p in "linux-image-$rel:arm64" "linux-headers-$rel:arm64" \
		"linux-headers-$abi-common" "linux-kbuild-$abi:arm64"; do
		name=${p%:*} arch=${p#*:}
		[ "$arch" != "$p" ] || arch=all
		deb=$(ls -t "$APT_DIR/debs/${name}_"*"_$arch.deb" \
			"$SYSTEM_DIR/debs/${name}_"*"_$arch.deb" 2>/dev/null | head -1 || true)
		if [ -z "$deb" ]; then
			v=$(papt_cache madison "$p" | awk -F'|' 'NR==1 {gsub(/ /,"",$2); print $2}')
			(cd "$SYSTEM_DIR/debs" && papt_get download -q "$p=$v" >/dev/null)
			deb=$(ls -t "$SYSTEM_DIR/debs/${name}_"*"_$arch.deb" | head -1)
		fi
		cp "$deb" "$work/job-612/debs/"
	done
	# What backports' kbuild needs beyond the image (pahole, for BTF), from
	# bookworm: the versions that fit its libelf1.
	for p in pahole libbpf1 libdw1; do
		v=$(suite_version "$p:arm64" bookworm)
		deb=$(ls "$SYSTEM_DIR/debs/${p}_${v/:/%3a}_arm64.deb" 2>/dev/null || true)
		if [ -z "$deb" ]; then
			(cd "$SYSTEM_DIR/debs" && papt_get download -q "$p:arm64=$v" >/dev/null)
			deb=$(ls "$SYSTEM_DIR/debs/${p}_${v/:/%3a}_arm64.deb")
		fi
		cp "$deb" "$work/job-612/debs/"
	done
	echo "$rel" >"$work/job-612/debs/release"
	boot install-6.12 "$work/job-612"
	job_dir "$work/job-on612" on-6.12.sh
	echo "$rel" >"$work/job-on612/release"
	boot boot-6.12 --kernel "$rel" "$work/job-on612"
fi

log "system demo: logs in $work"
printf '%-14s %6s  %s\n' stage seconds result
for r in "${results[@]}"; do
	set -- $r
	printf '%-14s %6s  %s\n' "$1" "$2" "${3:-}"
done
grep -q FAIL <<<"${results[*]}" && exit 1
exit 0
