#!/usr/bin/env bash
# test_opensmtpd.sh STSGUARDD SMQ TABLE FILTER STSGUARD - the stsguard OpenSMTPD
# adapter (adapters/opensmtpd: table-stsguard, filter-stsguard and the
# shipped smtpd.conf recipe) in the REAL Debian OpenSMTPD 6.8.0p2, fetched
# with `apt-get download` and unpacked with `dpkg -x` (never installed),
# against stsguardd in the test world (tests/world).
#
# smtpd runs with the shipped recipe (conf/smtpd-stsguard.conf: only the
# socket path replaced, a submission listener added) in a private mount
# namespace inside the world's network namespace (opensmtpd/holder.sh), where
# its compiled-in paths (/var/spool/smtpd, /usr/libexec/opensmtpd,
# /var/run/smtpd.sock, its chroot) point into the test directory and, when
# the host lacks them, the users opensmtpd and opensmtpq exist through
# bind-mounted copies of /etc/passwd and /etc/group: the host is not
# changed. The test CA is trusted through SSL_CERT_FILE, which 6.8's
# certificate check honours (opensmtpd.md §3).
#
# Each scenario submits one message with curl and asserts what smtpd did
# from its own log (delivered or TempFail, and to which address), from the
# sinks' session logs (which MX was contacted) and from the TLS-RPT results
# stsguardd stored from filter-stsguard's reports, which the CLI (STSGUARD)
# then turns into the day's reports, parsed back and DKIM-verified. Every
# wait polls with a deadline; no step depends on how fast anything is.
#
# Exit 77 (skip) without root / network namespaces, or without network to
# the Debian mirrors. OPENSMTPD_TEST_KEEP=1 keeps the temporary directory.
set -uo pipefail
STSGUARDD=$(readlink -f "$1")
SMQ=$(readlink -f "$2")
TABLE=$(readlink -f "$3")
FILTER=$(readlink -f "$4")
STSGUARD=$(readlink -f "$5")
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
W=$HERE/world.sh
START=$SECONDS

if [ "$(id -u)" != 0 ] || ! ip netns list >/dev/null 2>&1; then
	echo "SKIP: needs root and ip netns"
	exit 77
fi
for t in apt-get dpkg-deb dpkg-query flock ldd unshare nsenter curl; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: needs $t"; exit 77; }
done

TOP=$(mktemp -d /tmp/stsgos.XXXXXX)
chmod 755 "$TOP" # smtpd's table and filter run as opensmtpd and reach the socket below here
D=$TOP/w
ROOT=$TOP/root # the unpacked package
OS=$TOP/os     # the smtpd instance: smtpd.conf libexec/ run/
SOCK=$D/run/stsguardd.sock
DPID='' HPID='' SPID=''

. "$HERE/deb-lib.sh" # fetch_deb, fetch_or_skip, unpack_missing_libs, stop_pid, mta_cleanup
cleanup() { mta_cleanup "${OPENSMTPD_TEST_KEEP:-0}" "$SPID" "$DPID" "$HPID"; }
trap cleanup EXIT

# ------------------------------------------------------------ the package
deb=$(fetch_or_skip opensmtpd) || exit $?
dpkg-deb -x "$deb" "$ROOT" || { echo "FAIL: dpkg-deb -x $deb"; exit 1; }
SMTPD=$ROOT/usr/sbin/smtpd
[ -x "$SMTPD" ] || { echo "FAIL: no usr/sbin/smtpd in $deb"; exit 1; }
unpack_missing_libs "$ROOT" "$deb" "$SMTPD" "$ROOT/usr/sbin/smtpctl" || exit 1
LDP=$(libpath "$ROOT")

# ------------------------------------------------------------ users opensmtpd, opensmtpq
PASSWD='' GROUP=''
if id -u opensmtpd >/dev/null 2>&1 && getent group opensmtpq >/dev/null; then
	OSD_GID=$(id -g opensmtpd) OSQ_GID=$(getent group opensmtpq | cut -d: -f3)
