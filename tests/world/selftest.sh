#!/usr/bin/env bash
# tests/world/selftest.sh - bring the test world up, poke it with real clients
# (drill, curl, openssl s_client, a plain SMTP dialogue), change it at run
# time, bring it down and check nothing is left.  A second, small world runs
# at the same time to show that two worlds do not collide.
#
# Exit status 0 only if every check passed.  Last line: "N passed, N failed".
# SELFTEST_KEEP=1 keeps the temporary directories (the worlds are still torn down).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
W="$HERE/world.sh"
T=$(mktemp -d /tmp/stsgw-selftest.XXXXXX)
D1="$T/w1"
D2="$T/w2"
NS2="stsgw-st2-$$"
pass=0
fail=0
t0=$SECONDS

cleanup() {
	local rc=$?
	"$W" down "$D1" >/dev/null 2>&1 || true
	"$W" down "$D2" >/dev/null 2>&1 || true
	if [[ ${SELFTEST_KEEP:-0} == 1 ]]; then
		echo "kept $T"
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() {
	pass=$((pass + 1))
	printf 'ok   %s\n' "$*"
}
bad() {
	fail=$((fail + 1))
	printf 'FAIL %s\n' "$*"
}
check() { # DESC CMD...
	local desc=$1
	shift
	if "$@" >/dev/null 2>&1; then ok "$desc"; else bad "$desc"; fi
}

# ------------------------------------------------------------------ up (two worlds at once)

printf 'small-a.test\tv=STSv1; id=1;\tenforce.txt\tvalid\t10:mx1.small-a.test\tvalid\tsigned\t-\n' >"$T/small.tsv"
"$W" up "$D1" >"$T/up1.log" 2>&1 &
up1=$!
rc2=0
WORLD_NS=$NS2 WORLD_TABLE="$T/small.tsv" "$W" up "$D2" >"$T/up2.log" 2>&1 || rc2=$?
rc1=0
wait "$up1" || rc1=$?
if ((rc1 != 0)); then
	cat "$T/up1.log"
	bad "world 1 up"
	echo "$pass passed, $fail failed"
	exit 1
fi
ok "world 1 up ($(tail -n 1 "$T/up1.log" | sed 's/^world: up: //'))"
if ((rc2 == 0)); then ok "world 2 up at the same time"; else cat "$T/up2.log"; bad "world 2 up"; fi

# shellcheck disable=SC1091
. "$D1/env"
X() { ip netns exec "$WORLD_NS" "$@"; }  # in the namespace, no resolver needed
WX() { "$W" exec "$D1" "$@"; }           # in the namespace, names resolve via unbound

check "env: WORLD_DIR/WORLD_CA/WORLD_RESOLVER" test "$WORLD_DIR" = "$D1" -a "$WORLD_CA" = "$D1/ca/ca.pem" -a "$WORLD_RESOLVER" = 127.0.0.2 -a "$WORLD_AUTH" = 127.0.1.1
conf_ok() {
	local l
	for l in "resolver = 127.0.0.2" "ca_file = $D1/ca/ca.pem" "cache_dir = $D1/cache" "fetch_timeout = 3"; do
		grep -qxF "$l" "$D1/stsguard.conf" || return 1
	done
}
check "stsguard.conf has resolver/ca_file/cache_dir/fetch_timeout" conf_ok
check "status: every recorded process alive" "$W" status "$D1"
check "readiness probes left no sink session log" test -z "$(cat "$D1"/spool/*.log 2>/dev/null)"

# ------------------------------------------------------------------ DNS

dq() { X drill "$@" 2>/dev/null || true; }
rcode() { dq "@$WORLD_RESOLVER" "$@" | sed -n 's/.*rcode: \([A-Z]*\).*/\1/p'; }
answer() { dq "@$WORLD_RESOLVER" "$@" | awk '/^;; ANSWER SECTION/ {a = 1; next} /^;;/ {a = 0} a && NF'; }
adflag() { dq -D "@$WORLD_RESOLVER" "$@" | grep -q 'flags:.* ad[ ;]'; }

t=$(answer _mta-sts.enforce-ok.test TXT)
check "TXT _mta-sts.enforce-ok.test" grep -qF '"v=STSv1; id=20240101000000;"' <<<"$t"
check "TXT _mta-sts.two-sts-records.test has 2 records" test "$(answer _mta-sts.two-sts-records.test TXT | grep -c 'IN[[:space:]]TXT')" = 2
check "TXT _mta-sts.txt-split.test is one record of two strings" grep -qF '"v=STSv1; " "id=20240101000000;"' <<<"$(answer _mta-sts.txt-split.test TXT)"
check "TXT _mta-sts.txt-without-id.test" grep -qF '"v=STSv1;"' <<<"$(answer _mta-sts.txt-without-id.test TXT)"
check "NXDOMAIN _mta-sts.no-txt.test" test "$(rcode _mta-sts.no-txt.test TXT)" = NXDOMAIN
check "NXDOMAIN mta-sts.no-policy-host.test" test "$(rcode mta-sts.no-policy-host.test A)" = NXDOMAIN
check "TLSRPT TXT _smtp._tls.enforce-ok.test" grep -qF 'v=TLSRPTv1; rua=mailto:tlsrpt@reports.test' <<<"$(answer _smtp._tls.enforce-ok.test TXT)"
check "MX enforce-ok.test has 2 hosts" test "$(answer enforce-ok.test MX | grep -c 'IN[[:space:]]MX')" = 2
check "A mta-sts.enforce-ok.test = 127.0.2.1" grep -q '127\.0\.2\.1$' <<<"$(answer mta-sts.enforce-ok.test A)"
check "A mta-sts.hang.test = 127.0.2.2" grep -q '127\.0\.2\.2$' <<<"$(answer mta-sts.hang.test A)"
check "A mx1.enforce-ok.test = 127.0.3.1" grep -q '127\.0\.3\.1$' <<<"$(answer mx1.enforce-ok.test A)"
check "A mx.outside.test (MX host outside the domain) resolves" grep -q '127\.0\.3\.' <<<"$(answer mx.outside.test A)"
check "A a.mx.wildcard.test resolves" grep -q '127\.0\.3\.' <<<"$(answer a.mx.wildcard.test A)"
check "null MX for null-mx.test" grep -q 'MX[[:space:]]0 \.$' <<<"$(answer null-mx.test MX)"
check "AD bit on TLSA _25._tcp.mx1.dane.test" adflag _25._tcp.mx1.dane.test TLSA
check "AD bit on TXT _mta-sts.dane.test" adflag _mta-sts.dane.test TXT
check "no AD bit for unsigned enforce-ok.test (insecure, not bogus)" \
	eval '! adflag _mta-sts.enforce-ok.test TXT && test "$(rcode _mta-sts.enforce-ok.test TXT)" = NOERROR'
check "no TLSA for unsigned domain" test -z "$(answer _25._tcp.mx1.enforce-ok.test TLSA)"
check "signed-notlsa.test: TLSA securely denied (AD + NXDOMAIN)" \
	eval 'adflag _25._tcp.mx1.signed-notlsa.test TLSA && test "$(rcode _25._tcp.mx1.signed-notlsa.test TLSA)" = NXDOMAIN'
check "SERVFAIL for bogus.test" test "$(rcode _mta-sts.bogus.test TXT)" = SERVFAIL
check "nsd answers authoritatively (aa) on 127.0.1.1" grep -q 'flags: qr aa' <<<"$(dq "@$WORLD_AUTH" _mta-sts.enforce-ok.test TXT)"
check "outside names: NXDOMAIN from the fake root, nothing leaves" test "$(rcode example.com A)" = NXDOMAIN
check "world.sh exec: libc resolver uses the world (getent)" grep -q '^127\.0\.2\.1 ' <<<"$(WX getent hosts mta-sts.enforce-ok.test)"

# TLSA must match the certificate the MX really serves
spki() { openssl x509 -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1; }
served=$(WX openssl s_client -starttls smtp -connect mx1.dane.test:25 -servername mx1.dane.test </dev/null 2>/dev/null | spki || true)
tlsa=$(answer _25._tcp.mx1.dane.test TLSA | awk '$4 == "TLSA" {print $8}')
check "TLSA 3 1 1 of mx1.dane.test matches its served certificate" test -n "$served" -a "$served" = "$tlsa"
served=$(WX openssl s_client -starttls smtp -connect mx1.dane-bad-tlsa.test:25 -servername mx1.dane-bad-tlsa.test </dev/null 2>/dev/null | spki || true)
tlsa=$(answer _25._tcp.mx1.dane-bad-tlsa.test TLSA | awk '$4 == "TLSA" {print $8}')
check "TLSA of mx1.dane-bad-tlsa.test does NOT match" test -n "$served" -a -n "$tlsa" -a "$served" != "$tlsa"

# ------------------------------------------------------------------ HTTPS

FRC=0
fetch() { # DOMAIN [curl args...] -> $T/h (headers), $T/b (body), FRC
	local d=$1
	shift
	rm -f "$T/h" "$T/b"
	FRC=0
	WX curl -sS --max-time 3 --cacert "$WORLD_CA" -D "$T/h" -o "$T/b" "$@" \
		"https://mta-sts.$d/.well-known/mta-sts.txt" 2>"$T/curl.err" || FRC=$?
}
status() { tr -d '\r' <"$T/h" | awk '/^HTTP\// {s = $2} END {print s}'; } # of the last response
hdr() { tr -d '\r' <"$T/h" | grep -i "^$1:" | head -n 1 | cut -d' ' -f2-; }
bodysize() { wc -c <"$T/b"; }

fetch enforce-ok.test
check "https enforce-ok: 200 text/plain with Content-Length" test "$FRC" = 0 -a "$(status)" = 200 -a "$(hdr Content-Type)" = text/plain -a -n "$(hdr Content-Length)"
check "https enforce-ok: policy body" grep -qx 'mx: mx1.enforce-ok.test' "$T/b"
fetch policy-404.test
check "https policy-404: 404" test "$FRC" = 0 -a "$(status)" = 404
fetch policy-500.test
check "https policy-500: 500" test "$FRC" = 0 -a "$(status)" = 500
fetch redirect-301.test
check "https redirect-301: 301 with Location" test "$(status)" = 301 -a -n "$(hdr Location)"
fetch redirect-302.test
check "https redirect-302: 302 with Location" test "$(status)" = 302 -a -n "$(hdr Location)"
fetch redirect-301.test -L
check "redirect target serves a valid policy (a client must still not follow)" test "$(status)" = 200
fetch text-html.test
check "https text-html: 200 text/html" test "$(status)" = 200 -a "$(hdr Content-Type)" = text/html
fetch charset-utf8.test
check "https charset-utf8: text/plain; charset=utf-8" test "$(hdr Content-Type)" = "text/plain; charset=utf-8"
fetch crlf.test
check "https crlf: body has CRLF line ends" grep -q $'mode: enforce\r$' "$T/b"
fetch too-big.test
check "https too-big: Content-Length > 65536" test "$(status)" = 200 -a "$(hdr Content-Length)" -gt 65536
fetch too-big-chunked.test
check "https too-big-chunked: chunked, no Content-Length, body > 65536" \
	test "$(status)" = 200 -a -z "$(hdr Content-Length)" -a "$(hdr Transfer-Encoding)" = chunked -a "$(bodysize)" -gt 65536
fetch cert-untrusted.test
check "https cert-untrusted: verification fails (curl 60)" test "$FRC" = 60
fetch cert-wrongname.test
check "https cert-wrongname: verification fails (curl 60)" test "$FRC" = 60
fetch cert-expired.test
check "https cert-expired: verification fails (curl 60)" test "$FRC" = 60
check "cert-expired really is expired" grep -q 'expired' "$T/curl.err"
fetch cert-expired.test -k
check "cert-expired with -k serves the policy (only the cert is wrong)" test "$(status)" = 200
fetch cert-wildcard.test
check "https cert-wildcard: *.domain certificate accepted" test "$FRC" = 0 -a "$(status)" = 200
fetch hang.test --max-time 1
check "https hang: times out (curl 28)" test "$FRC" = 28
fetch hang-after-tls.test --max-time 1
check "https hang-after-tls: TLS ok, then times out (curl 28)" test "$FRC" = 28 -a -z "$(grep -i 'ssl\|certificate' "$T/curl.err")"
check "no SNI: default server answers 421" test "$(X curl -sk -o /dev/null -w '%{http_code}' "https://$WORLD_HTTPS/.well-known/mta-sts.txt")" = 421
check "TLS-RPT https collector stores a POST" \
	WX curl -sS --max-time 3 --cacert "$WORLD_CA" -H 'Content-Type: application/tlsrpt+json' --data-binary '{"report-id":"selftest"}' https://reports.test/tlsrpt
check "collected report on disk" grep -qF '"report-id":"selftest"' "$WORLD_REPORTS"/report-*.http

# ------------------------------------------------------------------ SMTP

sclient() { # HOST [args...]: STARTTLS handshake with verification against the world CA
	local h=$1
	shift
	WX openssl s_client -starttls smtp -connect "$h:25" -servername "$h" -CAfile "$WORLD_CA" \
		-verify_return_error -verify_hostname "$h" "$@" </dev/null
}
check "STARTTLS mx1.enforce-ok.test verifies" grep -q 'Verification: OK' <<<"$(sclient mx1.enforce-ok.test -brief 2>&1)"
check "STARTTLS mx1.mx-wildcard-cert.test verifies (wildcard cert)" grep -q 'Verification: OK' <<<"$(sclient mx1.mx-wildcard-cert.test -brief 2>&1)"
check "STARTTLS mx1.mx-selfsigned.test fails verification" eval '! sclient mx1.mx-selfsigned.test'
check "STARTTLS mx1.mx-wrongname.test fails verification" eval '! sclient mx1.mx-wrongname.test'
check "STARTTLS mx1.mx-expired.test fails verification" eval '! sclient mx1.mx-expired.test'
check "STARTTLS mx1.mx-mixed.test (=expired override) fails, mx2 verifies" eval '! sclient mx1.mx-mixed.test && sclient mx2.mx-mixed.test'
sleep 0.2
check "sink session log records the client's handshake failure" grep -q 'tls=failed' "$WORLD_SPOOL/mx1.mx-selfsigned.test.log"

# full transaction over STARTTLS
printf 'EHLO client.test\nMAIL FROM:<sender@client.test>\nRCPT TO:<rcpt1@enforce-ok.test>\nRCPT TO:<rcpt2@enforce-ok.test>\nDATA\nSubject: selftest tls\n\nhello over TLS\n..leading dot\n.\nQUIT\n' |
	WX openssl s_client -quiet -crlf -ign_eof -starttls smtp -connect mx1.enforce-ok.test:25 \
		-servername mx1.enforce-ok.test -CAfile "$WORLD_CA" -verify_return_error >"$T/smtp.out" 2>&1 || true
check "SMTP over TLS: 250 after DATA" grep -q '^250 2.0.0 OK queued' "$T/smtp.out"
mb="$WORLD_SPOOL/mx1.enforce-ok.test.mbox"
check "spool: message landed with TLSv1.3" grep -qx 'X-Sink-TLS: TLSv1.3' "$mb"
check "spool: SNI recorded" grep -qx 'X-Sink-SNI: mx1.enforce-ok.test' "$mb"
check "spool: envelope recorded" eval "grep -qx 'X-Sink-Mail-From: <sender@client.test>' '$mb' && test \$(grep -c '^X-Sink-Rcpt-To:' '$mb') = 2"
check "spool: body dot-unstuffed" grep -qxF '.leading dot' "$mb"
check "session log: quit after 1 message" grep -q 'tls=TLSv1.3 .* msgs=1 end=quit' "$WORLD_SPOOL/mx1.enforce-ok.test.log"

# plain SMTP dialogue (nostarttls receiver)
SMTP_PLAIN='
exec 3<>"/dev/tcp/$1/25" || exit 1
resp() { local l; while read -r -t 5 l <&3; do l=${l%$'"'"'\r'"'"'}; echo "S: $l"; [[ ${l:3:1} == "-" ]] || return 0; done; return 1; }
cmd() { printf "%s\r\n" "$1" >&3; echo "C: $1"; resp; }
resp
cmd "EHLO plain.test"
cmd "STARTTLS"
cmd "MAIL FROM:<p@plain.test>"
cmd "RCPT TO:<r@mx-nostarttls.test>"
cmd "DATA"
printf "Subject: plain\r\n\r\nno tls here\r\n.\r\n" >&3; resp
cmd "QUIT"
'
ip_nostarttls=$(awk -F'\t' '$1 == "mx1.mx-nostarttls.test" {print $2}' "$WORLD_HOSTS")
X bash -c "$SMTP_PLAIN" _ "$ip_nostarttls" >"$T/plain.out" 2>&1 || true
check "nostarttls: EHLO does not offer STARTTLS" eval '! grep -q "S: 250-STARTTLS" "$T/plain.out"'
check "nostarttls: STARTTLS refused with 502" grep -q '^S: 502' "$T/plain.out"
check "nostarttls: plain message in spool with X-Sink-TLS: none" grep -qx 'X-Sink-TLS: none' "$WORLD_SPOOL/mx1.mx-nostarttls.test.mbox"
ip_nolisten=$(awk -F'\t' '$1 == "mx1.mx-nolisten.test" {print $2}' "$WORLD_HOSTS")
check "nolisten: connection refused" eval "! X bash -c 'exec 3<>/dev/tcp/$ip_nolisten/25' 2>/dev/null"

# ------------------------------------------------------------------ run-time changes

"$W" set-txt "$D1" enforce-ok.test 'v=STSv1; id=20250202000000;' || true
check "set-txt: resolver sees the new id at once" grep -qF 'id=20250202000000;' <<<"$(answer _mta-sts.enforce-ok.test TXT)"
"$W" del-txt "$D1" enforce-ok.test || true
check "del-txt: NXDOMAIN" test "$(rcode _mta-sts.enforce-ok.test TXT)" = NXDOMAIN
"$W" set-txt "$D1" enforce-ok.test 'v=STSv1; id=20250303000000;' || true
check "set-txt after del-txt: answer again" grep -qF 'id=20250303000000;' <<<"$(answer _mta-sts.enforce-ok.test TXT)"
"$W" set-txt "$D1" dane.test 'v=STSv1; id=20250404000000;' || true
check "set-txt on a signed zone: re-signed, still AD" eval 'adflag _mta-sts.dane.test TXT && answer _mta-sts.dane.test TXT | grep -qF id=20250404000000'
"$W" set-policy "$D1" enforce-ok.test enforce-v2.txt || true
fetch enforce-ok.test
check "set-policy FILE: new body served" grep -qx 'max_age: 86400' "$T/b"
"$W" set-policy "$D1" enforce-ok.test 404 || true
fetch enforce-ok.test
check "set-policy 404: now 404" test "$(status)" = 404
printf 'version: STSv1\nmode: testing\nmx: *.@DOMAIN@\nmax_age: 3600\n' >"$T/custom.txt"
"$W" set-policy "$D1" enforce-ok.test "$T/custom.txt" || true
fetch enforce-ok.test
check "set-policy PATH: served with @DOMAIN@ replaced" grep -qx 'mx: \*.enforce-ok.test' "$T/b"
"$W" set-policy "$D1" enforce-ok.test - || true
check "set-policy -: mta-sts host gone from DNS" test "$(rcode mta-sts.enforce-ok.test A)" = NXDOMAIN
"$W" set-policy "$D1" enforce-ok.test enforce.txt || true
fetch enforce-ok.test
check "set-policy back to enforce.txt" test "$(status)" = 200 -a -n "$(grep -x 'max_age: 604800' "$T/b")"
check "after the run-time changes the zone still has its MX hosts" grep -q '127\.0\.3\.1$' <<<"$(answer mx1.enforce-ok.test A)"
check "after the run-time changes the zone still has MX and TLSRPT" eval 'test "$(answer enforce-ok.test MX | grep -c "IN[[:space:]]MX")" = 2 && answer _smtp._tls.enforce-ok.test TXT | grep -q TLSRPTv1'
check "signed zone after set-txt still has its TLSA (AD)" adflag _25._tcp.mx1.dane.test TLSA
spid=$("$W" spawn "$D1" sleeper sleep 300)
check "spawn: process runs inside the namespace" test "$(readlink "/proc/$spid/ns/net")" = "$(X readlink /proc/self/ns/net)"

# ------------------------------------------------------------------ the second world is separate

if ((rc2 == 0)); then
	# shellcheck disable=SC1091
	NS2real=$(. "$D2/env" && echo "$WORLD_NS")
	X2() { ip netns exec "$NS2real" "$@"; }
	check "world 2 runs in its own namespace $NS2" test "$NS2real" = "$NS2"
	check "world 2: its own domain resolves (AD)" eval 'X2 drill -D @127.0.0.2 _mta-sts.small-a.test TXT | grep -q "flags:.* ad[ ;]"'
	check "world 2: world 1's domains do not exist there" eval 'X2 drill @127.0.0.2 _mta-sts.enforce-ok.test TXT | grep -q NXDOMAIN'
	"$W" set-txt "$D2" small-a.test 'v=STSv1; id=777;' || true
	check "world 1 unaffected by changes in world 2" eval '! answer _mta-sts.small-a.test TXT | grep -q 777'
	"$W" down "$D2" || true
	dead=1
	while read -r _ p _; do kill -0 "$p" 2>/dev/null && dead=0; done <"$D2/pids"
	check "world 2 down: its PIDs are gone" test "$dead" = 1
	check "world 1 still serving after world 2 went down" test "$(rcode _mta-sts.enforce-ok.test TXT)" = NOERROR
fi

# ------------------------------------------------------------------ down

"$W" down "$D1" || true
alive=
while read -r name p _; do kill -0 "$p" 2>/dev/null && alive+=" $name:$p"; done <"$D1/pids"
check "down: no recorded PID alive${alive:+ (alive:$alive)}" test -z "$alive"
check "down: spawned process killed" eval "! kill -0 $spid 2>/dev/null"
check "down: namespace $WORLD_NS gone" eval "! ip netns list | awk '{print \$1}' | grep -qxF '$WORLD_NS'"
check "down: namespace $NS2 gone" eval "! ip netns list | awk '{print \$1}' | grep -qxF '$NS2'"
check "down: no process mentions the world dir" test -z "$(pgrep -f "$T/" || true)"
check "down is idempotent" "$W" down "$D1"

echo "selftest took $((SECONDS - t0))s"
echo "$pass passed, $fail failed"
((fail == 0))
