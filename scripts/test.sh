#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The whole test suite: installs what is missing, runs the static checks
# (make W=1, sparse C=2, checkpatch --strict), builds the module for each
# kernel of the matrix, proves make install, DKMS and the udev rule in
# scratch roots, boots each kernel in QEMU and runs the guest suite
# (scripts/guest-run.sh) with 64- and 32-bit memdriver_test. The same on
# own debug kernels (KASAN, kmemleak, lockdep, DMA-API debug, UBSAN, fault
# injection), built once and cached by scripts/build-debug-kernel.sh. Ends
# with "N passed, N failed"; exits non-zero on any failure.
#
#   scripts/test.sh                  everything
#   KERNELS="6.12:arm64" scripts/test.sh   one kernel of the matrix
#   KERNELS="debug:amd64" scripts/test.sh  one debug kernel
#   SKIP_INSTALL=1 scripts/test.sh   do not run install-deps.sh
set -uo pipefail
. "$(dirname "$0")/lib.sh"

[ -n "${SKIP_INSTALL:-}" ] || "$MEMDRIVER_TOP/scripts/install-deps.sh" || die "install-deps failed"

KERNELS=${KERNELS:-$ALL_KERNELS $DEBUG_KERNELS}
# Model-based fuzzing: 200k + 50k operations per Debian kernel, 1M per full
# run, and a tenth of that on the (ten times slower) debug kernels.
# A failure prints its seed; MEMDRIVER_FUZZ_SEED=N replays it.
FUZZ_SEED=${MEMDRIVER_FUZZ_SEED:-$(date +%s)}
FUZZ_OPS=${MEMDRIVER_FUZZ_OPS:-200000}
FUZZ_CAPS_OPS=${MEMDRIVER_FUZZ_CAPS_OPS:-50000}
echo "# fuzz seed $FUZZ_SEED"
RUN_DIR=$OUT_DIR/test-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN_DIR"
passed=0
failed=0

pass() { passed=$((passed + 1)); echo "ok - $1"; }
fail() { failed=$((failed + 1)); echo "not ok - $1"; }
# Run a command, keep its output; pass if it succeeds and prints no diagnostic.
check_quiet() { # name logfile cmd...
	local name=$1 logf=$2
	shift 2
	if "$@" >"$logf" 2>&1 && ! grep -Eq 'warning:|error:|^(WARNING|ERROR|CHECK):' "$logf"; then
		pass "$name"
	else
		fail "$name (see $logf)"
		sed 's/^/#   /' "$logf" | head -40
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
# dkms install and the udev check need root: dkms refuses otherwise, and the
# udev check works in a private mount namespace.
as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo MEMDRIVER_CACHE="$MEMDRIVER_CACHE" "$@"; fi
}

# ---- user-space tools, per arch ----
build_user() { # arch
	local arch=$1 cc dir=$RUN_DIR/$1
	cc="$(cross_prefix "$arch")gcc"
	mkdir -p "$dir"
	cp "$MEMDRIVER_TOP"/{Makefile,memdriver_test.c,memdriver.h} "$dir/"
	cp -r "$MEMDRIVER_TOP/tests" "$dir/"
	make -s -C "$dir" USER_CC="$cc" memdriver_test &&
		"$cc" -O2 -w -static -o "$dir/tutorial_test" \
			"$MEMDRIVER_TOP/scripts/tutorial_test.c"
}
# The 32-bit user space each 64-bit guest also runs (through compat_ioctl).
compat_arch() { case $1 in amd64) echo i386 ;; arm64) echo armhf ;; esac; }
compat_cc() { case $1 in amd64) echo i686-linux-gnu-gcc ;; arm64) echo arm-linux-gnueabihf-gcc ;; esac; }
build_user32() { # arch
	local dir=$RUN_DIR/$1-32
	mkdir -p "$dir"
	cp "$MEMDRIVER_TOP"/{Makefile,memdriver_test.c,memdriver.h} "$dir/"
	cp -r "$MEMDRIVER_TOP/tests" "$dir/"
	make -s -C "$dir" USER_CC="$(compat_cc "$1")" memdriver_test &&
		mv "$dir/memdriver_test" "$dir/memdriver_test32" &&
		readelf -h "$dir/memdriver_test32" | grep -q 'Class: *ELF32'
}

