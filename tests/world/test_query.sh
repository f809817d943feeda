#!/usr/bin/env bash
# test_query.sh STSGUARD - `stsguard query --direct` against the real test
# world (nsd + validating unbound, nginx, SMTP sinks in a namespace): every
# case of the discovery matrix asserts the verdict and the named reason, then
# the cache scenarios of RFC 8461 §3.3/§5.1/§10.2 run against live servers,
# and a kill -9 storm checks the cache always loads. Needs root.
set -uo pipefail
STSGUARD=$(readlink -f "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
W=$HERE/world.sh

if [ "$(id -u)" != 0 ] || ! ip netns list >/dev/null 2>&1; then
	echo "SKIP: needs root and ip netns"
	exit 77
fi

TOP=$(mktemp -d /tmp/stsgq.XXXXXX)
D=$TOP/w
cleanup() { "$W" down "$D" >/dev/null 2>&1; rm -rf "$TOP"; }
trap cleanup EXIT
"$W" up "$D" || { echo "world did not come up"; exit 1; }
CONF=$D/stsguard.conf

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

# q DOMAIN: run the query, JSON in $J, exit status in $RC.
q() {
	J=$("$W" exec "$D" "$STSGUARD" query "$1" --direct --json -c "$CONF" 2>"$TOP/stderr")
	RC=$?
}
field() { printf '%s' "$J" | jq -r "$1"; }
fetches() { grep -c 'GET /.well-known/mta-sts.txt' "$D/log/nginx-access.log"; }

# expect NAME VERDICT ERROR EXIT [SOURCE]
expect() {
	local name=$1 v=$2 e=$3 x=$4 s=${5:-}
	local gv ge gs
	gv=$(field .verdict) ge=$(field '.error // "-"') gs=$(field .source)
	if [ "$gv" = "$v" ] && [ "$ge" = "$e" ] && [ "$RC" = "$x" ] && { [ -z "$s" ] || [ "$gs" = "$s" ]; }; then
		ok "$name: verdict=$gv error=$ge exit=$RC${s:+ source=$gs}"
	else
		bad "$name: got verdict=$gv error=$ge exit=$RC source=$gs; want $v $e $x ${s:-}"
		echo "     $J"
		sed 's/^/     stderr: /' "$TOP/stderr"
	fi
}

echo "--- the discovery matrix"
while read -r domain verdict error rc; do
	q "$domain"
	expect "$domain" "$verdict" "$error" "$rc" fetched
done <<'TABLE'
enforce-ok.test        enforce   -                         0
testing-ok.test        testing   -                         0
none-mode.test         none      -                         0
no-txt.test            no-policy -                         0
two-sts-records.test   no-policy txt-invalid               0
txt-without-id.test    no-policy txt-invalid               0
txt-bad-id.test        no-policy txt-invalid               0
txt-bad-version.test   no-policy -                         0
txt-other-records.test enforce   -                         0
txt-split.test         enforce   -                         0
policy-404.test        no-policy http-status               0
policy-500.test        no-policy http-status               0
redirect-301.test      no-policy http-redirect             0
redirect-302.test      no-policy http-redirect             0
text-html.test         no-policy content-type              0
charset-utf8.test      enforce   -                         0
crlf.test              enforce   -                         0
extra-keys.test        enforce   -                         0
policy-bad-version.test no-policy policy-invalid           0
policy-bad-mode.test   no-policy policy-invalid            0
policy-no-mx.test      no-policy policy-invalid            0
too-big.test           no-policy too-big                   0
too-big-chunked.test   no-policy too-big                   0
hang-after-tls.test    no-policy timeout                   0
no-policy-host.test    no-policy policy-host-not-found     0
cert-untrusted.test    no-policy certificate-not-trusted   0
cert-wrongname.test    no-policy certificate-host-mismatch 0
cert-expired.test      no-policy certificate-expired       0
cert-wildcard.test     enforce   -                         0
dane.test              dane      -                         0
signed-notlsa.test     enforce   -                         0
bogus.test             tempfail  txt-tempfail              75
wildcard.test          enforce   -                         0
two-mx-one-outside.test enforce  -                         0
null-mx.test           enforce   -                         0
TABLE

# The result types of the named reasons (RFC 8460 §4.3).
q cert-expired.test
[ "$(field .result_type)" = sts-webpki-invalid ] && ok "certificate failures are sts-webpki-invalid" \
	|| bad "cert-expired result_type $(field .result_type)"
q policy-404.test
[ "$(field .result_type)" = sts-policy-fetch-error ] && ok "404 is sts-policy-fetch-error" || bad "404 result_type"
q text-html.test
[ "$(field .result_type)" = sts-policy-invalid ] && ok "text/html is sts-policy-invalid" || bad "html result_type"

echo "--- per-MX decisions, DANE, TLS-RPT"
q two-mx-one-outside.test
[ "$(field '[.mx_hosts[] | "\(.host)=\(.allowed)"] | join(",")')" = \
	"mx1.two-mx-one-outside.test=true,mx.outside.test=false" ] && ok "MX outside the policy is denied" \
	|| bad "two-mx-one-outside mx_hosts: $(field .mx_hosts)"
q wildcard.test
[ "$(field '[.mx_hosts[].allowed] | all')" = true ] && ok "*.mx.wildcard.test allows a.mx and b.mx" \
	|| bad "wildcard mx_hosts: $(field .mx_hosts)"
q dane.test
[ "$(field '.mx_hosts[0].dane')" = present ] && ok "DANE: validated TLSA on the MX" || bad "dane: $(field .mx_hosts)"
[ "$(field '.rua | join(" ")')" = "mailto:tlsrpt@reports.test https://reports.test/tlsrpt" ] \
	&& ok "rua from _smtp._tls" || bad "rua: $(field .rua)"
q null-mx.test
[ "$(field '.mx_hosts | length')" = 0 ] && ok "null MX: no implicit MX host" || bad "null-mx hosts: $(field .mx_hosts)"

echo "--- a hung policy host times out and does not hold up other domains"
"$W" exec "$D" "$STSGUARD" query hang.test --direct --json -c "$CONF" >"$TOP/hang.json" 2>&1 &
hang_pid=$!
q enforce-ok.test
if kill -0 "$hang_pid" 2>/dev/null && [ "$(field .verdict)" = enforce ]; then
	ok "enforce-ok.test answered while hang.test was still waiting"
else
	bad "enforce-ok.test was not answered while hang.test hung"
fi
wait "$hang_pid"
J=$(cat "$TOP/hang.json") RC=0
expect "hang.test" no-policy timeout 0

echo "--- cache: hits, id change, TXT removed, failed refetch and backoff, expiry"
# A fresh cache dir for the scenarios (the matrix above filled the first one).
q enforce-ok.test
expect "second query" enforce - 0 cache
n0=$(fetches)
q enforce-ok.test
[ "$(fetches)" = "$n0" ] && ok "cache hit fetches nothing" || bad "cache hit fetched the policy"

"$W" set-policy "$D" enforce-ok.test testing.txt >/dev/null
"$W" set-txt "$D" enforce-ok.test 'v=STSv1; id=20250101000000;' >/dev/null
q enforce-ok.test
expect "id change => refetch" testing - 0 fetched
[ "$(field .policy_id)" = 20250101000000 ] && ok "new policy id recorded" || bad "policy_id $(field .policy_id)"

"$W" del-txt "$D" enforce-ok.test >/dev/null
q enforce-ok.test
expect "TXT removed => cached policy still used" testing - 0 cache

# A failed refetch keeps the cached policy and is not retried during the backoff.
q crlf.test
expect "crlf.test cached" enforce - 0
"$W" set-policy "$D" crlf.test 404 >/dev/null
"$W" set-txt "$D" crlf.test 'v=STSv1; id=20250202000000;' >/dev/null
n0=$(fetches)
q crlf.test
expect "refetch fails => cached policy applies" enforce http-status 0 cache
n1=$(fetches)
[ "$n1" = $((n0 + 1)) ] && ok "one fetch attempted" || bad "fetches $n0 -> $n1"
q crlf.test
expect "within the backoff" enforce http-status 0 cache
case $(field .error_detail) in *"next try in"*) ok "backoff named in error_detail" ;; *) bad "detail: $(field .error_detail)" ;; esac
[ "$(fetches)" = "$n1" ] && ok "no refetch during the 5-minute backoff" || bad "refetched during backoff"

