#!/usr/bin/env bash
# test_postfix.sh STSGUARDD SMQ - stsguardd behind the REAL Debian Postfix
# (3.7.11 on Debian 12), fetched with `apt-get download postfix` and unpacked
# with `dpkg -x` (never installed).  Inside the test world (tests/world) a
# Postfix master relays mail, submitted over SMTP on 127.0.0.1, to the world's
# MX sinks with
#     smtp_tls_policy_maps = socketmap:unix:<stsguardd socket>:postfix
# and the test asserts what Postfix really did, from its log (status=sent /
# status=deferred and the reason) and from the sinks' spools (TLS version,
# SNI): enforce, bad MX certificates, no STARTTLS, no policy, testing, DANE
# (with and without DNSSEC lookups), a stopped stsguardd, the inet and proxy:
# endpoints, a chrooted smtp(8) (Debian's default), and the Postfix 3.10 map
# (postfix-tlsrpt) that 3.7 must refuse.  `postmap -q`, the simplest real
# client, is checked first.  The configuration templates are in postfix/.
#
# Exit 77 (skip) without root / network namespaces, or when the package
# cannot be fetched because there is no network.  The .deb files are cached
# in $STSGUARD_DEB_CACHE, else $XDG_CACHE_HOME/stsguard/debs, else build/debs.
# POSTFIX_TEST_KEEP=1 keeps the temporary directory (world, Postfix log).
set -uo pipefail
STSGUARDD=$(readlink -f "$1")
SMQ=$(readlink -f "$2")
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
W=$HERE/world.sh
TPL=$HERE/postfix
START=$SECONDS

if [ "$(id -u)" != 0 ] || ! ip netns list >/dev/null 2>&1; then
	echo "SKIP: needs root and ip netns"
	exit 77
fi
for t in apt-get apt-cache dpkg-deb curl flock ldd; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: needs $t"; exit 77; }
done

# Postfix's unprivileged accounts: existing Debian base accounts, nothing is created.
MAIL_OWNER=nobody     # mail_owner: owns the queue, runs the daemons
SETGID_GROUP=mail     # setgid_group: must differ from mail_owner's group
DEFAULT_PRIVS=daemon  # default_privs: must differ from mail_owner (unused: no local delivery)
for u in "$MAIL_OWNER" "$DEFAULT_PRIVS"; do
	id -u "$u" >/dev/null 2>&1 || { echo "FAIL: no user $u"; exit 1; }
done
getent group "$SETGID_GROUP" >/dev/null || { echo "FAIL: no group $SETGID_GROUP"; exit 1; }
OWNER_GROUP=$(id -gn "$MAIL_OWNER")

TOP=$(mktemp -d /tmp/stsgpf.XXXXXX)
chmod 755 "$TOP" # Postfix's daemons run as $MAIL_OWNER and read below here
D=$TOP/w
PF=$TOP/pf          # the Postfix instance: etc/ queue/ data/ maillog
PFROOT=$TOP/root    # the unpacked package(s)
LOG=$PF/maillog
SOCK=$D/run/stsguardd.sock
INET_PORT=8461
SUBMIT_PORT=10025
DPID='' MPID=''

. "$HERE/deb-lib.sh" # fetch_deb, fetch_or_skip, unpack_missing_libs, stop_pid, mta_cleanup
cleanup() { mta_cleanup "${POSTFIX_TEST_KEEP:-0}" "$MPID" "$DPID"; }
trap cleanup EXIT

# ------------------------------------------------------------ the package
deb=$(fetch_or_skip postfix) || exit $?
dpkg-deb -x "$deb" "$PFROOT" || { echo "FAIL: dpkg-deb -x $deb"; exit 1; }
PFLD=$PFROOT/usr/lib/postfix # Debian's private libpostfix-*.so

