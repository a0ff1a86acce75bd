# SPDX-License-Identifier: GPL-2.0
# The system guest installs bookworm-backports' 6.12 from .debs handed in
# with the job (no network): apt install ./*.deb, and DKMS builds memdriver
# for it on its own (AUTOINSTALL), before the next boot runs 6.12. Not
# --no-download: apt counts taking the local files as a download and
# refuses ("Unable to fetch some archives").
. ./ktap.sh
plan 3
rel=$(cat debs/release)
check "apt install ./linux-*.deb ($rel), offline" as_pi "
	cd $PWD/debs
	time sudo apt-get install -y -q --no-install-recommends ./*.deb"
check "DKMS built memdriver for $rel by itself" sh -c "
	dkms status memdriver
	dkms status memdriver | grep -F '$rel' | grep -q installed &&
	ls /lib/modules/$rel/updates/dkms/memdriver.ko*"
check "/boot has vmlinuz and Debian's initrd.img of $rel" \
	test -s /boot/vmlinuz-$rel -a -s /boot/initrd.img-$rel
done_checks
