# SPDX-License-Identifier: GPL-2.0
# The system guest's third boot (scripts/system-test.sh): the kernel the
# second boot installed. memdriver loads at boot from DKMS's updates/dkms
# with the modprobe.d options, pi's suite passes on it. Then the packages'
# update to a newer version: DKMS removes the old one and builds the new
# one for the running kernel, which loads in its place. Then apt purge takes
# every trace away: packages, modules, DKMS tree, rule, tool, and the
# group's members (the group itself stays, debian/memdriver-dkms.postrm
# says why). The job's files: release (the new kernel's), version, and
# next/ (the newer packages, and their version in next-version).
. ./ktap.sh
plan 9
rel=$(cat release)
ver=$(cat version)
next=$(cat next/next-version)
running() { expect "$rel" "$(uname -r)" && expect 16384 "$(getconf PAGESIZE)"; }
check "running $rel, page size 16384" running
loaded() {
	lsmod | grep '^memdriver ' &&
		expect "$(dkms_module "$rel")" "$(modinfo -n memdriver)" &&
		expect 2 "$(cat /sys/module/memdriver/parameters/nr_devices)" &&
		node_is /dev/memdriver1 'root:memdriver 660'
}
check "memdriver loaded at boot from updates/dkms, with the options" loaded
check "sudo modprobe vgem on $rel" as_pi 'sudo modprobe vgem'
check "memdriver_test --fresh as pi on $rel: passes, root-only cases SKIP" suite_as_pi
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
check "sudo apt purge memdriver-dkms memdriver-tools" as_pi '
	sudo apt purge -y memdriver-dkms memdriver-tools'
check "nothing left: packages, modules, DKMS tree, sources, rule, tool, members" sh -c '
	# Purged, dpkg forgets them ("no packages found"), or lists them
	# not-installed ("un", "pn").
	dpkg-query -W -f="\${db:Status-Abbrev} \${Package}\n" "memdriver*" 2>/dev/null |
		grep "^.[^n]" && exit 1
	find /lib/modules -name "memdriver.ko*" | grep . && exit 1
	ls -d /var/lib/dkms/memdriver /usr/src/memdriver-* \
		/lib/udev/rules.d/60-memdriver.rules /usr/bin/memdriver_test 2>/dev/null | grep . && exit 1
	getent group memdriver
	test -z "$(getent group memdriver | cut -d: -f4)"'
done_checks
