# SPDX-License-Identifier: GPL-2.0
#
# The guest's job in scripts/bench.sh (busybox sh, as /run.sh): run
# `memdriver_test bench` with the host's arguments (BENCH_ARGS in
# /guest.conf) and print its table between markers the host cuts out.
BENCH_ARGS=
[ -f /guest.conf ] && . /guest.conf
# Kernel messages must not land inside the table.
dmesg -n 1
insmod /memdriver.ko || exit 1
# shellcheck disable=SC2086 # the arguments are words the host checked
/memdriver_test bench $BENCH_ARGS >/tmp/bench.txt 2>&1
rc=$?
echo MEMDRIVER-BENCH-BEGIN
cat /tmp/bench.txt
echo MEMDRIVER-BENCH-END
rmmod memdriver || exit 1
exit $rc
