# SPDX-License-Identifier: GPL-2.0
# KTAP for the system guest's jobs (sourced by their run.sh): each check is
# a command whose status is the result, timed; "as_pi" runs a command line
# as the user pi in a fresh login (new groups apply, as after logging in
# again), typed as a user would, with sudo where a user needs it.
n=0 failed=0
plan() { echo "KTAP version 1"; echo "1..$1"; }
check() { # description command...
	d=$1
	shift
	n=$((n + 1))
	t0=$(date +%s)
	if "$@" >/tmp/check.out 2>&1; then
		echo "ok $n - $d # $(($(date +%s) - t0)) s"
	else
		echo "not ok $n - $d # $(($(date +%s) - t0)) s"
		failed=$((failed + 1))
	fi
	sed 's/^/# /' /tmp/check.out
}
as_pi() { su -l pi -c "set -e; $*"; }
done_checks() { exit "$failed"; }
