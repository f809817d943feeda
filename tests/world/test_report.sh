#!/usr/bin/env bash
# test_report.sh STSGUARD TLSRPT_PUT - `stsguard report send` against the
# real test world: results for world domains are stored (tlsrpt_put), then
#  - a dry run with --out builds the reports and mails and sends nothing;
#  - a real pass looks up _smtp._tls through unbound/nsd, POSTs the https
#    rua report through nginx to the collector (checked: POST, Content-Type,
#    gzip JSON), and mails the mailto rua report (report_sendmail =
#    mini-sendmail.py: a small SMTP submission to the MX that DNS names, the
#    smtp-sink of mx.reports.test), parsed back: MIME parts, gzip, JSON, DKIM;
#  - a second pass sends nothing again;
#  - the collector answering 500, then hanging, makes attempts fail and be
#    retried after the backoff (fake clock), until one is accepted; every
#    attempt is in the delivery log.
# Needs root (network namespace); SKIP (77) otherwise or without python3-dkim.
set -uo pipefail
STSGUARD=$(readlink -f "$1")
PUT=$(readlink -f "$2")
HERE=$(cd "$(dirname "$0")" && pwd)
W=$HERE/world.sh

if [ "$(id -u)" != 0 ] || ! ip netns list >/dev/null 2>&1; then
	echo "SKIP: needs root and ip netns"
	exit 77
fi
if ! /usr/bin/python3 -c 'import dkim' 2>/dev/null; then
	echo "SKIP: needs python3-dkim"
	exit 77
fi

TOP=$(mktemp -d /tmp/stsgr.XXXXXX)
D=$TOP/w
cleanup() { "$W" down "$D" >/dev/null 2>&1; rm -rf "$TOP"; }
trap cleanup EXIT
"$W" up "$D" || { echo "world did not come up"; exit 1; }
. "$D/env"

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
check() { # check NAME CMD...: ok when CMD succeeds; its output is shown
	local name=$1
	shift
	if out=$("$@" 2>&1); then
		ok "$name"
		printf '%s\n' "$out" | sed 's/^/     /'
	else
		bad "$name"
		printf '%s\n' "$out" | sed 's/^/     /'
	fi
}

openssl genpkey -algorithm ed25519 -out "$TOP/dkim.pem" 2>/dev/null
CONF=$TOP/report.conf
cat >"$CONF" <<EOF
resolver = 127.0.0.2
ca_file = $WORLD_CA
fetch_timeout = 3
tlsrpt_dir = $TOP/store
report_spool = $TOP/spool
report_organization = World Test Sender
report_contact = tlsrpt@reporter.test
report_submitter = reporter.test
report_from = noreply@reporter.test
dkim_key = $TOP/dkim.pem
report_sendmail = /usr/bin/python3 $HERE/mini-sendmail.py -oi
EOF

