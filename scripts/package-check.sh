#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Proves memdriver's install paths against one cached kernel's headers, all
# inside a scratch directory, never the host's /lib/modules or /var/lib/dkms:
#   make    "make install" with INSTALL_MOD_PATH, then "make uninstall";
#   dkms    scripts/dkms.sh install and uninstall with the host's dkms;
#           on arm64 also with trixie's, and an update to a newer
#           version between them; their trees
#           redirected (--dkmstree/--sourcetree/--installtree) and depmod
#           run by us on the scratch root (dkms's own would use /); no key
#           either dkms deprecates, no deprecation printed.
# Each step must leave modules.dep listing (or no longer listing) the module
# and the module's vermagic must name the kernel's release.
# And the Debian packages (debian/), for no kernel in particular:
#   debs          scripts/build-deb.sh builds them without root into <dir>
#                 (all, and the tools for each of lib.sh's deb_arches);
#                 lintian on each: no error, no warning (overrides give
#                 their reasons in debian/);
#   deb-contents  the .debs in <dir> as dpkg-deb sees them: every file and
#                 mode, the control fields; what they install is the tree's
#                 (module sources, udev rule, example) and does what it must
#                 (dkms.conf, the group in postinst, a 64-bit dynamic tool).
#
# usage: scripts/package-check.sh make|dkms <scenario>
#          against the headers of the scenario's kernel
#        scripts/package-check.sh debs|deb-contents <dir>
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# = 2 ] || die "usage: $0 make|dkms <scenario> | debs|deb-contents <dir>"
what=$1

debs() { # dir
	"$MEMDRIVER_TOP/scripts/build-deb.sh" "$1"
	# Informational tags are shown, but only errors and warnings fail.
	lintian --display-info --show-overrides --fail-on error,warning "$1"/*.deb
	echo "# lintian: no error, no warning in $(cd "$1" && echo *.deb)"
}

# A package's files as "mode owner path": dpkg-deb -c without sizes, times.
deb_files() { dpkg-deb -c "$1" | awk '{ print $1, $2, $6 }'; }
# Fail unless a package holds exactly the files on stdin.
same_files() { # deb
	diff -u - <(deb_files "$1") | sed 's/^/# /' >&2 ||
		die "${1##*/}: its files differ from the list (- expected, + in the package)"
}

