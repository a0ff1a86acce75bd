#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The whole test suite: installs what is missing, runs the static checks
# (make W=1, sparse C=2, checkpatch --strict), builds the module for each
# kernel the scenarios boot, proves make install, DKMS and the udev rule in
# scratch roots, builds the Debian packages (lintian, dpkg-deb), then
# boots every scenario of scripts/scenarios/ in QEMU
# (one file per guest: kernel, machine, command line, suite, extra boots)
# and runs the guest suite (scripts/guest/suite.sh) with 64- and 32-bit
# memdriver_test; own debug kernels (KASAN, kmemleak, lockdep, DMA-API
# debug, UBSAN, fault injection, KUnit) are built once and cached by
# scripts/build-debug-kernel.sh. Ends with "N passed, N failed, N skipped"; exits
# non-zero on any failure.
#
#   scripts/test.sh                  everything
#   SCENARIOS="6.12-arm64" scripts/test.sh    one guest (scripts/scenarios/)
#   SCENARIOS="debug-arm64 raspi-arm64" scripts/test.sh   some guests
#   SKIP_INSTALL=1 scripts/test.sh   do not run install-deps.sh
#   MEMDRIVER_GUEST_SECTIONS=dma scripts/test.sh  these suite sections alone
#   MEMDRIVER_EXTRA_BOOTS=0 scripts/test.sh  no extra boots (swiotlb=force)
#   MEMDRIVER_GUEST_JOBS=1 scripts/test.sh  one guest at a time (default 2)
set -uo pipefail
. "$(dirname "$0")/lib.sh"

[ -n "${SKIP_INSTALL:-}" ] || "$MEMDRIVER_TOP/scripts/install-deps.sh" || die "install-deps failed"

SCENARIO_LIST=$(run_scenarios | xargs)
for sc in $SCENARIO_LIST; do (scenario_load "$sc" --no-kdir) || exit 1; done
# MEMDRIVER_GUEST_SECTIONS="dma": the guests run these suite sections alone.
GUEST_SECTIONS=${MEMDRIVER_GUEST_SECTIONS:-}
# MEMDRIVER_EXTRA_BOOTS=0: every scenario boots once (no swiotlb=force).
extra_boots() { [ "${MEMDRIVER_EXTRA_BOOTS:-1}" != 0 ] && echo ${#EXTRA_BOOTS[@]} || echo 0; }
echo "# fuzz seed $FUZZ_SEED"
# Two runs started in the same second (a planted bug beside the real tree)
# must not share a directory.
RUN_DIR=$OUT_DIR/test-$(date +%Y%m%d-%H%M%S)-$$
mkdir -p "$RUN_DIR"
passed=0
failed=0
skipped=0

# The host's own results are KTAP as well: numbered, the plan at the end.
# A guest's results are counted in "passed" and "failed" but printed only
# when they fail (its console log has them all).
echo "KTAP version 1"
n=0
pass() { passed=$((passed + 1)) n=$((n + 1)); echo "ok $n - $1"; }
fail() { failed=$((failed + 1)) n=$((n + 1)); echo "not ok $n - $1"; }
# Run a command, keep its output; pass if it succeeds and prints no diagnostic.
check_quiet() { # name logfile cmd...
	local name=$1 logf=$2 rc=0
	shift 2
	"$@" >"$logf" 2>&1 || rc=$?
	judge_quiet "$name" "$logf" "$rc"
}
judge_quiet() { # name logfile status: of a command run already
	if [ "$3" = 0 ] && ! grep -Eq 'warning:|error:|^(WARNING|ERROR|CHECK):' "$2"; then
		pass "$1"
	else
		fail "$1 (see $2)"
		sed 's/^/#   /' "$2" | head -40
	fi
}
# The same, for commands whose output is expected to be noisy: only the exit
# status counts (the install checks assert their results themselves).
check_ok() { # name logfile cmd...
	local name=$1 logf=$2
	shift 2
	if "$@" >"$logf" 2>&1; then
		pass "$name"
	else
		fail "$name (see $logf)"
		sed 's/^/#   /' "$logf" | tail -20
	fi
}

# Stages, numbered out of their total, with the time so far: a cold run
# spends long minutes in some (a kernel build, a debug guest).
stages=4 # static checks, module builds, install checks, Debian packages
declare -A own_builds=()
for sc in $SCENARIO_LIST; do
	scenario_load "$sc" --no-kdir
	# An own kernel's build (once per build), each boot.
	if [ "$KERNEL" = own ] && [ -z "${own_builds[$KERNEL_BUILD]:-}" ]; then
		own_builds[$KERNEL_BUILD]=$sc
		stages=$((stages + 1))
	fi
	stages=$((stages + 1 + $(extra_boots)))
done
stage_no=0
# The host's own stages, each until the next one starts, for the closing
# table (the guests' seconds are in their own table).
host_stages=() host_stage= host_stage_t0=0
host_stage_end() {
	[ -n "$host_stage" ] &&
		host_stages+=("$(printf '# %-62s %5d.%d' "$host_stage" \
			$(((SECONDS - host_stage_t0) / 60)) $(((SECONDS - host_stage_t0) % 60 / 6)))")
	host_stage=
}
stage() {
	stage_no=$((stage_no + 1))
	printf '# [%d/%d] %s (%dm%02ds so far)\n' "$stage_no" "$stages" "$1" \
		$((SECONDS / 60)) $((SECONDS % 60))
	host_stage_end
	case $1 in guest\ *) ;; *) host_stage=$1 host_stage_t0=$SECONDS ;; esac
}
SECONDS=0

