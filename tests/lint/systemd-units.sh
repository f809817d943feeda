#!/bin/sh
# systemd-units.sh SRCDIR STSGUARDD STSGUARD [STSGUARD_MILTER] - the units in
# packaging/systemd pass `systemd-analyze verify` (pointed at the binaries just
# built) and keep their sandbox: `systemd-analyze security` must rate each at
# most MAX_EXPOSURE (docs/install.md records the scores). Skips (77) without
# systemd-analyze. Needs no running systemd.
set -eu
src=$1 daemon=$2 cli=$3 milter=${4:-}
MAX_EXPOSURE=${MAX_EXPOSURE:-1.5}
command -v systemd-analyze >/dev/null 2>&1 || { echo "SKIP: no systemd-analyze"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
units="stsguardd.service"
[ -n "$milter" ] && units="$units stsguard-milter.service"
for u in $units; do
	sed -e "s#/usr/sbin/stsguardd #$daemon #" -e "s#/usr/bin/stsguard #$cli #" \
	    -e "s#/usr/sbin/stsguard-milter #$milter #" "$src/packaging/systemd/$u" >"$work/$u"
	if grep -q '/usr/s\?bin/stsguard' "$work/$u"; then
		echo "$u: an Exec line names a binary this test does not know" >&2
		exit 1
	fi
done
rc=0
# verify prints its complaints on stderr and may still exit 0: any output fails.
(cd "$work" && systemd-analyze verify --man=no $(for u in $units; do echo "./$u"; done)) >"$work/verify.log" 2>&1 || rc=1
if [ -s "$work/verify.log" ]; then
	cat "$work/verify.log" >&2
	rc=1
fi
for u in $units; do
	score=$(cd "$work" && systemd-analyze security --offline=true "./$u" 2>/dev/null |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) .*/\1/p')
	[ -n "$score" ] || { echo "$u: no exposure score from systemd-analyze security" >&2; rc=1; continue; }
	echo "$u: exposure $score"
	if [ "$(echo "$score $MAX_EXPOSURE" | awk '{print ($1 <= $2)}')" != 1 ]; then
		echo "$u: exposure $score is above $MAX_EXPOSURE: the sandbox was weakened" >&2
		rc=1
	fi
done
exit $rc
