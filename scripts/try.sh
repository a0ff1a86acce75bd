#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# One case in a minute, for whoever adds one: builds memdriver, the test
# DMA engine and memdriver_test for one scenario (scripts/scenarios/),
# boots its guest with the settings and helper modules (vgem, brd, the test
# engine) the test command gives it, loads memdriver and runs one command;
# no host stage, no other guest. Exits with the command's status, or 1 if
# the guest itself failed (a kernel report, a timeout: its log says).
#
# usage: scripts/try.sh <scenario> <case>...       memdriver_test test <case>...
#        scripts/try.sh <scenario> -c '<command>'  any shell command (busybox)
#   scripts/try.sh 6.12-amd64 dmabuf_import
#   scripts/try.sh debug-arm64 -c 'memdriver_test info; memdriver_test -l'
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage="usage: $0 <scenario> <case>... | $0 <scenario> -c '<command>'"
[ $# -ge 2 ] || die "$usage"
sc=$1
shift
if [ "$1" = -c ]; then
	[ $# = 2 ] || die "$usage"
	cmd=$2
else
	cmd="memdriver_test test $*"
fi

# The scenario's kernel: fetched or built once, then cached.
scenario_load "$sc"
[ "$KIND" = busybox ] || die "$sc is a system guest: scripts/system-test.sh boots it"
if [ "$KERNEL" = own ]; then
	"$MEMDRIVER_TOP/scripts/build-debug-kernel.sh" "$sc" >/dev/null
elif [ ! -f "$KDIR_ROOT/.complete" ]; then
	SCENARIOS=$sc "$MEMDRIVER_TOP/scripts/install-deps.sh" --demo
fi
scenario_load "$sc"

work=$OUT_DIR/try-$sc
rm -rf "$work" && mkdir -p "$work"
log "building memdriver and memdriver_test for $sc"
build_module "$sc" "$work/module" -s
build_user "$ARCH" "$work/user"
extra=()
if [ "$TESTDMA" = 1 ]; then
	build_testdma "$sc" "$work/testdma" -s
	extra+=("$work/testdma/tests/testdma/memdriver_testdma.ko")
fi
make_payload "$work/payload" "$sc" "$work/module/memdriver.ko" \
	"$MEMDRIVER_TOP/scripts/guest/try.sh" "$work/user/memdriver_test" "${extra[@]}"
guest_conf "$SUITE" >"$work/payload/guest.conf"
printf '%s\n' "$cmd" >"$work/payload/try.cmd"

log "$sc: $cmd"
rc=0
"$MEMDRIVER_TOP/scripts/vm-run.sh" "$sc" "$work/payload" "$work/guest.log" || rc=$?
sed -n '/MEMDRIVER-GUEST: start/,/MEMDRIVER-GUEST: exit/p' "$work/guest.log" | sed '1d;$d'
# vm-run.sh: 0 passed, 2 the job exited non-zero on a clean console.
case $rc in
0 | 2) exit "$(sed -n 's/^MEMDRIVER-GUEST: exit \([0-9]*\)$/\1/p' "$work/guest.log" | tail -1)" ;;
*) exit 1 ;;
esac
