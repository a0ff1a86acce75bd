# SPDX-License-Identifier: GPL-2.0
#
# What the guest's jobs share (/common.sh, sourced by scripts/guest/suite.sh
# and try.sh): the settings the host wrote, and the helper modules a guest
# loads beside memdriver, each returning non-zero if its device did not
# appear.

# From the host (the scenario, scripts/scenarios/): the fuzz seed and
# sizes, the stress rounds; DEBUG=1 on the debug kernels; EXPECT_ENGINE=1
# where the guest has a DMA engine (raspi3b's, or the test engine) that
# memdriver_test's engine cases must see; TESTDMA=1 where the payload has
# the test DMA engine (tests/testdma/), loaded first and kept;
# TIMEOUT_SCALE, by which a case's time limit (a minute, or its own, for a
# stock virt guest) grows on a slower one; VGEM=1 where the guest has
# vgem (built in, or Debian's in the payload), which the dma-buf cases
# import into; BRD=1 where the kernel or the payload has brd, the RAM disk
# the O_DIRECT cases read and write; the sections to run.
FUZZ_SEED=1 FUZZ_OPS=200000 FUZZ_CAPS_OPS=50000 STRESS_ROUNDS=1000 DEBUG=0
EXPECT_ENGINE=0 TESTDMA=0 TIMEOUT_SCALE=1 VGEM=0 BRD=0
SUITE="defaults custom hold modprobe bad_params load_faults cycles dma"
[ -f /guest.conf ] && . /guest.conf
export MEMDRIVER_EXPECT_ENGINE=$EXPECT_ENGINE
export MEMDRIVER_EXPECT_VGEM=$VGEM
export MEMDRIVER_EXPECT_BRD=$BRD
export MEMDRIVER_TEST_TIMEOUT_SCALE=$TIMEOUT_SCALE

# vgem, DRM's virtual GEM driver, imports the dma-buf cases' buffers:
# built into the own kernels, Debian's module in the payload elsewhere.
load_vgem() {
	test -c /dev/dri/card0 || modprobe vgem
	test -c /dev/dri/card0
}
# brd, the RAM disk: /dev/ram0 for the O_DIRECT cases (tests/odirect.c),
# one disk of 1 MiB, the most of a region they move (ODIRECT_MAX); built
# into the own kernels that have it (scripts/kconfig/block.config).
load_brd() {
	test -b /dev/ram0 || modprobe brd rd_nr=1 rd_size=1024
	test -b /dev/ram0
}
# The test DMA engine (tests/testdma/): loaded before memdriver ever is,
# and kept, so that memdriver finds its channels as it would a board's
# engine. Its device has no firmware node, so on arm64 its DMA is
# non-coherent.
load_testdma() {
	insmod /memdriver_testdma.ko "$@" && ls -d /sys/class/dma/dma*chan* >/dev/null
}

# Whether a documentation block (scripts/readme-blocks.sh) printed what it
# promises: a promised line matches exactly, "..." inside it standing for
# any text; a promised line "..." for any lines.
output_matches() { # promised actual
	awk 'function lm(e, a,   p, k, i, pos, at, rest) {
		k = split(e, p, /\.\.\./)
		if (k == 1)
			return e == a
		if (substr(a, 1, length(p[1])) != p[1])
			return 0
		pos = length(p[1]) + 1
		for (i = 2; i < k; i++) {
			at = index(substr(a, pos), p[i])
			if (!at)
				return 0
			pos += at - 1 + length(p[i])
		}
		rest = substr(a, pos)
		return length(rest) >= length(p[k]) &&
			substr(rest, length(rest) - length(p[k]) + 1) == p[k]
	}
	NR == FNR { e[++m] = $0; next }
	{ a[++n] = $0 }
	END {
		j = 1
		for (i = 1; i <= m; i++) {
			if (e[i] == "...") {
				if (i == m)
					exit 0
				while (j <= n && !lm(e[i + 1], a[j]))
					j++
				if (j > n) {
					print "# promised, never printed: " e[i + 1]
					exit 1
				}
				continue
			}
			if (j > n || !lm(e[i], a[j])) {
				print "# promised: " e[i]
				print "# printed:  " (j <= n ? a[j] : "(nothing more)")
				exit 1
			}
			j++
		}
		if (j <= n) {
			print "# printed more than promised: " a[j]
			exit 1
		}
	}' "$1" "$2"
}
# Runs one documentation block (/readme/NN.sh, beside it NN.name and maybe
# NN.expected) and prints its output, text only (the tutorial's program
# prints raw device bytes), each line after <prefix>. Returns 0 if it exited
# 0 and printed what it promises; else 1, the reason in $block_why.
run_block() { # /readme/NN.sh prefix [runner: sh by default]
	${3:-sh} "$1" >/tmp/block.out 2>&1
	block_rc=$?
	tr -cd '\11\12\40-\176' </tmp/block.out | sed "s/^/$2/"
	block_why=
	if [ $block_rc != 0 ]; then
		block_why="exit $block_rc"
	elif [ -f "${1%.sh}.expected" ] && ! output_matches "${1%.sh}.expected" /tmp/block.out; then
		block_why="not as promised"
	fi
	[ -z "$block_why" ]
}
