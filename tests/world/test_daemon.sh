#!/usr/bin/env bash
# test_daemon.sh STSGUARDD STSGUARD SMQ - stsguardd against the real test
# world, through its socket, as Sendmail, Postfix (postmap, when the Debian
# package can be fetched) and our adapters would ask: the discovery matrix
# on every map, one fetch for 50 simultaneous lookups, a hung policy host
# not delaying others, ordered pipelined replies, hostile input, the admin
# maps and CLI, SIGHUP, kill -9 under load with a restart, and SIGTERM.
# VALGRIND=1 runs the daemon under valgrind and fails on any leak or error.
set -uo pipefail
STSGUARDD=$(readlink -f "$1")
STSGUARD=$(readlink -f "$2")
SMQ=$(readlink -f "$3")
HERE=$(cd "$(dirname "$0")" && pwd)
W=$HERE/world.sh
VALGRIND=${VALGRIND:-0}

if [ "$(id -u)" != 0 ] || ! ip netns list >/dev/null 2>&1; then
	echo "SKIP: needs root and ip netns"
	exit 77
fi

TOP=$(mktemp -d /tmp/stsgd.XXXXXX)
D=$TOP/w
DPID=
cleanup() {
	[ -n "$DPID" ] && kill -TERM "$DPID" 2>/dev/null && sleep 1
	"$W" down "$D" >/dev/null 2>&1
	rm -rf "$TOP"
}
trap cleanup EXIT
"$W" up "$D" || { echo "world did not come up"; exit 1; }
. "$D/env"

SOCK=$D/run/stsguardd.sock
PORT=8461
CONF=$D/stsguardd.conf
. "$HERE/daemon-lib.sh"
daemon_conf "$CONF" "$SOCK" "$PORT" 2
DGRAM=$D/run/tlsrpt.sock
echo "tlsrpt_socket = $DGRAM" >>"$CONF"
cat >>"$CONF" <<REPCONF
report_organization = stsguard test world
report_contact = tlsrpt@sender.test
report_submitter = sender.test
report_from = tlsrpt@sender.test
report_spool = $D/dcache/sent
report_spread = 0
REPCONF

start_daemon() {
	local vg=()
	[ "$VALGRIND" = 1 ] && vg=(valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect
		--errors-for-leak-kinds=definite,indirect --log-file="$D/valgrind.%p.log")
	spawn_daemon "$CONF" "$SOCK" "${vg[@]}"
}
# ask MAP KEY [ENDPOINT]: the reply payload
ask() { x "$SMQ" -t 10 "${3:-unix:$SOCK}" "$1" "$2"; }
fetches() { grep -c 'GET /.well-known/mta-sts.txt' "$D/log/nginx-access.log"; }

start_daemon || exit 1

echo "--- the discovery matrix through the policy map"
while read -r domain verdict; do
	r=$(ask policy "$domain")
	v=$(printf '%s' "$r" | sed -n 's/.* verdict=\([a-z-]*\).*/\1/p')
	[ "$v" = "$verdict" ] && ok "policy $domain: verdict=$v" || bad "policy $domain: got '$r', want verdict=$verdict"
done <<'TABLE'
enforce-ok.test enforce
testing-ok.test testing
none-mode.test none
no-txt.test no-policy
two-sts-records.test no-policy
txt-without-id.test no-policy
txt-other-records.test enforce
txt-split.test enforce
policy-404.test no-policy
redirect-301.test no-policy
text-html.test no-policy
too-big.test no-policy
too-big-chunked.test no-policy
cert-untrusted.test no-policy
cert-wrongname.test no-policy
cert-expired.test no-policy
cert-wildcard.test enforce
dane.test dane
signed-notlsa.test enforce
bogus.test tempfail
wildcard.test enforce
two-mx-one-outside.test enforce
crlf.test enforce
charset-utf8.test enforce
TABLE
r=$(ask policy cert-expired.test)
case $r in *" error=certificate-expired"*) ok "policy map names the failure: $r" ;; *) bad "cert-expired: $r" ;; esac

