#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The commands the documentation tells a user to type once memdriver is
# built, taken from the documents themselves for a guest to run
# (scripts/guest/suite.sh, section readme). A fenced block right after a
# line "<!-- guest -->" is one; the fenced block after a following
# "<!-- guest output -->" is what it must print: each line exactly, "..."
# inside a line standing for any text, a line "..." for any lines.
# Each block becomes <out>/NN.sh, NN.expected when it promises output, and
# NN.name (document:line: its first command). NN.sh runs where the build's
# memdriver.ko, memdriver_test and tutorial_test are: $README_DIR, or /
# (a busybox guest's payload); as root, sudo is the caller itself (a busybox
# guest has none), as a user the real one (the system guest's pi); set -e:
# a command that fails fails the block.
#
# usage: scripts/readme-blocks.sh <out-dir> <document>...
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 2 ] || die "usage: $0 <out-dir> <document>..."
out=$1
shift
rm -rf "$out" && mkdir -p "$out"
for doc in "$@"; do
	awk -v out="$out" -v doc="${doc#"$MEMDRIVER_TOP"/}" -v start="$(ls "$out" | grep -c '\.sh$')" '
	function file(ext) { return sprintf("%s/%02d.%s", out, n, ext) }
	/^ *<!-- guest -->$/ { want = "sh"; next }
	/^ *<!-- guest output -->$/ { want = "expected"; next }
	want != "" && !infence && /^ *```/ {
		infence = 1
		match($0, /^ */)
		indent = RLENGTH
		if (want == "sh") {
			n = start + (++count)
			first = NR
			print "# " doc ":" NR ", as a guest runs it" >file("sh")
			print "if [ \"$(id -u)\" = 0 ]; then sudo() { \"$@\"; }; fi" >file("sh")
			print "cd \"${README_DIR:-/}\" && set -e" >file("sh")
		}
		kind = want
		want = ""
		next
	}
	infence && /^ *```$/ { infence = 0; close(file(kind)); next }
	infence {
		line = substr($0, indent + 1)
		if (kind == "sh" && first) {
			printf "%s:%d: %s\n", doc, first, line >file("name")
			close(file("name"))
			first = 0
		}
		print line >file(kind)
	}
	want != "" && NF { printf "%s:%d: <!-- guest --> not followed by a fenced block\n", doc, NR >"/dev/stderr"; exit 1 }
	' "$doc"
done
n=$(ls "$out" | grep -c '\.sh$' || true)
[ "$n" -gt 0 ] || die "no <!-- guest --> block in $*"
echo "# $n blocks from $*"
