# SPDX-License-Identifier: GPL-2.0
#
# The guest's job in scripts/vm-run.sh --shell (busybox sh, as /run.sh):
# load memdriver and hand the console to an interactive shell. Leaving the
# shell ends the guest.
insmod /memdriver.ko || echo "insmod failed: $?"
dmesg | grep memdriver
cat <<'MSG'
memdriver is loaded: /dev/memdriver0, /memdriver_test (test, info, fuzz,
bench), /sys/class/memdriver/memdriver0, /sys/kernel/debug/memdriver.
Type exit to end the guest.
MSG
setsid cttyhack sh -i
