#!/bin/sh
# test_rpm.sh SRCDIR - packaging/rpm/stsguard.spec parses (rpmspec -P), makes
# a source RPM (rpmbuild -bs) and binary RPMs (rpmbuild -bb --nodeps --without
# check: the build dependencies are Debian packages here, and the suite runs
# separately), and each RPM holds what the Debian package of the same name
# holds. rpmbuild itself fails on a file CMake installs that no package lists.
# Skips (77) without rpmbuild. Needs no root.
set -eu
src=$(cd "$1" && pwd)
for t in rpmspec rpmbuild rpm; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t missing (apt-get install rpm)"; exit 77; }
done
spec=$src/packaging/rpm/stsguard.spec
work=$(mktemp -d /tmp/stsguard-rpm.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

ver=$(rpmspec -q --qf '%{version}\n' --srpm "$spec") || fail "rpmspec -q"
rpmspec -P "$spec" >"$work/spec.P" || fail "rpmspec -P"
grep -q -- '-DSTSGUARD_TESTS=ON' "$work/spec.P" || fail "the default build does not build the suite for %check"
rpmspec -P --without check "$spec" | grep -q -- '-DSTSGUARD_TESTS=OFF' || fail "--without check still builds the suite"

mkdir -p "$work/top/SOURCES" "$work/stsguard-$ver"
if [ -e "$src/.git" ]; then
	(cd "$src" && git ls-files -co --exclude-standard -z) | (cd "$src" && tar --null -cf - -T -) | tar -xf - -C "$work/stsguard-$ver"
else
	(cd "$src" && tar --exclude=./build -cf - .) | tar -xf - -C "$work/stsguard-$ver"
fi
tar -czf "$work/top/SOURCES/stsguard-$ver.tar.gz" -C "$work" "stsguard-$ver"
rpmb() { rpmbuild --define "_topdir $work/top" "$@"; }
rpmb -bs "$spec" >"$work/bs.log" 2>&1 || { cat "$work/bs.log" >&2; fail "rpmbuild -bs"; }
[ -f "$work/top/SRPMS/stsguard-$ver-1.src.rpm" ] || fail "no source RPM"
t0=$(date +%s)
rpmb --nodeps --without check -bb "$spec" >"$work/bb.log" 2>&1 || { tail -n 40 "$work/bb.log" >&2; fail "rpmbuild -bb"; }
echo "source and binary RPMs built in $(( $(date +%s) - t0 )) s"

# has PACKAGE PATH...: each PATH is in the RPM.
has() {
	pkg=$1; shift
	rpm=$(ls "$work"/top/RPMS/*/"$pkg-$ver"-1.*.rpm 2>/dev/null | head -n 1)
	[ -n "$rpm" ] || fail "$pkg was not built"
	rpm -qpl "$rpm" >"$work/$pkg.list" 2>/dev/null
	for f in "$@"; do
		grep -qx "$f" "$work/$pkg.list" || fail "$pkg lacks $f"
	done
}
has stsguard /usr/sbin/stsguardd /usr/bin/stsguard /etc/stsguard/stsguard.conf /var/lib/stsguard \
	/usr/lib/systemd/system/stsguardd.service /usr/lib/sysusers.d/stsguard.conf \
	/usr/share/man/man1/stsguard.1 /usr/share/man/man5/stsguard.conf.5 /usr/share/man/man8/stsguardd.8
grep -E 'exim|opensmtpd|milter|/include/|libstsguard' "$work/stsguard.list" && fail "stsguard ships an adapter's or the library's files"
has stsguard-exim /usr/lib/exim4/stsguard.so /usr/share/stsguard/exim/stsguard-main.conf \
	/usr/share/stsguard/exim/conf.d/router/190_stsguard
has stsguard-opensmtpd /usr/libexec/opensmtpd/table-stsguard /usr/libexec/opensmtpd/filter-stsguard \
	/usr/share/stsguard/opensmtpd/smtpd-stsguard.conf
has stsguard-sendmail /usr/sbin/stsguard-milter /usr/lib/systemd/system/stsguard-milter.service \
	/usr/share/stsguard/sendmail/stsguard.m4 /usr/share/man/man8/stsguard-milter.8
rpm -qp --scripts "$work"/top/RPMS/*/"stsguard-$ver"-1.*.rpm 2>/dev/null | grep -q 'useradd -r -g stsguard' ||
	fail "stsguard's %pre creates no stsguard user"
echo "RPM contents: OK"