deb_contents() { # dir
	local dir=$1 ver src a deb root f
	ver=$(memdriver_version)
	src=usr/src/memdriver-$ver
	local want=("memdriver-dkms_${ver}_all.deb")
	for a in $(deb_arches); do want+=("memdriver-tools_${ver}_$a.deb"); done
	[ "$(cd "$dir" && ls -- *.deb)" = "$(printf '%s\n' "${want[@]}" | sort)" ] ||
		die "$dir holds $(cd "$dir" && echo *.deb), not ${want[*]}"

	deb=$dir/memdriver-dkms_${ver}_all.deb
	same_files "$deb" <<-LIST
	drwxr-xr-x root/root ./
	drwxr-xr-x root/root ./lib/
	drwxr-xr-x root/root ./lib/udev/
	drwxr-xr-x root/root ./lib/udev/rules.d/
	-rw-r--r-- root/root ./lib/udev/rules.d/60-memdriver.rules
	drwxr-xr-x root/root ./usr/
	drwxr-xr-x root/root ./usr/share/
	drwxr-xr-x root/root ./usr/share/doc/
	drwxr-xr-x root/root ./usr/share/doc/memdriver-dkms/
	-rw-r--r-- root/root ./usr/share/doc/memdriver-dkms/README.md.gz
	-rw-r--r-- root/root ./usr/share/doc/memdriver-dkms/changelog.gz
	-rw-r--r-- root/root ./usr/share/doc/memdriver-dkms/copyright
	-rw-r--r-- root/root ./usr/share/doc/memdriver-dkms/dma.md.gz
	-rw-r--r-- root/root ./usr/share/doc/memdriver-dkms/dmabuf.md.gz
	drwxr-xr-x root/root ./usr/share/doc/memdriver-dkms/examples/
	-rw-r--r-- root/root ./usr/share/doc/memdriver-dkms/examples/memdriver.conf
	-rw-r--r-- root/root ./usr/share/doc/memdriver-dkms/packaging.md.gz
	-rw-r--r-- root/root ./usr/share/doc/memdriver-dkms/uapi.md.gz
	drwxr-xr-x root/root ./usr/share/lintian/
	drwxr-xr-x root/root ./usr/share/lintian/overrides/
	-rw-r--r-- root/root ./usr/share/lintian/overrides/memdriver-dkms
	drwxr-xr-x root/root ./usr/src/
	drwxr-xr-x root/root ./$src/
	-rw-r--r-- root/root ./$src/Kbuild
	-rw-r--r-- root/root ./$src/LICENSE
	-rw-r--r-- root/root ./$src/Makefile
	-rw-r--r-- root/root ./$src/dkms.conf
	drwxr-xr-x root/root ./$src/driver/
	-rw-r--r-- root/root ./$src/driver/dma_copy.c
	-rw-r--r-- root/root ./$src/driver/dma_engine.c
	-rw-r--r-- root/root ./$src/driver/dmabuf_export.c
	-rw-r--r-- root/root ./$src/driver/dmabuf_import.c
	-rw-r--r-- root/root ./$src/driver/internal.h
	-rw-r--r-- root/root ./$src/driver/objects.c
	-rw-r--r-- root/root ./$src/driver/regions.c
	drwxr-xr-x root/root ./$src/kunit/
	-rw-r--r-- root/root ./$src/kunit/memdriver_kunit.c
	-rw-r--r-- root/root ./$src/memdriver.c
	-rw-r--r-- root/root ./$src/memdriver.h
	LIST
	f=$(dpkg-deb -f "$deb" Version Architecture Depends | tr '\n' ' ')
	[ "$f" = "Version: $ver Architecture: all Depends: adduser, dkms (>= 2.1.0.0) " ] ||
		die "memdriver-dkms: control fields $f"
	root=$scratch/dkms
	dpkg-deb -R "$deb" "$root"
	for f in LICENSE "${MODULE_SOURCES[@]}"; do
		cmp "$f" "$root/$src/$f" || die "/$src/$f is not the tree's $f"
	done
	f=$root/lib/udev/rules.d/60-memdriver.rules
	cmp contrib/60-memdriver.rules "$f" || die "the udev rule is not contrib/60-memdriver.rules"
	grep -q 'GROUP="memdriver", MODE="0660"' "$f" ||
		die "the udev rule does not give the nodes to group memdriver, mode 0660"
	cmp contrib/memdriver.conf "$root/usr/share/doc/memdriver-dkms/examples/memdriver.conf" ||
		die "the modprobe.d example is not contrib/memdriver.conf"
	# dkms.conf as dkms reads it, sourced by bash: the version written in,
	# rebuilt for each new kernel, installed where Debian's dkms puts it.
	f=$(bash -c '. "$1" && echo "$PACKAGE_NAME $PACKAGE_VERSION ${BUILT_MODULE_NAME[0]}" \
		"${DEST_MODULE_LOCATION[0]} AUTOINSTALL=$AUTOINSTALL"' _ "$root/$src/dkms.conf") || true
	echo "# /$src/dkms.conf: $f"
	[ "$f" = "memdriver $ver memdriver /updates/dkms AUTOINSTALL=yes" ] ||
		die "/$src/dkms.conf reads as: $f"
	# The group exists before DKMS builds the module, which may be loaded
	# right after.
	f=$root/DEBIAN/postinst
	a=$(grep -nx -m1 '		addgroup --system --quiet memdriver' "$f" | cut -d: -f1) || true
	[ -n "$a" ] && [ "$a" -lt "$(grep -n -m1 common.postinst "$f" | cut -d: -f1)" ] ||
		die "postinst does not create the group memdriver before DKMS runs"
	grep -qx "DKMS_NAME=memdriver" "$f" && grep -qx "DKMS_VERSION=$ver" "$f" ||
		die "postinst does not hand memdriver/$ver to DKMS"
	grep -qF 'dkms remove -m $DKMS_NAME -v $DKMS_VERSION --all' "$root/DEBIAN/prerm" ||
		die "prerm does not remove memdriver from DKMS"
	grep -qx "		gpasswd -M '' memdriver" "$root/DEBIAN/postrm" ||
		die "postrm does not empty the group memdriver on purge"
	echo "# memdriver-dkms: files, fields, sources, dkms.conf, udev rule, example, scripts as expected"

	for a in $(deb_arches); do
		arch_facts "$a"
		deb=$dir/memdriver-tools_${ver}_$a.deb
		same_files "$deb" <<-LIST
		drwxr-xr-x root/root ./
		drwxr-xr-x root/root ./usr/
		drwxr-xr-x root/root ./usr/bin/
		-rwxr-xr-x root/root ./usr/bin/memdriver_test
		drwxr-xr-x root/root ./usr/share/
		drwxr-xr-x root/root ./usr/share/doc/
		drwxr-xr-x root/root ./usr/share/doc/memdriver-tools/
		-rw-r--r-- root/root ./usr/share/doc/memdriver-tools/changelog.gz
		-rw-r--r-- root/root ./usr/share/doc/memdriver-tools/copyright
		drwxr-xr-x root/root ./usr/share/man/
		drwxr-xr-x root/root ./usr/share/man/man1/
		-rw-r--r-- root/root ./usr/share/man/man1/memdriver_test.1.gz
		LIST
		f=$(dpkg-deb -f "$deb" Version Architecture Depends | tr '\n' ' ')
		grep -Eqx "Version: $ver Architecture: $a Depends: libc6 \(>= [0-9.]+\) " <<<"$f" ||
			die "memdriver-tools ($a): control fields $f"
		root=$scratch/tools-$a
		dpkg-deb -x "$deb" "$root"
		# 64-bit, for this arch, linked against the system's libc.
		f=$(readelf -hl "$root/usr/bin/memdriver_test") || true
		grep -q 'Class: *ELF64' <<<"$f" && grep -q "Machine: *$ELF_MACHINE\$" <<<"$f" &&
			grep -q 'Requesting program interpreter' <<<"$f" ||
			die "memdriver-tools ($a): memdriver_test is not a dynamic ELF64 $ELF_MACHINE program"
		echo "# memdriver-tools ($a): files, fields, dynamic ELF64 $ELF_MACHINE memdriver_test"
	done
}

