#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Proves a udev rules file (default contrib/60-memdriver.rules) with udev's own
# rule engine: "udevadm test" runs an add event for a fake memdriver0 and must
# leave /dev/memdriver0 with group memdriver, mode 0660, and no complaint about
# the file. bookworm's udevadm (252) has no "verify", and "test" needs a
# device in sysfs, so everything udev reads or writes (/sys, /dev, /run, the
# rules directories, /etc/group) is replaced by scratch copies in a private
# mount namespace: the host's devices, rules and groups are never touched.
# Needs root (mount namespace). Exits 0 if the rule works.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

rules=$(realpath "${1:-$MEMDRIVER_TOP/contrib/60-memdriver.rules}")
if [ -z "${MEMDRIVER_UDEV_NS:-}" ]; then
	exec env MEMDRIVER_UDEV_NS=1 unshare -m --propagation private "$0" "$rules"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gid=4242
{ grep -v '^memdriver:' /etc/group; echo "memdriver:x:$gid:"; } >"$tmp/group"

# memdriver0 as the module creates it (scripts/guest/suite.sh checks the real one):
# a class device under its platform device, with uevent, dev, subsystem.
mount -t tmpfs none /sys
devpath=/devices/platform/memdriver.0/memdriver/memdriver0
d=/sys$devpath
mkdir -p "$d" /sys/class/memdriver
printf 'MAJOR=240\nMINOR=0\nDEVNAME=memdriver0\n' >"$d/uevent"
echo 240:0 >"$d/dev"
ln -s ../../../../../class/memdriver "$d/subsystem"
ln -s "../..$devpath" /sys/class/memdriver/
mount -t tmpfs none /dev
mknod /dev/null c 1 3
mknod -m 0600 /dev/memdriver0 c 240 0
# Only our rules file, so no other rule can produce the result.
for r in /run /etc/udev/rules.d /usr/lib/udev/rules.d /lib/udev/rules.d; do
	[ -d "$r" ] && mount -t tmpfs none "$r"
done
cp "$rules" /etc/udev/rules.d/
mount --bind "$tmp/group" /etc/group

# SYSTEMD_DEVICE_VERIFY_SYSFS=0: accept a /sys that is not sysfs (udev's
# own test suite does the same).
SYSTEMD_DEVICE_VERIFY_SYSFS=0 udevadm test --action=add "$devpath" \
	>"$tmp/log" 2>&1 || true
name=${rules##*/}
grep -F "$name" "$tmp/log" | sed 's/^/# udevadm: /'
got=$(stat -c '%g %a' /dev/memdriver0)
echo "# /dev/memdriver0 after the event: gid $(cut -d' ' -f1 <<<"$got"), mode $(cut -d' ' -f2 <<<"$got")"
# udev logs a bad line as "<file>:<line> <complaint>" and skips it.
if grep -F "$name" "$tmp/log" | grep -Eqi 'invalid|ignor|unknown|fail|error'; then
	echo "# udevadm complained about $name"
	exit 1
fi
[ "$got" = "$gid 660" ]
