#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The benchmark: build memdriver for one scenario (scripts/scenarios/;
# default 6.12-arm64, like demo.sh), boot it in QEMU (TCG), load the module, run
# `memdriver_test bench` and print its table here. Further arguments go to
# the bench: --quick (one short run each), --runs N, or P1..P7 to run only
# those rows.
#
#   scripts/bench.sh [scenario] [--quick] [--runs N] [P1..P7...]
#
# The guest boots without the test runs' slub_debug and KFENCE sampling:
# they would time the allocator's debug checks, not the driver. BENCH_DEBUG=1
# keeps them. SKIP_INSTALL=1 skips the dependency check. The table is kept in
# $OUT_DIR/bench-<scenario>/bench.txt, the guest's console beside it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

scenario=6.12-arm64
if [ $# -gt 0 ] && [ -f "$SCENARIO_DIR/$1" ]; then
	scenario=$1
	shift
fi
rows=
for a in "$@"; do
	[[ $a =~ ^[-A-Za-z0-9]+$ ]] || die "bad bench argument '$a'"
	if [[ $a =~ ^P[0-9]$ ]]; then rows="$rows $a"; fi
done
[ -n "${SKIP_INSTALL:-}" ] || SCENARIOS=$scenario "$MEMDRIVER_TOP/scripts/install-deps.sh" --demo

work=$OUT_DIR/bench-$scenario
started="$(date -u '+%Y-%m-%d %H:%M UTC'), host load $(cut -d' ' -f1 /proc/loadavg)"
tool_payload "$scenario" "$work" bench.sh
echo "BENCH_ARGS='$*'" >"$work/payload/guest.conf"

[ -n "${BENCH_DEBUG:-}" ] ||
	export MEMDRIVER_CMDLINE_EXTRA="slub_debug=- kfence.sample_interval=0 ${MEMDRIVER_CMDLINE_EXTRA:-}"
log "benchmarking on $scenario under QEMU (TCG); this takes a few minutes"
rc=0
"$MEMDRIVER_TOP/scripts/vm-run.sh" "$scenario" "$work/payload" "$work/guest.log" \
	"${BENCH_TIMEOUT:-1800}" || rc=$?
{
	echo "# $started before; QEMU $(qemu-system-x86_64 --version |
		sed -n '1s/.*version \([^ ]*\).*/\1/p') TCG -smp $SMP on $(nproc) host CPUs"
	sed -n '/^MEMDRIVER-BENCH-BEGIN$/,/^MEMDRIVER-BENCH-END$/p' "$work/guest.log" |
		sed '1d;$d'
} >"$work/bench.txt"
cat "$work/bench.txt"
# Each row asked for (every one by default) is in the table, or says why
# it was skipped (P7 without udmabuf).
for p in ${rows:-P1 P2 P3 P4 P5 P6 P7}; do
	grep -Eq "^($p |# $p: skipped: )" "$work/bench.txt" || {
		log "no $p row in the table"
		rc=1
	}
done
[ $rc = 0 ] && log "bench done ($work/bench.txt)" || log "bench FAILED ($work/guest.log)"
exit $rc