echo "--- Sendmail's sts map and Postfix's maps"
expect_reply "sts enforce" "$(ask sts enforce-ok.test)" "OK secure match=mx1.enforce-ok.test:mx2.enforce-ok.test servername=hostname"
expect_reply "sts wildcard as .parent" "$(ask sts wildcard.test)" "OK secure match=.mx.wildcard.test servername=hostname"
expect_reply "sts testing" "$(ask sts testing-ok.test)" "NOTFOUND "
expect_reply "sts no policy" "$(ask sts no-txt.test)" "NOTFOUND "
expect_reply "sts none" "$(ask sts none-mode.test)" "NOTFOUND "
expect_reply "postfix enforce" "$(ask postfix enforce-ok.test)" "OK secure match=mx1.enforce-ok.test:mx2.enforce-ok.test servername=hostname"
expect_reply "postfix key case and dot folded" "$(ask postfix ENFORCE-OK.Test.)" "OK secure match=mx1.enforce-ok.test:mx2.enforce-ok.test servername=hostname"
expect_reply "postfix .parent probe" "$(ask postfix .test)" "NOTFOUND "
expect_reply "postfix [ip] next-hop" "$(ask postfix '[127.0.3.1]')" "NOTFOUND "
expect_reply "postfix testing" "$(ask postfix testing-ok.test)" "NOTFOUND "
r=$(ask postfix dane.test)
case $r in "OK dane"*) ok "postfix DANE domain: $r" ;; *) bad "postfix dane.test: $r" ;; esac
r=$(ask postfix-tlsrpt enforce-ok.test)
case $r in "OK secure match=mx1.enforce-ok.test:mx2.enforce-ok.test servername=hostname policy_type=sts policy_domain=enforce-ok.test"*) ok "postfix-tlsrpt enforce: ${r:0:120}..." ;; *) bad "postfix-tlsrpt: $r" ;; esac
expect_reply "same answers over TCP" "$(ask sts enforce-ok.test "inet:127.0.0.1:$PORT")" "OK secure match=mx1.enforce-ok.test:mx2.enforce-ok.test servername=hostname"
expect_reply "prefetch of a cached domain" "$(ask prefetch enforce-ok.test)" "OK cached"
expect_reply "prefetch of a new domain" "$(ask prefetch mx-mixed.test)" "OK queued"

echo "--- one fetch for 50 simultaneous lookups of a new domain"
sleep 2 # let the prefetch above finish: the access log counts every host
n0=$(fetches)
for i in $(seq 1 50); do x "$SMQ" -t 10 "unix:$SOCK" postfix extra-keys.test >"$TOP/c$i" 2>&1 & done
wait
n1=$(fetches)
same=$(cat "$TOP"/c* | sort | uniq -c | wc -l)
[ "$((n1 - n0))" = 1 ] && ok "50 lookups caused 1 HTTPS fetch" || bad "50 lookups caused $((n1 - n0)) fetches"
[ "$same" = 1 ] && ok "all 50 got the same answer: $(head -1 "$TOP/c1")" || bad "answers differ: $(sort "$TOP"/c* | uniq -c)"

echo "--- a hung policy host delays no other domain; pipelined replies stay in order"
x "$SMQ" -t 10 "unix:$SOCK" postfix hang.test >"$TOP/hang" 2>&1 &
hp=$!
sleep 0.2
r=$(ask postfix crlf.test)
if kill -0 "$hp" 2>/dev/null; then ok "crlf.test answered while hang.test waited ($r)"; else bad "hang.test answered before crlf.test"; fi
wait "$hp"
expect_reply "hang.test after the deadline: no policy yet" "$(cat "$TOP/hang")" "NOTFOUND "
r=$(x "$SMQ" -p -t 10 "unix:$SOCK" postfix hang-after-tls.test postfix enforce-ok.test sts no-txt.test | tr '\n' '|')
expect_reply "pipelined: order kept behind a slow one" "$r" "NOTFOUND |OK secure match=mx1.enforce-ok.test:mx2.enforce-ok.test servername=hostname|NOTFOUND |"