# dkms install and the udev check need root: dkms refuses otherwise, and the
# udev check works in a private mount namespace.
as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo MEMDRIVER_CACHE="$MEMDRIVER_CACHE" "$@"; fi
}

# ---- user-space tools, per arch: memdriver_test (also 32-bit) and the
# tutorial's program ----
build_tools() { # arch
	local dir=$RUN_DIR/$1
	build_user "$1" "$dir" && build_tutorial "$1" "$dir"
}
build_tools32() { # arch
	local dir=$RUN_DIR/$1-32
	build_user "$1" "$dir" 32 &&
		mv "$dir/memdriver_test" "$dir/memdriver_test32" &&
		readelf -h "$dir/memdriver_test32" | grep -q 'Class: *ELF32'
}

stage "static checks"
# clang reads the printf-like calls through their format attributes.
# A learner without headers is told which package has them.
no_headers=$(make -s -C "$MEMDRIVER_TOP" KVER=0.0-none modules 2>&1)
if grep -q "sudo apt install linux-headers-0.0-none" <<<"$no_headers"; then
	pass "make without the kernel's headers names the package to install"
else
	fail "make without the kernel's headers names the package to install"
fi
check_quiet "memdriver_test compiles with clang and -Werror (syntax only)" \
	"$RUN_DIR/user-clang.log" make -s -B -C "$MEMDRIVER_TOP" \
	USER_CC="clang -fsyntax-only" USER_WERROR=-Werror USER_LDFLAGS= USER_STATIC= memdriver_test
for arch in amd64 arm64; do
	arch_facts "$arch"
	check_quiet "memdriver_test builds for $arch with -Werror" \
		"$RUN_DIR/user-$arch.log" build_tools "$arch"
	check_quiet "memdriver_test builds 32-bit for $COMPAT_ARCH with -Werror" \
		"$RUN_DIR/user32-$arch.log" build_tools32 "$arch"
done
# The tool and its man page say the same (modes, options, environment),
# and -l lists the cases without a device.
check_quiet "memdriver_test --help and memdriver_test(1) name every mode, option and variable" \
	"$RUN_DIR/usage-check.log" "$MEMDRIVER_TOP/scripts/usage-check.sh" "$RUN_DIR/amd64/memdriver_test"
