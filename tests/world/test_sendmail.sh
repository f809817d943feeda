#!/usr/bin/env bash
# test_sendmail.sh STSGUARDD SMQ MILTER STSGUARD - stsguardd behind the REAL Debian
# Sendmail 8.17.1.9 (_FFR_MTA_STS), fetched with `apt-get download` and
# unpacked with `dpkg -x` (never installed), configured with nothing but
# adapters/sendmail/feature/stsguard.m4:
#     FEATURE(`stsguard', `unix:<sock>', `failclosed|failopen', `unix:<recorder sock>|none')
# Inside the test world (tests/world) a Sendmail daemon (-bD) accepts mail on
# 127.0.0.1, with stsguard-milter attached, and queues it (-odq); each
# foreground queue run (`sendmail -qf`) then delivers through the world's DNS
# to the MX sinks, so every outcome is final when the command returns.
# Outcomes are read from Sendmail's log (syslog captured by an LD_PRELOAD
# shim, sendmail/syslog-shim.c), its queue, the sinks' spools and stsguardd's
# TLS-RPT store: enforce, MX outside the policy (preferred MX, every MX),
# self-signed, wrong name, wildcard certificate, no STARTTLS, testing, no
# policy, the per-MX opt-out, stsguardd killed and stopped under the
# failclosed and the failopen map, the milter's prefetch, the tlsrpt
# records of every session, and the reports the CLI (STSGUARD) builds from
# them, parsed back and DKIM-verified.
#
# Exit 77 (skip) without root / network namespaces, or when the packages
# cannot be fetched for lack of network.  .deb cache as in test_postfix.sh.
# SENDMAIL_TEST_KEEP=1 keeps the temporary directory.
set -uo pipefail
STSGUARDD=$(readlink -f "$1")
SMQ=$(readlink -f "$2")
MILTER=$(readlink -f "$3")
STSGUARD=$(readlink -f "$4")
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
W=$HERE/world.sh
START=$SECONDS

if [ "$(id -u)" != 0 ] || ! ip netns list >/dev/null 2>&1; then
	echo "SKIP: needs root and ip netns"
	exit 77
fi
for t in apt-get dpkg-deb curl flock cc m4 openssl; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: needs $t (scripts/install-deps.sh)"; exit 77; }
done

TOP=$(mktemp -d /tmp/stsgsm.XXXXXX)
chmod 755 "$TOP"
D=$TOP/w
SM=$TOP/sm              # the Sendmail instance: etc/ queue/ certs/ *.cf
SMROOT=$TOP/root        # the unpacked packages
LOG=$SM/maillog         # Sendmail's syslog
SOCK=$D/run/stsguardd.sock
RSOCK=$D/run/stsguardd-rpt.sock   # a second listener for the recorder map
MSOCK=$SM/milter.sock
INET_PORT=8461
SUBMIT_PORT=10026
DPID='' SPID='' MPID=''

. "$HERE/deb-lib.sh" # fetch_deb, fetch_or_skip, unpack_missing_libs, stop_pid, mta_cleanup
cleanup() { mta_cleanup "${SENDMAIL_TEST_KEEP:-0}" "$SPID" "$MPID" "$DPID"; }
trap cleanup EXIT

# ------------------------------------------------------------ the packages
for pkg in sendmail-bin sendmail-base sendmail-cf; do
	deb=$(fetch_or_skip "$pkg") || exit $?
	dpkg-deb -x "$deb" "$SMROOT" || { echo "FAIL: dpkg-deb -x $deb"; exit 1; }
	echo "unpacked ${deb##*/}"
done
SENDMAIL=$SMROOT/usr/libexec/sendmail/sendmail
MAKEMAP=$SMROOT/usr/libexec/sendmail/makemap
CFDIR=$SMROOT/usr/share/sendmail/cf
# Debian ships sendmail setgid smmsp: the loader would then ignore the
# LD_PRELOAD log shim.  The test runs it as root anyway.
chmod g-s "$SENDMAIL"

