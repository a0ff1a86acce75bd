#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot one guest, a scenario of scripts/scenarios/ (its kernel, machine,
# memory and command line), in QEMU with a busybox initramfs, run a
# payload's run.sh as the guest's only job, and judge the run.
#
# usage: scripts/vm-run.sh <scenario> <payload-dir> <log-file> [timeout-s]
#   payload-dir's contents are copied into the initramfs root as-is and must
#   hold run.sh. The timeout defaults to the scenario's. Extra kernel
#   arguments come from $MEMDRIVER_CMDLINE_EXTRA (an extra boot's).
#   The QEMU command of the boot is kept in <log-file>.qemu (with its
#   initramfs, <log-file>.initrd.gz): it boots the same guest again.
#   Exits 0 on PASS, 2 when the suite ran to its end and only its own
#   cases failed, 1 on any other FAIL.
#
# usage: scripts/vm-run.sh --shell <scenario>
#   builds memdriver and memdriver_test for that scenario and boots it with
#   a busybox shell on this terminal, the module loaded.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage="usage: $0 <scenario> <payload-dir> <log-file> [timeout-s]
       $0 --shell <scenario>
scenarios: $(all_scenarios | tr '\n' ' ')"
# --shell: a payload of its own (the module and the tools, built here)
# and the console on this terminal.
shell=false
if [ "${1:-}" = --shell ]; then
	[ $# = 2 ] || die "$usage"
	shell=true
	SCENARIOS=$2 "$MEMDRIVER_TOP/scripts/install-deps.sh" --demo >&2
	work=$OUT_DIR/shell-$2
	tool_payload "$2" "$work" shell.sh >&2
	set -- "$2" "$work/payload" "$work/guest.log" 86400
fi
[ $# -ge 3 ] && [ $# -le 4 ] || die "$usage"
scenario_load "$1"
[ "$KIND" = busybox ] || die "$1 is a system guest: scripts/system-test.sh boots it"
payload=$2 logfile=$3 tmo=${4:-$TIMEOUT}
[ -f "$payload/run.sh" ] || die "$payload/run.sh missing"
kernel=$KDIR_ROOT/vmlinuz
if [ "$KERNEL" = own ]; then
	[ -f "$KDIR_ROOT/.complete" ] && [ -f "$kernel" ] ||
		die "no own kernel in $KDIR_ROOT: run scripts/build-debug-kernel.sh $SCENARIO"
fi
[ -f "$kernel" ] || die "$kernel missing: run scripts/install-deps.sh"

# The machine (arch.sh machine_facts), with the scenario's device tree.
dtb=
if [ -n "$KERNEL_DTB" ]; then
	dtb=$(scenario_dtb)
	[ -n "$dtb" ] || die "$KERNEL_DTB missing for $SCENARIO: run scripts/install-deps.sh" \
		"or scripts/build-debug-kernel.sh $SCENARIO"
fi
machine_facts "$dtb"
arch=$ARCH busybox=$BUSYBOX console=$CONSOLE pass_rc=$PASS_RC
[ -x "$busybox" ] || die "$busybox missing: run scripts/install-deps.sh"

gexit=$(guest_exit_helper "$arch")

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

# The initramfs: busybox_root (lib.sh), then the payload on top.
root=$tmp/root
busybox_root "$root" "$busybox" "$gexit" "$MEMDRIVER_TOP/scripts/guest/init"
# --remove-destination: a payload file must replace an applet link, not
# write through it into busybox.
cp -a --remove-destination "$payload/." "$root/"
(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 >"$tmp/initrd.gz"

# The scenario's own arguments after the common ones, an extra boot's last,
# each replacing the scenario's argument of its name (swiotlb=force over
# debug-arm64's swiotlb=noforce, which the kernel would not let it undo).
cmdline="console=$console panic=-1 oops=panic loglevel=7 rdinit=/init"
for arg in $CMDLINE; do
	case " ${MEMDRIVER_CMDLINE_EXTRA:-} " in *" ${arg%%=*}="*) ;; *) cmdline+=" $arg" ;; esac
done
cmdline+=" ${MEMDRIVER_CMDLINE_EXTRA:-}"

# KVM cannot run guests here, hence TCG. A panic makes QEMU exit 0, so the
# verdict needs the guest's marker line as well as the exit status.
mkdir -p "$(dirname "$logfile")"
log "vm $SCENARIO: booting $(cat "$KDIR_ROOT/release"), command line: $cmdline"
SECONDS=0
# TCG on x86 rarely crashes a kernel while it patches its own code at boot
# (int3 Oops in the idle loop, seen once in many boots). A guest that dies
# before our /init starts proved nothing either way: boot it once more. Any
# failure after the start marker counts.
# The boot's QEMU command and initramfs, kept beside its log: the command
# runs again as is.
cp "$tmp/initrd.gz" "$logfile.initrd.gz"
qemu_cmd=("${QEMU[@]}" -accel tcg "${MACHINE_ARGS[@]}" -nographic -no-reboot -monitor none
	-serial stdio -nic none -kernel "$kernel" -initrd "$logfile.initrd.gz" -append "$cmdline")
printf '%q ' "${qemu_cmd[@]}" >"$logfile.qemu" && echo >>"$logfile.qemu"
if $shell; then
	log "vm $SCENARIO: a shell with memdriver loaded; exit (or Ctrl-A x) ends it; log $logfile"
	timeout --foreground "$tmo" "${qemu_cmd[@]}" 2>&1 | tee "$logfile" || true
	exit 0
fi
# A kernel can also hang before it prints a line (seen once on raspi3b, in
# many boots): every guest reaches /init within 10 s, so one that has not
# after BOOT_TIMEOUT is stopped and booted again too.
BOOT_TIMEOUT=${MEMDRIVER_BOOT_TIMEOUT:-180}
for attempt in 1 2; do
	: >"$logfile"
	timeout -k 10 "$tmo" "${qemu_cmd[@]}" </dev/null >"$logfile" 2>&1 &
	qpid=$!
	rc=0 boot_t0=$SECONDS boot_hung=false
	while kill -0 "$qpid" 2>/dev/null && ! grep -aq 'MEMDRIVER-GUEST: start' "$logfile"; do
		if [ $((SECONDS - boot_t0)) -ge "$BOOT_TIMEOUT" ]; then
			log "vm $SCENARIO: no /init after ${BOOT_TIMEOUT}s, stopping it"
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
	log "vm $SCENARIO: kernel died or hung before /init ran, booting again (log kept in $logfile.boot-failure)"
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
	log "vm $SCENARIO: FAIL ($reason) in ${secs}s, log $logfile"
	exit 1
elif [ "${cases_failed:-0}" != 0 ]; then
	log "vm $SCENARIO: FAIL ($cases_failed failed in the guest's suite; ran to its end, console clean) in ${secs}s, log $logfile"
	exit 2
fi
log "vm $SCENARIO: PASS in ${secs}s, log $logfile"
exit 0