listed=$("$RUN_DIR/amd64/memdriver_test" -l -d /nonexistent)
if grep -qx '  dma_engine_pairs.vmalloc_to_pages' <<<"$listed" &&
	! "$RUN_DIR/amd64/memdriver_test" -d /nonexistent test no_such_case 2>/dev/null; then
	pass "memdriver_test -l lists cases and variants, and a wrong name fails, without a device"
else
	fail "memdriver_test -l lists cases and variants, and a wrong name fails, without a device"
fi

CP=$MEMDRIVER_CACHE/checkpatch/checkpatch.pl
# LINUX_VERSION_CODE: an out-of-tree module must support several kernels;
# every version test sits in the one shim block, in driver/internal.h.
# scripts/tutorial_test.c is the tutorial's program kept verbatim, so it is
# not ours to restyle and is not checked.
for f in memdriver.c memdriver.h kunit/memdriver_kunit.c memdriver_test.c scripts/guest/exit.c \
	$(cd "$MEMDRIVER_TOP" && echo driver/*.c driver/*.h tests/*.c tests/*.h tests/testdma/*.c); do
	check_quiet "checkpatch --strict $f" "$RUN_DIR/checkpatch-${f##*/}.log" \
		perl "$CP" --strict --no-tree --ignore LINUX_VERSION_CODE -q -f "$MEMDRIVER_TOP/$f"
done

# The counter behind every guest's numbers, on a log of each shape it
# meets: plain checks, wrappers, a wrapper that failed alone, a run cut
# short of its plan.
check_quiet "docs/testing.md's table of skips is the scenarios' SKIPS (scripts/skips-table.sh)" \
	"$RUN_DIR/skips-table.log" diff -u <("$MEMDRIVER_TOP/scripts/skips-table.sh") \
	<(sed -n '/^<!-- skips: begin -->$/,/^<!-- skips: end -->$/p' "$MEMDRIVER_TOP/docs/testing.md" | sed '1d;$d')
check_quiet "scripts/ktap-count.awk counts each result of scripts/testdata/ktap-nested.log once" \
	"$RUN_DIR/ktap-count.log" diff -u "$MEMDRIVER_TOP/scripts/testdata/ktap-nested.expected" \
	<(awk -f "$MEMDRIVER_TOP/scripts/ktap-count.awk" "$MEMDRIVER_TOP/scripts/testdata/ktap-nested.log")
# The console scanner on the hold section's reports: an idle CPU's soft
# lockup inside the HOLD markers is the host's; memdriver_test's, or one
# outside, counts.
check_quiet "scripts/console-badness.sh reads scripts/testdata/console-hold.log's lockups right" \
	"$RUN_DIR/console-hold.log" diff -u "$MEMDRIVER_TOP/scripts/testdata/console-hold.expected" \
	<("$MEMDRIVER_TOP/scripts/console-badness.sh" "$MEMDRIVER_TOP/scripts/testdata/console-hold.log")

# The commands README.md tells a user to type once memdriver is built,
# for the guests' section readme.
check_quiet "README.md's guest blocks extracted (scripts/readme-blocks.sh)" \
	"$RUN_DIR/readme-blocks.log" "$MEMDRIVER_TOP/scripts/readme-blocks.sh" \
	"$RUN_DIR/readme" "$MEMDRIVER_TOP/README.md"
tutorial=$MEMDRIVER_TOP/../shared/000_c5a6b70efbc0ae09.txt
if [ -f "$tutorial" ]; then
	if awk '/^## User-Space Test Program/{f=1} f&&/^```c$/{b=1;next} b&&/^```$/{exit} b{print}' \
		"$tutorial" | cmp -s - "$MEMDRIVER_TOP/scripts/tutorial_test.c"; then
		pass "scripts/tutorial_test.c is the tutorial's program, unchanged"
	else
		fail "scripts/tutorial_test.c differs from the tutorial's program"
	fi
fi

