# SPDX-License-Identifier: GPL-2.0
#
# The guest's job in scripts/try.sh (busybox sh, as /run.sh): the
# scenario's settings and helper modules as the suite has them, memdriver
# loaded with its default parameters, then /try.cmd, the command given on
# the host, run from / with memdriver_test on the PATH. Its exit status is
# the guest's.
. /common.sh
echo "# guest: kernel $(uname -r) $(uname -m)"
[ "$VGEM" = 0 ] || load_vgem || echo "# guest: vgem did not load"
[ "$BRD" = 0 ] || load_brd || echo "# guest: brd did not load"
[ "$TESTDMA" = 0 ] || load_testdma || echo "# guest: the test DMA engine did not load"
insmod /memdriver.ko || exit 1
export PATH=/:$PATH
sh /try.cmd