# Postfix's shared libraries (libdb5.3, libicu72, libnsl2, libsasl2-2) may be
# missing on a fresh machine: unpack those packages too (libraries, not an MTA).
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
missing_libs() {
	LD_LIBRARY_PATH=$PFLD ldd "$PFROOT"/usr/lib/postfix/sbin/* "$PFROOT"/usr/sbin/* 2>/dev/null |
		awk '/=> not found/ {print $1}' | sort -u
}
for _ in 1 2 3; do # libnsl2 needs libtirpc3: a second round
	libs=$(missing_libs)
	[ -z "$libs" ] && break
	pkgs=
	for so in $libs; do
		case $so in
		libdb-5.3.so) p=libdb5.3 ;;
		libicu*.so.72) p=libicu72 ;;
		libnsl.so.2) p=libnsl2 ;;
		libtirpc.so.3) p=libtirpc3 ;;
		libsasl2.so.2) p=libsasl2-2 ;;
		libssl.so.3 | libcrypto.so.3) p=libssl3 ;;
		*) echo "FAIL: Postfix needs $so and this test does not know its package"; exit 1 ;;
		esac
		case " $pkgs " in *" $p "*) ;; *) pkgs="$pkgs $p" ;; esac
	done
	echo "unpacking libraries Postfix needs:$pkgs"
	for p in $pkgs; do
		ldeb=$(fetch_deb "$p") || { echo "FAIL: apt-get download $p"; tail -5 "$APTLOG"; exit 1; }
		dpkg-deb -x "$ldeb" "$PFROOT" || exit 1
	done
	PFLD=$PFROOT/usr/lib/postfix:$PFROOT/usr/lib/$MA:$PFROOT/lib/$MA
done
[ -z "$(missing_libs)" ] || { echo "FAIL: Postfix still misses: $(missing_libs | tr '\n' ' ')"; exit 1; }

# ------------------------------------------------------------ the world and stsguardd
"$W" up "$D" || { echo "world did not come up"; exit 1; }
. "$D/env"

CONF=$D/stsguardd.conf
. "$HERE/daemon-lib.sh"
daemon_conf "$CONF" "$SOCK" "$INET_PORT" 8
pfx() { x env LD_LIBRARY_PATH="$PFLD" "$@"; } # a Postfix command inside the world
ask() { x "$SMQ" -t 10 "${3:-unix:$SOCK}" "$1" "$2"; }

start_daemon() {
	spawn_daemon "$CONF" "$SOCK" || return 1
	# The socket is srw-rw---- root:root; Postfix's daemons run as $MAIL_OWNER:
	# give them the group, as an admin adds the postfix user to stsguardd's group.
	chgrp "$OWNER_GROUP" "$SOCK"
}
start_daemon || exit 1

# ------------------------------------------------------------ the Postfix instance
mkdir -p "$PF/etc" "$PF/queue" "$PF/data"
subst() {
	sed -e "s|@PFROOT@|$PFROOT|g; s|@PFDIR@|$PF|g; s|@SOCK@|$SOCK|g; s|@CA@|$WORLD_CA|g" \
		-e "s|@LDPATH@|$PFLD|g; s|@MAIL_OWNER@|$MAIL_OWNER|g; s|@SETGID_GROUP@|$SETGID_GROUP|g" \
		-e "s|@DEFAULT_PRIVS@|$DEFAULT_PRIVS|g; s|@SUBMIT_PORT@|$SUBMIT_PORT|g; s|@INET_PORT@|$INET_PORT|g" "$1"
}
subst "$TPL/main.cf.in" >"$PF/etc/main.cf"
subst "$TPL/master.cf.in" >"$PF/etc/master.cf"
# the queue layout of postfix-files, without running postfix-script
(
	cd "$PF/queue" || exit 1
	for q in active bounce corrupt defer deferred flush hold incoming private saved trace; do
		mkdir -p "$q" && chown "$MAIL_OWNER" "$q" && chmod 700 "$q"
	done
	mkdir -p maildrop public pid
	chown "$MAIL_OWNER:$SETGID_GROUP" maildrop public && chmod 730 maildrop && chmod 710 public
)
chown "$MAIL_OWNER" "$PF/data" && chmod 700 "$PF/data"
# the chroot of the smtp-jail-* transports, as Debian's configure-instance.sh
# prepares it (glibc >= 2.34 has nss files/dns built in: no libraries needed)
mkdir -p "$PF/queue/etc"
cp "$WORLD_RESOLV_CONF" "$PF/queue/etc/resolv.conf"
for f in services hosts host.conf nsswitch.conf localtime; do
	[ -f "/etc/$f" ] && cp -L "/etc/$f" "$PF/queue/etc/$f"
done
chmod -R a+rX "$PF/queue/etc"
: >"$LOG"

PFVER=$(LD_LIBRARY_PATH=$PFLD "$PFROOT/usr/sbin/postconf" -c "$PF/etc" -h mail_version 2>/dev/null)
echo "Postfix $PFVER from ${deb##*/}"
case $PFVER in 3.[4-9].*) ;; *) bad "this test is written for Postfix 3.4-3.9 (Debian 12: 3.7), got '$PFVER'" ;; esac
w=$(LD_LIBRARY_PATH=$PFLD "$PFROOT/usr/sbin/postconf" -c "$PF/etc" -n 2>&1 >/dev/null)
[ -z "$w" ] && ok "postconf accepts the test main.cf" || bad "postconf: $w"