# A system guest's disk image (scripts/system-image.sh), when not cached,
# is built from now on beside the other stages, at nice 10: mostly
# single-threaded (dpkg under qemu-user), it takes the CPU the kernel
# builds leave idle and keeps a share against a busy CPU (a tenth of a
# nice-0 task's, where nice 19 left it 1.5% and a busy machine 97 minutes);
# its guest waits for it (a lock).
for sc in $SCENARIO_LIST; do
	[ "$(scenario_load "$sc" --no-kdir && echo "$KIND")" = system ] || continue
	nice -n 10 "$MEMDRIVER_TOP/scripts/system-image.sh" >"$RUN_DIR/system-image.log" 2>&1 &
	image_pid=$!
	trap 'kill $image_pid 2>/dev/null; exit 130' INT TERM
	break
done

# ---- install paths, into scratch roots only ----
# The only checks that need root (as_root), run early: an unattended run
# past sudo's credential cache must not wait at a password prompt after
# the kernel builds.
stage "install checks"
# What those checks must leave alone (the host's kernel is not ours).
host_state() {
	find /lib/modules /var/lib/dkms /usr/src /etc/udev /etc/group \
		-printf '%p %s %T@\n' 2>/dev/null
	ls -d /dev/memdriver* /dev/char/240:0 2>/dev/null
}
host_before=$(host_state)
# Once per Debian kernel: installs target distribution kernels.
declare -A installed=()
for sc in $SCENARIO_LIST; do
	scenario_load "$sc"
	kname=${KDIR_ROOT##*/}
	# (A system guest's kernel has no tree here: it installs in its guest.)
	[ "$KERNEL" = debian ] && [ -n "$KDIR_ROOT" ] && [ -z "${installed[$kname]:-}" ] || continue
	installed[$kname]=1
	check_ok "make install/uninstall into a scratch root for $kname" \
		"$RUN_DIR/install-make-$kname.log" \
		"$MEMDRIVER_TOP/scripts/package-check.sh" make "$sc"
	check_ok "dkms: scripts/dkms.sh install, uninstall (arm64: dkms 3.2 too, and an update) in scratch trees for $kname" \
		"$RUN_DIR/install-dkms-$kname.log" \
		as_root "$MEMDRIVER_TOP/scripts/package-check.sh" dkms "$sc"
done
check_ok "udev rule: udevadm test gives memdriver0 group memdriver, mode 0660" \
	"$RUN_DIR/udev-check.log" as_root "$MEMDRIVER_TOP/scripts/udev-check.sh"
if [ "$(host_state)" = "$host_before" ]; then
	pass "host /lib/modules, /var/lib/dkms, /usr/src, /etc/udev, /etc/group, /dev untouched"
else
	fail "install checks changed the host: $(diff <(echo "$host_before") <(host_state) | head -5)"
fi

# Own kernels: built once per source version and configuration, then
# cached (a cold build takes 4-10 minutes).
for sc in $SCENARIO_LIST; do
	scenario_load "$sc" --no-kdir
	[ "$KERNEL" = own ] && [ "${own_builds[$KERNEL_BUILD]}" = "$sc" ] || continue
	stage "own kernel $KERNEL_BUILD ($sc), cached or built"
	t0=$SECONDS
	check_ok "own kernel $KERNEL_BUILD built or cached" "$RUN_DIR/debug-kernel-$KERNEL_BUILD.log" \
		"$MEMDRIVER_TOP/scripts/build-debug-kernel.sh" "$sc"
	dkdir=$(kernel_dir)
	echo "# own kernel $KERNEL_BUILD ready in $((SECONDS - t0))s: $(cat "$dkdir/release" 2>/dev/null)" \
		"from $(head -1 "$dkdir/info" 2>/dev/null)"
done

stage "module builds"
# Once per kernel (raspi-arm64 boots 6.12-arm64's); with its KUnit suite as
# well for a scenario whose suite runs it (MEMDRIVER_KUNIT=1). Two builds
# at a time (each one compiler, then sparse, on one core), judged in order.
declare -A build_of=() kunit_build_of=() testdma_of=() built=()
build_names=() build_logs=() build_pids=()
build_bg() { # name logfile cmd...
	local name=$1 logf=$2 p running
	shift 2
	while :; do
		running=0
		for p in "${build_pids[@]}"; do kill -0 "$p" 2>/dev/null && running=$((running + 1)); done
		[ $running -lt 2 ] && break
		sleep 0.2
	done
	rm -f "$logf.rc"
	( rc=0; "$@" >"$logf" 2>&1 || rc=$?; echo $rc >"$logf.rc" ) &
	build_names+=("$name") build_logs+=("$logf") build_pids+=($!)
}
for sc in $SCENARIO_LIST; do
	scenario_load "$sc"
	[ -n "$KDIR_ROOT" ] || continue # a system guest: DKMS builds in it
	kname=${KDIR_ROOT##*/}
	build_of[$sc]=$RUN_DIR/build-$kname
	if [ -z "${built[$kname]:-}" ]; then
		built[$kname]=1
		build_bg "module builds for $kname: W=1 and sparse C=2 clean" \
			"$RUN_DIR/build-$kname.log" build_module "$sc" "$RUN_DIR/build-$kname" W=1 C=2
		build_bg "test DMA engine builds for $kname: W=1 and sparse C=2 clean" \
			"$RUN_DIR/build-$kname-testdma.log" build_testdma "$sc" \
			"$RUN_DIR/build-$kname-testdma" W=1 C=2
	fi
	testdma_of[$sc]=$RUN_DIR/build-$kname-testdma/tests/testdma/memdriver_testdma.ko
	case " $SUITE " in *" kunit "*) ;; *) continue ;; esac
	kunit_build_of[$sc]=$RUN_DIR/build-$kname-kunit
	if [ -z "${built[$kname-kunit]:-}" ]; then
		built[$kname-kunit]=1
		build_bg "module with its KUnit suite builds for $kname: W=1 and sparse C=2 clean" \
			"$RUN_DIR/build-$kname-kunit.log" build_module "$sc" "$RUN_DIR/build-$kname-kunit" \
			W=1 C=2 MEMDRIVER_KUNIT=1
	fi
