# deb-lib.sh - sourced by the world tests that run a real MTA from its Debian
# package: fetch the .deb with `apt-get download` (never installed), cache it,
# unpack it with dpkg-deb -x, and unpack the library packages it needs that
# this machine lacks; stop_pid and mta_cleanup for the exit trap.  Needs REPO
# (the source tree) and TOP (a scratch dir).
#
# The .deb files are cached in $STSGUARD_DEB_CACHE, else
# $XDG_CACHE_HOME/stsguard/debs, else $REPO/build/debs.

CACHE=${STSGUARD_DEB_CACHE:-}
if [ -z "$CACHE" ]; then
	if [ -n "${XDG_CACHE_HOME:-}" ]; then CACHE=$XDG_CACHE_HOME/stsguard/debs; else CACHE=$REPO/build/debs; fi
fi
mkdir -p "$CACHE" || { echo "FAIL: cannot create $CACHE"; exit 1; }
APTLOG=$TOP/apt.log
NO_NETWORK='Temporary failure resolving|Could not resolve|Unable to connect|Could not connect|Network is unreachable|No route to host|Connection timed out|Connection refused|Connection failed'

# fetch_deb PKG: print the path of PKG's .deb, downloading it into the cache
# the first time.  Returns 77 when the download failed for lack of network.
fetch_deb() {
	local pkg=$1 deb tmp try
	(
		flock 8
		deb=$(ls "$CACHE/${pkg}"_*.deb 2>/dev/null | sort -V | tail -1)
		if [ -n "$deb" ] && dpkg-deb --info "$deb" >/dev/null 2>&1; then echo "$deb"; exit 0; fi
		tmp=$(mktemp -d "$CACHE/.dl.XXXXXX")
		chmod 755 "$tmp" # lets apt's _apt sandbox user write there
		for try in 1 2; do
			if (cd "$tmp" && apt-get download "$pkg") >>"$APTLOG" 2>&1; then
				deb=$(ls "$tmp/${pkg}"_*.deb 2>/dev/null | head -1)
				if [ -n "$deb" ]; then
					mv "$deb" "$CACHE/" && rm -rf "$tmp" && echo "$CACHE/${deb##*/}" && exit 0
				fi
			fi
			grep -Eq "$NO_NETWORK" "$APTLOG" && break
			# a fresh machine may have no package lists yet, or stale ones
			[ "$try" = 1 ] && apt-get update -q >>"$APTLOG" 2>&1
		done
		rm -rf "$tmp"
		grep -Eq "$NO_NETWORK" "$APTLOG" && exit 77
		exit 1
	) 8>>"$CACHE/.lock"
}

# deb=$(fetch_or_skip PKG) || exit $?: like fetch_deb, but on failure the
# test ends (77 without network, 1 otherwise) with the reason on stderr.
fetch_or_skip() {
	local deb rc
	deb=$(fetch_deb "$1")
	rc=$?
	if [ "$rc" = 77 ]; then
		{ echo "SKIP: apt-get download $1 failed: no network to the Debian mirrors:"; tail -5 "$APTLOG" | sed 's/^/  /'; } >&2
		exit 77
	elif [ "$rc" != 0 ]; then
		{ echo "FAIL: apt-get download $1 failed:"; tail -20 "$APTLOG" | sed 's/^/  /'; } >&2
		exit 1
	fi
	echo "$deb"
}

# unpack_missing_libs ROOT DEB BINARY...: the library packages DEB depends on
# (and theirs) that are not installed here are fetched and unpacked into ROOT,
# until `ldd BINARY` finds everything with LD_LIBRARY_PATH=$(libpath ROOT).
libpath() {
	local ma
	ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
	echo "$1/usr/lib/$ma:$1/lib/$ma:$1/usr/lib"
}
unpack_missing_libs() {
	local root=$1 deb=$2 round pkg p debs missing
	shift 2
	debs=$deb
	for round in 1 2 3; do
		missing=$(LD_LIBRARY_PATH=$(libpath "$root") ldd "$@" 2>/dev/null | awk '/=> not found/ {print $1}' | sort -u)
		[ -z "$missing" ] && return 0
		local next=
		for d in $debs; do
			for pkg in $(dpkg-deb -f "$d" Depends 2>/dev/null | tr ',' '\n' | sed 's/|.*//; s/(.*//; s/:any//' | tr -d ' '); do
				case $pkg in lib*) ;; *) continue ;; esac
				dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' && continue
				[ -e "$root/.unpacked.$pkg" ] && continue
				p=$(fetch_deb "$pkg") || { echo "FAIL: apt-get download $pkg"; tail -5 "$APTLOG"; return 1; }
				dpkg-deb -x "$p" "$root" || return 1
				touch "$root/.unpacked.$pkg"
				next="$next $p"
			done
		done
		[ -n "$next" ] || break
		debs=$next
	done
	missing=$(LD_LIBRARY_PATH=$(libpath "$root") ldd "$@" 2>/dev/null | awk '/=> not found/ {print $1}' | sort -u)
	[ -z "$missing" ] && return 0
	echo "FAIL: still missing: $missing"
	return 1
}

# stop_pid PID: SIGTERM, wait for the exit (bounded), then SIGKILL (status 1).
stop_pid() {
	local pid=$1
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null
	return 1
}

# mta_cleanup KEEP PID...: the MTA tests' exit trap. Stops the PIDs in order,
# takes the world ($W, $D) down, and removes $TOP unless KEEP is 1.
mta_cleanup() {
	local keep=$1 pid
	shift
	for pid in "$@"; do stop_pid "$pid"; done
	[ -f "$D/ns" ] && "$W" down "$D" >/dev/null 2>&1
	if [ "$keep" = 1 ]; then echo "kept $TOP"; else rm -rf "$TOP"; fi
}