DAY1=2026-01-10
DAY2=2026-01-11
S1=$(date -u -d "$DAY1" +%s)
S2=$((S1 + 86400))
POL='4 version:%20STSv1 mode:%20testing mx:%20mx1.DOM max_age:%2086400 1 mx1.DOM'
res() { # res TIME DOMAIN RESULT: one sts result line in the store's encoding
	local p=${POL//DOM/$2}
	echo "v1 $1 sts $2 20240101000000 $3 127.0.0.1 mx1.$2 - 127.0.3.1 - - $p"
}
{
	res $((S1 + 100)) testing-ok.test success
	res $((S1 + 200)) testing-ok.test success
	res $((S1 + 300)) testing-ok.test certificate-expired
	res $((S1 + 400)) enforce-ok.test success
	echo "v1 $((S1 + 500)) no-policy-found no-txt.test - success 127.0.0.1 mx1.no-txt.test - 127.0.3.9 - - 0 0"
	res $((S2 + 100)) testing-ok.test starttls-not-supported
} | "$PUT" "$TOP/store" $((S2 + 3600)) || { echo "tlsrpt_put failed"; exit 1; }

send() { # send NOW ARGS...: one `report send` inside the world; output in $OUT, status in $RC
	local now=$1
	shift
	OUT=$("$W" exec "$D" env STSGUARD_TEST_NOW="$now" "$STSGUARD" report send -c "$CONF" "$@" 2>&1)
	RC=$?
	printf '%s\n' "$OUT" | sed 's/^/     | /'
}
count() { find "$WORLD_REPORTS" -maxdepth 1 -name "$1-*.http" | wc -l; }
mails() { grep -c '^X-Sink-Begin:' "$WORLD_SPOOL/mx.reports.test.mbox" 2>/dev/null || echo 0; }
F1="reporter.test!testing-ok.test!$S1!$((S1 + 86399))"
E1="reporter.test!enforce-ok.test!$S1!$((S1 + 86399))"

echo "--- dry run with --out: everything built, nothing sent or recorded"
NOW1=$((S2 + 600))
send $NOW1 --day $DAY1 --dry-run --out "$TOP/out"
[ "$RC" = 0 ] && ok "dry run exit 0" || bad "dry run exit $RC"
[ -s "$TOP/out/$F1.json.gz" ] && [ -s "$TOP/out/$E1.json.gz" ] && [ -s "$TOP/out/$E1.rua1.eml" ] &&
	ok "dry run wrote both .json.gz and the .eml" || bad "dry run files: $(ls "$TOP/out")"
check "dry run report is gzip JSON for testing-ok.test" \
	sh -c "gzip -dc '$TOP/out/$F1.json.gz' | jq -e '.policies[0].summary == {\"total-successful-session-count\":2,\"total-failure-session-count\":1}'"
[ "$(count report)" = 0 ] && [ "$(mails)" = 0 ] && ok "dry run sent nothing" || bad "dry run sent something"
[ ! -e "$TOP/spool/$DAY1.sent" ] && ok "dry run recorded nothing" || bad "dry run wrote the delivery log"
case $OUT in *"3 domains, 2 reports built"*"1 without TLSRPT record"*) ok "dry run summary" ;;
*) bad "dry run summary" ;; esac

echo "--- real pass: HTTPS to the collector, mail to mx.reports.test"
send $NOW1 --day $DAY1
[ "$RC" = 0 ] && ok "send exit 0" || bad "send exit $RC"
case $OUT in *"2 delivered, 0 failed"*) ok "two deliveries" ;; *) bad "summary: $OUT" ;; esac
[ "$(count report)" = 1 ] && ok "collector received one report" || bad "collector has $(count report) reports"
check "collector's request parses as the report of testing-ok.test" \
	/usr/bin/python3 "$HERE/check_report.py" http "$(ls "$WORLD_REPORTS"/report-*.http | head -1)" testing-ok.test $DAY1
if "$W" wait-mail "$D" mx.reports.test 1 30; then
	ok "report mail arrived at mx.reports.test"
	check "report mail parses back (MIME, gzip, JSON, DKIM)" \
		/usr/bin/python3 "$HERE/check_report.py" mail "$WORLD_SPOOL/mx.reports.test.mbox" enforce-ok.test $DAY1 "$TOP/dkim.pem"
	grep -q '^X-Sink-Mail-From: <noreply@reporter.test>' "$WORLD_SPOOL/mx.reports.test.mbox" &&
		grep -q '^X-Sink-Rcpt-To: <tlsrpt@reports.test>' "$WORLD_SPOOL/mx.reports.test.mbox" &&
		ok "envelope: report_from to the rua address" || bad "envelope of the report mail"
else
	bad "no report mail at mx.reports.test"
fi
[ "$(grep -c ' ok ' "$TOP/spool/$DAY1.sent")" = 2 ] && ok "two deliveries logged" || bad "delivery log: $(cat "$TOP/spool/$DAY1.sent")"

echo "--- a second pass sends nothing again"
send $((NOW1 + 60)) --day $DAY1
[ "$RC" = 0 ] && [ "$(count report)" = 1 ] && [ "$(mails)" = 1 ] && ok "nothing re-sent" || bad "re-sent (rc $RC)"
case $OUT in *"2 already delivered"*) ok "already delivered counted" ;; *) bad "summary: $OUT" ;; esac

