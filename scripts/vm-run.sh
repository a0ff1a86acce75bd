#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot one of Debian's kernels, or an own debug kernel, in QEMU with a
# busybox initramfs, run a payload's run.sh as the guest's only job, and
# judge the run.
#
# usage: scripts/vm-run.sh <series> <arch> <payload-dir> <log-file> [timeout-s]
#   series 6.1|6.12 (Debian's, scripts/install-deps.sh), debug (own
#   KASAN/kmemleak/lockdep/... kernels, scripts/build-debug-kernel.sh: 6.12
#   with 16 KiB pages on arm64, Debian sid's newest on x86_64), raspi
#   (Debian's 6.12 on QEMU's raspi3b, with a BCM2835 DMA engine; arm64 only)
#   or debugraspi (an own debug kernel from linux-source-6.1 on that raspi3b,
#   scripts/build-debug-kernel.sh raspi; arm64 only), arch amd64|arm64;
#   payload-dir's contents are copied into the initramfs root as-is and must
#   hold run.sh. Extra kernel arguments come from $MEMDRIVER_CMDLINE_EXTRA.
#   The QEMU command of the boot is kept in <log-file>.qemu (with its
#   initramfs, <log-file>.initrd.gz): it boots the same guest again.
#   Exits 0 on PASS, 2 when the suite ran to its end and only its own
#   cases failed, 1 on any other FAIL.
#
# usage: scripts/vm-run.sh --shell <series> <arch>
#   builds memdriver and memdriver_test for that kernel and boots it with a
#   busybox shell on this terminal, the module loaded.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# --shell: a payload of its own (the module and the tools, built here)
# and the console on this terminal.
shell=false
if [ "${1:-}" = --shell ]; then
	[ $# = 3 ] || die "usage: $0 --shell <series> <arch>"
	shell=true series=$2 arch=$3
	KERNELS="$series:$arch" "$MEMDRIVER_TOP/scripts/install-deps.sh" >&2
	work=$OUT_DIR/shell-$series-$arch
	tool_payload "$series" "$arch" "$work" shell.sh >&2
	set -- "$series" "$arch" "$work/payload" "$work/guest.log" 86400
fi
[ $# -ge 4 ] && [ $# -le 5 ] ||
	die "usage: $0 <6.1|6.12|debug|raspi|debugraspi> <amd64|arm64> <payload-dir> <log-file> [timeout-s]
       $0 --shell <series> <arch>"
series=$1 arch=$2 payload=$3 logfile=$4 tmo=${5:-300}
case $series in 6.1 | 6.12 | debug | raspi | debugraspi) ;; *) die "unknown series $series" ;; esac
! is_raspi_series "$series" || [ "$arch" = arm64 ] || die "series $series is arm64 only"
[ -f "$payload/run.sh" ] || die "$payload/run.sh missing"
case $arch in amd64 | arm64) ;; *) die "unknown arch $arch" ;; esac
kdir=$(kernel_dir "$series" "$arch")
kernel=$kdir/vmlinuz
if is_debug_series "$series"; then
	target=$arch
	[ "$series" = debugraspi ] && target=raspi
	[ -f "$kdir/.complete" ] && [ -f "$kernel" ] ||
		die "no debug kernel in $kdir: run scripts/build-debug-kernel.sh $target"
fi
[ -f "$kernel" ] || die "$kernel missing: run scripts/install-deps.sh"

# The machine: arch_facts and raspi_facts (scripts/arch.sh).
if is_raspi_series "$series"; then
	dtb=$(raspi_dtb "$series")
	[ -n "$dtb" ] || die "bcm2837-rpi-3-b.dtb missing for $series: run scripts/install-deps.sh" \
		"(raspi) or scripts/build-debug-kernel.sh raspi (debugraspi)"
	raspi_facts "$dtb"
else
	arch_facts "$arch"
fi
busybox=$BUSYBOX console=$CONSOLE pass_rc=$PASS_RC
[ -x "$busybox" ] || die "$busybox missing: run scripts/install-deps.sh"

