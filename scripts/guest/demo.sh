# SPDX-License-Identifier: GPL-2.0
#
# The guest's job in scripts/demo.sh (busybox sh, as /run.sh): the commands
# README.md tells a Pi user to type once memdriver is built (/readme, from
# scripts/readme-blocks.sh), each block shown as typed and run, its output
# checked against what the README promises. Kernel messages stay off the
# console so the output reads in order.
. /common.sh
dmesg -n 1
for f in /readme/*.sh; do
	b=${f%.sh}
	echo
	sed '1,3d; s/^/$ /' "$f"
	sh "$f" >/tmp/block.out 2>&1
	rc=$?
	# The tutorial's program prints raw device bytes: text only.
	tr -cd '\11\12\40-\176' </tmp/block.out
	[ $rc = 0 ] || { echo "# $(cat "$b.name"): exit $rc"; exit 1; }
	if [ -f "$b.expected" ] && ! output_matches "$b.expected" /tmp/block.out; then
		echo "# $(cat "$b.name"): not what README.md promises"
		exit 1
	fi
done
