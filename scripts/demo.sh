#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The main job: install what is missing, build memdriver for one kernel
# (default: Debian's 6.12 on arm64, the Raspberry Pi 5's architecture and
# kernel series), boot it in QEMU, load the module, run the README's
# cat/echo demo and memdriver_test, unload, and show what the guest printed.
#
#   scripts/demo.sh [6.1|6.12] [amd64|arm64]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

series=${1:-6.12}
arch=${2:-arm64}
KERNELS="$series:$arch" "$MEMDRIVER_TOP/scripts/install-deps.sh"

work=$OUT_DIR/demo-$series-$arch
rm -rf "$work" && mkdir -p "$work/payload"
build_for_kernel "$series" "$arch" "$work/build"
cp "$work/build/memdriver.ko" "$work/build/memdriver_test" "$work/payload/"

cat >"$work/payload/run.sh" <<'GUEST'
set -x
insmod /memdriver.ko
ls -l /dev/memdriver0
echo "Testing memory allocation" > /dev/memdriver0
head -c 26 /dev/memdriver0
cat /dev/memdriver0 | wc -c
cat /sys/class/memdriver/memdriver0/total_size
/memdriver_test tutorial || exit 1
/memdriver_test || exit 1
dmesg | grep memdriver
rmmod memdriver
GUEST

log "booting $series-$arch under QEMU (TCG); this takes a minute"
rc=0
"$MEMDRIVER_TOP/scripts/vm-run.sh" "$series" "$arch" "$work/payload" "$work/guest.log" 600 || rc=$?
# Show the guest's side: from the start marker on, minus kernel noise.
sed -n '/MEMDRIVER-GUEST: start/,$p' "$work/guest.log" | grep -v '^\[ *[0-9.]*\] ' || true
[ $rc = 0 ] && log "demo passed ($work/guest.log)" || log "demo FAILED ($work/guest.log)"
exit $rc