# Runtime libraries (libwrap0, liblockfile1 on a machine without them):
# unpacked next to Sendmail, never installed.
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
SMLD=$SMROOT/usr/lib/$MA:$SMROOT/lib/$MA
missing_libs() { LD_LIBRARY_PATH=$SMLD ldd "$SENDMAIL" "$MAKEMAP" 2>/dev/null | awk '/=> not found/ {print $1}' | sort -u; }
for so in $(missing_libs); do
	case $so in
	libwrap.so.0) p=libwrap0 ;;
	liblockfile.so.1) p=liblockfile1 ;;
	libdb-5.3.so) p=libdb5.3 ;;
	libsasl2.so.2) p=libsasl2-2 ;;
	libldap-2.5.so.0 | liblber-2.5.so.0) p=libldap-2.5-0 ;;
	*) echo "FAIL: Sendmail needs $so and this test does not know its package"; exit 1 ;;
	esac
	ldeb=$(fetch_deb "$p") || { echo "FAIL: apt-get download $p"; exit 1; }
	dpkg-deb -x "$ldeb" "$SMROOT" || exit 1
done
[ -z "$(missing_libs)" ] || { echo "FAIL: Sendmail still misses: $(missing_libs | tr '\n' ' ')"; exit 1; }

# ------------------------------------------------------------ the world and stsguardd
"$W" up "$D" || { echo "world did not come up"; exit 1; }
. "$D/env"
CONF=$D/stsguardd.conf
. "$HERE/daemon-lib.sh"
daemon_conf "$CONF" "$SOCK" "$INET_PORT" 4
echo "listen = unix:$RSOCK" >>"$CONF"
TLSRPT_DIR=$D/dcache/tlsrpt # the daemon's default: <cache_dir>/tlsrpt
ask() { x "$SMQ" -t 10 "unix:$SOCK" "$1" "$2"; }
spawn_daemon "$CONF" "$SOCK" || exit 1

# ------------------------------------------------------------ the Sendmail instance
mkdir -p "$SM/etc" "$SM/queue" "$SM/certs"
chmod 700 "$SM/queue"
cp "$WORLD_CA" "$SM/certs/ca.pem" && openssl rehash "$SM/certs" 2>/dev/null ||
	(cd "$SM/certs" && ln -sf ca.pem "$(openssl x509 -hash -noout -in ca.pem).0")
# The feature is installed the way docs/sendmail.md tells admins to.
cp "$REPO/adapters/sendmail/feature/stsguard.m4" "$CFDIR/feature/stsguard.m4"
printf 'postmaster: root\n' >"$SM/etc/aliases"
: >"$SM/etc/local-host-names"
# Relay for the submitting client; the per-MX STS opt-out (the 8.17.1.9 fix).
printf 'Connect:127.0.0.1\tRELAY\nClt_Features:mx1.mx-expired.test\tM\nClt_Features:mx1.optout-wrongname.test\tM\n' >"$SM/etc/access"
: >"$LOG"
cc -shared -fPIC -O1 -o "$SM/syslog-shim.so" "$HERE/sendmail/syslog-shim.c" || { echo "FAIL: cc syslog-shim"; exit 1; }

make_cf() { # NAME MODE RECORDER -> $SM/NAME.cf
	sed -e "s|@CFDIR@|$CFDIR|g; s|@SMDIR@|$SM|g; s|@CA@|$SM/certs/ca.pem|g" \
		-e "s|@SUBMIT_PORT@|$SUBMIT_PORT|g; s|@MILTER_SOCK@|$MSOCK|g; s|@MODE@|$2|g" \
		-e "s|@RPT_ENDPOINT@|$3|g; s|@ENDPOINT@|unix:$SOCK|g" \
		"$HERE/sendmail/sendmail.mc.in" >"$SM/$1.mc"
	m4 -D_CF_DIR_="$CFDIR/" "$CFDIR/m4/cf.m4" "$SM/$1.mc" >"$SM/$1.cf" 2>"$SM/$1.m4err"
}
while read -r name mode rpt; do
	if make_cf "$name" "$mode" "$rpt" && [ ! -s "$SM/$name.m4err" ]; then ok "m4 builds $name.cf without a message"
	else bad "m4 $name: $(cat "$SM/$name.m4err")"; fi
done <<TABLE
failclosed failclosed unix:$RSOCK
failopen failopen unix:$RSOCK
failopen-norec failopen none
failopen-tcprec failopen inet:$INET_PORT@127.0.0.1
TABLE
grep -q '^Ksts socket -d5 -T<TMPF> unix:'"$SOCK"'$' "$SM/failclosed.cf" && ok "failclosed: Ksts on the given endpoint, not optional" ||
	bad "failclosed Ksts: $(grep '^Ksts' "$SM/failclosed.cf")"