MPID=$("$W" spawn "$D" postfix env LD_LIBRARY_PATH="$PFLD" "$PFROOT/usr/lib/postfix/sbin/master" -c "$PF/etc" -d)
up=0
for _ in $(seq 1 200); do
	kill -0 "$MPID" 2>/dev/null || break
	if grep -q 'daemon started' "$LOG" && x bash -c "exec 3<>/dev/tcp/127.0.0.1/$SUBMIT_PORT" 2>/dev/null; then
		up=1
		break
	fi
	sleep 0.1
done
if [ "$up" != 1 ]; then
	echo "FAIL: Postfix master did not start:"
	cat "$D/log/spawn-postfix.log" "$LOG"
	exit 1
fi
ok "Postfix master runs in the world: $(grep -m1 'daemon started' "$LOG" | sed 's/.*: daemon/daemon/')"

# ------------------------------------------------------------ postmap -q: the simplest real client
ENFORCE='secure match=mx1.enforce-ok.test:mx2.enforce-ok.test servername=hostname'
pm() { pfx "$PFROOT/usr/sbin/postmap" -c "$PF/etc" -q "$1" "$2"; }
expect_pm() { # NAME KEY TABLE WANT_RC WANT_OUTPUT(prefix match when it ends with *)
	local out rc
	out=$(pm "$2" "$3" 2>&1)
	rc=$?
	# shellcheck disable=SC2053
	if [ "$rc" = "$4" ] && [[ $out == $5 ]]; then ok "postmap -q $2 ($1): rc=$rc '${out:0:100}'"
	else bad "postmap -q $2 ($1): rc=$rc '$out', want rc=$4 '$5'"; fi
}
echo "--- postmap -q through the real Postfix dict client"
PMAP=socketmap:unix:$SOCK:postfix
expect_pm "enforce: the secure reply" enforce-ok.test "$PMAP" 0 "$ENFORCE"
expect_pm "Postfix does not fold keys; stsguardd does" ENFORCE-OK.Test. "$PMAP" 0 "$ENFORCE"
expect_pm "mx: *.mx.wildcard.test as .mx.wildcard.test" wildcard.test "$PMAP" 0 "secure match=.mx.wildcard.test servername=hostname"
expect_pm "DNSSEC-validated TLSA on every MX" dane.test "$PMAP" 0 "dane-only"
expect_pm "testing: not found" testing-ok.test "$PMAP" 1 ""
expect_pm "mode none: not found" none-mode.test "$PMAP" 1 ""
expect_pm "no policy: not found" no-txt.test "$PMAP" 1 ""
expect_pm "parent-domain probe: not found" .test "$PMAP" 1 ""
expect_pm "[address]:port next-hop: not found" "[127.0.3.1]:25" "$PMAP" 1 ""
expect_pm "over the inet listener" enforce-ok.test "socketmap:inet:127.0.0.1:$INET_PORT:postfix" 0 "$ENFORCE"
expect_pm "through proxymap (chroot-safe)" enforce-ok.test "proxy:$PMAP" 0 "$ENFORCE"
expect_pm "the 3.10 map adds STS attributes" enforce-ok.test "socketmap:unix:$SOCK:postfix-tlsrpt" 0 "$ENFORCE policy_type=sts policy_domain=enforce-ok.test *"
expect_pm "the 3.10 map: testing is 'may' + attributes" testing-ok.test "socketmap:unix:$SOCK:postfix-tlsrpt" 0 "may policy_type=sts policy_domain=testing-ok.test *"

# ------------------------------------------------------------ mail through Postfix
echo "--- stsguardd knows the mail domains (so no first lookup races query_timeout)"
while read -r domain verdict; do
	r=$(ask policy "$domain")
	case $r in *" verdict=$verdict "*) ok "policy $domain: verdict=$verdict" ;; *) bad "policy $domain: got '$r', want verdict=$verdict" ;; esac
done <<'TABLE'
mx-selfsigned.test enforce
mx-wrongname.test enforce
mx-expired.test enforce
mx-nostarttls.test enforce
mx-mixed.test enforce
no-txt.test no-policy
dane-bad-tlsa.test dane
TABLE

