# SPDX-License-Identifier: GPL-2.0
# The system guest's first boot of scripts/system-demo.sh: pi installs
# memdriver the way README.md's Raspberry Pi section says, on Debian's
# 6.1 arm64 with systemd and udev: DKMS builds it natively for the running
# kernel from /usr/src/memdriver-1.0, modprobe loads it, udev gives
# /dev/memdriver0 to the group memdriver, pi uses it without sudo, and it
# is set to load at boot (the next boot checks that it persisted).
. ./ktap.sh
plan 9
rel=$(uname -r)
check "systemd is PID 1, the system is up ($rel)" \
	sh -c 'test "$(cat /proc/1/comm)" = systemd && systemctl is-active multi-user.target'
cp -r memdriver /home/pi/memdriver && chown -R pi:pi /home/pi/memdriver
check "sudo dkms add + build + install memdriver/1.0" as_pi '
	sudo cp -r ~/memdriver /usr/src/memdriver-1.0
	sudo dkms add memdriver/1.0
	time sudo dkms build memdriver/1.0
	sudo dkms install memdriver/1.0
	sudo dkms status'
check "dkms status: installed for $rel, in updates/dkms" sh -c "
	dkms status memdriver | grep -F '$rel' | grep -q installed &&
	modinfo -n memdriver | grep -q '/lib/modules/$rel/updates/dkms/memdriver.ko'"
check "groupadd, usermod, the udev rule" as_pi '
	sudo groupadd --system memdriver
	sudo usermod -aG memdriver pi
	sudo cp ~/memdriver/contrib/60-memdriver.rules /etc/udev/rules.d/
	sudo udevadm control --reload'
check "sudo modprobe memdriver" as_pi 'sudo modprobe memdriver; lsmod | grep memdriver'
check "udev made /dev/memdriver0 root:memdriver 0660" sh -c '
	udevadm settle
	ls -l /dev/memdriver0
	test "$(stat -c "%U:%G %a" /dev/memdriver0)" = "root:memdriver 660"'
check "pi writes and reads /dev/memdriver0 without sudo" as_pi '
	id
	echo "Testing memory allocation" > /dev/memdriver0
	test "$(head -c 25 /dev/memdriver0)" = "Testing memory allocation"'
# memdriver_test comes built (static, by the host, as for every guest):
# gcc under emulation takes minutes for it.
install -m 0755 memdriver_test /usr/local/bin/
check "memdriver_test's rw cases as pi, without sudo" as_pi 'memdriver_test rw'
check "loads at boot (modules-load.d), a mark for the next boot" as_pi '
	echo memdriver | sudo tee /etc/modules-load.d/memdriver.conf
	date +%s > ~/first-boot'
done_checks
