#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The main job: install what is missing, build memdriver for one scenario
# (scripts/scenarios/; default 6.12-arm64: Debian's 6.12 on arm64, the
# Raspberry Pi 5's architecture and kernel series), boot it in QEMU and run
# there the commands README.md tells a Pi user to type once memdriver is
# built: load, memdriver_test and its memory map, the cat/echo demo, the
# tutorial's program, unload (scripts/guest/demo.sh); show what the guest
# printed.
#
#   scripts/demo.sh [scenario]       e.g. scripts/demo.sh 6.1-amd64
set -euo pipefail
. "$(dirname "$0")/lib.sh"

scenario=${1:-6.12-arm64}
SCENARIOS=$scenario "$MEMDRIVER_TOP/scripts/install-deps.sh" --demo

work=$OUT_DIR/demo-$scenario
tool_payload "$scenario" "$work" demo.sh

log "booting $scenario under QEMU (TCG); this takes a minute"
rc=0
"$MEMDRIVER_TOP/scripts/vm-run.sh" "$scenario" "$work/payload" "$work/guest.log" 600 || rc=$?
# Show the guest's side: from the start marker on. The guest keeps kernel
# messages off its console (dmesg -n 1) and prints its dmesg lines itself.
sed -n '/MEMDRIVER-GUEST: start/,$p' "$work/guest.log"
[ $rc = 0 ] && log "demo passed ($work/guest.log)" || log "demo FAILED ($work/guest.log)"
exit $rc