grep -q '^Ksts socket -o -d5 -T<TMPF> unix:'"$SOCK"'$' "$SM/failopen.cf" && ok "failopen: Ksts optional (-o)" ||
	bad "failopen Ksts: $(grep '^Ksts' "$SM/failopen.cf")"
grep -q '^Ktlsrpt socket -o -f -d2 -T<TMPF> unix:'"$RSOCK"'$' "$SM/failclosed.cf" && ok "Ktlsrpt on the recorder endpoint" ||
	bad "Ktlsrpt: $(grep '^Ktlsrpt' "$SM/failclosed.cf")"
if grep -q 'tlsrpt\|Local_tls_server' "$SM/failopen-norec.cf"; then bad "recorder 'none': still in the .cf"
else ok "recorder 'none': no tlsrpt map, no Local_tls_server"; fi
grep -q '^Ktlsrpt socket -o -f -d2 -T<TMPF> inet:'"$INET_PORT"'@127.0.0.1$' "$SM/failopen-tcprec.cf" &&
	ok "Ktlsrpt on stsguardd's loopback TCP listener" || bad "TCP Ktlsrpt: $(grep '^Ktlsrpt' "$SM/failopen-tcprec.cf")"
LD_LIBRARY_PATH=$SMLD "$MAKEMAP" -C "$SM/failclosed.cf" hash "$SM/etc/access" <"$SM/etc/access" ||
	{ echo "FAIL: makemap access"; exit 1; }
# the feature refuses to guess an endpoint
printf "include(\`$CFDIR/m4/cf.m4')dnl\nOSTYPE(\`linux')dnl\nFEATURE(\`stsguard')dnl\n" >"$SM/noarg.mc"
if ! m4 -D_CF_DIR_="$CFDIR/" "$CFDIR/m4/cf.m4" "$SM/noarg.mc" >/dev/null 2>"$SM/noarg.err" &&
	grep -q "needs the stsguardd endpoint" "$SM/noarg.err"; then ok "FEATURE(stsguard) without an endpoint is an m4 error"
else bad "FEATURE(stsguard) without an endpoint: $(cat "$SM/noarg.err")"; fi

# Sendmail canonifies the machine's own host name at startup and, when that
# fails, sleeps and retries for a minute; the world's DNS does not know this
# machine.  A private /etc/hosts (bind-mounted in sendmail's own mount
# namespace, which `ip netns exec` gives every command) names it client.test.
printf '127.0.0.1\tlocalhost\n127.0.0.1\tclient.test %s\n' "$(hostname)" >"$SM/hosts"
SMENV=(/bin/sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$SM/hosts"
	env LD_PRELOAD="$SM/syslog-shim.so" SYSLOG_SHIM_FILE="$LOG" LD_LIBRARY_PATH="$SMLD")
smx() { x "${SMENV[@]}" "$SENDMAIL" "$@"; } # the unpacked sendmail inside the world
v=$(smx -C "$SM/failclosed.cf" -d0.13 -bt </dev/null 2>&1)
case $v in *"Version 8.17"*) ok "Sendmail $(sed -n 's/^Version //p' <<<"$v" | head -1)" ;; *) bad "sendmail -d0.13: $v" ;; esac
case $v in *_FFR_MTA_STS*) ok "built with _FFR_MTA_STS" ;; *) bad "no _FFR_MTA_STS in: $v" ;; esac

# /map through the real map client: the sts grammar and the recorder
m=$(printf '/map sts enforce-ok.test\n/map sts no-txt.test\n' | smx -C "$SM/failclosed.cf" -bt 2>&1)
[[ $m == *"map_lookup: sts (enforce-ok.test) returns secure match=mx1.enforce-ok.test:mx2.enforce-ok.test servername=hostname (0)"* ]] &&
	ok "sendmail -bt /map sts enforce-ok.test: secure match=... servername=hostname" || bad "/map sts: $m"
[[ $m == *"map_lookup: sts (no-txt.test) no match (68)"* ]] && ok "sendmail -bt /map sts no-txt.test: no match (EX_NOHOST)" || bad "/map sts no-txt: $m"