# The exit helper, built once per arch and again when its source changes.
src=$MEMDRIVER_TOP/scripts/guest/exit.c
gexit=$MEMDRIVER_CACHE/guest-exit/$arch/guest-exit
if [ ! -x "$gexit" ] || [ "$src" -nt "$gexit" ]; then
	mkdir -p "${gexit%/*}"
	# Guests boot two at a time: each builds into a file of its own.
	"${CROSS}gcc" -static -O2 -Wall -Wextra -Werror \
		-o "$gexit.$$.tmp" "$src"
	mv "$gexit.$$.tmp" "$gexit"
fi

tmp=$(mktemp -d)
qpid=
# Never leave QEMU behind: on any exit stop it (timeout passes TERM on).
cleanup() {
	if [ -n "$qpid" ]; then
		kill "$qpid" 2>/dev/null || true
		wait "$qpid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The initramfs: busybox with its applet links (the host's busybox is the
# same Debian version, so its list fits the arm64 one too), the exit
# helper, scripts/guest/init as /init, then the payload on top.
root=$tmp/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp}
cp "$busybox" "$root/bin/busybox"
for applet in $(/bin/busybox --list-full); do
	[ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done
cp "$gexit" "$root/bin/guest-exit"
cp "$MEMDRIVER_TOP/scripts/guest/init" "$root/init"
chmod +x "$root/init"
# --remove-destination: a payload file must replace an applet link, not
# write through it into busybox.
cp -a --remove-destination "$payload/." "$root/"
(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 >"$tmp/initrd.gz"

slub=FZPU
# Debian's 6.12 on arm64 boots with the parameters Raspberry Pi OS's kernel
# gets from the firmware that a driver can notice: a 64 MiB CMA area (where
# coherent DMA buffers come from) and zeroed allocations. Slab poisoning (P)
# would take precedence over init_on_alloc in every cache ("mem auto-init:
# SLAB_POISON will take precedence"), so this guest keeps the red zones and
# sanity checks but lets allocations come zeroed, as on the Pi.
pi_os=
if [ "$series-$arch" = 6.12-arm64 ]; then
	pi_os=" cma=64M init_on_alloc=1"
	slub=FZU
fi
cmdline="console=$console panic=-1 oops=panic slub_debug=$slub loglevel=7 rdinit=/init$pi_os"
# Debian's 6.1 is built without KFENCE.
[ "$series" != 6.1 ] && cmdline+=" kfence.sample_interval=1"
# Debug kernels (debug and debugraspi): readable addresses in KASAN/kmemleak
# reports. kmemleak, lockdep, DMA-API debug and UBSAN are on by default
# there. The first report taints the kernel and switches lockdep off, so the
# first one ends the run (panic_on_warn: KASAN, UBSAN and DMA-API reports are
# warnings too).
is_debug_series "$series" && cmdline+=" no_hash_pointers panic_on_warn=1"
# DMA-API debug checks that no two live mappings share a cache line, but
# 6.12+ skips that check on arm64 while swiotlb can bounce unaligned
# kmalloc buffers (DMA_BOUNCE_UNALIGNED_KMALLOC), and then bounces them
# instead. Without swiotlb the Pi-twin debug guest checks every line: a
# copy path that maps partial lines fails here (tests/dma.c dma_one_line).
# The raspi guest's second boot covers bouncing (swiotlb=force).
[ "$series-$arch" = debug-arm64 ] && cmdline+=" swiotlb=noforce"
cmdline+=" ${MEMDRIVER_CMDLINE_EXTRA:-}"

# KVM cannot run guests here, hence TCG. A panic makes QEMU exit 0, so the
# verdict needs the guest's marker line as well as the exit status.
mkdir -p "$(dirname "$logfile")"
log "vm $series-$arch: booting $(cat "$kdir/release"), command line: $cmdline"
SECONDS=0
# TCG on x86 rarely crashes a kernel while it patches its own code at boot
# (int3 Oops in the idle loop, seen once in many boots). A guest that dies
# before our /init starts proved nothing either way: boot it once more. Any
# failure after the start marker counts.
# The boot's QEMU command and initramfs, kept beside its log: the command
# runs again as is.
cp "$tmp/initrd.gz" "$logfile.initrd.gz"
qemu_cmd=("${QEMU[@]}" -accel tcg "${MACHINE[@]}" -nographic -no-reboot -monitor none
	-serial stdio -nic none -kernel "$kernel" -initrd "$logfile.initrd.gz" -append "$cmdline")
printf '%q ' "${qemu_cmd[@]}" >"$logfile.qemu" && echo >>"$logfile.qemu"
if $shell; then
	log "vm $series-$arch: a shell with memdriver loaded; exit (or Ctrl-A x) ends it; log $logfile"
	timeout --foreground "$tmo" "${qemu_cmd[@]}" 2>&1 | tee "$logfile" || true
	exit 0
fi
# A kernel can also hang before it prints a line (seen once on raspi3b, in
# many boots): every guest reaches /init within 10 s, so one that has not
# after BOOT_TIMEOUT is stopped and booted again too.
BOOT_TIMEOUT=${MEMDRIVER_BOOT_TIMEOUT:-180}
for attempt in 1 2; do
	timeout -k 10 "$tmo" "${qemu_cmd[@]}" </dev/null >"$logfile" 2>&1 &
	qpid=$!
	rc=0 boot_t0=$SECONDS boot_hung=false
	while kill -0 "$qpid" 2>/dev/null && ! grep -aq 'MEMDRIVER-GUEST: start' "$logfile"; do
		if [ $((SECONDS - boot_t0)) -ge "$BOOT_TIMEOUT" ]; then
			log "vm $series-$arch: no /init after ${BOOT_TIMEOUT}s, stopping it"
			kill "$qpid" 2>/dev/null
			boot_hung=true
			break
		fi
		sleep 2
	done
	wait "$qpid" || rc=$?
	qpid=
	sed -i 's/\r$//' "$logfile"
	grep -aq 'MEMDRIVER-GUEST: start' "$logfile" && break
	[ $attempt = 2 ] && break
	cp "$logfile" "$logfile.boot-failure"
	log "vm $series-$arch: kernel died or hung before /init ran, booting again (log kept in $logfile.boot-failure)"
done
secs=$SECONDS

# The suite's own failures (its exit marker) are its cases' to report;
# the guest fails on its own only when it did not get to the end, or QEMU's
# status or the console says something else went wrong.
reason=
fail() { reason+=${reason:+; }$1; }
marker=$(grep -ao 'MEMDRIVER-GUEST: exit [0-9]*$' "$logfile" | tail -1 || true)
cases_failed=${marker#MEMDRIVER-GUEST: exit }
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	fail timeout
elif $boot_hung; then
	fail "no /init within ${BOOT_TIMEOUT}s"
elif [ -z "$marker" ]; then
	fail "no exit marker (qemu exit $rc)"
elif [ "$cases_failed" = 0 ] && [ $rc -ne "$pass_rc" ]; then
	fail "qemu exit $rc"
fi
# Kernel reports: scripts/console-badness.sh judges the console.
if ! err=$("$MEMDRIVER_TOP/scripts/console-badness.sh" "$logfile"); then
	err=${err%%$'\n'*}
	fail "kernel: ${err:0:100}"
fi

if [ -n "$reason" ]; then
	log "vm $series-$arch: FAIL ($reason) in ${secs}s, log $logfile"
	exit 1
elif [ "${cases_failed:-0}" != 0 ]; then
	log "vm $series-$arch: FAIL ($cases_failed failed in the guest's suite; ran to its end, console clean) in ${secs}s, log $logfile"
	exit 2
fi
log "vm $series-$arch: PASS in ${secs}s, log $logfile"
exit 0