echo "--- hostile input: a clear error or a closed connection, never a crash"
raw() { printf '%b' "$1" | x "$SMQ" -r -t 15 "unix:$SOCK"; }
r=$(raw '2000:'); case $r in *"PERM request too large"*) ok "oversized netstring: PERM and close" ;; *) bad "oversized: $r" ;; esac
r=$(raw 'hello'); case $r in *PERM*) ok "not a netstring: $r" ;; *) bad "garbage: '$r'" ;; esac
r=$(raw '12:postfix \xc3\xa9.test,'); case $r in *PERM*) ok "non-ASCII key: $r" ;; *) bad "non-ASCII: '$r'" ;; esac
label=$(printf 'a%.0s' $(seq 1 300))
r=$(ask postfix "$label.test"); case $r in PERM*) ok "300-byte label: ${r:0:60}" ;; *) bad "300-byte label: $r" ;; esac
r=$(ask nosuchmap enforce-ok.test); case $r in PERM*) ok "unknown map: $r" ;; *) bad "unknown map: $r" ;; esac
r=$(ask stats x "inet:127.0.0.1:$PORT"); case $r in PERM*) ok "admin maps refused over TCP: $r" ;; *) bad "admin over TCP: $r" ;; esac
# slowloris: a partial request is dropped after 10 s; the daemon keeps serving meanwhile
( printf '40:postfix enf' ; sleep 13 ) | x "$SMQ" -r -t 20 "unix:$SOCK" >"$TOP/slow" 2>&1 &
sp=$!
sleep 1
expect_reply "served while a slow client dawdles" "$(ask sts enforce-ok.test)" "OK secure match=mx1.enforce-ok.test:mx2.enforce-ok.test servername=hostname"
wait "$sp"
r=$(x "$STSGUARD" stats -s "$SOCK" | jq .clients)
ok "slow client handled (clients now $r)"
# a burst of concurrent clients
for i in $(seq 1 300); do x "$SMQ" -t 10 "unix:$SOCK" sts enforce-ok.test >/dev/null 2>&1 & done
wait
expect_reply "alive after 300 concurrent clients" "$(ask sts enforce-ok.test)" "OK secure match=mx1.enforce-ok.test:mx2.enforce-ok.test servername=hostname"

echo "--- admin maps through the CLI"
r=$(x "$STSGUARD" query enforce-ok.test --json -s "$SOCK" | jq -r .verdict)
expect_reply "stsguard query via the daemon" "$r" enforce
r=$(x "$STSGUARD" cache show enforce-ok.test -s "$SOCK" | jq -r .mode)
expect_reply "stsguard cache show" "$r" enforce
r=$(x "$STSGUARD" cache list -s "$SOCK" | jq length)
[ "$r" -ge 10 ] && ok "stsguard cache list: $r entries" || bad "cache list: $r"
r=$(x "$STSGUARD" stats -s "$SOCK" | jq '.queries.sts.ok')
[ "$r" -ge 300 ] && ok "stsguard stats counts sts OK answers: $r" || bad "stats: $r"
x "$STSGUARD" cache purge crlf.test -s "$SOCK" >/dev/null
x "$STSGUARD" cache show crlf.test -s "$SOCK" >/dev/null 2>&1
[ $? = 1 ] && ok "stsguard cache purge DOMAIN" || bad "purge did not remove crlf.test"