# ------------------------------------------------------------ milter and daemon
# the milter logs to stderr (-e), i.e. $MLOG: no LD_PRELOAD shim, so an
# ASan build of it runs too
MPID=$("$W" spawn "$D" milter "$MILTER" -p "unix:$MSOCK" -d "unix:$SOCK" -t 3000 -v -e)
MLOG=$D/log/spawn-milter.log
SPID=$("$W" spawn "$D" sendmail "${SMENV[@]}" "$SENDMAIL" -C "$SM/failclosed.cf" -bD -odq)
up=0
for _ in $(seq 1 200); do
	kill -0 "$SPID" 2>/dev/null || break
	if [ -S "$MSOCK" ] && x bash -c "exec 3<>/dev/tcp/127.0.0.1/$SUBMIT_PORT" 2>/dev/null; then up=1; break; fi
	sleep 0.1
done
if [ "$up" != 1 ]; then
	echo "FAIL: sendmail -bD or the milter did not start"
	cat "$D/log/spawn-sendmail.log" "$D/log/spawn-milter.log" "$LOG"
	exit 1
fi
ok "sendmail -bD and stsguard-milter run in the world"

# ------------------------------------------------------------ mail
echo "--- stsguardd knows the scenario domains"
while read -r domain verdict; do
	got=
	for _ in $(seq 1 100); do
		r=$(ask policy "$domain")
		case $r in *" verdict=$verdict "*) got=1; break ;; esac
		sleep 0.1
	done
	[ -n "$got" ] && ok "policy $domain: verdict=$verdict" || bad "policy $domain: got '$r', want verdict=$verdict"
done <<'TABLE'
enforce-ok.test enforce
two-mx-one-outside.test enforce
rogue-first.test enforce
all-outside.test enforce
mx-selfsigned.test enforce
mx-wrongname.test enforce
mx-wildcard-cert.test enforce
mx-nostarttls.test enforce
mx-expired.test enforce
optout-wrongname.test enforce
testing-ok.test testing
no-txt.test no-policy
TABLE
for d in milter-first.test milter-control.test; do
	r=$(ask cache-show "$d")
	[ "$r" = "NOTFOUND " ] && ok "$d is not cached yet" || bad "$d cached before any mail: '$r'"
done

MSGN=0
msgfile() { # RCPT -> path of a fresh message for RCPT
	MSGN=$((MSGN + 1))
	local f=$TOP/msg.$MSGN
	printf 'From: <sender@client.test>\r\nTo: <%s>\r\nSubject: stsguard sendmail test %s\r\nMessage-ID: <t%s.%s@client.test>\r\n\r\nhello %s\r\n' \
		"$1" "$1" "$MSGN" "${1#*@}" "$1" >"$f"
	echo "$f"
}
submit() { # RCPT: over SMTP to the Sendmail daemon (milter attached)
	x curl -sS --max-time 30 "smtp://127.0.0.1:$SUBMIT_PORT/client.test" \
		--mail-from sender@client.test --mail-rcpt "$1" --upload-file "$(msgfile "$1")" ||
		bad "submitting mail to $1 failed"
}
qid_of() { # RCPT: queue id of RCPT's message (from the "to=" of its delivery or the daemon's from= line)
	grep -E "sendmail\[[0-9]+\]: [A-Za-z0-9]+: to=<$1>," "$LOG" | tail -1 | sed -E 's/.*: ([A-Za-z0-9]+): to=.*/\1/'
}
last_to() { grep -E "sendmail\[[0-9]+\]: [A-Za-z0-9]+: to=<$1>," "$LOG" | tail -1 | sed 's/^[^]]*]: //'; }
attempts() { grep -E "sendmail\[[0-9]+\]: [A-Za-z0-9]+: to=<$1>, .*stat=" "$LOG" | grep -vc 'stat=queued$'; }
run_queue() { # CF: one queue run in the foreground (-qf): returns when every queued message was tried
	echo "=== queue run with ${1##*/}" >>"$TOP/queue-runs.log"
	smx -C "$1" -qf >>"$TOP/queue-runs.log" 2>&1 || true
}
# session_of RCPT: the log lines of RCPT's last delivery attempt: the
# delivering process's lines from "<qid>: SMTP outgoing connect" to
# "<qid>: to=<RCPT>" (Sendmail's ruleset= lines carry no queue id).
session_of() {
	local line pid q
	line=$(grep -E "sendmail\[[0-9]+\]: [A-Za-z0-9]+: to=<$1>, .*stat=" "$LOG" | tail -1)
	[ -n "$line" ] || return 0
	pid=$(sed -E 's/.*sendmail\[([0-9]+)\].*/\1/' <<<"$line")
	q=$(sed -E 's/.*\]: ([A-Za-z0-9]+): to=.*/\1/' <<<"$line")
	awk -v p="sendmail[$pid]: " -v c="$q: SMTP outgoing connect" -v t="$q: to=<$1>," '
		index($0, p) == 0 { next }
		index($0, c) { buf = "" }
		{ buf = buf $0 "\n" }
		index($0, t) { last = buf }
		END { printf "%s", last }' "$LOG"
}
sink_record() { # RCPT: the X-Sink-* header of the spooled message for RCPT
	awk -v r="X-Sink-Rcpt-To: <$1>" '
		/^X-Sink-Begin: / { buf = ""; hit = 0; inrec = 1 }
		inrec && /^X-Sink-/ { buf = buf $0 "\n" }
		index($0, r) == 1 { hit = 1 }
		/^$/ { inrec = 0 }
		/^X-Sink-End: / { if (hit) { printf "%s", buf; exit } }' "$WORLD_SPOOL"/*.mbox 2>/dev/null
}
field() { sed -n "s/^X-Sink-$1: //p" <<<"$2" | head -1; }

