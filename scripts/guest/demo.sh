# SPDX-License-Identifier: GPL-2.0
#
# The guest's job in scripts/demo.sh (busybox sh, as /run.sh): the README's
# cat/echo demo, the tutorial's test, the suite and the memory map, then
# the module's own load message. Kernel messages stay off the console so
# the commands' output reads in order; dmesg shows them at the end.
dmesg -n 1
set -x
insmod /memdriver.ko || exit 1
ls -l /dev/memdriver0
echo "Testing memory allocation" > /dev/memdriver0
head -c 26 /dev/memdriver0
cat /dev/memdriver0 | wc -c
cat /sys/class/memdriver/memdriver0/total_size
/memdriver_test tutorial || exit 1
/memdriver_test || exit 1
/memdriver_test info || exit 1
dmesg | grep memdriver
rmmod memdriver
