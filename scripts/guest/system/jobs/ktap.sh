# SPDX-License-Identifier: GPL-2.0
# KTAP for the system guest's jobs (sourced by their run.sh): each check is
# a command whose status is the result, timed; its output comes first, as
# "# " lines, so memdriver_test's own KTAP nests in the check that ran it
# (scripts/ktap-count.awk counts each of its cases once). "as_user" runs a command line as a user in a fresh login
# (new groups apply, as after logging in again), typed as a user would,
# with sudo where a user needs it; "as_pi" as the Pi's default user.
n=0 failed=0
plan() { echo "KTAP version 1"; echo "1..$1"; }
check() { # description command...
	d=$1
	shift
	n=$((n + 1))
	t0=$(date +%s)
	st=0
	"$@" >/tmp/check.out 2>&1 || st=$?
	# apt's note to scripts (its output is no terminal here) goes: the
	# console scanner would take its "WARNING:" for a kernel's.
	sed -e '/^WARNING: apt does not have a stable CLI interface/d' \
		-e 's/^/# /' /tmp/check.out
	if [ $st = 0 ]; then
		echo "ok $n - $d # $(($(date +%s) - t0)) s"
	else
		echo "not ok $n - $d # $(($(date +%s) - t0)) s"
		failed=$((failed + 1))
	fi
}
as_user() { # user command-line
	su -l "$1" -c "set -e; $2"
}
as_pi() { as_user pi "$*"; }
# The same, its output shown and also kept in /tmp/pi.out to be judged.
as_pi_kept() { # command-line
	as_pi "$1" >/tmp/pi.out 2>&1
	st=$?
	cat /tmp/pi.out
	return $st
}
# "expect WHAT GOT": fails printing both unless they are equal.
expect() {
	[ "$1" = "$2" ] && return 0
	printf 'expected: %s\n     got: %s\n' "$1" "$2"
	return 1
}
# The node's owner, group and mode as stat prints them.
node_is() { # node "user:group mode"
	expect "$2" "$(stat -c '%U:%G %a' "$1")"
}
# memdriver_test's suite as the user pi, who is in the group memdriver but
# not root: it must pass, and the cases that need root report SKIP. vgem is
# loaded and pi may open it (the job's check before), so its case runs.
# Its whole KTAP output is the check's: each case counts.
suite_as_pi() {
	as_pi_kept 'MEMDRIVER_EXPECT_VGEM=1 memdriver_test --fresh' &&
		expect "0 failed" "$(tail -1 /tmp/pi.out | sed 's/.*, //')" &&
		grep -q '# SKIP needs root' /tmp/pi.out
}
# Where DKMS installs memdriver for a kernel: updates/dkms, compressed as
# that kernel's own modules are (Debian's 6.12 uses xz, 6.1 none).
dkms_module() { # release
	echo "/lib/modules/$1/updates/dkms/memdriver$(find "/lib/modules/$1/kernel" \
		-name 'ext4.ko*' | sed 's/.*ext4//')"
}
# What the system is: today's Raspberry Pi OS base and the Pi 5's pages.
system_is_trixie() {
	. /etc/os-release && echo "$PRETTY_NAME" && expect 13 "$VERSION_ID" &&
		echo "page size $(getconf PAGESIZE)" && expect 16384 "$(getconf PAGESIZE)" &&
		dkms --version && dkms --version | grep -q '^dkms-3\.2\.' &&
		gcc --version | head -1 && gcc -dumpversion | grep -q '^14'
}
# An apt command line as pi, whose output must name no deprecated feature:
# dkms 3.1.8 and later warn of deprecated dkms.conf keys on every build.
apt_as_pi() { # command-line
	as_pi_kept "$1" && ! grep -i 'deprecated' /tmp/pi.out
}
# A README block (scripts/readme-blocks.sh) as pi in the tree pi built,
# judged as the busybox guests judge it (common.sh: run_block), its output
# shown as "| " lines (memdriver_test's KTAP in it is not counted again:
# pi's suite counts).
sh_as_pi() { # file
	cp "$1" /tmp/block.sh && chmod 0644 /tmp/block.sh &&
		su -l pi -c 'README_DIR=$HOME/memdriver sh /tmp/block.sh'
}
block_as_pi() { # readme/NN.sh
	run_block "$1" '| ' sh_as_pi || { echo "$block_why"; return 1; }
}
done_checks() { exit "$failed"; }
