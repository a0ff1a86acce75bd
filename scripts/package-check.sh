#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Proves memdriver's install paths against one cached kernel's headers, all
# inside a scratch directory, never the host's /lib/modules or /var/lib/dkms:
#   make    "make install" with INSTALL_MOD_PATH, then "make uninstall";
#   dkms    dkms add/build/install/remove with the repo's dkms.conf, its
#           trees redirected (--dkmstree/--sourcetree/--installtree) and
#           depmod run by us on the scratch root (dkms's own would use /).
# Each step must leave modules.dep listing (or no longer listing) the module
# and the module's vermagic must name the kernel's release.
#
# usage: scripts/package-check.sh make|dkms <scenario>
#   against the headers of the scenario's kernel
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# = 2 ] || die "usage: $0 make|dkms <scenario>"
what=$1
scenario_load "$2"
kdir=$KDIR_ROOT
[ -f "$kdir/release" ] || die "$kdir missing: run scripts/install-deps.sh"
release=$(cat "$kdir/release")
arch_facts "$ARCH"
cross=()
[ -z "$CROSS" ] || cross=(ARCH="$MAKE_ARCH" CROSS_COMPILE="$CROSS")

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
root=$scratch/root
moddir=$root/lib/modules/$release

# listed <dir>: modules.dep has <dir>/memdriver.ko (maybe compressed).
listed() { grep -Eq "^$1/memdriver\.ko(\.[a-z]+)?:" "$moddir/modules.dep"; }
check_vermagic() { # file
	local vm
	vm=$(modinfo -F vermagic "$1")
	echo "# $1: vermagic $vm"
	[ "${vm%% *}" = "$release" ] || die "vermagic is not $release"
}

case $what in
make)
	src=$scratch/src
	stage_sources "$src" "${MODULE_SOURCES[@]}"
	# No KVER: the Makefile must find the release in the headers.
	make -C "$src" "${cross[@]}" KDIR="$kdir/headers" INSTALL_MOD_PATH="$root" install
	listed updates || die "make install: updates/memdriver.ko not in modules.dep"
	check_vermagic "$(ls "$moddir"/updates/memdriver.ko*)"
	make -C "$src" "${cross[@]}" KDIR="$kdir/headers" INSTALL_MOD_PATH="$root" uninstall
	! listed updates || die "make uninstall: memdriver still in modules.dep"
	[ -z "$(ls "$moddir"/updates/ 2>/dev/null)" ] || die "make uninstall left files"
	;;
dkms)
	ver=$(memdriver_version)
	stage_sources "$scratch/src/memdriver-$ver" "${DKMS_SOURCES[@]}" "${MODULE_SOURCES[@]}"
	mkdir -p "$scratch/dkms" "$moddir" "$scratch/bin"
	dk=(dkms --dkmstree "$scratch/dkms" --sourcetree "$scratch/src"
		--installtree "$root/lib/modules")
	# dkms names arches like uname -m and passes neither ARCH nor
	# CROSS_COMPILE to make; it strips with plain "strip".
	dkms_arch=$UNAME_M
	ln -s "$(command -v "${CROSS}strip")" "$scratch/bin/strip"
	kv=(-m memdriver -v "$ver" -k "$release" -a "$dkms_arch"
		--kernelsourcedir "$kdir/headers")
	# Should the host have a sign-file, the key dkms creates stays here.
	export mok_signing_key=$scratch/mok.key mok_certificate=$scratch/mok.pub
	"${dk[@]}" add -m memdriver -v "$ver"
	env "${cross[@]}" PATH="$scratch/bin:$PATH" "${dk[@]}" build "${kv[@]}"
	"${dk[@]}" install "${kv[@]}" --no-depmod
	depmod -b "$root" "$release"
	"${dk[@]}" status -m memdriver -v "$ver" -k "$release" -a "$dkms_arch" |
		tee "$scratch/status"
	grep -q ': installed' "$scratch/status" || die "dkms status: not installed"
	listed updates/dkms || die "dkms install: updates/dkms/memdriver.ko not in modules.dep"
	check_vermagic "$(ls "$moddir"/updates/dkms/memdriver.ko*)"
	"${dk[@]}" remove -m memdriver -v "$ver" --all --no-depmod
	depmod -b "$root" "$release"
	! listed updates/dkms || die "dkms remove: memdriver still in modules.dep"
	[ -z "$(ls "$scratch/dkms")" ] || die "dkms remove left $(ls "$scratch/dkms")"
	;;
*) die "unknown check $what" ;;
esac
echo "# $what: memdriver installed and removed for $release"
