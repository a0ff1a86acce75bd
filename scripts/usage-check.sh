#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The tool and its man page say the same: every word memdriver_test.c takes
# on its command line (a mode or an option) and every environment variable
# the suite reads must appear in the usage text (memdriver_test --help) and
# in debian/memdriver_test.1; and no mode is also a subject or a case of
# "test" (-l lists those), so a word means one thing. Prints what is missing
# or doubled; exits 1 if any.
# usage: scripts/usage-check.sh <memdriver_test built for this machine>
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# = 1 ] || die "usage: $0 <memdriver_test>"
# --help and --version answer on standard output with status 0.
for o in --help --version; do
	"$1" "$o" >/dev/null 2>&1 || die "memdriver_test $o exits $?, not 0"
done
help=$("$1" --help)
man=$(sed 's/\\-/-/g' "$MEMDRIVER_TOP/debian/memdriver_test.1")
words=$(cd "$MEMDRIVER_TOP" && {
	grep -ho 'strcmp(argv\[[0-9a-z]*\], "[^"]*")' memdriver_test.c tests/*.c |
		sed 's/.*"\(.*\)")/\1/'
	grep -ho 'getenv("[A-Z_]*")' memdriver_test.c tests/*.c | sed 's/.*"\(.*\)")/\1/'
} | sort -u)
missing=0
for w in $words; do
	grep -qwF -- "$w" <<<"$help" || { echo "$w: not in the usage text"; missing=1; }
	grep -qwF -- "$w" <<<"$man" || { echo "$w: not in the man page"; missing=1; }
done
# The modes: the words memdriver_test.c compares argv with that are not
# options.
listed=$("$1" -l | sed 's/^ *//; s/:$//')
for w in $(grep -ho 'strcmp(argv\[i\], "[a-z][^"]*")' "$MEMDRIVER_TOP/memdriver_test.c" |
	sed 's/.*"\(.*\)")/\1/' | sort -u); do
	! grep -qxF -- "$w" <<<"$listed" || { echo "$w: both a mode and a subject or case"; missing=1; }
done
[ $missing = 1 ] || echo "# $(wc -w <<<"$words") words and variables in both the usage and the man page"
exit $missing
