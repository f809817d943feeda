#!/bin/sh
# dkim-verify.sh TEST_TLSRPT_SEND - the DKIM signatures stsguard makes, checked
# by an independent verifier (python3-dkim, tests/tools/dkim_verify.py):
#  - the unit test signs fresh messages with new RSA and Ed25519 keys and the
#    golden report mail; it writes each message and key (STSGUARD_DKIM_OUT);
#  - each must verify, and a copy with one body byte changed must not;
#  - the committed tests/golden/reports/report-mail.eml verifies with the
#    committed test key.
# Exit 77 (skip) without python3-dkim.
set -eu
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
verify="/usr/bin/python3 $here/../tools/dkim_verify.py"
/usr/bin/python3 -c 'import dkim' 2>/dev/null || { echo "SKIP: python3-dkim missing"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
STSGUARD_DKIM_OUT=$tmp "$bin" >"$tmp/unit.log" 2>&1 || { cat "$tmp/unit.log"; exit 1; }
n=0
for eml in "$tmp"/*.eml; do
	key=${eml%.eml}.pem
	$verify "$eml" "$key"
	# One byte of the report attachment changed: the body hash must no longer match.
	sed 's/^H4sIA/H4sIB/' "$eml" >"$tmp/tampered"
	cmp -s "$eml" "$tmp/tampered" && { echo "tampering changed nothing in $eml"; exit 1; }
	$verify "$tmp/tampered" "$key" --expect-fail
	n=$((n + 1))
done
[ "$n" -eq 3 ] || { echo "expected 3 signed messages (rsa, ed25519, report-mail), got $n"; exit 1; }
$verify "$here/reports/report-mail.eml" "$here/data/dkim-ed25519.pem"
echo "DKIM: $n fresh signatures and the golden mail verified; tampered copies refused"