# check_sent NAME RCPT MX VERIFY SNI: stat=Sent via MX; STARTTLS=client
# logged verify=VERIFY for MX; the sink got it over TLS with SNI (- = none)
check_sent() {
	local name=$1 rcpt=$2 mx=$3 verify=$4 sni=$5 line rec got
	line=$(last_to "$rcpt")
	if [[ $line != *"relay=$mx. ["*"stat=Sent"* ]]; then bad "$name: not sent via $mx: '$line'"; return; fi
	if ! session_of "$rcpt" | grep -Eq "STARTTLS=client, relay=$mx\., version=TLSv1\.[23], verify=$verify,"; then
		bad "$name: no 'STARTTLS=client, relay=$mx., ... verify=$verify' in its session"; return
	fi
	rec=
	for _ in $(seq 1 50); do rec=$(sink_record "$rcpt"); [ -n "$rec" ] && break; sleep 0.1; done
	got="host=$(field Host "$rec") tls=$(field TLS "$rec") sni=$(field SNI "$rec")"
	if [[ $got == "host=$mx tls=TLSv1."[23]" sni=$sni" ]]; then ok "$name: verify=$verify, stat=Sent; sink: $got"
	else bad "$name: sink record '$got', want host=$mx tls=TLSv1.2/3 sni=$sni"; fi
}
# check_deferred NAME RCPT RULESET_TEXT: stat=Deferred, the reason logged for
# the same queue id, still in the queue, nothing in any sink spool
check_deferred() {
	local name=$1 rcpt=$2 text=$3 line q
	line=$(last_to "$rcpt")
	if [[ $line != *"stat=Deferred"* ]]; then bad "$name: '$line', want stat=Deferred"; return; fi
	q=$(qid_of "$rcpt")
	if ! session_of "$rcpt" | grep -qF -- "$text"; then bad "$name: deferred, but no '$text' in its session"; return; fi
	if [ ! -f "$SM/queue/qf$q" ]; then bad "$name: $q is not in the queue"; return; fi
	if [ -n "$(sink_record "$rcpt")" ]; then bad "$name: deferred, yet a sink has the message"; return; fi
	ok "$name: stat=Deferred, '$text'"
}

echo "--- submitting mail"
R_ENF=rcpt@enforce-ok.test
R_OUT=rcpt@two-mx-one-outside.test
R_ROGUE=rcpt@rogue-first.test
R_ALLOUT=rcpt@all-outside.test
R_SELF=rcpt@mx-selfsigned.test
R_NAME=rcpt@mx-wrongname.test
R_WILD=rcpt@mx-wildcard-cert.test
R_NOTLS=rcpt@mx-nostarttls.test
R_TEST=rcpt@testing-ok.test
R_NOPOL=rcpt@no-txt.test
R_OPTOUT=rcpt@mx-expired.test
R_OPTOUT2=rcpt@optout-wrongname.test
R_FIRST=rcpt@milter-first.test
R_CTRL=rcpt@milter-control.test
for r in $R_ENF $R_OUT $R_ROGUE $R_ALLOUT $R_SELF $R_NAME $R_WILD $R_NOTLS $R_TEST $R_NOPOL $R_OPTOUT $R_OPTOUT2 $R_FIRST; do submit "$r"; done
# the control: the same kind of domain, queued from the command line, where
# no milter runs
smx -C "$SM/failclosed.cf" -odq -f sender@client.test "$R_CTRL" <"$(msgfile "$R_CTRL")" ||
	bad "command-line submission to $R_CTRL failed"