case $what in
debs | deb-contents)
	dir=$(realpath -m "$2")
	scratch=$(mktemp -d)
	trap 'rm -rf "$scratch"' EXIT
	cd "$MEMDRIVER_TOP"
	"${what/-/_}" "$dir"
	echo "# $what: as expected"
	exit
	;;
esac

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

# The keys a dkms calls deprecated, from its own source: dkms 3.1.8 and
# later print "Deprecated feature: CLEAN (...)"; Debian's 3.2 has that one
# line commented out, but upstream's warns, so commented calls count too.
deprecated_keys() { # dkms
	grep -o 'deprecated "[A-Z_]* (' "$1" | cut -d'"' -f2 | cut -d' ' -f1 | sort -u
}
# What DKMS holds of memdriver, as "version state" lines, from "memdriver/1.0,
# 6.12.47, aarch64: installed" or "memdriver/1.0: added".
held() {
	"${dk[@]}" status -m memdriver |
		awk -F': ' '/^memdriver\// { split($1, v, /[\/,]/); print v[2], $NF }'
}
# Install from a checkout, with "update" update it to a newer version, and
# uninstall; with one dkms, in scratch trees.
dkms_check() { # dkms [update]
	local dkms=$1 k left
	d=$scratch/trees out=$scratch/dkms.log
	[ -x "$dkms" ] || command -v "$dkms" >/dev/null || die "no $dkms: run scripts/install-deps.sh"
	echo "# $("$dkms" --version) ($dkms)"
	rm -rf "$d" && mkdir -p "$d/src" "$d/dkms" "$moddir" "$scratch/bin"
	export DKMS=$dkms DKMS_SOURCETREE=$d/src
	export DKMS_TREES="--dkmstree $d/dkms --installtree $root/lib/modules --no-depmod"
	# shellcheck disable=SC2206 # options, split on purpose
	dk=("$dkms" --sourcetree "$d/src" $DKMS_TREES)
	# dkms.conf as bash reads it sets none of them.
	for k in $(deprecated_keys "$(command -v "$dkms")"); do
		! bash -c '. "$1/dkms.conf"; [ -n "${!2+set}" ]' _ "$MEMDRIVER_TOP" "$k" ||
			die "dkms.conf sets $k, which $dkms deprecates"
	done
	# dkms names arches like uname -m and passes neither ARCH nor
	# CROSS_COMPILE to make; it strips with plain "strip".
	ln -sfn "$(command -v "${CROSS}strip")" "$scratch/bin/strip"
	kv=(-k "$release" -a "$UNAME_M" --kernelsourcedir "$kdir/headers")
	# Should the host have a sign-file, the key dkms creates stays here.
	export mok_signing_key=$scratch/mok.key mok_certificate=$scratch/mok.pub

	# From this checkout: its version, built and installed.
	ver=$(memdriver_version)
	env "${cross[@]}" PATH="$scratch/bin:$PATH" \
		"$MEMDRIVER_TOP/scripts/dkms.sh" install "${kv[@]}" 2>&1 | tee "$out"
	! grep -i deprecated "$out" || die "$dkms printed a deprecation"
	[ "$(held)" = "$ver installed" ] || die "dkms holds '$(held)', not '$ver installed'"
	[ "$(sed -n 's/^PACKAGE_VERSION=//p' "$d/src/memdriver-$ver/dkms.conf")" = "\"$ver\"" ] ||
		die "/usr/src/memdriver-$ver/dkms.conf does not name version $ver"
	depmod -b "$root" "$release"
	listed updates/dkms || die "dkms install: updates/dkms/memdriver.ko not in modules.dep"
	check_vermagic "$(ls "$moddir"/updates/dkms/memdriver.ko*)"

	[ "${2:-}" != update ] || update_checkout
	"$MEMDRIVER_TOP/scripts/dkms.sh" uninstall
	depmod -b "$root" "$release"
	! listed updates/dkms || die "dkms uninstall: memdriver still in modules.dep"
	left=$(held; find "$d/dkms" "$d/src" -mindepth 1)
	[ -z "$left" ] || die "dkms uninstall left $left"
	echo "# $dkms: memdriver uninstalled"
}
# An updated checkout (debian/changelog's next version) replaces the
# version dkms_check installed.
update_checkout() {
	local next=$ver+next
	stage_sources "$scratch/next" scripts debian dkms.conf LICENSE "${MODULE_SOURCES[@]}"
	sed -i "1s/(\([^)]*\))/($next)/" "$scratch/next/debian/changelog"
	env "${cross[@]}" PATH="$scratch/bin:$PATH" \
		"$scratch/next/scripts/dkms.sh" install "${kv[@]}" 2>&1 | tee "$out"
	! grep -i deprecated "$out" || die "$dkms printed a deprecation"
	[ "$(held)" = "$next installed" ] || die "after the update dkms holds '$(held)', not '$next installed'"
	[ "$(ls "$d/src")" = "memdriver-$next" ] || die "the sources left: $(ls "$d/src" | xargs)"
	depmod -b "$root" "$release"
	listed updates/dkms || die "dkms update: updates/dkms/memdriver.ko not in modules.dep"
	rm -rf "$scratch/next"
	echo "# $dkms: memdriver $ver, then $next from an updated checkout, installed for $release"
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
	# scripts/dkms.sh with every tree redirected into scratch.
	# Both dkms: the host's (bookworm's 3.0), and on the arm64 kernels,
	# the Pi's, trixie's (3.2, today's Pi OS's), which must also replace an
	# installed version by an updated checkout's.
	dkms_check dkms
	[ "$ARCH" != arm64 ] || dkms_check "$DKMS_TRIXIE_DIR/usr/sbin/dkms" update
	;;
*) die "unknown check $what" ;;
esac
echo "# $what: memdriver installed and removed for $release"