echo "--- collector answers 500, then hangs; retried after the backoff"
NOW2=$((S2 + 86400 + 600))
echo 500 >"$WORLD_REPORTS/mode"
send $NOW2 --day $DAY2
[ "$RC" = 75 ] && ok "500: exit 75" || bad "500: exit $RC"
[ "$(count rejected)" = 1 ] && ok "500: one rejected attempt" || bad "500: $(count rejected) rejected"
case $OUT in *"HTTP 500"*"next attempt at $((NOW2 + 300))"*) ok "500: logged, retry in 5 min" ;; *) bad "500 output" ;; esac
send $((NOW2 + 60)) --day $DAY2
[ "$RC" = 0 ] && [ "$(count rejected)" = 1 ] && ok "before the backoff: no attempt" || bad "attempted too early"
echo hang >"$WORLD_REPORTS/mode"
send $((NOW2 + 300)) --day $DAY2
[ "$RC" = 75 ] && [ "$(count hung)" = 1 ] && ok "hang: attempt timed out, exit 75" || bad "hang: exit $RC, $(count hung) hung"
case $OUT in *"next attempt at $((NOW2 + 300 + 600))"*) ok "hang: retry in 10 min" ;; *) bad "hang output" ;; esac
rm -f "$WORLD_REPORTS/mode"
send $((NOW2 + 900)) --day $DAY2
[ "$RC" = 0 ] && ok "third attempt accepted" || bad "third attempt: exit $RC"
latest=$(ls -t "$WORLD_REPORTS"/report-*.http | head -1)
[ "$(count report)" = 2 ] && check "retried report parses" \
	/usr/bin/python3 "$HERE/check_report.py" http "$latest" testing-ok.test $DAY2 || bad "no second report"
log=$TOP/spool/$DAY2.sent
[ "$(grep -c ' fail testing-ok.test https://reports.test/tlsrpt ' "$log")" = 2 ] &&
	[ "$(grep -c ' ok testing-ok.test https://reports.test/tlsrpt ' "$log")" = 1 ] &&
	ok "delivery log: fail, fail, ok" || bad "delivery log: $(cat "$log")"
sed 's/^/     log: /' "$log"

echo "--- report_smtp: the same mail submitted by SMTP (no sendmail binary), to the rua's MX"
MXIP=$(awk -F'\t' '$1 == "mx.reports.test" {print $2}' "$WORLD_HOSTS")
sed -e "s|^report_spool = .*|report_spool = $TOP/spool-smtp|" -e '/^report_sendmail/d' "$CONF" >"$TOP/smtp.conf"
echo "report_smtp = smtp://$MXIP:25" >>"$TOP/smtp.conf"
OUT=$("$W" exec "$D" env STSGUARD_TEST_NOW="$((NOW1 + 120))" "$STSGUARD" report send -c "$TOP/smtp.conf" --day $DAY1 2>&1)
RC=$?
printf '%s\n' "$OUT" | sed 's/^/     | /'
case $OUT in *"enforce-ok.test mailto:tlsrpt@reports.test: ok: accepted"*) ok "submitted by SMTP" ;; *) bad "report_smtp pass: $OUT" ;; esac
if "$W" wait-mail "$D" mx.reports.test 2 30; then
	check "the SMTP-submitted mail parses back (MIME, gzip, JSON, DKIM)" \
		/usr/bin/python3 "$HERE/check_report.py" mail "$WORLD_SPOOL/mx.reports.test.mbox" enforce-ok.test $DAY1 "$TOP/dkim.pem"
else
	bad "no second report mail at mx.reports.test"
fi
"$W" exec "$D" "$STSGUARD" checkconf -c "$TOP/smtp.conf" >/dev/null 2>&1 && ok "checkconf accepts report_smtp" || bad "checkconf"
printf 'report_smtp = smtp://mx.example:25\n' >"$TOP/bad.conf"
"$STSGUARD" checkconf -c "$TOP/bad.conf" >/dev/null 2>&1 && bad "report_smtp with a host name accepted" ||
	ok "report_smtp with a host name is refused (nothing to resolve)"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