# ---- the module, per kernel: W=1 and sparse in one build ----
build_module() { # series arch
	local kdir bdir arch_flags=()
	kdir=$(kernel_dir "$1" "$2")/headers
	bdir=$RUN_DIR/build-$1-$2
	mkdir -p "$bdir"
	cp "$MEMDRIVER_TOP"/{memdriver.c,memdriver.h,Kbuild} "$bdir/"
	[ "$2" = arm64 ] && arch_flags=(ARCH=arm64 CROSS_COMPILE="$(cross_prefix arm64)")
	make -C "$kdir" M="$bdir" "${arch_flags[@]}" W=1 C=2 modules &&
		test -f "$bdir/memdriver.ko"
}

echo "# static checks"
for arch in amd64 arm64; do
	check_quiet "memdriver_test builds for $arch with -Werror" \
		"$RUN_DIR/user-$arch.log" build_user "$arch"
	check_quiet "memdriver_test builds 32-bit for $(compat_arch "$arch") with -Werror" \
		"$RUN_DIR/user32-$arch.log" build_user32 "$arch"
done

CP=$MEMDRIVER_CACHE/checkpatch/checkpatch.pl
# LINUX_VERSION_CODE: an out-of-tree module must support several kernels;
# every version test sits in the one shim block at the top of memdriver.c.
# scripts/tutorial_test.c is the tutorial's program kept verbatim, so it is
# not ours to restyle and is not checked.
for f in memdriver.c memdriver.h memdriver_test.c scripts/guest-exit.c \
	$(cd "$MEMDRIVER_TOP" && echo tests/*.c tests/*.h); do
	check_quiet "checkpatch --strict $f" "$RUN_DIR/checkpatch-${f##*/}.log" \
		perl "$CP" --strict --no-tree --ignore LINUX_VERSION_CODE -q -f "$MEMDRIVER_TOP/$f"
done

tutorial=$MEMDRIVER_TOP/../shared/000_c5a6b70efbc0ae09.txt
if [ -f "$tutorial" ]; then
	if awk '/^## User-Space Test Program/{f=1} f&&/^```c$/{b=1;next} b&&/^```$/{exit} b{print}' \
		"$tutorial" | cmp -s - "$MEMDRIVER_TOP/scripts/tutorial_test.c"; then
		pass "scripts/tutorial_test.c is the tutorial's program, unchanged"
	else
		fail "scripts/tutorial_test.c differs from the tutorial's program"
	fi
fi

