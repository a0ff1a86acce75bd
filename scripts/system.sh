# SPDX-License-Identifier: GPL-2.0
# The system guest: a real Debian trixie arm64 system, today's Raspberry Pi
# OS base (systemd as init, udev, apt, dkms 3.2, gcc 14, Debian's stock
# kernel with 16 KiB pages and its headers) on a disk image, booted under
# QEMU. Sourced after lib.sh and apt.sh, never run.
#
# scripts/system-image.sh builds and caches the image; scripts/system-run.sh
# boots it with a job (a script and its files on a second disk) and judges
# the run as scripts/vm-run.sh judges a busybox guest: a marker line from
# the guest and QEMU's exit status (semihosting, scripts/guest/exit.c).

# Its kernel, machine, memory, console and upgrade: this scenario's.
SYSTEM_SCENARIO=system-arm64
SYSTEM_DIR=$MEMDRIVER_CACHE/sysguest
# The Debian release and the root filesystem's suites (apt.sh's private
# configuration of that release); backports stay out: the upgrade's kernel
# is handed in as .debs.
SYSTEM_RELEASE=trixie
SYSTEM_SUITES="trixie trixie-updates trixie-security"
# Its packages, once downloaded (the upgrade's kernel too).
SYSTEM_DEBS=$SYSTEM_DIR/debs-$SYSTEM_RELEASE
# What the image holds besides Debian's Essential and required packages:
# the init, udev, module tools, apt, DKMS with a compiler, sudo, and the
# scenario's kernel with its headers (added by system-image.sh).
# usr-is-merged: the merged-/usr hook registers a dummy of it on the host,
# so the real one must be named to be installed in the guest.
SYSTEM_PKGS="systemd-sysv udev kmod apt dkms build-essential sudo adduser
 passwd initramfs-tools usr-is-merged"
# The host tools that build and boot it, beyond scripts/install-deps.sh's.
SYSTEM_HOST_PKGS="mmdebstrap proot qemu-utils e2fsprogs"
# Sparse: only what is written takes space. Room for a second kernel.
SYSTEM_DISK_SIZE=6G
# The ext4 labels the guest mounts by: its root and the job's disk.
SYSTEM_ROOT_LABEL=sysroot
SYSTEM_JOB_LABEL=MDJOB
# Raspberry Pi OS's cmdline.txt where it applies (serial console, ext4
# root, fsck.repair, rootwait), root by label instead of PARTUUID (the disk
# has no partition table); then the test command's panic on oops. Under
# TCG, beside another guest on 2 cores, a stock kernel's CPU-bound stretch
# can outlast the soft-lockup (20 s) and RCU-stall (21 s) limits while the
# host runs the other guest: 6.12's check of a module's ECDSA signature in
# udev's coldplug once read "soft lockup - CPU#1 stuck for 22s!". Three
# times those limits still catch a task that never yields.
SYSTEM_CMDLINE="root=LABEL=$SYSTEM_ROOT_LABEL rootfstype=ext4 fsck.repair=yes rootwait
 panic=-1 oops=panic watchdog_thresh=30 rcupdate.rcu_cpu_stall_timeout=63"

# What the image's second stage runs on the host, chrooted in the tree
# (system-image.sh): proot with its libraries and loader, and Debian's
# static qemu-aarch64 (qemu-user-static unpacked, never installed: its
# package would register binfmt handlers). Prints the directory.
system_host_tools() {
	local dir=$SYSTEM_DIR/host-tools lib deb
	if [ ! -x "$dir/qemu-aarch64-static" ]; then
		private_apt_setup
		download qemu-user-static:amd64
		deb=$(ls -t "$APT_DIR"/debs/qemu-user-static_*_amd64.deb | head -1)
		rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
		dpkg-deb --fsys-tarfile "$deb" |
			tar -xO ./usr/bin/qemu-aarch64-static >"$dir.tmp/qemu-aarch64-static"
		chmod 0755 "$dir.tmp/qemu-aarch64-static"
		rm -rf "$dir" && mv "$dir.tmp" "$dir"
	fi
	cp "$(command -v proot)" "$dir/"
	for lib in $(ldd "$(command -v proot)" | grep -o '/[^ ]*'); do
		cp -L "$lib" "$dir/"
	done
	echo "$dir"
}

