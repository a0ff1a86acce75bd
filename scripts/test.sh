#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The whole test suite: installs what is missing, runs the static checks
# (make W=1, sparse C=2, checkpatch --strict), builds the module for each
# kernel of the matrix, boots each in QEMU and runs the guest suite
# (scripts/guest-run.sh). Ends with "N passed, N failed"; exits non-zero on
# any failure.
#
#   scripts/test.sh                  everything
#   KERNELS="6.12:arm64" scripts/test.sh   one kernel of the matrix
#   SKIP_INSTALL=1 scripts/test.sh   do not run install-deps.sh
set -uo pipefail
. "$(dirname "$0")/lib.sh"

[ -n "${SKIP_INSTALL:-}" ] || "$MEMDRIVER_TOP/scripts/install-deps.sh" || die "install-deps failed"

KERNELS=${KERNELS:-$ALL_KERNELS}
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

# ---- user-space tools, per arch ----
build_user() { # arch
	local arch=$1 cc dir=$RUN_DIR/$1
	cc="$(cross_prefix "$arch")gcc"
	mkdir -p "$dir"
	cp "$MEMDRIVER_TOP"/{Makefile,memdriver_test.c,memdriver.h} "$dir/"
	make -s -C "$dir" USER_CC="$cc" memdriver_test &&
		"$cc" -O2 -w -static -o "$dir/tutorial_test" \
			"$MEMDRIVER_TOP/scripts/tutorial_test.c"
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
done

CP=$MEMDRIVER_CACHE/checkpatch/checkpatch.pl
# LINUX_VERSION_CODE: an out-of-tree module must support several kernels;
# every version test sits in the one shim block at the top of memdriver.c.
# scripts/tutorial_test.c is the tutorial's program kept verbatim, so it is
# not ours to restyle and is not checked.
for f in memdriver.c memdriver.h memdriver_test.c scripts/guest-exit.c; do
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

for k in $KERNELS; do
	series=${k%%:*} arch=${k##*:}
	check_quiet "module builds for $series-$arch: W=1 and sparse C=2 clean" \
		"$RUN_DIR/build-$series-$arch.log" build_module "$series" "$arch"
done

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
	cp "$MEMDRIVER_TOP/scripts/guest-run.sh" "$payload/run.sh"
	vmlog=$RUN_DIR/guest-$series-$arch.log
	"$MEMDRIVER_TOP/scripts/vm-run.sh" "$series" "$arch" "$payload" "$vmlog" 600
	vm_rc=$?
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
done

echo "# logs in $RUN_DIR"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