# Debug kernels: built once per source version and configuration, then
# cached (a cold build takes 5-20 minutes per arch).
for k in $KERNELS; do
	series=${k%%:*} arch=${k##*:}
	[ "$series" = debug ] || continue
	SECONDS=0
	check_ok "debug kernel for $arch built or cached" "$RUN_DIR/debug-kernel-$arch.log" \
		"$MEMDRIVER_TOP/scripts/build-debug-kernel.sh" "$arch"
	dkdir=$(kernel_dir debug "$arch")
	echo "# debug kernel $arch ready in ${SECONDS}s: $(cat "$dkdir/release" 2>/dev/null)" \
		"from $(head -1 "$dkdir/info" 2>/dev/null)"
done

for k in $KERNELS; do
	series=${k%%:*} arch=${k##*:}
	check_quiet "module builds for $series-$arch: W=1 and sparse C=2 clean" \
		"$RUN_DIR/build-$series-$arch.log" build_module "$series" "$arch"
done

# ---- install paths, into scratch roots only ----
# What those checks must leave alone (the host's kernel is not ours).
host_state() {
	find /lib/modules /var/lib/dkms /usr/src /etc/udev /etc/group \
		-printf '%p %s %T@\n' 2>/dev/null
	ls -d /dev/memdriver* /dev/char/240:0 2>/dev/null
}
host_before=$(host_state)
for k in $KERNELS; do
	series=${k%%:*} arch=${k##*:}
	[ "$series" = debug ] && continue	# installs target Debian's kernels
	[ "$series" = raspi ] && continue	# the same kernel and headers as 6.12:arm64
	check_ok "make install/uninstall into a scratch root for $series-$arch" \
		"$RUN_DIR/install-make-$series-$arch.log" \
		"$MEMDRIVER_TOP/scripts/package-check.sh" make "$series" "$arch"
	check_ok "dkms add/build/install/remove in scratch trees for $series-$arch" \
		"$RUN_DIR/install-dkms-$series-$arch.log" \
		as_root "$MEMDRIVER_TOP/scripts/package-check.sh" dkms "$series" "$arch"
done
check_ok "udev rule: udevadm test gives memdriver0 group memdriver, mode 0660" \
	"$RUN_DIR/udev-check.log" as_root "$MEMDRIVER_TOP/scripts/udev-check.sh"
if [ "$(host_state)" = "$host_before" ]; then
	pass "host /lib/modules, /var/lib/dkms, /usr/src, /etc/udev, /etc/group, /dev untouched"
else
	fail "install checks changed the host: $(diff <(echo "$host_before") <(host_state) | head -5)"
fi
# The modprobe.d example must name every parameter of the module, and no other.
conf_params() { sed -n 's/^options memdriver //p' "$MEMDRIVER_TOP/contrib/memdriver.conf" |
	tr ' ' '\n' | sed 's/=.*//' | sort; }
ko=$(ls "$RUN_DIR"/build-*/memdriver.ko 2>/dev/null | head -1)
if [ -n "$ko" ] && [ "$(conf_params)" = "$(modinfo -F parm "$ko" | sed 's/:.*//' | sort)" ]; then
	pass "contrib/memdriver.conf names exactly the module's parameters"
else
	fail "contrib/memdriver.conf names exactly the module's parameters"
fi

# ---- boot every kernel ----
for k in $KERNELS; do
	series=${k%%:*} arch=${k##*:}
	ko=$RUN_DIR/build-$series-$arch/memdriver.ko
	echo "# guest $series-$arch"
	if [ ! -f "$ko" ] || [ ! -x "$RUN_DIR/$arch/memdriver_test" ]; then
		fail "guest $series-$arch: nothing to boot (build failed)"
		continue
	fi
	payload=$RUN_DIR/payload-$series-$arch
	mkdir -p "$payload"
	cp "$ko" "$RUN_DIR/$arch/memdriver_test" "$RUN_DIR/$arch/tutorial_test" "$payload/"
	# Missing if the 32-bit build failed; the guest then reports it.
	cp "$RUN_DIR/$arch-32/memdriver_test32" "$payload/" 2>/dev/null
	# The module installed as "make install" lays it out, and the modprobe.d
	# example, for the guest's modprobe.
	release=$(cat "$(kernel_dir "$series" "$arch")/release")
	mkdir -p "$payload/lib/modules/$release/updates" "$payload/etc/modprobe.d"
	cp "$ko" "$payload/lib/modules/$release/updates/"
	depmod -b "$payload" "$release" 2>/dev/null
	cp "$MEMDRIVER_TOP/contrib/memdriver.conf" "$payload/etc/modprobe.d/"
	cp "$MEMDRIVER_TOP/scripts/guest-run.sh" "$payload/run.sh"
	if [ "$series" = debug ]; then
		echo "FUZZ_SEED=$FUZZ_SEED FUZZ_OPS=$((FUZZ_OPS / 10))" \
			"FUZZ_CAPS_OPS=$((FUZZ_CAPS_OPS / 10)) DEBUG=1" >"$payload/guest.conf"
		# About 10 minutes alone; three times that on 2 shared cores.
		tmo=3600
	elif [ "$series" = raspi ]; then
		# Four emulated Cortex-A53s run about half as fast as the virt
		# guests: a quarter of the fuzz, and more time.
		echo "FUZZ_SEED=$FUZZ_SEED FUZZ_OPS=$((FUZZ_OPS / 4))" \
			"FUZZ_CAPS_OPS=$((FUZZ_CAPS_OPS / 4))" >"$payload/guest.conf"
		tmo=1200
	else
		echo "FUZZ_SEED=$FUZZ_SEED FUZZ_OPS=$FUZZ_OPS FUZZ_CAPS_OPS=$FUZZ_CAPS_OPS" \
			>"$payload/guest.conf"
		tmo=600
	fi
	# Only the raspi guest has a DMA engine: its engine cases must see it.
	if [ "$series" = raspi ]; then
		echo "EXPECT_ENGINE=1" >>"$payload/guest.conf"
	else
		echo "EXPECT_ENGINE=0" >>"$payload/guest.conf"
	fi
	vmlog=$RUN_DIR/guest-$series-$arch.log
	"$MEMDRIVER_TOP/scripts/vm-run.sh" "$series" "$arch" "$payload" "$vmlog" $tmo
	vm_rc=$?
	# The guest's own words: uname -r, machine and page size.
	grep -a -m1 '^# guest: kernel ' "$vmlog" | sed "s/^#/# $series-$arch:/"
	# Every KTAP result line the guest printed counts once.
	ok_n=$(grep -Eac '^ok [0-9]+ - ' "$vmlog")
	skip_n=$(grep -Eac '^ok [0-9]+ - .*# SKIP' "$vmlog")
	bad_n=$(grep -Eac '^not ok [0-9]+ - ' "$vmlog")
	grep -Ea '^not ok [0-9]+ - |^# line [0-9]+:' "$vmlog" | sed "s/^/#   $series-$arch: /"
	passed=$((passed + ok_n - skip_n))
	failed=$((failed + bad_n))
	if [ "$vm_rc" = 0 ] && [ "$ok_n" -gt 0 ]; then
		pass "guest $series-$arch: verdict clean ($((ok_n - skip_n)) passed, $skip_n skipped)"
	else
		fail "guest $series-$arch: verdict failed, see $vmlog"
	fi
	# The engine guest again with swiotlb=force: every mapping bounces, so
	# a wrong direction, a missing sync or an early unmap corrupts bytes.
	# The suite, a short fuzz and the DMA cases only.
	[ "$series" = raspi ] || continue
	echo "DMA_ONLY=1 FUZZ_OPS=$((FUZZ_OPS / 10))" >>"$payload/guest.conf"
	vmlog=$RUN_DIR/guest-$series-$arch-swiotlb.log
	MEMDRIVER_CMDLINE_EXTRA="swiotlb=force" \
		"$MEMDRIVER_TOP/scripts/vm-run.sh" "$series" "$arch" "$payload" "$vmlog" $tmo
	vm_rc=$?
	ok_n=$(grep -Eac '^ok [0-9]+ - ' "$vmlog")
	skip_n=$(grep -Eac '^ok [0-9]+ - .*# SKIP' "$vmlog")
	bad_n=$(grep -Eac '^not ok [0-9]+ - ' "$vmlog")
	grep -Ea '^not ok [0-9]+ - |^# line [0-9]+:' "$vmlog" | sed "s/^/#   $series-$arch swiotlb: /"
	passed=$((passed + ok_n - skip_n))
	failed=$((failed + bad_n))
	if [ "$vm_rc" = 0 ] && [ "$ok_n" -gt 0 ]; then
		pass "guest $series-$arch swiotlb=force: verdict clean ($((ok_n - skip_n)) passed, $skip_n skipped)"
	else
		fail "guest $series-$arch swiotlb=force: verdict failed, see $vmlog"
	fi
done

echo "# logs in $RUN_DIR"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