# max_age expiry: a 2-second policy is gone after 3 seconds.
printf 'version: STSv1\nmode: enforce\nmx: mx1.charset-utf8.test\nmax_age: 2\n' >"$TOP/short.txt"
"$W" set-policy "$D" charset-utf8.test "$TOP/short.txt" >/dev/null
"$W" set-txt "$D" charset-utf8.test 'v=STSv1; id=20250303000000;' >/dev/null
q charset-utf8.test
expect "short max_age policy fetched" enforce - 0 fetched
"$W" set-policy "$D" charset-utf8.test 404 >/dev/null
sleep 3
q charset-utf8.test
expect "after max_age the policy is gone" no-policy http-status 0 fetched

echo "--- the cache survives kill -9 at any moment"
domains=$(awk -F'\t' '!/^#/ && NF >= 8 && $2 != "-" && $3 !~ /hang/ {print $1}' "$D/world.tsv")
for round in $(seq 1 25); do
	(for d in $domains; do "$W" exec "$D" "$STSGUARD" query "$d" --direct -c "$CONF" >/dev/null 2>&1; done) 2>/dev/null &
	storm=$!
	sleep "0.$((RANDOM % 9 + 1))"
	pkill -KILL -f -- "--direct -c $CONF" 2>/dev/null # only this world's queries
	kill -KILL "$storm" 2>/dev/null
	wait "$storm" 2>/dev/null
done
# Tear a line by hand too: a partial record without its newline.
printf 'E torn.test 123' >>"$D/cache/cache.journal"
q enforce-ok.test
if [ "$RC" = 0 ] && ! grep -q 'warning' "$TOP/stderr"; then
	ok "cache loads after 25 kill -9 rounds and a torn line"
else
	bad "cache after kill -9: exit $RC $(cat "$TOP/stderr")"
fi
q dane.test
expect "cached entries still answer" dane - 0

echo
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
