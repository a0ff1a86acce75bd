#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the QEMU guest as /run.sh (busybox sh): the sections its
# scenario's SUITE names (/guest.conf, from scripts/test.sh), in order,
# each a function below:
#   kunit       the module built with its KUnit suite, loaded once: the
#               suite's KTAP from the kernel log (own kernels, CONFIG_KUNIT)
#   defaults    default parameters: memdriver_test 64- and 32-bit, fuzz,
#               stress, faults (debug kernels), the tutorial's program and
#               the README's cat/echo demo
#   custom      two devices, odd sizes, small caps
#   hold        release() of an fd holding a million objects yields
#   modprobe    modprobe with contrib/memdriver.conf, as make install lays
#               the module out
#   bad_params  every bad parameter: EINVAL, a message, nothing left
#   load_faults every allocation of the load failed in turn (fail-nth)
#   cycles      100 load/unload cycles, slab and vmalloc usage back (on
#               the debug kernels fewer, kmemleak finding the leaks)
#   dma         the copy path with each dma_engine mode, the engine's
#               channels (an engine guest)
#   dma_bounced the copies that map memory again (a swiotlb=force boot)
#   readme      the commands README.md tells a user to type, from the
#               document (scripts/readme-blocks.sh)
# On the debug kernels (DEBUG=1) kmemleak scans with the module loaded and
# after it is gone, and the checkers must still be on at the end. Prints
# KTAP "ok N - guest: ..." lines that the host counts, memdriver_test's
# and KUnit's own nested inside; exits with the number of failures.

KO=/memdriver.ko
n=0
fails=0

ok() { n=$((n + 1)); echo "ok $n - guest: $1"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - guest: $1"; }
# A check that took 20 s or more says so (the time budget's ledger).
check() {
	name=$1 t0=$(date +%s)
	shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
	t0=$(($(date +%s) - t0))
	[ $t0 -lt 20 ] || echo "# guest: ${t0} s: $name"
}
# memdriver_test prints KTAP of its own: inside this script's KTAP stream it
# is nested, each line prefixed "# " so the outer stream stays valid KTAP
# (the host counts both). The program's exit status is kept.
nested() {
	{ "$@" 2>&1; echo $? >/tmp/nested.rc; } | sed 's/^/# /'
	return "$(cat /tmp/nested.rc)"
}
sysfs() { cat "/sys/class/memdriver/memdriver${2:-0}/$1"; }
log_lines() { dmesg | grep -c 'memdriver'; }
# What the kernel logged since the last kmsg_mark: a line count would fail
# once the ring buffer is full and drops old lines for new ones.
kmark=0
kmsg_mark() { kmark=$((kmark + 1)); echo "guest: mark $kmark" >/dev/kmsg; }
dmesg_since_mark() { dmesg | sed -n "/guest: mark $kmark\$/,\$p"; }
page_bytes=$(($(grep -m1 KernelPageSize /proc/self/smaps | awk '{print $2}') * 1024))
round_page() { echo $((($1 + page_bytes - 1) / page_bytes * page_bytes)); }

# The guest's settings from the host (/guest.conf) and its helper modules.
. /common.sh
echo "KTAP version 1"
echo "# guest: kernel $(uname -r) $(uname -m), page size $page_bytes"
# Debug kernels show what they check with (CONFIG_IKCONFIG_PROC).
kconfig() { zcat /proc/config.gz 2>/dev/null | grep -qx "CONFIG_$1=y"; }
KOBJECT_RELEASE=false
if kconfig DEBUG_KOBJECT_RELEASE; then
	KOBJECT_RELEASE=true
	echo "# guest: CONFIG_DEBUG_KOBJECT_RELEASE=y: every kobject released 1-4 s late"
fi

KMEMLEAK=/sys/kernel/debug/kmemleak
# kmemleak reports only objects older than about 5 s: scan, wait, scan.
# Leaks of Debian 6.1's own error paths are expected once loads have
# failed on purpose (section 4): sysfs_slab_add() and __class_register() do
# not free the kobject name they set when registering the kobject fails.
# Prints every other leak (which fails the run on the host too), counts the
# known ones in $known_leaks, and clears them so no later scan counts them
# again.
kmemleak_clean() {
	echo scan >$KMEMLEAK && sleep 6 && echo scan >$KMEMLEAK &&
		cat $KMEMLEAK >/tmp/kmemleak.txt || return 1
	known_leaks=$(grep -Ec 'sysfs_slab_add|__class_register' /tmp/kmemleak.txt)
	echo clear >$KMEMLEAK
	awk 'function flush() {
		if (rec != "" && rec !~ /sysfs_slab_add|__class_register/) printf "%s", rec
		rec = ""
	}
	/^unreferenced object/ { flush() }
	{ rec = rec $0 "\n" }
	END { flush() }' /tmp/kmemleak.txt >/tmp/kmemleak.others
	cat /tmp/kmemleak.others
	test ! -s /tmp/kmemleak.others
}
# Fault injection (fail-nth, in memdriver_test) may fail GFP_KERNEL and
# order-0 allocations too, and stays quiet: its stack dumps would read
# as reports. The allocators' own notices of a failure are expected
# between the FAULTS markers (scripts/vm-run.sh).
FAULTS=false
if [ -e /proc/self/fail-nth ] && [ -d /sys/kernel/debug/failslab ]; then
	FAULTS=true
	for a in failslab fail_page_alloc fail_usercopy; do
		echo 0 >/sys/kernel/debug/$a/verbose
	done
	echo N >/sys/kernel/debug/failslab/ignore-gfp-wait
	echo N >/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait
	echo N >/sys/kernel/debug/fail_page_alloc/ignore-gfp-highmem
	echo 0 >/sys/kernel/debug/fail_page_alloc/min-order
