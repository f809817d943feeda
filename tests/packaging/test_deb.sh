#!/bin/sh
# test_deb.sh SRCDIR - the Debian packages: build them once (nocheck: the test
# suite runs separately) from a copy of the tree, check each package's files
# (dpkg -c) and lintian (no error, no warning), install stsguard, run
# stsguardd from the installed files with the default configuration, ask it
# with `stsguard stats`, stop it, and purge the package. Also installs and
# removes stsguard-opensmtpd and stsguard-sendmail, whose MTAs are absent.
# Skips (77) unless root with dpkg-buildpackage, debhelper and lintian;
# fails if a stsguard package is installed already (it would be purged).
set -eu
src=$(cd "$1" && pwd)

[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (dpkg -i)"; exit 77; }
for t in dpkg-buildpackage dh lintian runuser setpriv; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t missing (scripts/install-deps.sh)"; exit 77; }
done
for p in stsguard stsguard-exim stsguard-opensmtpd stsguard-sendmail; do
	if dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q installed; then
		echo "FAIL: $p is installed on this host; this test would purge it" >&2
		exit 1
	fi
done

work=$(mktemp -d /tmp/stsguard-deb.XXXXXX)
daemon_pid=
user_existed=no
getent passwd stsguard >/dev/null && user_existed=yes
cleanup() {
	if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
		kill "$daemon_pid"
		wait "$daemon_pid" 2>/dev/null || true
	fi
	for p in stsguard-opensmtpd stsguard-sendmail stsguard; do
		dpkg-query -W "$p" >/dev/null 2>&1 && dpkg --purge "$p" >/dev/null 2>&1 || true
	done
	# The package leaves the stsguard user behind on purge (Debian practice);
	# a user this test created goes again.
	if [ "$user_existed" = no ] && getent passwd stsguard >/dev/null; then
		deluser --system --quiet stsguard >/dev/null 2>&1 || true
		getent group stsguard >/dev/null && delgroup --system --quiet stsguard >/dev/null 2>&1 || true
	fi
	rm -rf "$work" /run/stsguard
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# ---------------------------------------------------------------- build once
mkdir "$work/src"
if [ -d "$src/.git" ] || [ -f "$src/.git" ]; then
	(cd "$src" && git ls-files -co --exclude-standard -z) | (cd "$src" && tar --null -cf - -T -) | tar -xf - -C "$work/src"
else
	(cd "$src" && tar --exclude=./build -cf - .) | tar -xf - -C "$work/src"
fi
t0=$(date +%s)
(cd "$work/src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1 ||
	{ tail -n 40 "$work/build.log" >&2; fail "dpkg-buildpackage"; }
echo "built in $(( $(date +%s) - t0 )) s"
grep -q 'warning:' "$work/build.log" && { grep 'warning:' "$work/build.log" >&2; fail "compiler warnings in the package build"; }
ver=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
arch=$(dpkg --print-architecture)
deb() { echo "$work/${1}_${ver}_${arch}.deb"; }

# ------------------------------------------------------------ package contents
# has PACKAGE PATH...: each PATH is in the package.
has() {
	pkg=$1; shift
	[ -f "$(deb "$pkg")" ] || fail "$pkg was not built"
	dpkg -c "$(deb "$pkg")" | awk '{print $6}' | sed 's#^\./#/#' >"$work/$pkg.list"
	for f in "$@"; do
		grep -qx "$f" "$work/$pkg.list" || fail "$pkg lacks $f"
	done
}
# hasnt PACKAGE PATTERN: no path of the package matches PATTERN (grep -E).
hasnt() {
	if grep -E "$2" "$work/$1.list"; then fail "$1 ships what it must not: $2"; fi
}
has stsguard /usr/sbin/stsguardd /usr/bin/stsguard /etc/stsguard/stsguard.conf \
	/lib/systemd/system/stsguardd.service /usr/lib/sysusers.d/stsguard.conf \
	/usr/share/man/man1/stsguard.1.gz /usr/share/man/man5/stsguard.conf.5.gz /usr/share/man/man8/stsguardd.8.gz \
	/usr/share/doc/stsguard/copyright /usr/share/doc/stsguard/configuration.md.gz /usr/share/doc/stsguard/install.md.gz
hasnt stsguard 'exim|opensmtpd|milter|\.m4$|/include/|libstsguard|\.pc$'
has stsguard-exim /usr/lib/exim4/stsguard.so /usr/share/stsguard/exim/stsguard-main.conf \
	/usr/share/stsguard/exim/stsguard-routers.conf /usr/share/stsguard/exim/stsguard-transports.conf \
	/usr/share/stsguard/exim/conf.d/router/190_stsguard
hasnt stsguard-exim 'bin/|opensmtpd|sendmail|\.service$'
has stsguard-opensmtpd /usr/libexec/opensmtpd/table-stsguard /usr/libexec/opensmtpd/filter-stsguard \
	/usr/share/stsguard/opensmtpd/smtpd-stsguard.conf
hasnt stsguard-opensmtpd 'bin/|exim|sendmail|\.service$'
has stsguard-sendmail /usr/sbin/stsguard-milter /lib/systemd/system/stsguard-milter.service \
	/usr/share/stsguard/sendmail/stsguard.m4 /usr/share/man/man8/stsguard-milter.8.gz
hasnt stsguard-sendmail 'exim|opensmtpd|stsguardd'
dpkg-deb -f "$(deb stsguard-exim)" Depends | grep -q 'exim4-daemon-heavy' || fail "stsguard-exim does not depend on exim4-daemon-heavy"
echo "package contents: OK"

# -------------------------------------------------------------------- lintian
lintian --fail-on error,warning "$work"/stsguard_"$ver"_"$arch".changes >"$work/lintian.log" 2>&1 ||
	{ cat "$work/lintian.log" >&2; fail "lintian"; }
echo "lintian: no error, no warning"

# ------------------------------------------------- install, run, query, purge
dpkg -i "$(deb stsguard)" >"$work/install.log" 2>&1 || { cat "$work/install.log" >&2; fail "dpkg -i stsguard"; }
getent passwd stsguard >/dev/null || fail "postinst created no stsguard user"
[ "$(stat -c '%U:%G %a' /var/lib/stsguard)" = "stsguard:stsguard 750" ] ||
	fail "/var/lib/stsguard is $(stat -c '%U:%G %a' /var/lib/stsguard)"
/usr/bin/stsguard checkconf >/dev/null || fail "the default configuration does not pass checkconf"

sock=/run/stsguard/stsguardd.sock
if [ "$(ps -o comm= -p 1)" = systemd ] && [ -d /run/systemd/system ]; then
	systemctl restart stsguardd.service || fail "systemctl restart stsguardd"
	daemon_pid=$(systemctl show -p MainPID --value stsguardd.service)
	[ "$daemon_pid" -gt 0 ] || fail "stsguardd.service has no main process"
	under=systemd
else
	# No systemd here: what the unit does, by hand (RuntimeDirectory=, User=).
	install -d -o stsguard -g stsguard -m 0750 /run/stsguard
	# setpriv execs stsguardd itself: $! is the daemon, signals reach it.
	setpriv --reuid=stsguard --regid=stsguard --init-groups --inh-caps=-all \
		/usr/sbin/stsguardd -f 2>"$work/stsguardd.log" &
	daemon_pid=$!
	under=setpriv
fi
i=0
until [ -S "$sock" ]; do
	i=$((i + 1))
	[ $i -le 100 ] || { cat "$work/stsguardd.log" >&2 2>/dev/null || true; fail "no socket $sock after 10 s"; }
	kill -0 "$daemon_pid" 2>/dev/null || { cat "$work/stsguardd.log" >&2; fail "stsguardd exited"; }
	sleep 0.1
done
[ "$(stat -c '%U:%G %a' "$sock")" = "stsguard:stsguard 660" ] || fail "socket is $(stat -c '%U:%G %a' "$sock")"
stats=$(/usr/bin/stsguard stats) || fail "stsguard stats: exit $?"
echo "$stats" | grep -q '"uptime' || fail "stsguard stats printed no uptime: $stats"
# Outside group stsguard, the socket is closed to a user.
rc=0
runuser -u nobody -- /usr/bin/stsguard stats >/dev/null 2>&1 || rc=$?
[ $rc -eq 75 ] || fail "user nobody: stsguard stats exit $rc, want 75 (socket unreachable)"
echo "stsguardd ($under) answers stats: OK"

if [ "$under" = systemd ]; then
	systemctl stop stsguardd.service || fail "systemctl stop"
else
	kill -TERM "$daemon_pid"
	rc=0
	wait "$daemon_pid" || rc=$?
	[ $rc -eq 0 ] || { cat "$work/stsguardd.log" >&2; fail "stsguardd exit $rc after SIGTERM"; }
fi
daemon_pid=
[ ! -e "$sock" ] || fail "the socket outlived stsguardd"

# The adapters without their MTAs: they install, their postinst leaves users alone.
dpkg -i "$(deb stsguard-opensmtpd)" "$(deb stsguard-sendmail)" >"$work/install2.log" 2>&1 ||
	{ cat "$work/install2.log" >&2; fail "dpkg -i stsguard-opensmtpd stsguard-sendmail"; }
[ -x /usr/libexec/opensmtpd/table-stsguard ] && [ -x /usr/sbin/stsguard-milter ] || fail "adapter files missing"
dpkg --purge stsguard-opensmtpd stsguard-sendmail >/dev/null || fail "purge of the adapters"

dpkg --purge stsguard >"$work/purge.log" 2>&1 || { cat "$work/purge.log" >&2; fail "dpkg --purge stsguard"; }
for f in /usr/sbin/stsguardd /usr/bin/stsguard /etc/stsguard /var/lib/stsguard /lib/systemd/system/stsguardd.service; do
	[ ! -e "$f" ] || fail "$f is left after the purge"
done
echo "install, run, purge: OK"
