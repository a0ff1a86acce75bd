# SPDX-License-Identifier: GPL-2.0
# The system guest's second boot on the same disk (scripts/system-demo.sh):
# what the first boot did is still there, and systemd and udev set the
# device up by themselves at boot.
. ./ktap.sh
plan 5
check "the first boot's mark persisted" test -s /home/pi/first-boot
# systemd-modules-load logs the modules it inserts only at debug level;
# nothing else loads memdriver (it has no modalias for udev).
check "memdriver loaded at boot by systemd-modules-load" sh -c '
	lsmod | grep -q "^memdriver " &&
	systemctl is-active systemd-modules-load'
check "/dev/memdriver0 root:memdriver 0660 at boot" sh -c '
	ls -l /dev/memdriver0
	test "$(stat -c "%U:%G %a" /dev/memdriver0)" = "root:memdriver 660"'
check "pi writes and reads it without sudo" as_pi '
	echo "after the reboot" > /dev/memdriver0
	test "$(head -c 16 /dev/memdriver0)" = "after the reboot"'
check "dkms status still installed" sh -c 'dkms status memdriver | grep -q installed'
done_checks
