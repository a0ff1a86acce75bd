#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Proof that a change only moves code: memdriver.ko built from REV and from
# the working tree, against each of Debian's 6.1 and 6.12 kernels on amd64
# and arm64, has the same instructions in every function
# (scripts/disasm-diff.py: addresses, offsets and local symbol numbers
# aside). Exits non-zero on any difference. Needs the Debian kernels of
# scripts/install-deps.sh.
#
#   scripts/same-code.sh REV        e.g. scripts/same-code.sh HEAD~1
set -euo pipefail
. "$(dirname "$0")/lib.sh"

rev=${1:?usage: scripts/same-code.sh REV}
git -C "$MEMDRIVER_TOP" rev-parse --verify -q "$rev^{commit}" >/dev/null || die "no commit $rev"
work=$OUT_DIR/same-code
rm -rf "$work" && mkdir -p "$work"
bad=0
# The three Debian kernels the host has headers of, each by a scenario that boots it.
for sc in 6.1-amd64 6.12-amd64 6.12-arm64; do
	scenario_load "$sc"
	arch_facts "$ARCH"
	kname=${KDIR_ROOT##*/}
	[ -d "$KDIR_ROOT/headers" ] || die "no headers for $kname: run scripts/install-deps.sh"
	# REV's whole tree, as its own Makefile and Kbuild build it.
	mkdir -p "$work/$kname-before"
	git -C "$MEMDRIVER_TOP" archive "$rev" | tar -x -C "$work/$kname-before"
	for side in before after; do
		dir=$work/$kname-$side
		[ $side = before ] || stage_sources "$dir" "${MODULE_SOURCES[@]}"
		make -s -C "$dir" KDIR="$KDIR_ROOT/headers" ARCH="$MAKE_ARCH" \
			CROSS_COMPILE="$CROSS" modules >"$dir.log" 2>&1 ||
			die "$kname $side: build failed, see $dir.log"
	done
	echo "# $kname ($(cat "$KDIR_ROOT/release")): $rev against the working tree"
	"$MEMDRIVER_TOP/scripts/disasm-diff.py" --objdump="${CROSS}objdump" --readelf="${CROSS}readelf" \
		"$work/$kname-before/memdriver.ko" "$work/$kname-after/memdriver.ko" || bad=1
done
exit $bad
