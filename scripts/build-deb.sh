#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Builds memdriver's Debian packages (debian/) without root ("make deb"):
# memdriver-dkms (Architecture: all) and memdriver-tools for the build
# machine, and memdriver-tools for each further ARCH, cross-compiled
# (dpkg-buildpackage -a<arch> -B; the dkms package is the same everywhere).
# Without ARCH: arm64, the Pi 5's (lib.sh's deb_arches). Each build works on
# a fresh copy of the sources, so the tree stays clean; the .debs land in
# OUTDIR (default: the tree's top).
#
# usage: scripts/build-deb.sh [OUTDIR [ARCH...]]
#   scripts/build-deb.sh                  on x86_64: all, amd64 and arm64
#   scripts/build-deb.sh /tmp/debs amd64  all and amd64 only
# MEMDRIVER_DEB_VERSION=V builds version V instead of debian/changelog's,
# from a changelog entry added on top in the copy (the system guest's
# update to a newer package: scripts/system-test.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=$(realpath -m "${1:-$MEMDRIVER_TOP}")
shift $(($# > 0))
native=$(dpkg --print-architecture)
if [ $# -gt 0 ]; then arches=("$@"); else mapfile -t arches < <(deb_arches); fi
ver=${MEMDRIVER_DEB_VERSION:-$(memdriver_version)}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# What debian/ builds and installs from, each file once.
mapfile -t sources < <(printf '%s\n' debian dkms.conf LICENSE README.md docs contrib \
	"${MODULE_SOURCES[@]}" "${USER_SOURCES[@]}" | sort -u)

# An entry for $ver on top of the changelog, signed as the one below it.
newer_changelog() { # changelog
	{
		sed -n "1s/(.*)/($ver)/p" "$1"
		printf '\n  * A newer version of the same sources.\n\n'
		grep -m1 '^ -- ' "$1"
		echo
		cat "$1"
	} >"$1.new" && mv "$1.new" "$1"
}
build() { # dpkg-buildpackage options...
	local src=$work/memdriver-$ver
	stage_sources "$src" "${sources[@]}"
	[ "$ver" = "$(memdriver_version)" ] || newer_changelog "$src/debian/changelog"
	log "dpkg-buildpackage $*"
	# -us -uc: nothing is signed; Rules-Requires-Root: no, so no fakeroot.
	(cd "$src" && dpkg-buildpackage -us -uc "$@")
	rm -rf "$src"
}

build -b
# nocheck: no test runs at build time anyway (debian/rules), and dh warns
# of tests in a cross build unless told; CC: dpkg-buildpackage checks it
# against the architecture.
for a in "${arches[@]}"; do
	[ "$a" = "$native" ] && continue
	CC=$(dpkg-architecture -a"$a" -qDEB_HOST_GNU_TYPE 2>/dev/null)-gcc \
		DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-}" build -a"$a" -B -Pcross,nocheck
done
# Only the .debs, what apt installs.
cp "$work"/*.deb "$out/"
(cd "$work" && ls -- *.deb) | sed "s#^#$out/#"
