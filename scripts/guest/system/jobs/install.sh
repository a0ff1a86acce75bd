# SPDX-License-Identifier: GPL-2.0
# The system guest's first boot (scripts/system-test.sh), on Debian trixie
# arm64 with its stock 16 KiB-page kernel, systemd and udev. First pi
# follows README.md's Pi section in a clone of the tree: the headers,
# make (gcc 14, no warning), the tutorial's program, then each command
# block of steps 4 to 8, from the README itself (scripts/readme-blocks.sh),
# with real sudo, its output compared with what the README promises. Then
# pi installs memdriver's packages the way docs/packaging.md's "Installing
# from Debian packages" says, offline: dkms 3.2 builds the module natively with gcc 14
# for the running kernel and prints no "Deprecated" line, modprobe loads
# it, udev gives /dev/memdriver0 to the group the package made, pi (in the
# group, and in video as on Raspberry Pi OS, with vgem loaded for the
# dma-buf cases) runs the suite and the cat/echo demo without sudo, a user
# outside the group is refused. Then the modprobe.d example and
# modules-load.d are set up for the next boot to check. The job's files:
# the two .debs and the version they carry (file "version"), the tree
# (memdriver/), the README's blocks (readme/) and the guests' common.sh.
. ./ktap.sh
plan $((14 + $(ls readme/*.sh | wc -l)))
rel=$(uname -r)
ver=$(cat version)
check "systemd is PID 1, the system is up, running $rel" sh -c '
	test "$(cat /proc/1/comm)" = systemd &&
	systemctl is-active multi-user.target'
check "Debian GNU/Linux 13 (trixie), page size 16384, dkms 3.2, gcc 14" system_is_trixie
# README.md's Pi section, steps 1 and 3, as typed (offline: apt finds
# everything installed), then steps 4 to 8 block by block.
cp -r memdriver /home/pi/ && chown -R pi:pi /home/pi/memdriver
built() {
	as_pi_kept 'cd ~/memdriver
		sudo apt install -y linux-headers-$(uname -r) build-essential dkms
		make
		gcc -o tutorial_test scripts/tutorial_test.c' &&
		# (apt's own "WARNING:" to scripts is no compiler's.)
		! grep -v 'apt does not have a stable CLI' /tmp/pi.out | grep -i 'warning:' &&
		modinfo -F vermagic /home/pi/memdriver/memdriver.ko | grep -q "^$rel "
}
check "README, Pi section: headers, make and gcc -o tutorial_test as pi, no warning" built
. ./common.sh
for f in readme/*.sh; do
	check "$(cat "${f%.sh}.name")$([ -f "${f%.sh}.expected" ] && echo ', as promised')" \
		block_as_pi "$f"
done
cp memdriver-*.deb /home/pi/ && chown pi:pi /home/pi/memdriver-*.deb
# docs/packaging.md's commands, in its order; -y as nobody answers. Not
# --no-download: apt counts taking local files as a download.
check "sudo apt install ./memdriver-dkms ./memdriver-tools, offline: DKMS builds, nothing deprecated" \
	apt_as_pi "sudo apt install -y ./memdriver-dkms_${ver}_all.deb ./memdriver-tools_${ver}_arm64.deb"
dkms_built() {
	expect "memdriver/$ver, $rel, aarch64: installed" "$(dkms status memdriver)" &&
		expect "$(dkms_module "$rel")" "$(modinfo -n memdriver)"
}
check "dkms status: memdriver/$ver, $rel, aarch64: installed" dkms_built
check "the packages' files: sources, udev rule, tool, example" sh -c "
	test -f /usr/src/memdriver-$ver/dkms.conf &&
	grep -q 'GROUP=\"memdriver\", MODE=\"0660\"' /lib/udev/rules.d/60-memdriver.rules &&
	test -x /usr/bin/memdriver_test &&
	test -f /usr/share/doc/memdriver-dkms/examples/memdriver.conf"
system_group() {
	entry=$(getent group memdriver) || return 1
	echo "$entry"
	[ "$(echo "$entry" | cut -d: -f3)" -lt 1000 ] &&
		expect "" "$(echo "$entry" | cut -d: -f4)"
}
check "the package made memdriver a system group, with no members" system_group
check "sudo adduser \$USER memdriver; a second user, not in the group" as_pi '
	sudo adduser $USER memdriver
	sudo useradd -m outsider'
load() {
	as_pi 'sudo modprobe memdriver' &&
		udevadm settle &&
		lsmod | grep '^memdriver ' &&
		node_is /dev/memdriver0 'root:memdriver 660'
}
check "sudo modprobe memdriver: udev makes /dev/memdriver0 root:memdriver 0660" load
# DRM's card nodes are the group video's (Debian's udev rules); Raspberry
# Pi OS puts its first user in it. vgem imports the suite's dma-bufs.
vgem_for_pi() {
	as_pi 'sudo modprobe vgem && sudo adduser $USER video' &&
		udevadm settle &&
		ls -l /dev/dri/ && ls -l /dev/dri/card* | grep -q ' root video '
}
check "sudo modprobe vgem; pi in the group video, as on Raspberry Pi OS" vgem_for_pi
check "memdriver_test --fresh as pi: passes, root-only cases SKIP" suite_as_pi
check "the cat/echo demo as pi, without sudo" as_pi '
	echo "Testing memory allocation" > /dev/memdriver0
	test "$(head -c 26 /dev/memdriver0)" = "Testing memory allocation"
	size=$(cat /sys/class/memdriver/memdriver0/total_size)
	test "$(cat /dev/memdriver0 | wc -c)" = "$size"'
refused() {
	out=$(su -l outsider -c "cat /dev/memdriver0" 2>&1) && return 1
	expect "cat: /dev/memdriver0: Permission denied" "$out" || return 1
	out=$(su -l outsider -c "echo x > /dev/memdriver0" 2>&1) && return 1
	echo "$out"
	case $out in *"/dev/memdriver0: Permission denied") ;; *) return 1 ;; esac
}
check "a user outside the group: EACCES on read and write" refused
check "modprobe.d example and modules-load.d, for the next boot" as_pi '
	sudo cp /usr/share/doc/memdriver-dkms/examples/memdriver.conf /etc/modprobe.d/
	echo memdriver | sudo tee /etc/modules-load.d/memdriver.conf'
done_checks
