# SPDX-License-Identifier: GPL-2.0
# The system guest's second boot (scripts/system-test.sh), the same kernel
# on the same disk: memdriver loaded at boot by modules-load.d with the
# modprobe.d example's options (two devices, a 4 MiB vmalloc region), udev
# set both nodes up. Then the packages' update to a newer version: DKMS
# removes the old one and builds the new one, which loads in its place.
# Then the kernel upgrade: trixie-backports' newest 16 KiB kernel from the
# .debs handed in (no network), and DKMS builds the new version for it by
# itself (AUTOINSTALL) before the next boot runs it. The update comes
# first so that DKMS builds each version once (dkms builds a package for
# the running and the newest kernel). The job's files: debs/*.deb,
# debs/release (the new kernel's), version, and next/ (the newer
# packages, their version in next-version).
. ./ktap.sh
plan 8
rel=$(uname -r)
new=$(cat debs/release)
ver=$(cat version)
next=$(cat next/next-version)
check "memdriver loaded at boot by systemd-modules-load" sh -c '
	lsmod | grep "^memdriver " &&
	systemctl is-active systemd-modules-load'
options() {
	expect 2 "$(cat /sys/module/memdriver/parameters/nr_devices)" &&
		expect 4194304 "$(cat /sys/module/memdriver/parameters/vmalloc_size)" &&
		node_is /dev/memdriver0 'root:memdriver 660' &&
		node_is /dev/memdriver1 'root:memdriver 660'
}
check "the modprobe.d options took effect: nr_devices 2, vmalloc_size 4194304" options
check "pi writes and reads /dev/memdriver1 without sudo" as_pi '
	echo "after the reboot" > /dev/memdriver1
	test "$(head -c 16 /dev/memdriver1)" = "after the reboot"'
cp -r next /home/pi/next && chown -R pi:pi /home/pi/next
check "sudo apt install ./memdriver-*_$next: the update, DKMS builds, nothing deprecated" apt_as_pi "
	cd ~/next
	sudo apt install -y ./memdriver-dkms_${next}_all.deb ./memdriver-tools_${next}_arm64.deb"
updated() {
	expect "memdriver/$next, $rel, aarch64: installed" "$(dkms status memdriver)" &&
		expect "$(dkms_module "$rel")" "$(ls "/lib/modules/$rel/updates/dkms/memdriver.ko"*)" &&
		test -f "/usr/src/memdriver-$next/dkms.conf" &&
		! ls -d "/usr/src/memdriver-$ver" 2>/dev/null &&
		expect "memdriver_test $next" "$(memdriver_test --version | cut -d' ' -f1,2)"
}
check "dkms status: only memdriver/$next; its sources, the old ones gone; the tool $next" updated
check "the new module loads in the old one's place; pi reads and writes" as_pi '
	sudo modprobe -r memdriver
	sudo modprobe memdriver
	udevadm settle
	echo "after the update" > /dev/memdriver0
	test "$(head -c 16 /dev/memdriver0)" = "after the update"'
cp -r debs /home/pi/debs && chown -R pi:pi /home/pi/debs
check "sudo apt install ./*.deb ($new), offline: DKMS builds, nothing deprecated" apt_as_pi '
	cd ~/debs
	sudo apt-get install -y -q --no-install-recommends ./*.deb'
built_for_new() {
	expect "memdriver/$next, $rel, aarch64: installed
memdriver/$next, $new, aarch64: installed" "$(dkms status memdriver | sort -V)" &&
		expect "$(dkms_module "$new")" "$(ls "/lib/modules/$new/updates/dkms/memdriver.ko"*)" &&
		test -s "/boot/vmlinuz-$new" && test -s "/boot/initrd.img-$new"
}
check "DKMS built memdriver $next for $new by itself; /boot has its kernel and initrd" built_for_new
done_checks
