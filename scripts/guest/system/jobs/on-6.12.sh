# SPDX-License-Identifier: GPL-2.0
# The system guest booted the 6.12 it installed (scripts/system-demo.sh):
# memdriver loads at boot from DKMS's updates/dkms, udev sets the node up.
. ./ktap.sh
plan 3
rel=$(cat release)
check "running $rel" test "$(uname -r)" = "$rel"
check "memdriver loaded at boot from updates/dkms" sh -c "
	lsmod | grep -q '^memdriver ' &&
	modinfo -n memdriver | grep -q '/lib/modules/$rel/updates/dkms/'"
check "pi uses /dev/memdriver0 without sudo" as_pi '
	ls -l /dev/memdriver0
	echo "on 6.12" > /dev/memdriver0
	test "$(head -c 7 /dev/memdriver0)" = "on 6.12"'
done_checks
