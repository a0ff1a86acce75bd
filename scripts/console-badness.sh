#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Scan a guest's console log for kernel reports (like rcutorture's
# console-badness.sh): print each report line that counts and exit 1 if
# there is one, 0 if the console is clean.
#
# usage: scripts/console-badness.sh <console-log>
set -euo pipefail
[ $# = 1 ] || { echo "usage: $0 <console-log>" >&2; exit 2; }

# Any of these on the console fails the run, whatever the guest said.
errors='WARNING:|BUG:|BUG [^ ]+ \(|Oops|KFENCE:|Call [Tt]race|Kernel panic|UBSAN:|KASAN:'
# kmemleak scans only when the guest asks (no automatic scan) and the guest
# judges each report: it prints every leak that is not the kernel's own,
# as "unreferenced object ...", caught below.
errors+='|general protection fault'
errors+='|Unable to handle kernel|list_add corruption|list_del corruption'
errors+='|slab .* Redzone|Redzone overwritten|Object already free|Poison overwritten'
# The debug kernels' reports (most also start with WARNING: or BUG:).
errors+='|kernel BUG at|BUG: KASAN|unreferenced object 0x|possible circular locking'
errors+='|possible recursive locking|inconsistent lock state|BUG: sleeping function'
errors+='|suspicious RCU usage|DMA-API:|blocked for more than|stack-protector'
errors+='|Kernel stack is corrupted|usercopy: Kernel memory|ODEBUG:'
# Lines that match the above but report nothing: DMA-API debug's boot notes.
benign='DMA-API: (preallocated [0-9]+ debug entries|debugging enabled by kernel config)'

# Between the guest's FAULTS markers allocations fail on purpose, and some
# allocators say so with a stack dump (vmalloc's warn_alloc(), a failed
# kmem_cache_create(); 6.12 on names that one __kmem_cache_create_args()):
# there, the first stack after such a notice is expected. Every other
# report still counts. The guest's closing copy of dmesg (DMESG markers)
# repeats what the console showed (loglevel=7 prints every report), and on
# a long run the ring buffer has wrapped, so its first lines can be the
# middle of an expected report: it is not scanned.
#
# Between the HOLD markers the guest runs with watchdog_thresh=1 (a soft
# lockup after 2 s) to catch release() not yielding. Under TCG an idle vCPU
# that the host does not run for 2 s, beside another guest, reads as a soft
# lockup of its idle task (swapper/N): that report and its stack say
# nothing of the guest. A lockup of any other task there still counts.
expected_stacks() {
	awk '/MEMDRIVER-DMESG-BEGIN/ { copy = 1 } /MEMDRIVER-DMESG-END/ { copy = 0; next } copy { next }
	/MEMDRIVER-FAULTS-BEGIN/ { on = 1 } /MEMDRIVER-FAULTS-END/ { on = 0 }
	on && /vmalloc error: |page allocation failure: |kmem_cache_create(_usercopy|_args)?\(.*\) failed with error -(12|22)/ { want = 1 }
	want && /Call [Tt]race/ { want = 0; next }
	/MEMDRIVER-HOLD-BEGIN/ { hold = 1 } /MEMDRIVER-HOLD-END/ { hold = 0 }
	hold && /soft lockup - CPU#[0-9]+ stuck for [0-9]+s! \[swapper\/[0-9]+:0\]/ { idle = 1; next }
	idle && /Call [Tt]race/ { idle = 0; next }
	{ print }' "$1"
}

# The whole log runs through each stage (no grep -m: under pipefail, an
# early exit would fail the pipeline and hide the report). Timestamps and,
# on the debug kernels, caller ids ([  T42]) are dropped.
bad=$(expected_stacks "$1" | grep -aEv "$benign" | grep -aE "$errors" |
	sed -E 's/^\[ *[0-9.]*\](\[ *[TC][0-9]+\])? *//' || true)
[ -z "$bad" ] && exit 0
printf '%s\n' "$bad"
exit 1