# The kernel release the flavour's metapackage (linux-image-arm64-16k)
# points at in the first of the suites that has it: found, never named.
system_kernel() { # suites
	local s img
	for s in $1; do
		img=$(APT_RELEASE=$SYSTEM_RELEASE resolve_image \
			"linux-image-$KERNEL_FLAVOUR:$ARCH" "$s" 2>/dev/null) || continue
		img=${img#linux-image-}
		echo "${img%-unsigned}"
		return 0
	done
	die "no linux-image-$KERNEL_FLAVOUR in $1"
}
# The scenario's machine (arch.sh), its kernel's release and the upgrade's,
# as SYS_* variables (the release's apt lists refreshed daily).
system_facts() {
	scenario_load "$SYSTEM_SCENARIO"
	release_apt_setup "$SYSTEM_RELEASE" >&2
	SYS_RELEASE=$(system_kernel "$KERNEL_SUITES")
	SYS_UPGRADE=$(system_kernel "$UPGRADE_SUITES")
	machine_facts
	SYS_CONSOLE=$CONSOLE
}

# Boot QEMU on the system machine and judge the run. Prints the verdict
# (vm-run.sh's words) and returns 0 on PASS, 2 when the job ran to its end
# and reported failures, 1 otherwise. The guest prints
# "MEMDRIVER-GUEST: start" and "MEMDRIVER-GUEST: exit N", then makes QEMU
# exit with N (guest-exit): both must agree.
system_boot() { # log timeout kernel initrd cmdline [qemu args: disks...]
	local logfile=$1 tmo=$2 kernel=$3 initrd=$4 cmdline=$5 qpid rc=0
	shift 5
	local qemu_cmd=("${QEMU[@]}" -accel tcg "${MACHINE_ARGS[@]}"
		-nographic -no-reboot -monitor none -serial stdio -nic none
		-kernel "$kernel" -initrd "$initrd"
		-append "console=$SYS_CONSOLE,115200 $cmdline" "$@")
	printf '%q ' "${qemu_cmd[@]}" >"$logfile.qemu" && echo >>"$logfile.qemu"
	: >"$logfile"
	SECONDS=0
	timeout -k 10 "$tmo" "${qemu_cmd[@]}" </dev/null >"$logfile" 2>&1 &
	qpid=$!
	# Never leave QEMU behind: a signal to this script stops it.
	trap 'kill $qpid 2>/dev/null; wait $qpid 2>/dev/null; exit 130' INT TERM
	wait "$qpid" || rc=$?
	trap - INT TERM
	sed -i 's/\r$//' "$logfile"
	local secs=$SECONDS reason= marker n
	marker=$(grep -ao 'MEMDRIVER-GUEST: exit [0-9]*$' "$logfile" | tail -1 || true)
	n=${marker#MEMDRIVER-GUEST: exit }
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		reason=timeout
	elif [ -z "$marker" ]; then
		reason="no exit marker (qemu exit $rc)"
	elif [ "$rc" != "$n" ] && ! { [ "$n" -gt 100 ] && [ "$rc" = 100 ]; }; then
		reason="qemu exit $rc, guest said $n"
	fi
	local err
	if ! err=$("$MEMDRIVER_TOP/scripts/console-badness.sh" "$logfile"); then
		reason+="${reason:+; }kernel: ${err%%$'\n'*}"
	fi
	if [ -n "$reason" ]; then
		log "system guest: FAIL ($reason) in ${secs}s, log $logfile"
		return 1
	elif [ "$n" != 0 ]; then
		log "system guest: FAIL ($n failed in the job; ran to its end) in ${secs}s, log $logfile"
		return 2
	fi
	log "system guest: PASS in ${secs}s, log $logfile"
}

# An ext4 image of a directory, labelled for the guest, sized to fit.
system_ext4() { # dir image label [size]
	local size=${4:-}
	[ -n "$size" ] || size=$(( $(du -sm "$1" | cut -f1) * 13 / 10 + 32 ))M
	rm -f "$2"
	mkfs.ext4 -q -F -L "$3" -d "$1" "$2" "$size" >/dev/null
}
