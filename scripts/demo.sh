#!/usr/bin/env bash
# demo.sh - see stsguard decide, on a fresh Debian 12 machine, as root.
#
# Installs the build dependencies, builds, starts the test world (a private
# mini-internet in a network namespace: DNSSEC-signed DNS behind a validating
# resolver, HTTPS policy hosts, SMTP receivers), asks `stsguard query` about
# a selection of its domains - good policies, broken ones, DANE - and shows a
# cached answer and what a changed policy id does. Then the real Debian
# Exim 4.96 (fetched with apt-get download, unpacked, never installed) with
# stsguard's module and configuration delivers to enforce, testing, broken
# certificate and no-policy domains (tests/world/test_exim.sh: what happened
# to each message, checked), and the TLS-RPT report of enforce-ok.test that
# would be sent is printed. Tears everything down.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
	echo "demo.sh needs root (network namespaces, apt-get)" >&2
	exit 1
fi
if [ "${SKIP_DEPS:-0}" != 1 ]; then
	scripts/install-deps.sh >/dev/null
fi
cmake --preset release >/dev/null
cmake --build --preset release >/dev/null
S=$PWD/build/release/core/stsguard

TOP=$(mktemp -d /tmp/stsgdemo.XXXXXX)
D=$TOP/w
W=tests/world/world.sh
trap '"$W" down "$D" >/dev/null 2>&1; rm -rf "$TOP"' EXIT
echo "starting the test world..."
"$W" up "$D"

q() { "$W" exec "$D" "$S" query "$@" --direct -c "$D/stsguard.conf"; }
line() {
	printf '%-26s ' "$1"
	{ q "$1" --json || true; } | jq -r '"\(.verdict)\t\(.error // "")\t\(.mode // "")\t\([.mx_hosts[] | "\(.host)=\(if .allowed then "ok" else "DENIED" end)"] | join(" "))"' |
		awk -F'\t' '{printf "%-10s %-26s %-8s %s\n", $1, $2, $3, $4}'
}

echo
echo "== one domain in full"
q enforce-ok.test || true
echo
printf '%-26s %-10s %-26s %-8s %s\n' DOMAIN VERDICT ERROR MODE "MX HOSTS"
for d in enforce-ok.test testing-ok.test none-mode.test no-txt.test two-sts-records.test \
	policy-404.test redirect-301.test text-html.test too-big-chunked.test cert-expired.test \
	cert-wrongname.test cert-untrusted.test dane.test bogus.test wildcard.test two-mx-one-outside.test; do
	line "$d"
done

echo
echo "== the same domain again: answered from the cache"
q enforce-ok.test --json | jq -c '{domain, verdict, source}'
echo "== the domain publishes a new policy id: refetched"
"$W" set-policy "$D" enforce-ok.test testing.txt >/dev/null
"$W" set-txt "$D" enforce-ok.test 'v=STSv1; id=20991231000000;' >/dev/null
q enforce-ok.test --json | jq -c '{domain, verdict, policy_id, source}'
echo "== the TXT record disappears: the cached policy stays in force (RFC 8461 §3.3)"
"$W" del-txt "$D" enforce-ok.test >/dev/null
q enforce-ok.test --json | jq -c '{domain, verdict, policy_id, source}'
echo
echo "demo: the stsguard test world is being torn down."
"$W" down "$D" >/dev/null 2>&1

echo
echo "== a real Exim 4.96 sending through stsguardd: each message's fate, and the TLS-RPT results"
EXIM_TEST_SHOW_REPORT=1 tests/world/test_exim.sh build/release/core/stsguardd build/release/tests/smq \
	build/release/adapters/exim/stsguard.so build/release/core/stsguard
echo
echo "demo done."