echo "--- stsguard-milter: RCPT TO alone makes stsguardd fetch the policy"
grep -Eq "stsguard-milter\[[0-9]+\]: prefetch milter-first.test: (queued|cached)" "$MLOG" &&
	ok "milter: 'prefetch milter-first.test' answered" || bad "milter did not prefetch milter-first.test"
r=
for _ in $(seq 1 300); do
	r=$(ask cache-show milter-first.test)
	case $r in 'OK {'*'"mode":"enforce"'*) break ;; esac
	sleep 0.1
done
case $r in 'OK {'*'"mode":"enforce"'*) ok "milter-first.test's enforce policy is cached while the message is still queued" ;;
*) bad "milter-first.test not cached after RCPT TO: '$r'" ;; esac
r=$(ask cache-show milter-control.test)
[ "$r" = "NOTFOUND " ] && ok "control: milter-control.test (no milter) is still not cached" || bad "control cached: '$r'"
n=$(ls "$SM"/queue/qf* 2>/dev/null | wc -l)
[ "$n" = 14 ] && ok "14 messages queued, none delivered yet" || bad "$n queue files, want 14"

echo "--- queue run 1 (stsguardd up, failclosed)"
run_queue "$SM/failclosed.cf"
check_sent "enforce" "$R_ENF" mx1.enforce-ok.test OK mx1.enforce-ok.test
# mx.outside.test (pref 20) is not in the policy; mx1 (pref 10) takes the mail first
check_sent "enforce, one MX outside the policy" "$R_OUT" mx1.two-mx-one-outside.test OK mx1.two-mx-one-outside.test
# rogue-first.test: the preferred MX (mx.rogue.test, pref 5) is not in the
# policy: Sendmail connects, tls_rcpt refuses it, the next MX gets the mail
check_sent "enforce, preferred MX outside the policy: next MX used" "$R_ROGUE" mx1.rogue-first.test OK mx1.rogue-first.test
grep -q "ruleset=tls_rcpt, arg1=$R_ROGUE, relay=mx.rogue.test., reject=450 4.7.0 <$R_ROGUE>... mx.rogue.test not found in" "$LOG" &&
	ok "rogue-first: tls_rcpt refused mx.rogue.test (not found in the policy)" || bad "rogue-first: no tls_rcpt refusal for mx.rogue.test"
check_deferred "enforce, every MX outside the policy" "$R_ALLOUT" "mx.elsewhere.test not found in"
check_deferred "enforce, self-signed MX certificate" "$R_SELF" "ruleset=tls_server, arg1=FAIL, relay=mx1.mx-selfsigned.test"
check_deferred "enforce, MX certificate for another name" "$R_NAME" "not listed in SANs"
grep -q "ruleset=tls_rcpt, arg1=$R_NAME, relay=mx1.mx-wrongname.test., reject=450 4.7.0 <$R_NAME>... mx1.mx-wrongname.test not listed in SANs" "$LOG" ||
	bad "wrong name: no tls_rcpt 'not listed in SANs' line"
# 8.17.1.9's own STS_SAN refuses every wildcard certificate; the feature's
# Local_tls_rcpt accepts *.parent for one label (RFC 8461 section 4.1)
check_sent "enforce, MX certificate *.mx-wildcard-cert.test" "$R_WILD" mx1.mx-wildcard-cert.test OK mx1.mx-wildcard-cert.test
check_deferred "enforce, MX without STARTTLS" "$R_NOTLS" "ruleset=tls_server, arg1=NONE, relay=mx1.mx-nostarttls.test"
check_sent "testing: delivered as without a policy" "$R_TEST" mx1.testing-ok.test OK -
check_sent "no policy: delivered" "$R_NOPOL" mx1.no-txt.test OK -
check_sent "Clt_Features:mx1.mx-expired.test M: STS off for that MX (8.17.1.9 fix)" "$R_OPTOUT" mx1.mx-expired.test FAIL -
check_sent "Clt_Features:<mx> M also skips the certificate-name check" "$R_OPTOUT2" mx1.optout-wrongname.test OK -
check_deferred "milter: the FIRST message to a new enforce domain is enforced" "$R_FIRST" \
	"ruleset=tls_server, arg1=FAIL, relay=mx1.milter-first.test"