else
	uid=64980
	while getent passwd "$uid" >/dev/null || getent group "$uid" >/dev/null ||
		getent passwd $((uid + 1)) >/dev/null || getent group $((uid + 1)) >/dev/null; do uid=$((uid - 2)); done
	OSD_GID=$uid OSQ_GID=$((uid + 1))
	PASSWD=$TOP/passwd GROUP=$TOP/group
	cp /etc/passwd "$PASSWD" && cp /etc/group "$GROUP"
	echo "opensmtpd:x:$uid:$uid:OpenSMTPD (test):/nonexistent:/usr/sbin/nologin" >>"$PASSWD"
	echo "opensmtpq:x:$((uid + 1)):$((uid + 1)):OpenSMTPD queue (test):/nonexistent:/usr/sbin/nologin" >>"$PASSWD"
	echo "opensmtpd:x:$uid:" >>"$GROUP"
	echo "opensmtpq:x:$((uid + 1)):" >>"$GROUP"
	chmod 644 "$PASSWD" "$GROUP"
fi

# ------------------------------------------------------------ the world and stsguardd
"$W" up "$D" || { echo "world did not come up"; exit 1; }
. "$D/env"
# libasr's AI_ADDRCONFIG counts only 127.0.0.1 as loopback: with nothing but
# lo, every MX host lookup comes back empty (opensmtpd.md §6).
ip netns exec "$WORLD_NS" ip addr add 127.0.0.2/32 dev lo 2>/dev/null
CONF=$D/stsguardd.conf
. "$HERE/daemon-lib.sh"
daemon_conf "$CONF" "$SOCK" 8461 4
start_daemon() {
	spawn_daemon "$CONF" "$SOCK" || return 1
	# As an admin does with `adduser opensmtpd stsguard`: the table and the
	# filter run as opensmtpd and must reach the socket.
	chgrp "$OSD_GID" "$SOCK"
}
start_daemon || exit 1
chmod 755 "$D" "$D/run"

