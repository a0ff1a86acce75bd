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
	echo
	sed '1,3d; s/^/$ /' "$f"
	run_block "$f" '' || { echo "# $(cat "${f%.sh}.name"): $block_why"; exit 1; }
done