echo "--- TLS-RPT results through the tlsrpt map"
RESULTS() { cat "$D"/dcache/tlsrpt/*.results 2>/dev/null; }
r=$(ask tlsrpt "domain=enforce-ok.test result=success mx=mx1.enforce-ok.test ip=127.0.3.1 src=127.0.0.9")
expect_reply "a success is stored" "$r" "OK stored"
line=$(RESULTS | grep ' success 127.0.0.9 mx1.enforce-ok.test ')
case $line in
"v1 "*" sts enforce-ok.test 20240101000000 success "*" 5 version:%20STSv1 mode:%20enforce mx:%20mx1.enforce-ok.test mx:%20mx2.enforce-ok.test max_age:%20"*" 2 mx1.enforce-ok.test mx2.enforce-ok.test "*)
	ok "recorded under the enforce policy the daemon served (id, policy-string, mx-host)" ;;
*) bad "stored line: '$line'" ;;
esac
r=$(ask tlsrpt "domain=enforce-ok.test verify=OK cipher=TLS_AES_256_GCM_SHA384 mx=rogue.test ip=127.0.3.9")
expect_reply "raw facts are stored" "$r" "OK stored"
RESULTS | grep -q ' enforce-ok.test 20240101000000 validation-failure - rogue.test ' &&
	ok "an MX outside the policy is classified validation-failure" || bad "no validation-failure for rogue.test"
r=$(ask tlsrpt "domain=Never-Asked.test result=starttls-not-supported mx=mx.never-asked.test" "inet:127.0.0.1:$PORT")
expect_reply "the inet listener takes results too" "$r" "OK stored"
RESULTS | grep -q ' no-policy-found never-asked.test - starttls-not-supported ' &&
	ok "a domain without a known policy is recorded as no-policy-found" || bad "no no-policy-found line"
r=$(ask tlsrpt "domain=enforce-ok.test result=bogus")
case $r in "PERM result:"*) ok "a bad result type is refused: $r" ;; *) bad "bad result type: '$r'" ;; esac
r=$(ask tlsrpt "domain=enforce-ok.test result=success time=86400")
case $r in "PERM "*"window"*) ok "a result outside the retention window is refused: $r" ;; *) bad "old time: '$r'" ;; esac
r=$(x "$STSGUARD" stats -s "$SOCK" | jq -c '[.tlsrpt.recording, .tlsrpt.stored, .tlsrpt.invalid]')
expect_reply "stats count the results" "$r" "[true,3,2]"

echo "--- libtlsrpt datagrams (Postfix >= 3.10's smtp_tlsrpt_socket_name) on tlsrpt_socket"
# The datagrams libtlsrpt sends, byte for byte (docs/tlsrpt-intake.md): an STS
# success, a TLSA certificate-expired failure, and one that is not JSON.
/usr/bin/python3 - "$DGRAM" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
for d in (
    b'{"d": "dgram.test","pr": "v=TLSRPTv1;rua=mailto:tlsrpt@dgram.test","policies":[{"policy-type":2,"policy-domain": "dgram.test","policy-string":["version: STSv1","mode: testing","mx: *.mail.dgram.test","max_age: 86400"],"mx-host":["*.mail.dgram.test"],"t":0,"f":0}]}',
    b'{"d": "dgram.test","pr": "v=TLSRPTv1;rua=mailto:tlsrpt@dgram.test","policies":[{"policy-type":1,"policy-domain": "dgram.test","policy-string":["3 0 1 1F850A337E6DB9C609C522D136A475638CC43E1ED424F8EEC8513D747D1D085D"],"failure-details":[{"c":204,"s": "192.0.2.4","n": "mx.mail.dgram.test","h": "mx.mail.dgram.test","r": "192.0.2.55","f": "certificate expired"}],"t":1,"f":1}]}',
    b'not json at all',
):
    s.sendto(d, sys.argv[1])
PYEOF
for _ in $(seq 1 50); do
	[ "$(x "$STSGUARD" stats -s "$SOCK" | jq '.tlsrpt.datagrams')" = 3 ] && break
	sleep 0.1
done
r=$(x "$STSGUARD" stats -s "$SOCK" | jq -c '[.tlsrpt.datagrams, .tlsrpt.datagrams_invalid, .tlsrpt.datagram_results]')
expect_reply "datagrams counted (received, refused, results)" "$r" "[3,1,2]"
for _ in $(seq 1 50); do [ "$(RESULTS | grep -c ' dgram.test ')" = 2 ] && break; sleep 0.1; done
RESULTS | grep -q ' sts dgram.test - success ' && ok "an STS success datagram is stored" || bad "no sts success for dgram.test"
RESULTS | grep -q ' tlsa dgram.test - certificate-expired 192.0.2.4 mx.mail.dgram.test mx.mail.dgram.test 192.0.2.55 certificate%20expired ' &&
	ok "a TLSA failure datagram is stored with its details" || bad "tlsa failure: $(RESULTS | grep dgram.test)"
grep -q 'tlsrpt_socket: refused a datagram of 15 bytes' "$D/log/spawn-stsguardd.log" && ok "a bad datagram is logged, nothing else happens" ||
	bad "no log line for the bad datagram"

echo "--- routes and routed (route pinning for OpenSMTPD), probe=1"
expect_reply "routed before any route" "$(ask routed -)" "NOTFOUND "
expect_reply "routes: policy MX hosts by preference" "$(ask routes mx-mixed.test)" "OK mx1.mx-mixed.test,mx2.mx-mixed.test"
expect_reply "routes: an MX outside the policy is left out" "$(ask routes rogue-first.test)" "OK mx1.rogue-first.test"
expect_reply "routes: no policy" "$(ask routes plain.test)" "NOTFOUND "
expect_reply "routes: testing domains are answered too" "$(ask routes testing-ok.test)" "OK mx1.testing-ok.test"
expect_reply "routed: newest first" "$(ask routed -)" "OK testing-ok.test=mx1.testing-ok.test rogue-first.test=mx1.rogue-first.test mx-mixed.test=mx1.mx-mixed.test"
expect_reply "a failure on mx1 is stored" "$(ask tlsrpt "domain=mx-mixed.test result=certificate-expired mx=mx1.mx-mixed.test ip=127.0.3.45")" "OK stored"
expect_reply "routes: the failed MX goes last" "$(ask routes mx-mixed.test)" "OK mx2.mx-mixed.test,mx1.mx-mixed.test"
expect_reply "routed follows" "$(ask routed - | cut -d' ' -f1-2)" "OK mx-mixed.test=mx2.mx-mixed.test"
expect_reply "a success on mx1" "$(ask tlsrpt "domain=mx-mixed.test result=success mx=mx1.mx-mixed.test ip=127.0.3.45")" "OK stored"
expect_reply "routes: mx1 first again" "$(ask routes mx-mixed.test)" "OK mx1.mx-mixed.test,mx2.mx-mixed.test"
expect_reply "routed on the inet listener" "$(ask routed - "inet:127.0.0.1:$PORT" | cut -d' ' -f1-2)" "OK mx-mixed.test=mx1.mx-mixed.test"
# probe=1: stsguardd asks the MX itself which certificate failure it is
ip=$(awk -F'\t' '$1 == "mx1.mx-wrongname.test" {print $2}' "$WORLD_HOSTS")
r=$(ask tlsrpt "domain=mx-wrongname.test result=certificate-not-trusted mx=mx1.mx-wrongname.test ip=$ip probe=1")
expect_reply "probe=1 is answered once stored" "$r" "OK stored"
RESULTS | grep -q " mx-wrongname.test .*certificate-host-mismatch .*stsguardd%20STARTTLS%20probe" &&
	ok "the probe turned certificate-not-trusted into certificate-host-mismatch" || bad "probe: $(RESULTS | grep mx-wrongname)"
ip=$(awk -F'\t' '$1 == "mx1.enforce-ok.test" {print $2}' "$WORLD_HOSTS")
r=$(ask tlsrpt "domain=enforce-ok.test result=certificate-not-trusted mx=mx1.enforce-ok.test ip=$ip probe=1")
expect_reply "probe of a sound MX" "$r" "OK stored"
RESULTS | grep -q " enforce-ok.test .*certificate-not-trusted .*stsguardd%20probe:%20success" &&
	ok "a sound MX keeps the adapter's result, the reason says what the probe saw" || bad "probe ok: $(RESULTS | grep 'enforce-ok.test.*not-trusted')"

echo "--- the daily report: stsguardd sends yesterday's report to the https rua"
# With report_spread = 0 yesterday's first send time is today 00:00Z, which has
# passed whenever the test runs (with the default spread of up to 4 h it may
# not have: the test failed when run at 00:05Z). Once yesterday has results a
# pass sends them; SIGHUP asks for a pass now.
YDAY=$(date -u -d yesterday +%Y-%m-%d)
YNOON=$(date -u -d "$YDAY 12:00:00" +%s)
for i in 1 2 3; do ask tlsrpt "domain=testing-ok.test result=success mx=mx1.testing-ok.test ip=127.0.3.3 time=$YNOON" >/dev/null; done
r=$(ask tlsrpt "domain=testing-ok.test result=certificate-expired mx=mx1.testing-ok.test ip=127.0.3.3 reason=expired time=$YNOON")
expect_reply "a result of yesterday is accepted" "$r" "OK stored"
before=$(ls "$WORLD_REPORTS"/report-*.http 2>/dev/null | wc -l)
kill -HUP "$DPID"
for _ in $(seq 1 100); do
	[ "$(ls "$WORLD_REPORTS"/report-*.http 2>/dev/null | wc -l)" -gt "$before" ] && break
	sleep 0.2
done
latest=$(ls -t "$WORLD_REPORTS"/report-*.http 2>/dev/null | head -1)
if [ -n "$latest" ] && /usr/bin/python3 "$HERE/check_report.py" http "$latest" testing-ok.test "$YDAY" >"$TOP/check.out" 2>&1; then
	ok "the collector got the gzip RFC 8460 report of testing-ok.test for $YDAY"
	counts=$(/usr/bin/python3 -c '
import gzip, json, re, sys
raw = open(sys.argv[1], "rb").read()
body = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[1]
r = json.loads(gzip.decompress(body))
s = r["policies"][0]["summary"]
print(s["total-successful-session-count"], s["total-failure-session-count"])' "$latest")
	expect_reply "its counts (successful, failed)" "$counts" "3 1"
else
	bad "no valid report at the collector: $(cat "$TOP/check.out" 2>/dev/null) $(grep 'tlsrpt report' "$D/log/spawn-stsguardd.log" | tail -3)"
fi
[ -s "$D/dcache/sent/$YDAY.sent" ] && ok "the delivery is in the delivery log" || bad "no delivery log for $YDAY"

echo "--- SIGHUP reloads; kill -9 under load and restart keeps the cache"
sed -i 's/^query_timeout = 2/query_timeout = 3/' "$CONF"
kill -HUP "$DPID"
sleep 0.5
grep -q 'reloaded' "$D/log/spawn-stsguardd.log" && ok "SIGHUP reloaded the configuration" || bad "no reload logged"
before=$(for d in enforce-ok.test wildcard.test testing-ok.test dane.test; do ask postfix $d; done)
if [ "$VALGRIND" != 1 ]; then
	( for i in $(seq 1 2000); do x "$SMQ" -t 5 "unix:$SOCK" postfix enforce-ok.test >/dev/null 2>&1; done ) &
	load=$!
	# Four clients pipelining TLS-RPT results, each tagged with a unique reason.
	rec_pids=
	for k in 1 2 3 4; do
		args=()
		for i in $(seq 1 3000); do args+=(tlsrpt "domain=enforce-ok.test result=certificate-expired mx=mx1.enforce-ok.test reason=k$k-$i"); done
		x "$SMQ" -p -t 30 "unix:$SOCK" "${args[@]}" >"$TOP/acks.$k" 2>/dev/null &
		rec_pids="$rec_pids $!"
	done
	# Kill once ingestion is under way (some results on disk), not after it.
	for _ in $(seq 1 3000); do # bounded (slow builds: ASan, valgrind); the kill must come after some acks
		[ "$(cat "$D"/dcache/tlsrpt/*.results 2>/dev/null | grep -c ' k[1-4]-')" -gt 300 ] && break
		sleep 0.01
	done
	kill -KILL "$DPID"
	kill "$load" 2>/dev/null; wait "$load" 2>/dev/null
	wait $rec_pids 2>/dev/null
	acked=0 lost=0
	RESULTS | awk '{print $11}' | sort -u >"$TOP/stored-reasons"
	for k in 1 2 3 4; do
		i=0
		while read -r reply; do
			i=$((i + 1))
			[ "$reply" = "OK stored" ] || continue
			acked=$((acked + 1))
			grep -qx "k$k-$i" "$TOP/stored-reasons" || lost=$((lost + 1))
		done <"$TOP/acks.$k"
	done
	[ "$acked" -gt 0 ] && [ "$lost" = 0 ] && ok "kill -9 during ingestion: all $acked acknowledged results (of 12000 sent) are on disk" ||
		bad "kill -9 during ingestion: $lost of $acked acknowledged results missing"
	start_daemon || exit 1
	after=$(for d in enforce-ok.test wildcard.test testing-ok.test dane.test; do ask postfix $d; done)
	expect_reply "same answers after kill -9 and restart" "$(echo $after)" "$(echo $before)"
	grep -q 'cached policies' "$D/log/spawn-stsguardd.log" && ok "restart loaded the cache: $(grep -o '[0-9]* cached policies' "$D/log/spawn-stsguardd.log" | tail -1)"
fi

echo "--- SIGTERM: clean exit, socket removed"
kill -TERM "$DPID"
for _ in $(seq 1 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$DPID" 2>/dev/null; then bad "stsguardd still running after SIGTERM"; else ok "stsguardd exited on SIGTERM"; fi
DPID=
[ ! -e "$SOCK" ] && ok "unix socket removed" || bad "socket left behind"
if [ "$VALGRIND" = 1 ]; then
	sleep 1
	logs=$(ls "$D"/valgrind.*.log)
	if grep -q 'ERROR SUMMARY: 0 errors' $logs && grep -Eq 'definitely lost: 0 bytes|no leaks are possible' $logs; then
		ok "valgrind: no errors, no leaks ($(grep -h 'ERROR SUMMARY' $logs | head -1))"
	else
		bad "valgrind found problems:"; grep -h -A3 -E 'definitely|ERROR SUMMARY|Invalid' $logs | head -40
	fi
fi

echo
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