[ "$(attempts "$R_FIRST")" = 1 ] && ok "milter: that was the first delivery attempt" || bad "milter-first: $(attempts "$R_FIRST") attempts"
for s in mx.rogue.test mx.elsewhere.test mx1.mx-selfsigned.test mx1.mx-wrongname.test mx1.milter-first.test; do
	c=$(grep -c '^X-Sink-End' "$WORLD_SPOOL/$s.mbox" 2>/dev/null)
	[ "${c:-0}" = 0 ] && ok "no message reached $s" || bad "$s got $c message(s)"
done
grep -q 'relay=mx.outside.test' "$LOG" && bad "Sendmail connected to mx.outside.test" || ok "mx.outside.test was never tried"

# ------------------------------------------------------------ TLS-RPT records
# tlsrpt_record DOMAIN RESULT MX: the store has a v1 line for DOMAIN with RESULT and MX
tlsrpt_record() {
	awk -v d="$1" -v r="$2" -v m="$3" '$1 == "v1" && $4 == d && $6 == r && $8 == m { f = 1 } END { exit !f }' \
		"$TLSRPT_DIR"/*.results 2>/dev/null
}
echo "--- TLS-RPT: what the recorder map stored for each Sendmail session"
while read -r d result mx; do
	ok_=
	for _ in $(seq 1 50); do tlsrpt_record "$d" "$result" "$mx" && { ok_=1; break; }; sleep 0.1; done
	if [ -n "$ok_" ]; then ok "tlsrpt: $d $result $mx"
	else bad "tlsrpt: no '$d $result $mx' record; $d has: $(awk -v d="$d" '$4 == d' "$TLSRPT_DIR"/*.results 2>/dev/null | head -3)"; fi
done <<'TABLE'
enforce-ok.test success mx1.enforce-ok.test
two-mx-one-outside.test success mx1.two-mx-one-outside.test
rogue-first.test validation-failure mx.rogue.test
rogue-first.test success mx1.rogue-first.test
all-outside.test validation-failure mx.elsewhere.test
mx-selfsigned.test certificate-not-trusted mx1.mx-selfsigned.test
mx-wrongname.test certificate-host-mismatch mx1.mx-wrongname.test
mx-wildcard-cert.test success mx1.mx-wildcard-cert.test
mx-nostarttls.test starttls-not-supported mx1.mx-nostarttls.test
testing-ok.test success mx1.testing-ok.test
milter-first.test certificate-not-trusted mx1.milter-first.test
TABLE
# the opted-out MX ran without STS: nothing to report for it
awk '$4 == "mx-expired.test" || $4 == "optout-wrongname.test"' "$TLSRPT_DIR"/*.results 2>/dev/null | grep -q . &&
	bad "tlsrpt: a record for an opted-out MX" || ok "tlsrpt: no record for the opted-out MX hosts"
grep -E "tlsrpt|Ktlsrpt" "$LOG" | grep -qiE 'error|unavailable' && bad "Sendmail logged recorder errors: $(grep -E 'tlsrpt' "$LOG" | head -3)" ||
	ok "no recorder map error in the Sendmail log"
echo "--- the day's TLS-RPT reports built from the Sendmail sessions (stsguard report send --dry-run --out)"
report_check "$TLSRPT_DIR" "$TOP/reports" enforce-ok.test=success rogue-first.test=validation-failure \
	rogue-first.test=success testing-ok.test=success '!mx-selfsigned.test'

# ------------------------------------------------------------ stsguardd down
echo "--- stsguardd killed (a crash: its socket files stay, connecting is refused)"
kill -KILL "$DPID"
for _ in $(seq 1 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
DPID=
[ -S "$SOCK" ] && [ -S "$RSOCK" ] && ok "stale socket files left behind" || bad "socket files gone after SIGKILL"
R_DOWN=rcpt-down@enforce-ok.test
R_DOWN2=rcpt-down@no-txt.test
submit "$R_DOWN"
submit "$R_DOWN2"
grep -Eq "stsguard-milter\[[0-9]+\]: stsguardd unreachable" "$MLOG" && ok "milter: daemon away, mail still accepted (fail open)" ||
	bad "milter did not log the unreachable daemon"
run_queue "$SM/failclosed.cf"
check_deferred "failclosed, daemon down: enforce domain" "$R_DOWN" "STS lookup temp fail"
check_deferred "failclosed, daemon down: domain WITHOUT a policy too" "$R_DOWN2" "STS lookup temp fail"
echo "--- the same queue with the failopen map, daemon still down"
run_queue "$SM/failopen.cf"
check_sent "failopen, daemon down: enforce domain goes out without STS" "$R_DOWN" mx1.enforce-ok.test OK -
check_sent "failopen, daemon down: no-policy domain goes out" "$R_DOWN2" mx1.no-txt.test OK -
for r in $R_SELF $R_NOTLS $R_FIRST; do # failopen + no daemon = no STS: the bad MX gets them
	[[ $(last_to "$r") == *"stat=Sent"* ]] && ok "failopen, daemon down: $r sent (no protection, as documented)" ||
		bad "failopen, daemon down: $r: $(last_to "$r")"
done

echo "--- stsguardd back, then stopped cleanly (it removes its socket files)"
spawn_daemon "$CONF" "$SOCK" || exit 1
stop_pid "$DPID" && ok "stsguardd exited on SIGTERM" || bad "stsguardd needed SIGKILL"
DPID=
[ ! -e "$SOCK" ] && [ ! -e "$RSOCK" ] && ok "socket files removed" || bad "socket files still there after SIGTERM"
R_STOP=rcpt-stop@enforce-ok.test
R_STOP2=rcpt-stop@no-txt.test
submit "$R_STOP"
submit "$R_STOP2"
run_queue "$SM/failclosed.cf"
check_deferred "failclosed, daemon stopped: enforce domain" "$R_STOP" "STS lookup temp fail"
check_deferred "failclosed, daemon stopped: domain WITHOUT a policy too" "$R_STOP2" "STS lookup temp fail"
grep -q 'SYSERR.*socket map "sts": local socket name' "$LOG" && ok "Sendmail logs SYSERR for the missing sts socket" ||
	bad "no SYSERR for the missing sts socket"
grep -q 'socket map "tlsrpt"' "$LOG" && bad "the recorder was reached while the sts lookup failed: $(grep -m1 'socket map "tlsrpt"' "$LOG")" ||
	ok "recorder skipped while the sts lookup fails (verify TEMP/FAILURE)"
echo "--- failopen without the recorder, daemon stopped"
run_queue "$SM/failopen-norec.cf"
check_sent "failopen (recorder none), daemon stopped: enforce domain goes out" "$R_STOP" mx1.enforce-ok.test OK -
check_sent "failopen (recorder none), daemon stopped: no-policy domain goes out" "$R_STOP2" mx1.no-txt.test OK -
echo "--- failopen with the recorder on TCP, daemon stopped (the connection is refused: no missing path)"
R_STOP3=rcpt-stop3@enforce-ok.test
R_STOP4=rcpt-stop4@no-txt.test
submit "$R_STOP3"
submit "$R_STOP4"
run_queue "$SM/failopen-tcprec.cf"
check_sent "failopen (recorder on TCP), daemon stopped: enforce domain goes out" "$R_STOP3" mx1.enforce-ok.test OK -
check_sent "failopen (recorder on TCP), daemon stopped: no-policy domain goes out" "$R_STOP4" mx1.no-txt.test OK -

echo "--- Sendmail never crashed"
# (the one expected SYSERR: the sts map's unix socket is gone while stsguardd is down)
f=$(grep -E 'SYSERR|signal 11|dumped core|Segmentation' "$LOG" | grep -vF "socket map \"sts\": local socket name $SOCK unsafe: No such file or directory")
[ -z "$f" ] && ok "no other SYSERR, no crash in the Sendmail log" || bad "Sendmail: $f"

echo "--- the milter stops cleanly"
stop_pid "$MPID" && ok "stsguard-milter exited on SIGTERM" || bad "stsguard-milter needed SIGKILL"
MPID=
grep -q 'Sanitizer' "$MLOG" && bad "sanitizer report from the milter: $(grep -m3 'Sanitizer' "$MLOG")" ||
	ok "no sanitizer report from the milter"

echo
echo "took $((SECONDS - START)) s"
if [ "$fail" != 0 ]; then
	echo "--- Sendmail log ($LOG)"
	cat "$LOG"
	echo "--- stsguard-milter log"
	cat "$MLOG"
	echo "--- queue runs"
	cat "$TOP/queue-runs.log"
	echo "--- stsguardd log"
	cat "$D/log/spawn-stsguardd.log" | tail -50
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