done
for i in "${!build_pids[@]}"; do
	wait "${build_pids[$i]}"
	judge_quiet "${build_names[$i]}" "${build_logs[$i]}" "$(cat "${build_logs[$i]}.rc" 2>/dev/null || echo killed)"
done

# The modprobe.d example must name every parameter of the module, and no other.
conf_params() { sed -n 's/^options memdriver //p' "$MEMDRIVER_TOP/contrib/memdriver.conf" |
	tr ' ' '\n' | sed 's/=.*//' | sort; }
ko=$(ls "$RUN_DIR"/build-*/memdriver.ko 2>/dev/null | head -1)
if [ ${#build_of[@]} = 0 ]; then
	# Only a system guest: its module builds inside it, none here.
	echo "# contrib/memdriver.conf: not compared, no module built here (scenarios: $SCENARIO_LIST)"
elif [ -n "$ko" ] && [ "$(conf_params)" = "$(modinfo -F parm "$ko" | sed 's/:.*//' | sort)" ]; then
	pass "contrib/memdriver.conf names exactly the module's parameters"
else
	fail "contrib/memdriver.conf names exactly the module's parameters"
fi

# ---- the Debian packages (make deb): for no kernel in particular, once ----
stage "Debian packages"
check_ok "Debian packages memdriver-dkms and memdriver-tools ($(deb_arches | xargs)) build, lintian clean" \
	"$RUN_DIR/deb-build.log" "$MEMDRIVER_TOP/scripts/package-check.sh" debs "$RUN_DIR/deb"
check_ok "the .debs hold exactly their files and modes (dpkg-deb -c), fields (-I), dkms.conf, udev rule, group" \
	"$RUN_DIR/deb-contents.log" "$MEMDRIVER_TOP/scripts/package-check.sh" deb-contents "$RUN_DIR/deb"

# ---- judging a guest ----
# A guest's skips. Each is a claim that the guest lacks something (its
# kernel an option, its user root): its scenario's SKIPS must declare it,
# or it fails, named. A case skipped as not for one load of the module
# (its parameters, --fresh) must pass in another section of the same boot,
# unless the scenario declares that it never loads so (the system guest).
judge_skips() { # label scenario counts
	local label=$1 line name kase glob declared=() undeclared=() unrun=()
	mapfile -t declared < <(scenario_load "$2" --no-kdir &&
		printf '%s\n' "${SKIPS[@]}" | cut -d'|' -f1)
	while IFS= read -r line; do
		name=${line#? } kase=${name%% # SKIP*}
		for glob in "${declared[@]}"; do
			# shellcheck disable=SC2053 # a glob, by design
			[[ $kase == $glob ]] && continue 2
		done
		case $line in
		S\ *) undeclared+=("$name") ;;
		L\ *)
			# Sections picked by hand need not hold the one it runs in.
			[ -n "$GUEST_SECTIONS" ] || grep -qxF "P $kase" <<<"$3" ||
				grep -qF "P $kase: " <<<"$3" || unrun+=("$name") ;;
		esac
	done < <(grep -E '^[SL] ' <<<"$3")
	for name in "${undeclared[@]}"; do
		fail "guest $label: a skip its scenario does not declare: $name"
	done
	for name in "${unrun[@]}"; do
		fail "guest $label: never ran in any section: $name"
	done
}
# Count a guest's KTAP results, nested ones ("# "-prefixed: memdriver_test's
# own, inside the guest script's) included: each counts once.
summary=()
SUMMARY_FORMAT='# %-30s %6s %6s %7s %9s %7s %7s'
# Each case of the guest's log counts once, at its own level
# (scripts/ktap-count.awk); the guest itself is one check more: it booted,
# ran to its end and left a clean console.
judge_guest() { # label vmlog vm-rc seconds scenario
	local label=$1 vmlog=$2 vm_rc=$3 counts ok_n bad_n skip_n fuzz points why
	counts=$(awk -f "$MEMDRIVER_TOP/scripts/ktap-count.awk" "$vmlog")
	read -r _ ok_n bad_n skip_n <<<"$(tail -1 <<<"$counts")"
	grep -Ea '^(# )*# (line [0-9]+:|.*(EXPECTATION|ASSERTION) FAILED)' "$vmlog" | sed "s/^/#   $label: /"
	sed -n 's/^F /not ok: /p' <<<"$counts" | sed "s/^/#   $label: /"
	passed=$((passed + ok_n))
	failed=$((failed + bad_n))
	skipped=$((skipped + skip_n))
	judge_skips "$label" "$5" "$counts"
	if [ "$vm_rc" = 0 ] || [ "$vm_rc" = 2 ]; then
		pass "guest $label: ran to its end, console clean ($ok_n passed, $bad_n failed, $skip_n skipped)"
	else
		why=$(sed -n 's/.*: FAIL (\(.*\)) in [0-9]*s, log .*/\1/p' "$vmlog.host" 2>/dev/null | tail -1)
		fail "guest $label: ${why:-no verdict}, see $vmlog"
	fi
	if [ "$vm_rc" = 2 ] && [ "$bad_n" = 0 ]; then
		fail "guest $label: the suite failed but no result says which, see $vmlog"
		bad_n=1
	fi
	fuzz=$(sed -En 's/^(# )*# fuzz: ([0-9]+) operations matched the model.*/\2/p' "$vmlog" |
		awk '{ s += $1 } END { print s + 0 }')
	points=$(sed -En 's/^(# )*ok [0-9]+ - .* ([0-9]+) failure points.*/\2/p' "$vmlog" |
		awk '{ s += $1 } END { print s + 0 }')
	summary+=("$(printf "$SUMMARY_FORMAT" "$label" \
		"$ok_n" "$bad_n" "$skip_n" "$fuzz" "$points" "$4")")
}
# ---- boot every kernel: guests queued, two at a time ----
host_stage_end
# A TCG guest keeps about one host core busy (its other vCPUs mostly idle,
# a debug kernel also sleeps through DEBUG_KOBJECT_RELEASE's delays), so
# two at once on CI's 2 cores nearly halve the wall time. The longest go
# first. MEMDRIVER_GUEST_JOBS=1 boots them one after the other.
GUEST_JOBS=${MEMDRIVER_GUEST_JOBS:-2}
queue=() # label|scenario|payload|log|timeout|extra kernel arguments|rank
queue_guest() { queue+=("$1|$2|$3|$4|$5|${6:-}|$7"); }
for sc in $SCENARIO_LIST; do
	scenario_load "$sc"
	# A system guest installs the Debian packages built above
	# (scripts/system-test.sh).
	if [ "$KIND" = system ]; then
		if ls "$RUN_DIR"/deb/memdriver-tools_*_"$ARCH".deb >/dev/null 2>&1; then
			queue_guest "$sc" "$sc" "$RUN_DIR/deb" "$RUN_DIR/guest-$sc.log" "$TIMEOUT" "" "$RANK"
		else
			stage "guest $sc"
			fail "guest $sc: nothing to install (the Debian packages did not build)"
		fi
		continue
	fi
	ko=${build_of[$sc]}/memdriver.ko
	nboots=$((1 + $(extra_boots)))
	if [ ! -f "$ko" ] || [ ! -x "$RUN_DIR/$ARCH/memdriver_test" ]; then
		for ((b = 0; b < nboots; b++)); do
			stage "guest $sc"
			fail "guest $sc: nothing to boot (build failed)"
		done
		continue
	fi
	payload=$RUN_DIR/payload-$sc
	# memdriver_test32 (or the KUnit module) is missing if its build
	# failed; the guest then reports it.
	make_payload "$payload" "$sc" "$ko" "$MEMDRIVER_TOP/scripts/guest/suite.sh" \
		"$RUN_DIR/$ARCH/memdriver_test" "$RUN_DIR/$ARCH/tutorial_test" \
		$(ls "$RUN_DIR/$ARCH-32/memdriver_test32" 2>/dev/null)
	[ -z "${kunit_build_of[$sc]:-}" ] ||
		cp "${kunit_build_of[$sc]}/memdriver.ko" "$payload/memdriver-kunit.ko" 2>/dev/null
	# The commands of README.md's guest blocks (section readme).
	cp -r "$RUN_DIR/readme" "$payload/" 2>/dev/null
	# The test DMA engine, if it built (else the guest reports it missing).
	[ "$TESTDMA" = 0 ] || cp "${testdma_of[$sc]}" "$payload/" 2>/dev/null
	guest_conf "${GUEST_SECTIONS:-$SUITE}" >"$payload/guest.conf"
	queue_guest "$sc" "$sc" "$payload" "$RUN_DIR/guest-$sc.log" "$TIMEOUT" "" "$RANK"
	# Extra boots ("kernel arguments|sections"), each from a payload of
	# its own, so that each kept payload boots its guest again as it ran.
	for ((b = 1; b < nboots; b++)); do
		args=${EXTRA_BOOTS[b - 1]%%|*} sections=${EXTRA_BOOTS[b - 1]#*|}
		cp -a "$payload" "$payload-$b"
		guest_conf "${GUEST_SECTIONS:-$sections}" >"$payload-$b/guest.conf"
		queue_guest "$sc $args" "$sc" "$payload-$b" "$RUN_DIR/guest-$sc-$b.log" \
			"$TIMEOUT" "$args" $((RANK + 100))
	done
done
# Longest first: the scenarios' RANK (0 first); the extra boots, all
# short, after every first boot, so that they fill the end of the queue.
order=$(for i in "${!queue[@]}"; do
	IFS='|' read -r _ _ _ _ _ _ rank <<<"${queue[$i]}"
	echo "$rank $i"
done | sort -n -s -k1,1 | cut -d' ' -f2)
# One guest in the background: vm-run.sh's own lines go to <log>.host, its
# status and seconds to <log>.rc.
start_guest() { # queue index
	local label sc payload vmlog tmo extra t0
	IFS='|' read -r label sc payload vmlog tmo extra _ <<<"${queue[$1]}"
	echo "# guest $label: booting ($((SECONDS / 60))m$(printf %02d $((SECONDS % 60)))s so far)"
	rm -f "$vmlog.rc"
	local run=("$MEMDRIVER_TOP/scripts/vm-run.sh" "$sc")
	[ "$(scenario_load "$sc" --no-kdir && echo "$KIND")" = busybox ] ||
		run=("$MEMDRIVER_TOP/scripts/system-test.sh")
	(
		t0=$(date +%s) rc=0
		MEMDRIVER_CMDLINE_EXTRA=$extra "${run[@]}" \
			"$payload" "$vmlog" "$tmo" >"$vmlog.host" 2>&1 || rc=$?
		echo "$rc $(($(date +%s) - t0))" >"$vmlog.rc.tmp" && mv "$vmlog.rc.tmp" "$vmlog.rc"
	) &
	guest_pid[$1]=$!
}
finish_guest() { # queue index
	local label sc payload vmlog tmo extra vm_rc secs
	IFS='|' read -r label sc payload vmlog tmo extra _ <<<"${queue[$1]}"
	read -r vm_rc secs <"$vmlog.rc"
	[ -f "$vmlog" ] || : >"$vmlog"
	stage "guest $label"
	sed 's/^/# /' "$vmlog.host"
	# The guest's own words: uname -r, machine and page size.
	grep -a -m1 '^# guest: kernel ' "$vmlog" | sed "s/^#/# $label:/"
	if [ "$vm_rc" != 0 ] && [ "$payload" = "$RUN_DIR/deb" ]; then
		echo "# replay: scripts/system-test.sh $payload $vmlog.replay $tmo"
	elif [ "$vm_rc" != 0 ]; then
		echo "# replay: MEMDRIVER_CMDLINE_EXTRA='$extra' scripts/vm-run.sh" \
			"$sc $payload $vmlog.replay $tmo"
	fi
	judge_guest "$label" "$vmlog" "$vm_rc" "$secs" "$sc"
}
# A guest whose runner died without a status (killed) failed.
reap_guest() { # queue index
	local vmlog
	IFS='|' read -r _ _ _ vmlog _ _ _ <<<"${queue[$1]}"
	[ -f "$vmlog.rc" ] || kill -0 "${guest_pid[$1]}" 2>/dev/null || echo "1 0" >"$vmlog.rc"
	[ -f "$vmlog.rc" ]
}
declare -A guest_pid=()
trap 'kill "${guest_pid[@]}" ${image_pid:-} 2>/dev/null; exit 130' INT TERM
running=()
for i in $order; do
	while [ ${#running[@]} -ge "$GUEST_JOBS" ]; do
		wait -n 2>/dev/null || true
		still=()
		for j in "${running[@]}"; do
			if reap_guest "$j"; then finish_guest "$j"; else still+=("$j"); fi
		done
		running=("${still[@]}")
	done
	start_guest "$i"
	running+=("$i")
done
wait
for j in "${running[@]}"; do reap_guest "$j" && finish_guest "$j"; done

echo "1..$n"
host_stage_end
printf '# %-62s %7s\n' "host stage" minutes
printf '%s\n' "${host_stages[@]}"
if [ ${#summary[@]} -gt 0 ]; then
	printf "$SUMMARY_FORMAT\n" guest passed failed skipped fuzz-ops faults seconds
	printf '%s\n' "${summary[@]}"
fi
echo "# logs in $RUN_DIR; $((SECONDS / 60)) min $((SECONDS % 60)) s in all"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