fi
# Boot-time objects are not ours.
[ "$DEBUG" = 1 ] && echo clear >$KMEMLEAK

# The helper modules: vgem, brd, the test DMA engine.
[ "$VGEM" = 1 ] && check "vgem: DRM's importer for the dma-buf cases" load_vgem
[ "$BRD" = 1 ] && check "brd: /dev/ram0 for the O_DIRECT cases" load_brd
if [ "$TESTDMA" = 1 ]; then
	check "insmod memdriver_testdma: the test DMA engine's memcpy channels" load_testdma
	dmesg | grep 'memdriver-testdma' | sed 's/^/# dmesg: /'
fi

# ---- KUnit: the module's in-kernel arithmetic ----
# The module built with its KUnit suite (MEMDRIVER_KUNIT=1) runs the suite
# when it loads; the kernel logs its KTAP. Read back from the log after a
# mark: prefixes ([time][caller]) dropped, KUnit's four-space levels made
# this stream's "# " levels, one deeper than the check that loads it, and
# "ok N name" (newer kernels) written "ok N - name" (as 6.1 prints it), so
# each case counts as itself.
kunit_ktap() {
	sed -E 's/^\[[^]]*\](\[[^]]*\])? //' | awk '
	/^ *(K?TAP version [0-9]+)$/ && !on { on = 1 }
	!on { next }
	{
		line = $0
		d = 1
		while (substr(line, 1, 4) == "    ") {
			d++
			line = substr(line, 5)
		}
		if (line ~ /^(not )?ok [0-9]+ / && line !~ /^(not )?ok [0-9]+ - /)
			sub(/^(not )?ok [0-9]+ /, "&- ", line)
		if (line !~ /^(K?TAP version|1\.\.[0-9]+$|(not )?ok [0-9]+ |#)/)
			line = "# " line
		prefix = ""
		for (i = 0; i < d; i++)
			prefix = prefix "# "
		print prefix line
	}
	on && /^(not )?ok [0-9]+ (- )?memdriver$/ { exit }'
}
section_kunit() {
	if [ ! -f /memdriver-kunit.ko ]; then
		not_ok "KUnit: /memdriver-kunit.ko missing (its build failed)"
		return
	fi
	kmsg_mark
	insmod /memdriver-kunit.ko
	rc=$?
	dmesg_since_mark | kunit_ktap >/tmp/kunit.ktap
	cat /tmp/kunit.ktap
	cases=$(grep -cE '^# # (not )?ok [0-9]+ - ' /tmp/kunit.ktap)
	check "KUnit suite memdriver: loaded, $cases cases reported, all as planned" sh -c \
		"[ $rc = 0 ] && [ $cases -gt 0 ] &&
		 grep -qx '# # 1\.\.$cases' /tmp/kunit.ktap &&
		 grep -qE '^# ok [0-9]+ - memdriver\$' /tmp/kunit.ktap"
	check "rmmod the KUnit build" rmmod memdriver
}

# ---- The DMA engine: every guest; the raspi one has a BCM2835 DMA engine ----
# Load with large regions so that the engine's copies run long (over one
# control block of a "lite" channel, up to 4 MiB), then with each
# dma_engine mode. Each case asserts who copied (memdriver_test
# dma_engine_for()), byte for byte; MEMDRIVER_EXPECT_ENGINE says whether
# that must be an engine.
DMA_CASES="dma_copy dma_engine_info dma_engine_info_sysfs dma_engine_info_v1 dma_engine_pairs dmabuf_import dmabuf_import_foreign dma_engine_lengths dma_engine_threads dma_engine_faults dma_engine_faults_threads dma_one_line dma_one_line_busy dma_engine_kill_waiter dma_engine_kill_holder dma_engine_refused dma_engine_refused_recovers dma_map_failure"
# With the test DMA engine behind the copies: its own faults (an error, a
# residue, a descriptor that never completes, a slow one, a kill while one
# hangs), no memdriver knob involved (tests/engine.c).
TESTDMA_CASES="engine_failed engine_hang engine_slow engine_killed"
# A mode that copies as auto did: that it is the mode in force and copies.
DMA_MODE_CASES="dma_copy dma_engine_info dma_engine_info_sysfs dmabuf_import dmabuf_import_foreign"
dma_cases() { # label program [cases]
	for c in ${3:-$DMA_CASES}; do
		check "$1: $c" nested "$2" test "$c"
	done
}
# Every unload gives the channel back: more load, copy, unload cycles than
# the controller has channels, each channel's in_use 0 after each unload.
chan_cycles() {
	nchan=$(ls -d /sys/class/dma/dma*chan* 2>/dev/null | wc -l)
	i=0 held='' leaked=''
	while [ $i -le "$nchan" ]; do
		insmod $KO || leaked="$leaked insmod#$i"
		# Its results count in the dma section; here its status and the channel.
		/memdriver_test test dma_copy >/dev/null 2>&1 || leaked="$leaked copy#$i"
		chan=$(sysfs dma_engine | awk '$1 == "dmaengine" && $4 == "held" { print $2 }')
		[ -n "$chan" ] || leaked="$leaked not-held#$i"
		rmmod memdriver || leaked="$leaked rmmod#$i"
		[ -n "$chan" ] && [ "$(cat /sys/class/dma/$chan/in_use)" != 0 ] &&
			leaked="$leaked $chan#$i"
		held="$held $chan"
		i=$((i + 1))
	done
	echo "# guest: channels held in turn:$held"
	check "$((nchan + 1)) load/copy/unload cycles over $nchan channels: each back to in_use 0${leaked:+ (failed:$leaked)}" \
		test -z "$leaked"
}
# The large regions with the engine's whole case list (and the 32-bit
# program's too, where an engine copies).
dma_large_regions() { # with32: 1 or 0
	check "insmod with 4 MiB kmalloc, vmalloc and pages regions" insmod $KO \
		kmalloc_size=4194304 vmalloc_size=4194304 pages_size=4194304
	if [ "$EXPECT_ENGINE" = 1 ]; then
		check "sysfs dma_engine names a channel before any copy, found" sh -c \
			'grep -Eq "^dmaengine dma[0-9]+chan[0-9]+ [^ ]+ found$" /sys/class/memdriver/memdriver0/dma_engine'
		check "load message names the channel and its controller" sh -c \
			'dmesg | grep "memdriver memdriver0: major" | tail -1 | grep -Eq "DMA copies by dmaengine dma[0-9]+chan[0-9]+ [^ ]+ found \(dma_engine=auto\)"'
	else
		check "sysfs dma_engine says cpu, none now, and why" sh -c \
			'grep -Eq "^cpu none now: no memcpy channel \(" /sys/class/memdriver/memdriver0/dma_engine'
	fi
	dma_cases "large regions" /memdriver_test
	[ "$TESTDMA" = 1 ] && dma_cases "large regions, test engine" /memdriver_test "$TESTDMA_CASES"
	# Without an engine, auto copies by CPU as dma_engine=cpu does, and the
	# 32-bit calls ran in the defaults section: the second and third runs
	# of every case add only where an engine copies.
	[ "$1" = 1 ] && [ "$EXPECT_ENGINE" = 1 ] && [ -f /memdriver_test32 ] &&
		dma_cases "large regions, 32-bit" /memdriver_test32
	/memdriver_test info 2>&1 | grep -A1 '^DMA copies' | sed 's/^/# info: /'
	echo "# dma_engine: $(sysfs dma_engine)"
	dmesg | grep 'DMA copies by' | sed 's/^/# dmesg: /'
	if [ "$EXPECT_ENGINE" = 1 ]; then
		check "after copies the channel is held" grep -Eq \
			"^dmaengine dma[0-9]+chan[0-9]+ [^ ]+ held$" /sys/class/memdriver/memdriver0/dma_engine
	fi
	check "rmmod after the engine cases" rmmod memdriver
}
# A 128 MiB copy of tens of thousands of pieces, killed 2 MiB in.
dma_copy_killed() {
	check "insmod with a 256 MiB vmalloc region" insmod $KO vmalloc_size=268435456
	check "vmalloc 256 MiB: dma_copy_killed" nested /memdriver_test test dma_copy_killed
	check "rmmod after dma_copy_killed" rmmod memdriver
}
section_dma() {
	echo "# guest: DMA engine cases (EXPECT_ENGINE=$EXPECT_ENGINE)"
	dma_large_regions 1
	dma_copy_killed

	# A forced mode that copies as auto does on some guest (cpu as on the
	# engine-less ones, engine as on the engine ones) runs the cases that
	# show it is the mode in force and copies; engine without an engine
	# runs them all (every copy but a forced-CPU one fails with ENODEV).
	engine_cases=$DMA_CASES
	[ "$EXPECT_ENGINE" = 1 ] && engine_cases=$DMA_MODE_CASES
	check "insmod dma_engine=cpu" insmod $KO dma_engine=cpu
	check "dma_engine=cpu: sysfs says cpu dma_engine=cpu" test "$(sysfs dma_engine)" = "cpu dma_engine=cpu"
	dma_cases "dma_engine=cpu" /memdriver_test "$DMA_MODE_CASES"
	check "rmmod after dma_engine=cpu" rmmod memdriver
	check "insmod dma_engine=engine" insmod $KO dma_engine=engine
	dma_cases "dma_engine=engine" /memdriver_test "$engine_cases"
	check "rmmod after dma_engine=engine" rmmod memdriver

	kmsg_mark
	out=$(insmod $KO dma_engine=bogus 2>&1)
	rc=$?
	if [ $rc != 0 ] && echo "$out" | grep -q 'Invalid argument' &&
	   dmesg_since_mark | grep -q 'memdriver: dma_engine=bogus is not one of' &&
	   ! grep -q '^memdriver ' /proc/modules; then
		ok "insmod dma_engine=bogus fails with EINVAL and says why"
	else
		not_ok "insmod dma_engine=bogus fails with EINVAL and says why (rc $rc: $out)"
	fi

	if [ "$TESTDMA" = 1 ]; then
		# Not under DEBUG_KOBJECT_RELEASE (1.5 minutes of reloads there):
		# the refusal is the same at any page size, proven on every other
		# guest with the test engine, debug-amd64's checkers included.
		$KOBJECT_RELEASE || testdma_refusals
		testdma_models
	fi

	# A module that never copies holds no channel: load, look, unload.
	if [ "$EXPECT_ENGINE" = 1 ]; then
		check "a module that never copies holds no channel" sh -c \
			'insmod /memdriver.ko && /memdriver_test info >/dev/null &&
			 grep -q " found$" /sys/class/memdriver/memdriver0/dma_engine && rmmod memdriver'
		chan_cycles
	fi
}
# A provider without an operation a timed-out copy needs: the test engine
# loaded without it, memdriver refuses its channels where it takes one, and
# says so; the CPU copies (dma_engine=engine: ENODEV). The engine is loaded
# as before afterwards.
testdma_refused() { # operation the engine lacks
	check "test engine without $1: reloaded so" sh -c \
		"rmmod memdriver_testdma && insmod /memdriver_testdma.ko lacks=$1"
	check "test engine without $1: insmod memdriver" insmod $KO
	check "test engine without $1: sysfs dma_engine says it is refused and why" grep -Eq \
		"^cpu none now: dma[0-9]+chan[0-9]+ on memdriver-testdma lacks $1\$" \
		/sys/class/memdriver/memdriver0/dma_engine
	check "test engine without $1: dma_copy, by the CPU" \
		nested env MEMDRIVER_EXPECT_ENGINE=0 /memdriver_test test dma_copy
	check "test engine without $1: rmmod memdriver" rmmod memdriver
	check "test engine without $1: insmod dma_engine=engine" insmod $KO dma_engine=engine
	check "test engine without $1: dma_engine=engine: dma_copy, ENODEV but forced-CPU" \
		nested env MEMDRIVER_EXPECT_ENGINE=0 /memdriver_test test dma_copy
	check "test engine without $1: rmmod memdriver after dma_engine=engine" rmmod memdriver
	check "test engine without $1: reloaded whole" sh -c \
		"rmmod memdriver_testdma && insmod /memdriver_testdma.ko"
}
testdma_refusals() {
	testdma_refused device_synchronize
	testdma_refused device_terminate_all
}
# The test engine as the Pi 5's other engines: the BCM2712's lite channels
# (64 KiB - 4 bytes a descriptor) and RP1's (a 32-bit view): the copies
# that cross their limits, by the engine, byte for byte.
TESTDMA_MODEL_CASES="dma_copy dma_engine_pairs dma_engine_lengths dma_engine_threads"
testdma_models() {
	for m in lite rp1; do
		check "test engine as $m: reloaded so" sh -c \
			"rmmod memdriver_testdma && insmod /memdriver_testdma.ko model=$m"
		check "test engine as $m: insmod with 4 MiB regions" insmod $KO \
			kmalloc_size=4194304 vmalloc_size=4194304 pages_size=4194304
		dma_cases "test engine as $m" /memdriver_test "$TESTDMA_MODEL_CASES"
		check "test engine as $m: rmmod memdriver" rmmod memdriver
	done
	check "test engine: reloaded as dma40" sh -c \
		"rmmod memdriver_testdma && insmod /memdriver_testdma.ko"
}
# A boot with swiotlb=force bounces every streaming mapping: the copies
# that map memory (the engine's, in auto mode) and the killed one, whose
# early unmap must copy back what was done. The 32-bit program and the
# forced modes map nothing differently; section dma ran them already.
section_dma_bounced() {
	echo "# guest: DMA cases with every mapping bounced (EXPECT_ENGINE=$EXPECT_ENGINE)"
	dma_large_regions 0
	dma_copy_killed
}
# This load's one message and no raw pointer in its lines: since the mark,
# as the kunit section loaded and unloaded the module before (and on
# DEBUG_KOBJECT_RELEASE kernels the kernel's own unload lines name
# memdriver's kobjects with their addresses).
one_load_message() {
	[ "$(dmesg_since_mark | grep -c "memdriver memdriver0: major")" = 1 ] &&
		! dmesg_since_mark | grep memdriver | grep -Eq "ffff[0-9a-f]{8}"
}

# ---- 1. Default parameters ----
# (Debug kernels: smaller object caps, so the cap cases fill them in
# seconds rather than minutes; room for faults' fd holding 4096 objects.)
section_defaults() {
	LOAD1=
	[ "$DEBUG" = 1 ] && LOAD1="max_objects=16384 max_objects_per_fd=8192"
	kmsg_mark
	check "insmod with defaults${LOAD1:+ but $LOAD1}" insmod $KO $LOAD1
	check "/dev/memdriver0 is a char device" test -c /dev/memdriver0
	check "/dev/memdriver0 mode is 0600" \
		test "$(stat -c %a /dev/memdriver0)" = 600
	check "default region sizes" test \
		"$(sysfs kmalloc_size) $(sysfs vmalloc_size) $(sysfs dma_size) $(sysfs pages_size)" = \
		"$(round_page 4096) $(round_page 1048576) $(round_page 16384) $(round_page 16384)"
	# scripts/udev-check.sh fakes exactly this device for the udev rule.
	check "memdriver0 in sysfs as udev-check.sh fakes it" sh -c \
		'test "$(readlink -f /sys/class/memdriver/memdriver0)" = /sys/devices/platform/memdriver.0/memdriver/memdriver0 &&
		 test "$(basename "$(readlink /sys/class/memdriver/memdriver0/subsystem)")" = memdriver &&
		 grep -qx DEVNAME=memdriver0 /sys/class/memdriver/memdriver0/uevent'
	check "one load message, no raw pointers" one_load_message

	before=$(log_lines)
	check "memdriver_test (64-bit)" nested /memdriver_test --fresh
	# Bench smoke: one short iteration prints a row of each of P1-P6, or
	# says why it skipped one, as scripts/bench.sh requires; no speed is
	# asserted.
	[ "$DEBUG" = 1 ] || check "memdriver_test bench --quick prints rows P1 to P6" sh -c \
		'/memdriver_test bench --quick >/tmp/bench.log 2>&1 || exit 1
		 for p in P1 P2 P3 P4 P5 P6; do
			grep -Eq "^($p |# $p: skipped: )" /tmp/bench.log || { echo "# no $p row"; exit 1; }
		 done'
	# P7 compares exported dma-bufs with udmabuf's: a row per exportable
	# region where the kernel has udmabuf, else the reason it was skipped.
	if [ "$DEBUG" = 1 ]; then
		:
	elif [ -c /dev/udmabuf ]; then
		check "bench P7: kmalloc, vmalloc and pages rows beside udmabuf" sh -c \
			'test "$(awk "/^P7 /{print \$4}" /tmp/bench.log | tr "\n" " ")" = \
			      "kmalloc vmalloc pages " ||
			 { grep "P7" /tmp/bench.log | sed "s/^/# /"; false; }'
	else
		check "bench P7 skipped without /dev/udmabuf" \
			grep -q "^# P7: skipped: /dev/udmabuf: " /tmp/bench.log
	fi
	check "nothing logged per open" test "$(log_lines)" = "$before"
	# The whole suite again as a 32-bit program (i386 or armhf), through
	# compat_ioctl; not --fresh: the memory is no longer zero. The compat
	# path is the same driver code on both architectures: the scenarios
	# that repeat another's kernel and architecture leave it to that one.
	if [ "$COMPAT_SUITE" = 0 ]; then
		echo "# guest: memdriver_test32 left to debug-amd64 and 6.12-arm64 (COMPAT_SUITE=0)"
	elif [ -f /memdriver_test32 ]; then
		check "memdriver_test32 is a 32-bit ELF" \
			test "$(head -c 5 /memdriver_test32 | tail -c 1 | od -An -tx1 | tr -d ' ')" = 01
		check "memdriver_test32 (32-bit user space)" nested /memdriver_test32
	else
		not_ok "memdriver_test32 missing: the 32-bit build failed"
	fi
	/memdriver_test info >/tmp/info.log 2>&1
	rc=$?
	sed 's/^/# info: /' /tmp/info.log
	check "memdriver_test info shows each region's runs" sh -c \
		"[ $rc = 0 ] && [ \$(grep -c 'physically contiguous run' /tmp/info.log) = 4 ]"
	# A subject or a case by name: the plan counts exactly the cases that run.
	plan_matches() { # log: "1..K" and K result lines, K given
		[ "$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$1")" = "$2" ] &&
			[ "$(grep -cE '^(not )?ok [0-9]+ - ' "$1")" = "$2" ]
	}
	/memdriver_test rw >/tmp/rw.log 2>&1
	rw_rc=$?
	rw_cases=$(grep -cE '^ok [0-9]+ - ' /tmp/rw.log)
	rw_ok() {
		[ $rw_rc = 0 ] && [ "$rw_cases" -gt 1 ] && [ "$rw_cases" -lt 20 ] &&
			plan_matches /tmp/rw.log "$rw_cases"
	}
	# Printed nested, so that its cases count as themselves and the check only
	# for a plan that disagrees with them.
	sed 's/^/# /' /tmp/rw.log
	check "memdriver_test rw: exit 0, plan 1..$rw_cases for its $rw_cases cases" rw_ok
	/memdriver_test readonly_fd >/tmp/one.log 2>&1
	one_rc=$?
	one_ok() {
		[ $one_rc = 0 ] && grep -qx 'ok 1 - readonly_fd' /tmp/one.log &&
			plan_matches /tmp/one.log 1
	}
	sed 's/^/# /' /tmp/one.log
	check "memdriver_test readonly_fd: exit 0, plan 1..1" one_ok

	# Model-based random testing; the host picks the seed (/guest.conf) and
	# prints it, so a failure reproduces with the same seed.
	check "fuzz: $FUZZ_OPS random operations match the model (seed $FUZZ_SEED)" \
		nested /memdriver_test fuzz --seed "$FUZZ_SEED" --ops "$FUZZ_OPS"
	# 4 processes x 4 threads, half of them on one shared fd, then a count.
	check "stress: processes x threads, $STRESS_ROUNDS rounds, every object accounted for" \
		nested /memdriver_test stress --rounds "$STRESS_ROUNDS"
	if $FAULTS; then
		echo "MEMDRIVER-FAULTS-BEGIN"
		nested /memdriver_test faults
		rc=$?
		echo "MEMDRIVER-FAULTS-END"
		check "every allocation and user copy of each call failed once" test $rc = 0
		check "stress after fault injection" \
			nested /memdriver_test stress --rounds $((STRESS_ROUNDS / 5))
	fi

	# The tutorial's test program, compiled unchanged from the tutorial.
	/tutorial_test >/tmp/tutorial.log 2>&1
	rc=$?
	# The tutorial prints raw device bytes: keep the console log text.
	tr -cd '\11\12\40-\176' </tmp/tutorial.log | sed 's/^/# tutorial: /'
	check "tutorial program exits 0" test $rc = 0
	check "tutorial program allocated and freed 5 objects" test \
		"$(grep -c '^Allocated object ID: [1-9]' /tmp/tutorial.log) $(grep -c '^Freed object ID: [1-9]' /tmp/tutorial.log)" = "5 5"
	if [ "$page_bytes" = 4096 ]; then
		check "tutorial program mapped kmalloc and DMA offsets" sh -c \
			'! grep -q Failed /tmp/tutorial.log &&
			 grep -q "^Wrote pattern to mapped memory: ABCDEFGHIJKLMNOP$" /tmp/tutorial.log &&
			 grep -q "^Wrote pattern to mapped DMA memory: 0123456789:;<=>?$" /tmp/tutorial.log'
	else
		# Its "DMA" offset, 4096, is not a page boundary on 16 KiB pages.
		check "tutorial program mapped kmalloc; offset 4096 refused with EINVAL" sh -c \
			'grep -q "^Wrote pattern to mapped memory: ABCDEFGHIJKLMNOP$" /tmp/tutorial.log &&
			 grep -q "^Failed to map DMA memory: Invalid argument$" /tmp/tutorial.log'
	fi

	# The README's demo.
	echo "Testing memory allocation" >/dev/memdriver0
	check "echo then cat reads the text back" test \
		"$(head -c 26 /dev/memdriver0)" = "Testing memory allocation"
	check "cat reads the whole device and stops" test \
		"$(cat /dev/memdriver0 | wc -c)" = "$(sysfs total_size)"
	check "echo past the end fails with ENOSPC" sh -c \
		'! dd if=/dev/zero of=/dev/memdriver0 bs=1 count=1 seek=$(cat /sys/class/memdriver/memdriver0/total_size) 2>/tmp/dd.err &&
		 grep -q "No space left on device" /tmp/dd.err'
	check "objects count back to 0" test "$(sysfs objects)" = 0
	# An exported dma-buf holds the module, not any fd: memdriver_test
	# finds rmmod refused until it closes the buffer, then unloads.
	check "a dma-buf keeps the module loaded; unloaded once closed" \
		nested /memdriver_test dmabuf-unload
	grep -q '^memdriver ' /proc/modules ||
		check "insmod again after dmabuf-unload" insmod $KO $LOAD1
	[ "$DEBUG" = 1 ] && check "kmemleak: no leak with the module loaded" kmemleak_clean
	check "rmmod" rmmod memdriver
	check "class, device and debugfs gone" sh -c \
		'! test -e /sys/class/memdriver && ! test -e /dev/memdriver0 &&
		 ! test -e /sys/kernel/debug/memdriver'
}

# ---- 2. Custom parameters: two devices, odd sizes, small caps ----
section_custom() {
	check "insmod with custom parameters" insmod $KO nr_devices=2 \
		kmalloc_size=5000 vmalloc_size=70000 dma_size=8192 pages_size=12288 \
		max_objects_per_fd=8 max_objects=12 dev_mode=0660
	check "custom sizes rounded up to the page size" test \
		"$(sysfs kmalloc_size 1) $(sysfs vmalloc_size 1) $(sysfs dma_size 1) $(sysfs pages_size 1)" = \
		"$(round_page 5000) $(round_page 70000) $(round_page 8192) $(round_page 12288)"
	check "dev_mode=0660 applied" test "$(stat -c %a /dev/memdriver1)" = 660
	# The whole run once, on memdriver1 (both devices have the same
	# parameters); then the one case that needs two devices, on memdriver0
	# (it writes to memdriver1 as well).
	check "memdriver_test on memdriver1" nested /memdriver_test --fresh -d /dev/memdriver1
	check "devices_independent on memdriver0" \
		nested /memdriver_test --fresh -d /dev/memdriver0 test devices_independent
	check "fuzz at small caps: $FUZZ_CAPS_OPS operations (seed $((FUZZ_SEED + 1)))" \
		nested /memdriver_test -d /dev/memdriver1 fuzz --seed $((FUZZ_SEED + 1)) --ops "$FUZZ_CAPS_OPS"
	if $FAULTS; then
		# The second device, with odd region sizes and small caps.
		echo "MEMDRIVER-FAULTS-BEGIN"
		nested /memdriver_test -d /dev/memdriver1 faults
		rc=$?
		echo "MEMDRIVER-FAULTS-END"
		check "every allocation and user copy of each call failed once on memdriver1" test $rc = 0
	fi
	check "rmmod after custom load" rmmod memdriver
}

# ---- 2a. release() of an fd holding many objects yields the CPU ----
# The soft-lockup detector reports a CPU that has not scheduled for twice
# watchdog_thresh seconds: 2 s here, for this step only.
section_hold() {
	HOLD=1048576
	[ "$DEBUG" = 1 ] && HOLD=131072
	check "insmod with caps of 16M objects" insmod $KO max_objects=16777216 max_objects_per_fd=16777216
	thresh=$(cat /proc/sys/kernel/watchdog_thresh 2>/dev/null)
	# The console scanner reads idle CPUs' lockups in here as the host's.
	echo "MEMDRIVER-HOLD-BEGIN"
	[ -n "$thresh" ] && echo 1 >/proc/sys/kernel/watchdog_thresh
	/memdriver_test hold $HOLD >/tmp/hold.log 2>&1
	rc=$?
	[ -n "$thresh" ] && echo "$thresh" >/proc/sys/kernel/watchdog_thresh
	echo "MEMDRIVER-HOLD-END"
	sed 's/^/# /' /tmp/hold.log
	check "close of an fd holding $HOLD objects frees them all${thresh:+, no soft lockup at watchdog_thresh=1}" test $rc = 0
	check "rmmod after holding $HOLD objects" rmmod memdriver
}

# ---- 2b. modprobe from /lib/modules (as make install lays it out) with
# contrib/memdriver.conf in /etc/modprobe.d ----
section_modprobe() {
	check "modprobe memdriver" modprobe memdriver
	bad=
	for o in $(sed -n 's/^options memdriver //p' /etc/modprobe.d/memdriver.conf); do
		v=$(cat "/sys/module/memdriver/parameters/${o%%=*}")
		# Numbers compare by value (dev_mode 0600 reads 384), words as text.
		[ "$v" = "${o#*=}" ] || [ "$v" = "$((${o#*=}))" ] || bad="$bad ${o%%=*}=$v"
	done
	check "every option of memdriver.conf applied${bad:+ (got$bad)}" test -z "$bad"
	check "modprobe -r memdriver" modprobe -r memdriver
}

# ---- The documentation's commands (scripts/readme-blocks.sh) ----
# Each block README.md tells a user to type once memdriver is built, in
# order, as /readme/NN.sh, from memdriver not loaded; a block that promises
# output must print it (common.sh: run_block).
section_readme() {
	grep -q '^memdriver ' /proc/modules && rmmod memdriver
	for f in /readme/*.sh; do
		# "# | ": shown, but not results the host counts (the
		# suite's run here repeats section defaults').
		if run_block "$f" '# | '; then
			ok "$(cat "${f%.sh}.name")$([ -f "${f%.sh}.expected" ] && echo ', as promised')"
		else
			not_ok "$(cat "${f%.sh}.name") ($block_why)"
		fi
	done
	if grep -q '^memdriver ' /proc/modules; then
		check "rmmod after the documentation's commands" rmmod memdriver
	fi
}

# ---- 3. Bad parameters: -EINVAL, a clear message, nothing left ----
# The checks run before the module allocates anything, so the debug
# kernels add nothing to the stock ones here but time: with
# DEBUG_KOBJECT_RELEASE (10 s or more a failed load on TCG) they take every
# 4th, from an offset the seed picks.
section_bad_params() {
	i=0 pick=$((FUZZ_SEED % 4))
	for p in nr_devices=0 nr_devices=9 kmalloc_size=0 kmalloc_size=4194305 \
		vmalloc_size=0 vmalloc_size=268435457 dma_size=0 dma_size=4194305 \
		pages_size=0 pages_size=4194305 max_objects=0 max_objects_per_fd=0 \
		max_objects=16777217 dev_mode=01777; do
		i=$((i + 1))
		$KOBJECT_RELEASE && [ $((i % 4)) != $pick ] && continue
		kmsg_mark
		out=$(insmod $KO "$p" 2>&1)
		rc=$?
		name=${p%%=*}
		if [ $rc != 0 ] && echo "$out" | grep -q 'Invalid argument' &&
		   dmesg_since_mark | grep -q "memdriver: $name=" &&
		   ! grep -q '^memdriver ' /proc/modules && ! test -e /sys/class/memdriver; then
			ok "insmod $p fails with EINVAL and says why"
		else
			not_ok "insmod $p fails with EINVAL and says why (rc $rc: $out)"
		fi
	done
}

# ---- 4. Failing every allocation of the load, in turn ----
section_load_faults() {
	if $FAULTS; then
		# Every 4th point of a one-device load (about 600 points, 0.8 s
		# each on TCG), from an offset the seed picks, so four runs cover
		# them all. Two devices double the points, the first half the same
		# as before: every 16th there. With DEBUG_KOBJECT_RELEASE every
		# failed load waits seconds for its kobjects: every 120th and 240th.
		stride1="--stride 4 --offset $FUZZ_SEED"
		stride2="--stride 16 --offset $FUZZ_SEED"
		if $KOBJECT_RELEASE; then
			stride1="--stride 120 --offset $FUZZ_SEED"
			stride2="--stride 240 --offset $FUZZ_SEED"
		fi
		echo "MEMDRIVER-FAULTS-BEGIN"
		nested /memdriver_test load-faults $stride1 $KO
		rc1=$?
		# Two devices, while another thread keeps opening them: device 0
		# exists while device 1's creation fails.
		nested /memdriver_test load-faults $stride2 $KO nr_devices=2
		rc2=$?
		echo "MEMDRIVER-FAULTS-END"
		check "load with failure points armed in turn (${stride1%% --offset*})" test $rc1 = 0
		check "two-device load with failure points armed (${stride2%% --offset*}), devices opened meanwhile" \
			test $rc2 = 0
		kmemleak_clean
		check "kmemleak after the failed loads: no leak but the kernel's own ($known_leaks)" test $? = 0
	fi
}

# ---- 5. Load/unload cycles leave nothing behind ----
# Every other cycle closes an fd that still owns objects. Slab caches are
# shrunk before they are counted (on KASAN kernels that also empties the
# quarantine of freed objects); one cycle warms up first.
section_cycles() {
	# The debug kernels run kmemleak: its scan at the end names any object
	# the cycles leaked, which the counts of whole caches below can only
	# find over many cycles. With DEBUG_KOBJECT_RELEASE each unload waits
	# 1-4 s per kobject stage (about 13 s a cycle on TCG).
	CYCLES=100
	[ "$DEBUG" = 1 ] && CYCLES=30
	$KOBJECT_RELEASE && CYCLES=10
	cycle() {
		insmod $KO && if [ $(($1 % 2)) = 1 ]; then
			/memdriver_test test release_frees_objects >/dev/null
		else
			(exec 3<>/dev/memdriver0)
		fi && rmmod memdriver
	}
	# SLUB counts the free objects of the slabs a CPU holds as in use, and any
	# forked process refills those: shrink each cache (which flushes them) and
	# read its count right after, with shell builtins only. Merged caches are
	# symlinks to the one they share. The first reading of a sysfs file
	# allocates its kernfs attributes: read everything once before the baseline.
	slab_usage() { # file
		echo 3 >/proc/sys/vm/drop_caches
		for d in /sys/kernel/slab/*; do
			[ -L "$d" ] && continue
			echo 1 >"$d/shrink"
			read -r objects rest <"$d/objects" && echo "${d##*/} $objects"
		done >"$1" 2>/dev/null
	}
	vmalloc_kb() { awk '/^VmallocUsed:/ { print $2 }' /proc/meminfo; }
	# Less than a quarter of one vmalloc region: process stacks (VMAP_STACK)
	# are cached a few at a time and move this by tens of kB.
	check_vmalloc_back() {
		vmalloc_after=$(vmalloc_kb)
		check "vmalloc usage back to baseline ($vmalloc_before kB, now $vmalloc_after kB)" \
			test $((vmalloc_after - vmalloc_before)) -lt 256
	}
	cycles() { # from to
		c=$1
		while [ $c -lt $2 ]; do
			cycle $c || cycles_ok=false
			c=$((c + 1))
		done
	}
	# On the debug kernels kmemleak counts instead (below).
	slab_count() { [ "$DEBUG" = 1 ] || slab_usage "$1"; }
	cycle 1
	slab_count /tmp/slab.before
	slab_count /tmp/slab.before
	vmalloc_before=$(vmalloc_kb)
	cycles_ok=true
	cycles 0 $((CYCLES / 2))
	slab_count /tmp/slab.mid
	cycles $((CYCLES / 2)) $CYCLES
	check "$CYCLES load/unload cycles, every other with objects left at close" $cycles_ok
	check "module gone after cycles" sh -c '! grep -q "^memdriver " /proc/modules'
	# Counted at the start, half way and at the end. A leak of one object
	# every other cycle grows a cache by $CYCLES/4 in each half; the kernel's
	# own caches grow in bursts (RCU callbacks still pending, per-CPU
	# batches, DEBUG_KOBJECT_RELEASE's late releases), so a cache counts as
	# grown only when it grew in both halves. The dentry and inode caches
	# (and the LSMs' per-inode blobs) follow the shell's path lookups,
	# kmemleak's metadata follows every cache, and vmap_area the kernel's
	# lazy purge of freed vmalloc ranges (VmallocUsed below checks those);
	# the driver allocates from none of them.
	slab_grown() {
		awk -v lim=$((CYCLES / 4)) 'FNR == 1 { f++ } f == 1 { was[$1] = $2 }
		f == 2 { mid[$1] = $2 }
		f == 3 && !/^(dentry|[a-z_]*inode_cache|kmemleak_object|debug_objects_cache|vmap_area) / &&
		mid[$1] - was[$1] >= lim && $2 - mid[$1] >= lim {
			printf " %s+%d+%d", $1, mid[$1] - was[$1], $2 - mid[$1] }' \
			/tmp/slab.before /tmp/slab.mid /tmp/slab.after
	}
	if [ "$DEBUG" = 1 ]; then
		echo "# guest: slab counts left to kmemleak's scan at the end ($CYCLES cycles)"
		check_vmalloc_back
		return
	fi
	# Frees that wait for an RCU grace period and its callbacks (6.1 frees
	# every struct file with call_rcu()) can stay pending for seconds on
	# TCG: count again, a second apart, while anything looks grown. A leak
	# stays grown through every count.
	slab_usage /tmp/slab.after
	grown=$(slab_grown)
	first_grown=$grown
	recounts=0
	while [ -n "$grown" ] && [ $recounts -lt 10 ]; do
		sleep 1
		slab_usage /tmp/slab.after
		grown=$(slab_grown)
		recounts=$((recounts + 1))
	done
	[ $recounts = 0 ] ||
		echo "# guest: slab caches counted $recounts more times (first count grew:$first_grown)"
	most=$(awk 'NR == FNR { was[$1] = $2; next } $2 - was[$1] > d { d = $2 - was[$1]; c = $1 }
		END { print c ? c " +" d : "none" }' /tmp/slab.before /tmp/slab.after)
	check "slab caches back to baseline after $CYCLES cycles (most grown: $most)${grown:+ (grew in both halves:$grown)}" \
		test -z "$grown"
	check_vmalloc_back
}

# The debug kernels at the end: no leak once the module is gone, and the
# checkers still on (the first report of either would switch it off).
checkers_still_on() {
	kmemleak_clean
	check "kmemleak: no leak after the module is gone (kernel's own: $known_leaks)" test $? = 0
	# Still on at the end: the first report of either would switch it off.
	check "DMA-API debug still on, error_count $(cat /sys/kernel/debug/dma-api/error_count)" \
		test "$(cat /sys/kernel/debug/dma-api/disabled) $(cat /sys/kernel/debug/dma-api/error_count)" = "N 0"
	check "lockdep still on (debug_locks 1)" \
		grep -q '^ *debug_locks: *1$' /proc/lockdep_stats
}

guest_end() {
	[ "$DEBUG" = 1 ] && checkers_still_on
	echo "1..$n"
	echo "# guest: $n checks, $fails failed"
	echo "MEMDRIVER-DMESG-BEGIN"
	dmesg
	echo "MEMDRIVER-DMESG-END"
	exit $fails
}

echo "# guest: sections: $SUITE; command line: $(cat /proc/cmdline)"
for section in $SUITE; do
	if command -v "section_$section" >/dev/null; then
		t_section=$(date +%s)
		"section_$section"
		echo "# guest: section $section: $(($(date +%s) - t_section)) s"
	else
		not_ok "no suite section $section"
	fi
done
guest_end