submit() { # RCPT: submit one message to Postfix's smtpd on 127.0.0.1
	local f=$TOP/msg.$1
	printf 'From: <sender@client.test>\r\nTo: <%s>\r\nSubject: stsguard test %s\r\nMessage-ID: <%s.%s@client.test>\r\n\r\nhello %s\r\n' \
		"$1" "$1" "${1%@*}" "${1#*@}" "$1" >"$f"
	x curl -sS --max-time 30 "smtp://127.0.0.1:$SUBMIT_PORT/client.test" \
		--mail-from sender@client.test --mail-rcpt "$1" --upload-file "$f" ||
		bad "submitting mail to $1 failed"
}
attempts() { grep -cF "to=<$1>," "$LOG" 2>/dev/null; }
status_of() { # RCPT: the status of RCPT's last delivery attempt
	grep -F "to=<$1>," "$LOG" 2>/dev/null | tail -1 | sed -n 's/.* status=\([a-z]*\) .*/\1/p'
}
line_of() { grep -F "to=<$1>," "$LOG" 2>/dev/null | tail -1 | sed 's/^.*\]: //'; }
wait_attempts() { # RCPT N TIMEOUT: wait until RCPT has N delivery attempts logged
	local end=$((SECONDS + $3))
	while [ "$(attempts "$1")" -lt "$2" ]; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.2
	done
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

# check_sent NAME RCPT MXHOST TLSWORD SNI [SERVICE]
#   status=sent via MXHOST; Postfix logged "<TLSWORD> TLS connection established
#   to MXHOST"; the sink got it over TLS 1.2/1.3 with SNI (- for none).
check_sent() {
	local name=$1 rcpt=$2 mx=$3 word=$4 sni=$5 svc=${6:-smtp} line rec got
	line=$(line_of "$rcpt")
	if [[ $line != *"relay=${mx}["*"status=sent"* ]]; then bad "$name: not sent via $mx: '$line'"; return; fi
	if ! grep -Eq "postfix/$svc\[[0-9]+\]: $word TLS connection established to $mx\[" "$LOG"; then
		bad "$name: no '$word TLS connection established to $mx' from postfix/$svc"; return
	fi
	rec=
	for _ in $(seq 1 50); do rec=$(sink_record "$rcpt"); [ -n "$rec" ] && break; sleep 0.1; done
	got="host=$(field Host "$rec") tls=$(field TLS "$rec") sni=$(field SNI "$rec")"
	if [[ $got == "host=$mx tls=TLSv1."[23]" sni=$sni" ]]; then
		ok "$name: $word TLS, sent; sink: $got"
	else
		bad "$name: sink record '$got', want host=$mx tls=TLSv1.2/3 sni=$sni"
	fi
}
# check_deferred NAME RCPT REASON LOGTEXT [SINKHOST]
#   status=deferred (REASON...); LOGTEXT in the log; nothing in any sink spool;
#   with SINKHOST: its session log shows TLS completed and no message sent.
check_deferred() {
	local name=$1 rcpt=$2 reason=$3 text=$4 host=${5:-} line
	line=$(line_of "$rcpt")
	if [[ $line != *"status=deferred ($reason"* ]]; then bad "$name: '$line', want status=deferred ($reason...)"; return; fi
	if ! grep -qF -- "$text" "$LOG"; then bad "$name: deferred, but no '$text' in the Postfix log"; return; fi
	if [ -n "$(sink_record "$rcpt")" ]; then bad "$name: deferred, yet the sink has the message"; return; fi
	if [ -n "$host" ]; then
		local s=$WORLD_SPOOL/$host.log
		if ! grep -Eq "tls=TLSv1\.[23] .* msgs=0 end=quit" "$s" 2>/dev/null || grep -Eq 'msgs=[1-9]' "$s"; then
			bad "$name: sink session log does not show 'TLS, no message': $(cat "$s" 2>/dev/null)"; return
		fi
	fi
	ok "$name: ${line#*dsn=}"
}

echo "--- submitting mail"
R_ENF="rcpt-enforce@enforce-ok.test"
R_SELF="rcpt@mx-selfsigned.test"
R_NAME="rcpt@mx-wrongname.test"
R_EXP="rcpt@mx-expired.test"
R_NOTLS="rcpt@mx-nostarttls.test"
R_NOPOL="rcpt@no-txt.test"
R_TEST="rcpt@testing-ok.test"
R_MIXED="rcpt@mx-mixed.test"
R_WILD="rcpt@wildcard.test"
R_DANE="rcpt@dane.test"
R_BADTLSA="rcpt@dane-bad-tlsa.test"
R_TLSRPT="rcpt-tlsrpt@enforce-ok.test"     # transport smtp-tlsrpt (map postfix-tlsrpt)
R_INET="rcpt-inet@enforce-ok.test"         # transport smtp-inet (socketmap:inet:)
R_PROXY="rcpt-proxy@enforce-ok.test"       # transport smtp-proxy (proxy:socketmap:unix:)
R_NODNSSEC="rcpt-nodnssec@dane.test"       # transport smtp-nodnssec (smtp_dns_support_level = enabled)
R_JUNIX="rcpt-jail-unix@enforce-ok.test"   # chrooted smtp, the unix socket
R_JINET="rcpt-jail-inet@enforce-ok.test"   # chrooted smtp, socketmap:inet:
R_JPROXY="rcpt-jail-proxy@enforce-ok.test" # chrooted smtp, proxy:socketmap:unix:
ALL="$R_ENF $R_SELF $R_NAME $R_EXP $R_NOTLS $R_NOPOL $R_TEST $R_MIXED $R_WILD $R_DANE $R_BADTLSA $R_TLSRPT $R_INET $R_PROXY $R_NODNSSEC $R_JUNIX $R_JINET $R_JPROXY"
for r in $ALL; do submit "$r"; done
for r in $ALL; do
	wait_attempts "$r" 1 60 || bad "$r: no delivery attempt logged within 60 s"
done

echo "--- what Postfix did"
check_sent "enforce" "$R_ENF" mx1.enforce-ok.test Verified mx1.enforce-ok.test
check_deferred "enforce, self-signed MX certificate" "$R_SELF" "Server certificate not verified" \
	"certificate verification failed for mx1.mx-selfsigned.test[127.0.3." mx1.mx-selfsigned.test
grep -q 'mx1.mx-selfsigned.test.*: self-signed certificate' "$LOG" || bad "self-signed: 'self-signed certificate' not logged"
check_deferred "enforce, MX certificate for another name" "$R_NAME" "Server certificate not verified" \
	"num=62:hostname mismatch" mx1.mx-wrongname.test
check_deferred "enforce, expired MX certificate" "$R_EXP" "Server certificate not verified" \
	"mx1.mx-expired.test[127.0.3." mx1.mx-expired.test
grep -q 'mx1.mx-expired.test.*certificate has expired' "$LOG" || bad "expired: 'certificate has expired' not logged"
check_deferred "enforce, MX without STARTTLS" "$R_NOTLS" "TLS is required, but was not offered by host mx1.mx-nostarttls.test[" \
	"dsn=4.7.4, status=deferred"
check_sent "no policy: opportunistic TLS, no SNI" "$R_NOPOL" mx1.no-txt.test Trusted -
check_sent "testing: delivered as without a policy" "$R_TEST" mx1.testing-ok.test Trusted -
check_sent "enforce, mx1 expired: falls back to mx2" "$R_MIXED" mx2.mx-mixed.test Verified mx2.mx-mixed.test
grep -q 'mx1.mx-mixed.test.*certificate has expired' "$LOG" || bad "mx-mixed: mx1 not tried first"
check_sent "enforce, mx: *.mx.wildcard.test" "$R_WILD" a.mx.wildcard.test Verified a.mx.wildcard.test
check_sent "DANE (dane-only, smtp_dns_support_level = dnssec)" "$R_DANE" mx1.dane.test Verified mx1.dane.test
check_deferred "DANE wins over STS: TLSA matches nothing, CA certificate valid" "$R_BADTLSA" \
	"Server certificate not verified" "num=65:no matching DANE TLSA records" mx1.dane-bad-tlsa.test
check_deferred "3.7 refuses the postfix-tlsrpt (3.10) map" "$R_TLSRPT" "client TLS configuration problem" \
	'next-hop destination "enforce-ok.test": invalid attribute name: "policy_type"'
check_sent "the socketmap:inet endpoint" "$R_INET" mx1.enforce-ok.test Verified mx1.enforce-ok.test smtp-inet/smtp
check_sent "the proxy:socketmap:unix endpoint" "$R_PROXY" mx1.enforce-ok.test Verified mx1.enforce-ok.test smtp-proxy/smtp
check_deferred "dane-only without DNSSEC lookups" "$R_NODNSSEC" "client TLS configuration problem" \
	"dane.test: dane-only configured with dnssec lookups disabled"
check_deferred "chrooted smtp(8) cannot reach the unix socket" "$R_JUNIX" "client TLS configuration problem" \
	'next-hop destination "enforce-ok.test": policy table lookup error'
grep -Eq "postfix/smtp-jail-unix/smtp\[[0-9]+\]: warning: connect to $SOCK: No such file or directory" "$LOG" ||
	bad "chroot: no 'connect to $SOCK: No such file or directory' from smtp-jail-unix"
check_sent "chrooted smtp(8) via socketmap:inet" "$R_JINET" mx1.enforce-ok.test Verified mx1.enforce-ok.test smtp-jail-inet/smtp
check_sent "chrooted smtp(8) via proxy:socketmap:unix" "$R_JPROXY" mx1.enforce-ok.test Verified mx1.enforce-ok.test smtp-jail-proxy/smtp

# ------------------------------------------------------------ stsguardd down
echo "--- stsguardd stopped"
stop_pid "$DPID" && ok "stsguardd exited on SIGTERM" || bad "stsguardd needed SIGKILL"
DPID=
out=$(pm enforce-ok.test "$PMAP" 2>&1)
rc=$?
[ "$rc" != 0 ] && [[ $out == *"connect to $SOCK: No such file or directory"* ]] &&
	ok "postmap -q while down: rc=$rc '$(printf '%s' "$out" | tail -1)'" || bad "postmap -q while down: rc=$rc '$out'"
R_DOWN="rcpt-down@enforce-ok.test"
R_DOWN2="rcpt-down@no-txt.test" # a domain without a policy is deferred as well
submit "$R_DOWN"
submit "$R_DOWN2"
for r in $R_DOWN $R_DOWN2; do wait_attempts "$r" 1 60 || bad "$r: no delivery attempt logged"; done
check_deferred "enforce domain while stsguardd is down" "$R_DOWN" "client TLS configuration problem" \
	'next-hop destination "enforce-ok.test": policy table lookup error'
grep -Eq 'postfix/smtp\[[0-9]+\]: warning: smtp_tls_policy_maps, next-hop destination "enforce-ok.test": policy table lookup error' "$LOG" ||
	bad "down: no 'policy table lookup error' from postfix/smtp"
check_deferred "domain WITHOUT a policy while stsguardd is down" "$R_DOWN2" "client TLS configuration problem" \
	'next-hop destination "no-txt.test": policy table lookup error'

echo "--- stsguardd back: the deferred mail goes out on the next queue run"
start_daemon || exit 1
pfx "$PFROOT/usr/sbin/postqueue" -c "$PF/etc" -f || bad "postqueue -f failed"
wait_attempts "$R_DOWN" 2 60 || bad "$R_DOWN: not retried after postqueue -f"
wait_attempts "$R_DOWN2" 2 60 || bad "$R_DOWN2: not retried after postqueue -f"
check_sent "enforce after the restart" "$R_DOWN" mx1.enforce-ok.test Verified mx1.enforce-ok.test
check_sent "no policy after the restart" "$R_DOWN2" mx1.no-txt.test Trusted -
# the flush retried every deferred message: still none may reach a sink
for r in $R_SELF $R_NAME $R_EXP $R_NOTLS $R_BADTLSA $R_TLSRPT $R_NODNSSEC $R_JUNIX; do
	if ! wait_attempts "$r" 2 60; then bad "$r: not retried by postqueue -f"; continue; fi
	s=$(status_of "$r")
	if [ "$s" = deferred ] && [ -z "$(sink_record "$r")" ]; then ok "$r: deferred again, never delivered"
	else bad "$r: after the retry status=$s, sink: $(sink_record "$r" | head -1)"; fi
done

echo "--- the Postfix log has no fatal error or panic"
f=$(grep -E 'postfix/[a-z/-]+\[[0-9]+\]: (fatal|panic):' "$LOG" | grep -v 'postfix/postmap\[')
[ -z "$f" ] && ok "no fatal/panic from Postfix daemons" || bad "Postfix: $f"

echo
echo "took $((SECONDS - START)) s"
if [ "$fail" != 0 ]; then
	echo "--- Postfix log ($LOG)"
	cat "$LOG"
	echo "--- stsguardd log"
	cat "$D/log/spawn-stsguardd.log"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
