# SPDX-License-Identifier: GPL-2.0
# The system guest's third boot (scripts/system-test.sh): the kernel the
# second boot installed. memdriver (the version the second boot updated
# to) loads at boot from DKMS's updates/dkms with the modprobe.d options,
# pi's suite passes on it; then apt purge takes every trace away:
# packages, modules, DKMS tree, rule, tool, and the group's members (the
# group itself stays, debian/memdriver-dkms.postrm says why). The job's
# files: release (the new kernel's), version (the updated one's).
. ./ktap.sh
plan 6
rel=$(cat release)
ver=$(cat version)
running() { expect "$rel" "$(uname -r)" && expect 16384 "$(getconf PAGESIZE)"; }
check "running $rel, page size 16384" running
loaded() {
	lsmod | grep '^memdriver ' &&
		expect "$(dkms_module "$rel")" "$(modinfo -n memdriver)" &&
		expect 2 "$(cat /sys/module/memdriver/parameters/nr_devices)" &&
		node_is /dev/memdriver1 'root:memdriver 660' &&
		expect "memdriver_test $ver" "$(memdriver_test --version | cut -d' ' -f1,2)"
}
check "memdriver $ver loaded at boot from updates/dkms, with the options" loaded
check "sudo modprobe vgem on $rel" as_pi 'sudo modprobe vgem'
check "memdriver_test --fresh as pi on $rel: passes, root-only cases SKIP" suite_as_pi
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
