# SPDX-License-Identifier: GPL-2.0
# A private apt for memdriver's scripts; sourced after lib.sh, never run.
#
# Its own sources (bookworm + backports, amd64 + arm64), lists and cache, all
# under $MEMDRIVER_CACHE/apt, so the system's apt sources stay untouched.
# Debian sid and trixie (release_apt_setup) are separate configurations
# beside it, for a few architecture-independent packages.
# Packages are only downloaded (papt_get download) and unpacked with dpkg -x,
# never installed (only host tools are, from the system's own sources:
# apt_install_missing). The binary caches (pkgcache.bin), which Docker images
# switch off for the system's apt, are kept: every lookup is then quick.
# apt's download sandbox user (_apt) cannot write into a cache in a home
# directory, so apt would fall back with a warning on every download: the
# private apt runs as the user who owns the cache.

APT_DIR=$MEMDRIVER_CACHE/apt
# Debian's bookworm suites as one-line sources for the architectures given
# (comma-separated); the only place the mirrors are written. The system
# guest's root filesystem (scripts/system-image.sh) takes the same lines
# without backports.
debian_sources() { # arches [suite...]
	local mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
	local sec=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
	local opts="arch=$1 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg"
	local suites=${*:2} s
	for s in ${suites:-bookworm bookworm-updates bookworm-security bookworm-backports}; do
		case $s in
		*-security) echo "deb [$opts] $sec $s main" ;;
		*) echo "deb [$opts] $mirror $s main" ;;
		esac
	done
}
private_apt_setup() {
	mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial" \
		"$APT_DIR/debs"
	debian_sources amd64,arm64 >"$APT_DIR/sources.list"
	# Refresh the lists at most once a day.
	if [ -z "$(find "$APT_DIR/lists" -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]; then
		log "updating private apt lists"
		papt_get update -q >/dev/null
	fi
}
papt_opts() { # [root dir: $APT_DIR or $SID_APT_DIR]
	local d=${1:-$APT_DIR}
	echo -o Dir::Etc::SourceList="$d/sources.list" \
		-o Dir::Etc::SourceParts=/dev/null \
		-o Dir::Etc::Preferences=/dev/null \
		-o Dir::Etc::PreferencesParts=/dev/null \
		-o Dir::State::Lists="$d/lists" \
		-o Dir::Cache="$d/cache" \
		-o Dir::Cache::pkgcache=pkgcache.bin \
		-o Dir::Cache::srcpkgcache=srcpkgcache.bin \
		-o APT::Architectures::=amd64 -o APT::Architectures::=arm64 \
		-o APT::Sandbox::User="$(id -un)"
}
papt_get() { apt-get $(papt_opts) "$@"; }
papt_cache() { apt-cache $(papt_opts) "$@"; }

# Other Debian releases, each a separate configuration under
# $APT_DIR/<name>, so no bookworm lookup can pick their packages: sid
# (amd64 lists; linux-source-* is Architecture: all) and trixie with its
# backports (amd64 and arm64), today's Raspberry Pi OS base. Only
# architecture-independent packages are taken from them (linux-source-*,
# dkms): their binaries need a newer glibc than bookworm's, so their kernels
# are built here with bookworm's compilers.
release_suites() { # name
	case $1 in
	sid) echo sid ;;
	trixie) echo trixie trixie-updates trixie-security trixie-backports ;;
	*) die "no apt configuration $1" ;;
	esac
}
release_apt_setup() { # name
	local d=$APT_DIR/$1 arches=amd64
	mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$APT_DIR/debs"
	[ "$1" = sid ] || arches=amd64,arm64
	debian_sources $arches $(release_suites "$1") >"$d/sources.list"
	if [ -z "$(find "$d/lists" -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]; then
		log "updating private apt lists ($1)"
		release_get "$1" update -q >/dev/null
	fi
}
release_get() { apt-get $(papt_opts "$APT_DIR/$1") "${@:2}"; } # name apt-get args
release_cache() { apt-cache $(papt_opts "$APT_DIR/$1") "${@:2}"; }
release_download() { # name pkg=ver ... into $APT_DIR/debs
	(cd "$APT_DIR/debs" && release_get "$1" download -q "${@:2}" >/dev/null)
}
# Whether every word given names one of those releases.
all_releases() { # word...
	local w
	for w in "$@"; do
		case $w in sid | trixie) ;; *) return 1 ;; esac
	done
	[ $# -gt 0 ]
}
# The newest linux-source-<major>.<minor> the releases named carry (sid's,
# or trixie-backports' when it is ahead), as "pkg version release". With
# "refresh" the lists are brought up to date (daily); with "asis" read as
# they are, fetched only if absent. A package named: its newest.
newest_linux_source() { # refresh|asis "release..." [package]
	local r pkg
	for r in $2; do
		if [ "$1" = refresh ] || [ -z "$(ls "$APT_DIR/$r/lists" 2>/dev/null | grep Packages)" ]; then
			release_apt_setup "$r" >&2
		fi
		pkg=$(release_cache "$r" pkgnames linux-source- |
			grep -xE "${3:-linux-source-[0-9]+\.[0-9]+}" | sort -V | tail -1)
		[ -n "$pkg" ] || continue
		echo "$pkg $(release_cache "$r" madison "$pkg" |
			awk -F'|' '{gsub(/ /,"",$2); print $2}' | sort -V | tail -1) $r"
	done | sort -V | tail -1
}

# Highest version of a package available from one suite: of the bookworm
# configuration, or of another release's when APT_RELEASE names one.
suite_version() { # pkg suite
	any_cache madison "$1" | awk -F'|' -v s="$2" \
		'$3 ~ ("/" s "[ /]") || $3 ~ (" " s "/") {gsub(/ /,"",$2); print $2}' |
		sort -V | tail -1
}
any_cache() {
	if [ -n "${APT_RELEASE:-}" ]; then
		release_cache "$APT_RELEASE" "$@"
	else
		papt_cache "$@"
	fi
}

# The image package a kernel metapackage points at in a suite.
resolve_image() { # metapkg(with :arch) suite
	local ver
	ver=$(suite_version "$1" "$2")
	[ -n "$ver" ] || die "no $1 in $2"
	any_cache show "$1=$ver" | awk -F': ' '/^Depends:/ {print $2; exit}' |
		tr ',' '\n' | grep -o 'linux-image-[^ ]*' | head -1
}

download() { # pkg(:arch)=ver ... into $APT_DIR/debs
	(cd "$APT_DIR/debs" && papt_get download -q "$@" >/dev/null)
}

# Install with the system's apt whichever of the packages given are missing
# (host tools; needs root or sudo).
apt_install_missing() { # pkg...
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing host packages: ${missing[*]}"
	local sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	# Another apt (unattended-upgrades, a second terminal) may hold the
	# locks: wait for it rather than fail.
	local wait=(-o DPkg::Lock::Timeout=600)
	if fuser /var/lib/dpkg/lock-frontend /var/lib/apt/lists/lock >/dev/null 2>&1; then
		log "another apt or dpkg is running: waiting up to 10 minutes for its lock"
	fi
	$sudo apt-get "${wait[@]}" update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get "${wait[@]}" install -y -q \
		--no-install-recommends "${missing[@]}"
}