# ------------------------------------------------------------ the smtpd instance
mkdir -p "$OS/libexec" "$OS/run"
chmod 755 "$OS" "$OS/libexec" "$OS/run"
cp "$ROOT"/usr/libexec/opensmtpd/* "$OS/libexec/" 2>/dev/null
cp "$TABLE" "$OS/libexec/table-stsguard" && cp "$FILTER" "$OS/libexec/filter-stsguard" || exit 1
chmod 755 "$OS"/libexec/*
# smtpctl must be setgid opensmtpq (opensmtpd.md §6)
cp "$ROOT/usr/sbin/smtpctl" "$OS/smtpctl" && chown "root:$OSQ_GID" "$OS/smtpctl" && chmod 2755 "$OS/smtpctl"
{
	echo "listen on 127.0.0.1 port 587"
	sed "s|/run/stsguard/stsguardd.sock|$SOCK|g" "$REPO/adapters/opensmtpd/conf/smtpd-stsguard.conf"
} >"$OS/smtpd.conf"
chmod 644 "$OS/smtpd.conf"

HPID=$("$W" spawn "$D" osholder "$HERE/opensmtpd/holder.sh" "$OS" "$PASSWD" "$GROUP")
for _ in $(seq 1 100); do [ -f "$OS/holder.ready" ] && break; sleep 0.1; done
[ -f "$OS/holder.ready" ] || { echo "FAIL: holder: $(cat "$D/log/spawn-osholder.log")"; exit 1; }
ns() { nsenter -t "$HPID" -m -n "$@"; }
LOG=$D/log/spawn-smtpd.log

start_smtpd() {
	: >"$LOG"
	SPID=$("$W" spawn "$D" smtpd nsenter -t "$HPID" -m -n env "LD_LIBRARY_PATH=$LDP" "SSL_CERT_FILE=$WORLD_CA" \
		"$SMTPD" -d -v -f "$OS/smtpd.conf")
	for _ in $(seq 1 150); do
		grep -q 'smtpd: offline scanning done' "$LOG" 2>/dev/null && return 0
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.1
	done
	echo "FAIL: smtpd did not start:"; tail -20 "$LOG"
	return 1
}
start_smtpd || exit 1
grep -q 'OpenSMTPD 6.8.0p2 starting' "$LOG" && ok "real OpenSMTPD 6.8.0p2 runs the shipped recipe" ||
	bad "smtpd version: $(grep -m1 'starting' "$LOG")"

# ------------------------------------------------------------ helpers
hostip() { awk -F'\t' -v h="$1" '$1 == h {print $2}' "$WORLD_HOSTS"; }
session_log() { awk -F'\t' -v h="$1" '$1 == h {print $5}' "$WORLD_HOSTS"; }
contacted() { local f; f=$(session_log "$1"); [ -s "$f" ]; }
# wait_session HOST: until HOST's sink has logged a finished session (smtpd holds an idle one ~10 s)
wait_session() { for _ in $(seq 1 600); do contacted "$1" && return 0; sleep 0.1; done; return 1; }
results() { cat "$D"/dcache/tlsrpt/*.results 2>/dev/null; }
rpt() { results | awk -v d="$1" -v r="$2" -v m="${3:-}" '$4 == d && $6 == r && (m == "" || $8 == m)' | wc -l; }
N=0
# send DOMAIN: submit one message for user@DOMAIN; prints its envelope id
send() {
	local dom=$1 id
	N=$((N + 1))
	printf 'From: <sender@sender.test>\r\nTo: <user@%s>\r\nSubject: stsguard %s %s\r\n\r\nhello\r\n' "$dom" "$dom" "$N" >"$TOP/msg"
	ns curl -sS --max-time 30 smtp://127.0.0.1:587 --mail-from sender@sender.test --mail-rcpt "user@$dom" \
		-T "$TOP/msg" >>"$TOP/curl.log" 2>&1 || { echo "curl failed for $dom" >&2; return 1; }
	for _ in $(seq 1 100); do
		id=$(grep "smtp envelope evpid=.* to=<user@$dom>" "$LOG" | tail -1 | sed 's/.*evpid=\([0-9a-f]*\).*/\1/')
		[ -n "$id" ] && { echo "$id"; return 0; }
		sleep 0.1
	done
	echo "no envelope for $dom in smtpd's log" >&2
	return 1
}
# attempt ID [N]: wait (60 s at most) for the Nth delivery attempt of envelope ID; print its log line
attempt() { # EVPID [N]: the N-th delivery line of EVPID, waiting up to ATTEMPT_WAIT (default 60) s
	local n=${2:-1} line
	for _ in $(seq 1 $((${ATTEMPT_WAIT:-60} * 10))); do
		line=$(grep "mta delivery evpid=$1 " "$LOG" | sed -n "${n}p")
		[ -n "$line" ] && { echo "$line"; return 0; }
		sleep 0.1
	done
	return 1
}
delivered() { # NAME ID HOST [N]: delivered to HOST's address
	local line ip
	ip=$(hostip "$3")
	line=$(attempt "$2" "${4:-1}")
	if [[ $line == *"relay=\"$ip ($ip)\""*'result="Ok"'* ]]; then ok "$1: delivered to $3 ($ip)"; else
		bad "$1: want delivered to $3 ($ip); log: ${line:-nothing within ${ATTEMPT_WAIT:-60} s}"
	fi
}
deferred() { # NAME ID [N]: TempFail
	local line
	line=$(attempt "$2" "${3:-1}")
	if [[ $line == *'result="TempFail"'* ]]; then ok "$1: deferred ($(sed 's/.*stat="\([^"]*\)".*/\1/' <<<"$line"))"; else
		bad "$1: want TempFail; log: ${line:-nothing within ${ATTEMPT_WAIT:-60} s}"
	fi
}
recorded() { # NAME DOMAIN RESULT [MX]: the filter's result stored by stsguardd (60 s at most)
	for _ in $(seq 1 600); do
		[ "$(rpt "$2" "$3" "${4:-}")" -ge 1 ] && { ok "$1: TLS-RPT $3${4:+ via $4} recorded for $2"; return 0; }
		sleep 0.1
	done
	bad "$1: no TLS-RPT $3 ${4:-} for $2; stored: $(results | awk -v d="$2" '$4 == d {print $3, $6, $8}' | tr '\n' ';')"
}
alive() { kill -0 "$SPID" 2>/dev/null; }

echo "--- enforce: pinned to a policy MX, verified TLS"
id=$(send enforce-ok.test)
delivered "enforce, valid certificate" "$id" mx1.enforce-ok.test
grep -q "got smarthost for $id: smtp+tls://mx1.enforce-ok.test:25" "$LOG" &&
	ok "table-stsguard gave the route smtp+tls://mx1.enforce-ok.test:25" || bad "no route from the table for $id"
recorded "enforce ok" enforce-ok.test success mx1.enforce-ok.test
wait_session mx1.enforce-ok.test
grep -Eq 'tls=TLSv1\.[23]' "$(session_log mx1.enforce-ok.test)" && ok "TLS >= 1.2 at the MX" ||
	bad "session: $(cat "$(session_log mx1.enforce-ok.test)" 2>&1)"
line=$(results | awk '$4 == "enforce-ok.test" && $6 == "success"' | head -1)
set -- $line
[ "$3" = sts ] && [ "$5" = 20240101000000 ] && [ "${10}" = "$(hostip mx1.enforce-ok.test)" ] &&
	ok "the result carries policy type sts, the policy id and the MX address" || bad "result fields: $line"

id=$(send rogue-first.test)
delivered "an MX outside the policy at better preference" "$id" mx1.rogue-first.test
contacted mx.rogue.test && bad "the MX outside the policy was contacted" || ok "the MX outside the policy was never contacted"

echo "--- enforce: bad receivers are deferred and recorded"
# The events cannot tell these apart; stsguardd's own STARTTLS probe of the MX does.
for c in selfsigned:certificate-not-trusted wrongname:certificate-host-mismatch expired:certificate-expired; do
	want=${c#*:} c=${c%%:*}
	id=$(send mx-$c.test)
	deferred "enforce, $c certificate" "$id"
	recorded "enforce $c (classified by stsguardd's probe)" mx-$c.test "$want" mx1.mx-$c.test
	[ -s "$(awk -F'\t' -v h="mx1.mx-$c.test" '$1 == h {print $4}' "$WORLD_HOSTS")" ] &&
		bad "mx-$c: a message reached the sink" || ok "mx-$c: nothing delivered"
done
line=$(results | awk '$4 == "mx-expired.test"' | head -1)
[[ $line == *"stsguardd%20STARTTLS%20probe%20of%20$(hostip mx1.mx-expired.test):%20certificate%20has%20expired"* ]] &&
	ok "the failure-reason-code is the probe's finding" || bad "reason: $line"
id=$(send mx-nostarttls.test)
deferred "enforce, no STARTTLS" "$id"
recorded "enforce no STARTTLS" mx-nostarttls.test starttls-not-supported mx1.mx-nostarttls.test
wait_session mx1.mx-nostarttls.test
grep -q 'msgs=0' "$(session_log mx1.mx-nostarttls.test)" && ok "nothing sent in clear text" ||
	bad "no-STARTTLS sink: $(cat "$(session_log mx1.mx-nostarttls.test)")"

echo "--- enforce: the next policy MX after a failure"
id=$(send mx-mixed.test)
deferred "mx-mixed, first attempt (mx1: expired certificate)" "$id"
recorded "mx-mixed mx1 failure" mx-mixed.test certificate-expired mx1.mx-mixed.test
r=$("$W" exec "$D" "$SMQ" "unix:$SOCK" routes mx-mixed.test)
expect_reply "stsguardd now lists the failed MX last" "$r" "OK mx2.mx-mixed.test,mx1.mx-mixed.test"
# The next delivery to the domain asks the table again and gets the next policy
# MX (smtpd's own retry of the first message is not waited for: its timing
# depends on smtpd's scheduler, not on stsguard).
id2=$(send mx-mixed.test)
delivered "mx-mixed, the next delivery goes to the next policy MX" "$id2" mx2.mx-mixed.test
recorded "mx-mixed mx2 success" mx-mixed.test success mx2.mx-mixed.test

echo "--- testing and no policy: delivered as usual"
id=$(send plain.test)
delivered "no policy: plain relay" "$id" mx1.plain.test
id=$(send testing-ok.test)
delivered "testing, valid" "$id" mx1.testing-ok.test
recorded "testing valid (probed: success)" testing-ok.test success mx1.testing-ok.test
id=$(send t-selfsigned.test)
delivered "testing, self-signed" "$id" mx1.t-selfsigned.test
recorded "testing self-signed (the delivery went ahead; stsguardd's probe says what enforce would have refused)" \
	t-selfsigned.test certificate-not-trusted mx1.t-selfsigned.test
grep -q "got smarthost for $id" "$LOG" && bad "a testing domain went to the pinned route" || ok "a testing domain is not pinned"
# The sessions end in order; once plain.test's has ended, the filter has its
# events before t-nostarttls's, so when t-nostarttls's result is stored the
# filter has long decided about plain.test.
wait_session mx1.plain.test
id=$(send t-nostarttls.test)
delivered "testing, no STARTTLS" "$id" mx1.t-nostarttls.test
recorded "testing no STARTTLS" t-nostarttls.test starttls-not-supported
[ "$(results | awk '$4 == "plain.test"' | wc -l)" = 0 ] && ok "nothing recorded for a domain without a policy" ||
	bad "recorded for plain.test: $(results | awk '$4 == "plain.test"')"

echo "--- the day's TLS-RPT reports built from smtpd's sessions (stsguard report send --dry-run --out)"
report_check "$D/dcache/tlsrpt" "$TOP/reports" enforce-ok.test=success testing-ok.test=success \
	t-selfsigned.test=certificate-not-trusted t-nostarttls.test=starttls-not-supported '!mx-selfsigned.test'

echo "--- stsguardd down"
stop_pid "$DPID"
DPID=
id=$(send enforce-ok.test)
delivered "enforce domain seen before: held route, still verified" "$id" mx1.enforce-ok.test
grep -q "enforce-ok.test: stsguardd gave no policy answer .*: held: found" "$LOG" &&
	ok "table-stsguard answered from what it held" || bad "no held answer logged"
id=$(send mx-wildcard-cert.test)
delivered "enforce domain never seen: the default relay (fail open)" "$id" mx1.mx-wildcard-cert.test
grep -q "got smarthost for $id" "$LOG" && bad "an unknown domain was pinned" || ok "not pinned: the outbound action"
start_daemon || exit 1

echo "--- smtpd survived"
alive && ok "smtpd is still running" || bad "smtpd died: $(tail -5 "$LOG")"
grep -Eq 'lost processor|table-proc: exiting|fatal' "$LOG" && bad "smtpd logged: $(grep -E 'lost processor|table-proc|fatal' "$LOG" | head -3)" ||
	ok "no lost processor, no table-proc fatal"
# With the asan preset's binaries, a sanitizer report lands in these logs (table and filter stderr go to smtpd's).
grep -Eq 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$LOG" "$D/log/spawn-stsguardd.log" &&
	bad "sanitizer report: $(grep -Eh -m3 'Sanitizer|runtime error:' "$LOG" "$D/log/spawn-stsguardd.log")" ||
	ok "no sanitizer report from the table, the filter or stsguardd"

echo
echo "$pass passed, $fail failed ($((SECONDS - START)) s)"
[ "$fail" = 0 ]
