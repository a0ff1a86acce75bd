# SPDX-License-Identifier: GPL-2.0
# Shared settings for memdriver's scripts; sourced, never run.

MEMDRIVER_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Everything downloaded or built outside the repo lives here.
MEMDRIVER_CACHE=${MEMDRIVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/memdriver}
KERNELS_DIR=$MEMDRIVER_CACHE/kernels
OUT_DIR=${MEMDRIVER_OUT:-$MEMDRIVER_CACHE/out}

# The kernel matrix: "<series>:<debian arch>".
ALL_KERNELS="6.1:amd64 6.1:arm64 6.12:amd64 6.12:arm64"

log() { printf '[memdriver] %s\n' "$*" >&2; }
die() { printf '[memdriver] error: %s\n' "$*" >&2; exit 1; }

# Debian arch -> kernel ARCH, CROSS_COMPILE, user-space compiler.
kernel_arch() { case $1 in amd64) echo x86_64 ;; arm64) echo arm64 ;; esac; }
cross_prefix() {
	case $1 in
	amd64) [ "$(uname -m)" = x86_64 ] || echo x86_64-linux-gnu- ;;
	arm64) [ "$(uname -m)" = aarch64 ] || echo aarch64-linux-gnu- ;;
	esac
}

# Where a fetched kernel lives: $KERNELS_DIR/<series>-<arch>/{vmlinuz,headers/}
kernel_dir() { echo "$KERNELS_DIR/$1-$2"; }
