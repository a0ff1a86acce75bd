#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# DKMS from a checkout, as root ("sudo make dkms-install", "sudo make
# dkms-uninstall"). install copies the module's sources to
# /usr/src/memdriver-<version> with debian/changelog's version written into
# dkms.conf (as dh_dkms does for the package), first removing every version
# of memdriver DKMS holds, so an updated checkout replaces the old module
# ("dkms add ." would stop at "already contains"); then DKMS builds and
# installs it for the running kernel, and, AUTOINSTALL, for each kernel
# installed later. uninstall removes every version, sources included.
#
# usage: scripts/dkms.sh install|uninstall [dkms option...]
#   The options go to dkms build and install (-k <release> for another
#   kernel). scripts/package-check.sh sets DKMS_SOURCETREE and DKMS_TREES
#   (--dkmstree, --installtree, --no-depmod) to work in scratch trees.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 1 ] || die "usage: $0 install|uninstall [dkms option...]"
what=$1
shift
srctree=${DKMS_SOURCETREE:-/usr/src}
# shellcheck disable=SC2206 # options, split on purpose
dk=("${DKMS:-dkms}" --sourcetree "$srctree" ${DKMS_TREES:-})

# The versions of memdriver DKMS holds: "memdriver/1.0, 6.12.47, aarch64:
# installed" or "memdriver/1.0: added".
held_versions() {
	"${dk[@]}" status -m memdriver | sed -n 's#^memdriver/\([^,:]*\)[,:].*#\1#p' | sort -u
}
remove_all() {
	local v
	for v in $(held_versions); do
		"${dk[@]}" remove -m memdriver -v "$v" --all
		rm -rf "${srctree:?}/memdriver-$v"
	done
}

# The package's sources are dpkg's to remove (apt remove memdriver-dkms).
if [ "$srctree" = /usr/src ] &&
	dpkg-query -W -f='${Status}' memdriver-dkms 2>/dev/null | grep -q 'ok installed'; then
	die "the memdriver-dkms package is installed: remove it first (sudo apt remove memdriver-dkms)"
fi

case $what in
install)
	ver=$(memdriver_version)
	[ -n "$ver" ] || die "no version in debian/changelog"
	remove_all
	stage_dkms_sources "$srctree/memdriver-$ver" "$ver"
	"${dk[@]}" add -m memdriver -v "$ver"
	"${dk[@]}" install -m memdriver -v "$ver" "$@"
	;;
uninstall) remove_all ;;
*) die "usage: $0 install|uninstall [dkms option...]" ;;
esac
