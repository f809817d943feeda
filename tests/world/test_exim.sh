#!/usr/bin/env bash
# test_exim.sh STSGUARDD SMQ STSGUARD_MODULE STSGUARD - the stsguard Exim adapter
# (adapters/exim: the dlfunc module and the shipped configuration parts)
# in the REAL Debian Exim 4.96 (exim4-daemon-heavy), fetched with
# `apt-get download` and unpacked with `dpkg -x` (never installed), against
# stsguardd in the test world (tests/world).
#
# Each scenario queues one message with `exim -odq`, delivers it as root
# with `exim -M` (the reference's way to run an unpacked Exim with -C), and
# asserts what Exim really did from its main log (delivered / deferred, by
# which router and transport, CV=, the defer errno), from the receiving
# sinks' session logs (contacted or not, SNI, TLS version), and from the
# TLS-RPT results stsguardd stored (result type, policy type). Exim's panic
# log must stay empty: the module never fails an expansion.
#
# The user Debian-exim (compiled into the binary) is made visible to Exim
# through a private mount namespace with bind-mounted /etc/passwd and
# /etc/group when the host lacks it: nothing on the host is changed.
#
# Exit 77 (skip) without root / network namespaces, or without network to
# the Debian mirrors. EXIM_TEST_KEEP=1 keeps the temporary directory.
set -uo pipefail
STSGUARDD=$(readlink -f "$1")
SMQ=$(readlink -f "$2")
SO=$(readlink -f "$3")
STSGUARD=$(readlink -f "$4")
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
W=$HERE/world.sh
CONFDIR=$REPO/adapters/exim/conf
START=$SECONDS

if [ "$(id -u)" != 0 ] || ! ip netns list >/dev/null 2>&1; then
	echo "SKIP: needs root and ip netns"
	exit 77
fi
for t in apt-get dpkg-deb dpkg-query flock ldd unshare jq; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: needs $t"; exit 77; }
done

TOP=$(mktemp -d /tmp/stsgex.XXXXXX)
chmod 755 "$TOP" # Exim's transports run as Debian-exim and read below here
D=$TOP/w
ROOT=$TOP/root # the unpacked packages
EX=$TOP/exim   # the Exim instance: exim.conf spool/ log/
LOG=$EX/log/mainlog
SOCK=$D/run/stsguardd.sock
INET_PORT=8461
DPID=''

. "$HERE/deb-lib.sh" # fetch_deb, fetch_or_skip, unpack_missing_libs, stop_pid, mta_cleanup
cleanup() { mta_cleanup "${EXIM_TEST_KEEP:-0}" "$DPID"; }
trap cleanup EXIT

# ------------------------------------------------------------ the packages
deb=$(fetch_or_skip exim4-daemon-heavy) || exit $?
base=$(fetch_or_skip exim4-base) || exit $?
for p in "$deb" "$base"; do dpkg-deb -x "$p" "$ROOT" || { echo "FAIL: dpkg-deb -x $p"; exit 1; }; done
EXIM_BIN=$ROOT/usr/sbin/exim4
[ -x "$EXIM_BIN" ] || { echo "FAIL: no usr/sbin/exim4 in $deb"; exit 1; }
unpack_missing_libs "$ROOT" "$deb" "$EXIM_BIN" || exit 1
LDP=$(libpath "$ROOT")

# ------------------------------------------------------------ Debian-exim
if id -u Debian-exim >/dev/null 2>&1; then
	EXIM_UID=$(id -u Debian-exim) EXIM_GID=$(id -g Debian-exim)
	WRAP=(env "LD_LIBRARY_PATH=$LDP" "$EXIM_BIN")
else
	EXIM_UID=64990
	while getent passwd "$EXIM_UID" >/dev/null || getent group "$EXIM_UID" >/dev/null; do EXIM_UID=$((EXIM_UID - 1)); done
	EXIM_GID=$EXIM_UID
	cp /etc/passwd "$TOP/passwd" && cp /etc/group "$TOP/group"
	echo "Debian-exim:x:$EXIM_UID:$EXIM_GID:Debian-exim (test):/nonexistent:/usr/sbin/nologin" >>"$TOP/passwd"
	echo "Debian-exim:x:$EXIM_GID:" >>"$TOP/group"
	chmod 644 "$TOP/passwd" "$TOP/group"
	WRAP=(unshare --mount --propagation private /bin/sh -c
		'mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/group && shift 2 && exec "$@"'
		sh "$TOP/passwd" "$TOP/group" env "LD_LIBRARY_PATH=$LDP" "$EXIM_BIN")
fi

# ------------------------------------------------------------ the world and stsguardd
"$W" up "$D" || { echo "world did not come up"; exit 1; }
. "$D/env"
CONF=$D/stsguardd.conf
. "$HERE/daemon-lib.sh"
daemon_conf "$CONF" "$SOCK" "$INET_PORT" 4
start_daemon() {
	spawn_daemon "$CONF" "$SOCK" || return 1
	# As an admin does with `adduser Debian-exim stsguard`: Exim's transports
	# run as Debian-exim and must reach the socket.
	chgrp "$EXIM_GID" "$SOCK"
}
start_daemon || exit 1

# ------------------------------------------------------------ the Exim instance
mkdir -p "$EX/spool" "$EX/log"
chown "$EXIM_UID:$EXIM_GID" "$EX/spool" "$EX/log"
chmod 750 "$EX/spool" "$EX/log"
sed -e "s|@EXIM@|$EXIM_BIN|; s|@SPOOL@|$EX/spool|; s|@LOG@|$EX/log|; s|@SO@|$SO|; s|@SOCK@|$SOCK|" \
	-e "s|@CA@|$WORLD_CA|; s|@CONFDIR@|$CONFDIR|g" "$HERE/exim/exim.conf.in" >"$EX/exim.conf"
chmod 644 "$EX/exim.conf"
chmod 755 "$D" "$D/run" 2>/dev/null

ex() { "$W" exec "$D" "${WRAP[@]}" -C "$EX/exim.conf" "$@"; }
ver=$(ex -bV 2>&1 | head -1)
case $ver in *"Exim version 4.96"*) ok "real Exim: $ver" ;; *) bad "exim -bV: $ver"; exit 1 ;; esac
ex -bV 2>&1 | grep -q 'Expand_dlfunc' && ok "this build supports \${dlfunc}" || bad "no Expand_dlfunc in exim -bV"

# queue SENDER-DOMAIN-RECIPIENT [EXIM-ARGS...]: queue one message, print its id
queue() {
	local dom=$1 before id
	shift
	before=$(grep -c ' <= ' "$LOG" 2>/dev/null)
	printf 'From: <sender@sender.test>\nTo: <user@%s>\nSubject: stsguard test %s\n\nhello %s\n' "$dom" "$dom" "$dom" |
		ex "$@" -odq -f sender@sender.test "user@$dom" || return 1
	id=$(grep ' <= ' "$LOG" | sed -n "$((${before:-0} + 1))p" | awk '{print $3}')
	[ -n "$id" ] && echo "$id"
}
# send DOMAIN [EXIM-ARGS...]: queue and deliver one message; prints its id
send() {
	local id
	id=$(queue "$@") || { echo "queueing for $1 failed" >&2; return 1; }
	shift
	ex "$@" -M "$id" >/dev/null 2>&1
	echo "$id"
}
# outcome ID: Exim's last delivery line for the message
outcome() { grep " $1 [=*][=>*] " "$LOG" | tail -1; }
results() { cat "$D"/dcache/tlsrpt/*.results 2>/dev/null; }
# rpt DOMAIN RESULT [POLICY-TYPE]: how many stored TLS-RPT results match
rpt() { results | awk -v d="$1" -v r="$2" -v p="${3:-}" '$4 == d && $6 == r && (p == "" || $3 == p)' | wc -l; }
session_log() { awk -F'\t' -v h="$1" '$1 == h {print $5}' "$WORLD_HOSTS"; }
contacted() { local f; f=$(session_log "$1"); [ -s "$f" ]; }

delivered() { # NAME ID ROUTER TRANSPORT HOST [EXTRA-REGEX]
	local line
	line=$(outcome "$2")
	if [[ $line == *" => "*" R=$3 T=$4 "*" H=$5 "* ]] && { [ -z "${6:-}" ] || [[ $line =~ $6 ]]; }; then
		ok "$1: delivered R=$3 T=$4 H=$5${6:+ ($6)}"
	else
		bad "$1: want delivered R=$3 T=$4 H=$5 ${6:-}; log: $line"
	fi
}
deferred() { # NAME ID ROUTER-OR-TRANSPORT REGEX
	local line
	line=$(outcome "$2")
	if [[ $line == *" == "*"$3"* ]] && [[ $line =~ $4 ]]; then
		ok "$1: deferred ($(printf '%s' "$line" | grep -o 'defer ([-0-9]*)' | head -1)) by $3"
	else
		bad "$1: want deferred by $3 matching '$4'; log: $line"
	fi
}
recorded() { # NAME DOMAIN RESULT [POLICY-TYPE]
	local n
	n=$(rpt "$2" "$3" "${4:-}")
	if [ "$n" -ge 1 ]; then ok "$1: TLS-RPT $3${4:+ ($4)} recorded for $2"; else
		bad "$1: no TLS-RPT $3 ${4:-} for $2; stored: $(results | awk -v d="$2" '$4 == d {print $3, $6, $8}' | tr '\n' ';')"
	fi
}

echo "--- expansions (exim -be) and routing (exim -bt)"
r=$(ex -be "\${dlfunc{$SO}{stsguard_mode}{enforce-ok.test}{$SOCK}}")
expect_reply "stsguard_mode, enforce" "$r" "enforce mx1.enforce-ok.test,mx2.enforce-ok.test"
r=$(ex -be "\${dlfunc{$SO}{stsguard_mode}{plain.test}{$SOCK}}")
expect_reply "stsguard_mode, no policy" "$r" "none"
r=$(ex -be "\${dlfunc{$SO}{stsguard_mode}{enforce-ok.test}{/nonexistent.sock}}")
case $r in "error stsguardd unreachable"*) ok "stsguard_mode, daemon unreachable: $r" ;; *) bad "unreachable: '$r'" ;; esac
r=$(ex -be "\${dlfunc{$SO}{stsguard_mx_ignore}{enforce mx1.a.test,*.b.test}{<; 10.0.0.0/8}}")
expect_reply "stsguard_mx_ignore" "$r" '<; 10.0.0.0/8 ; !^(?i)mx1\.a\.test\.?$ ; !^(?i)[^.]+\.b\.test\.?$ ; *'
r=$(ex -be "\${dlfunc{$SO}{stsguard_mx_ignore}{enforce mx1.a.test,b(.*}{}}")
expect_reply "stsguard_mx_ignore refuses a pattern that is not a host name" "$r" "*"
r=$(ex -bt user@enforce-ok.test 2>&1)
if [[ $r == *"router = stsguard_enforce, transport = stsguard_smtp_enforce"* ]] && [[ $r == *mx1.enforce-ok.test* ]]; then
	ok "exim -bt routes an enforce domain through stsguard_enforce"
else
	bad "exim -bt: $r"
fi
r=$(ex -bt user@all-outside.test 2>&1)
[[ $r == *"no MX host of all-outside.test matches"* ]] && ok "exim -bt: every MX outside the policy is deferred" || bad "exim -bt all-outside: $r"

echo "--- Debian's split configuration with the shipped conf.d snippets (update-exim4.conf)"
# Debian's own conf.d tree and generator from exim4-config, the snippets as
# docs/exim.md says to copy them; the generator is run with its input paths
# pointed into $TOP (/etc/mailname, the output's group) and its own exim
# check left to us.
cfgdeb=$(fetch_or_skip exim4-config) || exit $?
mkdir -p "$TOP/debcfg" && dpkg-deb -x "$cfgdeb" "$TOP/debcfg"
DC=$TOP/debcfg/etc/exim4
for f in main/05_stsguard router/190_stsguard transport/35_stsguard retry/20_stsguard; do
	sed "s|/usr/share/stsguard/exim|$CONFDIR|" "$REPO/adapters/exim/conf.d/$f" >"$DC/conf.d/$f"
done
cat >"$DC/update-exim4.conf.conf" <<'DCEOF'
dc_eximconfig_configtype='internet'
dc_other_hostnames=''
dc_local_interfaces='127.0.0.1'
dc_readhost=''
dc_relay_domains=''
dc_minimaldns='false'
dc_relay_nets=''
dc_smarthost=''
CFILEMODE='644'
dc_use_split_config='true'
dc_hide_mailname=''
dc_mailname_in_oh='true'
dc_localdelivery='mail_spool'
DCEOF
echo sender.test >"$TOP/mailname"
sed -e "s|/etc/mailname|$TOP/mailname|; s|^EXIM=.*|EXIM=/nonexistent|; s|chown root:Debian-exim|true|" \
	"$TOP/debcfg/usr/sbin/update-exim4.conf" >"$TOP/update-exim4.conf"
if sh "$TOP/update-exim4.conf" -d "$DC" -o "$TOP/debian.conf" >"$TOP/update.log" 2>&1; then
	ok "update-exim4.conf built Debian's configuration with the stsguard snippets"
else
	bad "update-exim4.conf: $(tail -3 "$TOP/update.log")"
fi
chmod 644 "$TOP/debian.conf"
DEBIAN_D=(-DSTSGUARD_MODULE="$SO" -DSTSGUARD_SOCKET="$SOCK" "-DSTSGUARD_SITE_IGNORE=<; 0.0.0.0")
dex() { "$W" exec "$D" "${WRAP[@]}" -C "$TOP/debian.conf" "${DEBIAN_D[@]}" "$@"; }
awk '/^begin routers/ {r = 1} /^begin transports/ {r = 0}
	r && /^[a-z_0-9]+:$/ {print $1} r && /stsguard-routers.conf/ {print "STSGUARD"}' "$TOP/debian.conf" | tr '\n' ' ' >"$TOP/routers"
case $(cat "$TOP/routers") in
*"hubbed_hosts: STSGUARD dnslookup_relay_to_domains: dnslookup:"*) ok "the stsguard routers come right before Debian's dnslookup routers" ;;
*) bad "router order: $(cat "$TOP/routers")" ;;
esac
r=$(dex -bt user@enforce-ok.test 2>&1)
[[ $r == *"router = stsguard_enforce, transport = stsguard_smtp_enforce"* ]] && ok "Debian config: enforce domain -> stsguard_enforce" ||
	bad "Debian config -bt enforce: $r"
r=$(dex -bt user@plain.test 2>&1)
[[ $r == *"router = stsguard_none, transport = remote_smtp"* ]] && ok "Debian config: no policy -> Debian's remote_smtp" ||
	bad "Debian config -bt plain: $r"
r=$(dex -bt root@localhost 2>&1)
[[ $r != *stsguard* ]] && [[ $r == *"R: system_aliases for root@localhost"* ]] && ok "Debian config: local mail never meets the stsguard routers" ||
	bad "Debian config -bt local: $r"

echo "--- enforce"
id=$(send enforce-ok.test)
delivered "enforce, valid certificate" "$id" stsguard_enforce stsguard_smtp_enforce mx1.enforce-ok.test 'CV=yes'
grep -q 'sni=mx1.enforce-ok.test' "$(session_log mx1.enforce-ok.test)" && ok "SNI is the MX host name" ||
	bad "SNI: $(cat "$(session_log mx1.enforce-ok.test)")"
grep -Eq 'tls=TLSv1\.[23]' "$(session_log mx1.enforce-ok.test)" && ok "TLS >= 1.2" || bad "TLS version"
recorded "enforce ok" enforce-ok.test success sts
line=$(results | awk '$4 == "enforce-ok.test" && $6 == "success"' | head -1)
set -- $line
[ "$5" = 20240101000000 ] && [ "$8" = mx1.enforce-ok.test ] && [ "${10}" = 127.0.3.1 ] && [[ $7 == 127.* ]] &&
	ok "the result names the policy id, the MX host, its IP ($10) and the sending IP ($7)" || bad "result fields: $line"

id=$(send rogue-first.test)
delivered "MX outside the policy at preference 5" "$id" stsguard_enforce stsguard_smtp_enforce mx1.rogue-first.test
contacted mx.rogue.test && bad "the MX outside the policy was contacted" || ok "the MX outside the policy was never contacted"

id=$(send all-outside.test)
deferred "every MX outside the policy" "$id" "R=stsguard_enforce_nomx" "no MX host of all-outside.test matches its enforce policy"
contacted mx.elsewhere.test && bad "mx.elsewhere.test was contacted" || ok "no MX contacted"
recorded "every MX outside" all-outside.test validation-failure sts

id=$(send wildcard.test)
delivered "wildcard *.mx.wildcard.test, one label" "$id" stsguard_enforce stsguard_smtp_enforce a.mx.wildcard.test 'CV=yes'
id=$(send wildcard-deep.test)
deferred "wildcard, two labels (a.b.mx.)" "$id" "R=stsguard_enforce_nomx" "no MX host"
recorded "wildcard, two labels" wildcard-deep.test validation-failure sts

id=$(send mx-selfsigned.test)
deferred "enforce, self-signed certificate" "$id" "T=stsguard_smtp_enforce" "defer \(-37\)"
recorded "enforce self-signed" mx-selfsigned.test certificate-not-trusted sts
line=$(results | awk '$4 == "mx-selfsigned.test"' | head -1)
[[ $line == *" mx1.mx-selfsigned.test - 127.0.3."*" TLS%20session:%20"* ]] &&
	ok "the failure carries the MX host, its IP and Exim's error as failure-reason-code" || bad "failure fields: $line"
id=$(send mx-nostarttls.test)
deferred "enforce, no STARTTLS" "$id" "T=stsguard_smtp_enforce" "defer \(-38\)"
recorded "enforce no STARTTLS" mx-nostarttls.test starttls-not-supported sts
grep -q 'msgs=0' "$(session_log mx1.mx-nostarttls.test)" && ok "nothing sent in clear text" || bad "no-STARTTLS sink: $(cat "$(session_log mx1.mx-nostarttls.test)")"
id=$(send mx-wrongname.test)
deferred "enforce, wrong name" "$id" "T=stsguard_smtp_enforce" "defer \(-37\)"
recorded "enforce wrong name" mx-wrongname.test certificate-host-mismatch sts
id=$(send mx-expired.test)
deferred "enforce, expired" "$id" "T=stsguard_smtp_enforce" "defer \(-37\)"
recorded "enforce expired" mx-expired.test certificate-expired sts

echo "--- testing: delivered, and recorded"
id=$(send t-selfsigned.test)
delivered "testing, self-signed" "$id" stsguard_testing stsguard_smtp_testing mx1.t-selfsigned.test
recorded "testing self-signed" t-selfsigned.test certificate-not-trusted sts
id=$(send t-nostarttls.test)
delivered "testing, no STARTTLS" "$id" stsguard_testing stsguard_smtp_testing mx1.t-nostarttls.test
recorded "testing no STARTTLS" t-nostarttls.test starttls-not-supported sts
id=$(send t-wrongname.test)
delivered "testing, wrong name" "$id" stsguard_testing stsguard_smtp_testing mx1.t-wrongname.test
recorded "testing wrong name" t-wrongname.test certificate-host-mismatch sts
id=$(send t-expired.test)
delivered "testing, expired" "$id" stsguard_testing stsguard_smtp_testing mx1.t-expired.test
recorded "testing expired" t-expired.test certificate-expired sts
id=$(send t-outside.test)
delivered "testing, MX outside the policy" "$id" stsguard_testing stsguard_smtp_testing mx.t-elsewhere.test
recorded "testing MX outside" t-outside.test validation-failure sts
id=$(send testing-ok.test)
delivered "testing, valid" "$id" stsguard_testing stsguard_smtp_testing mx1.testing-ok.test
recorded "testing valid" testing-ok.test success sts

echo "--- no policy; DANE"
id=$(send plain.test)
delivered "no policy: the site's transport" "$id" stsguard_none remote_smtp mx1.plain.test
[ "$(rpt plain.test success)" = 0 ] && ok "nothing recorded for a domain without a policy" || bad "recorded for plain.test"
grep -q 'sni=- ' "$(session_log mx1.plain.test)" && ok "no policy: Exim's own behaviour (no SNI)" || bad "plain.test session: $(cat "$(session_log mx1.plain.test)")"
id=$(send dane.test)
delivered "DANE (every MX has TLSA)" "$id" stsguard_dane stsguard_smtp_dane mx1.dane.test 'CV=dane'
recorded "DANE ok" dane.test success tlsa
id=$(send dane-bad-tlsa.test)
deferred "DANE, TLSA mismatch" "$id" "T=stsguard_smtp_dane" "defer \(-37\)"
n=$(results | awk '$4 == "dane-bad-tlsa.test" && $3 == "tlsa" && $6 != "success"' | wc -l)
[ "$n" -ge 1 ] && ok "DANE failure recorded with policy type tlsa: $(results | awk '$4 == "dane-bad-tlsa.test" {print $6}' | head -1)" ||
	bad "no tlsa failure for dane-bad-tlsa.test"

echo "--- a policy switched from enforce to none by a new id"
id=$(send switch-none.test)
deferred "enforce, self-signed (before the switch)" "$id" "T=stsguard_smtp_enforce" "defer \(-37\)"
"$W" set-policy "$D" switch-none.test none.txt >/dev/null
"$W" set-txt "$D" switch-none.test 'v=STSv1; id=20261128000000;' >/dev/null
r=$(x "$STSGUARD" query switch-none.test --json -s "$SOCK" | jq -r '.mode + " " + .policy_id')
expect_reply "stsguardd sees the new policy" "$r" "none 20261128000000"
ex -M "$id" >/dev/null 2>&1
delivered "the same message after the switch" "$id" stsguard_none remote_smtp mx1.switch-none.test

echo "--- RCPT-time prefetch (exim -bh runs the shipped ACL statement)"
before=$(x "$STSGUARD" stats -s "$SOCK" | jq '.queries.prefetch.ok')
printf 'EHLO client.test\r\nMAIL FROM:<a@client.test>\r\nRCPT TO:<u@prefetch-me.test>\r\nQUIT\r\n' | ex -bh 127.0.0.9 >"$TOP/bh.out" 2>&1
after=$(x "$STSGUARD" stats -s "$SOCK" | jq '.queries.prefetch.ok')
[ "$after" = $((before + 1)) ] && ok "the RCPT ACL asked stsguardd to prefetch the recipient domain" ||
	bad "prefetch count $before -> $after; $(grep -i stsguard "$TOP/bh.out" | head -3)"
grep -q '^250' "$TOP/bh.out" && ! grep -q '^[45][0-9][0-9] .*RCPT' "$TOP/bh.out" && ok "the RCPT was accepted" || bad "RCPT: $(tail -5 "$TOP/bh.out")"

echo "--- stsguardd down"
stop_pid "$DPID"
DPID=
id=$(send enforce-ok.test)
deferred "fail closed (default)" "$id" "R=stsguard_failsafe" "stsguard: error stsguardd unreachable"
id2=$(send enforce-ok.test -DSTSGUARD_ON_ERROR=deliver)
delivered "fail open (STSGUARD_ON_ERROR = deliver)" "$id2" stsguard_failopen remote_smtp mx1.enforce-ok.test
start_daemon || exit 1
ex -M "$id" >/dev/null 2>&1
delivered "the deferred message once stsguardd is back" "$id" stsguard_enforce stsguard_smtp_enforce mx1.enforce-ok.test 'CV=yes'

echo "--- the day's TLS-RPT report, mailed through this Exim (stsguard report send)"
if /usr/bin/python3 -c 'import dkim' 2>/dev/null; then
	# report_sendmail: queue with the real Exim, then deliver that message as
	# root with -M (with -C, a re-exec would lose root; reference §12).
	{
		echo '#!/bin/sh'
		echo "before=\$(grep -c ' <= ' '$LOG')"
		printf '%q ' "${WRAP[@]}"; echo "-C '$EX/exim.conf' -odq \"\$@\" || exit 75"
		echo "id=\$(grep ' <= ' '$LOG' | sed -n \"\$((before + 1))p\" | awk '{print \$3}')"
		echo '[ -n "$id" ] || exit 75'
		printf '%q ' "${WRAP[@]}"; echo "-C '$EX/exim.conf' -M \"\$id\" >/dev/null 2>&1"
		echo 'exit 0'
	} >"$TOP/exim-sendmail"
	chmod 755 "$TOP/exim-sendmail"
	openssl genpkey -algorithm ed25519 -out "$TOP/dkim.pem" 2>/dev/null
	cat >"$TOP/report.conf" <<RCONF
resolver = 127.0.0.2
ca_file = $WORLD_CA
cache_dir = $TOP/rcache
tlsrpt_dir = $D/dcache/tlsrpt
report_organization = stsguard test
report_contact = tlsrpt@reporter.test
report_submitter = reporter.test
report_from = tlsrpt@reporter.test
dkim_key = $TOP/dkim.pem
report_sendmail = $TOP/exim-sendmail
report_spool = $TOP/sent
RCONF
	# The day of the report is the day rogue-first.test's results were stored
	# (a run that crosses midnight must not look for them in the new day).
	TODAY=$(grep -l 'rogue-first\.test' "$D"/dcache/tlsrpt/*.results 2>/dev/null | sort | tail -1)
	TODAY=$(basename "${TODAY:-$(date -u +%Y-%m-%d).results}" .results)
	# The CLI sends only finished days: its test clock says it is tomorrow, 01:00Z.
	out=$(x env STSGUARD_TEST_NOW=$(($(date -u -d "$TODAY" +%s) + 90000)) "$STSGUARD" report send --day "$TODAY" -c "$TOP/report.conf" 2>&1)
	[ $? = 0 ] && ok "stsguard report send: every report delivered (exit 0)" || bad "stsguard report send failed: $out"
	line=$(grep ' => tlsrpt@reports.test ' "$LOG" | tail -1)
	[[ $line == *"R=stsguard_none T=remote_smtp "*" H=mx.reports.test "* ]] &&
		ok "the report mails went out through Exim: $(grep -c ' => tlsrpt@reports.test ' "$LOG")" || bad "report mail in Exim's log: '$line' ($out)"
	mbox=$(awk -F'\t' '$1 == "mx.reports.test" {print $4}' "$WORLD_HOSTS")
	if [ "${EXIM_TEST_SHOW_REPORT:-0}" = 1 ]; then
		echo "    the report of enforce-ok.test for $TODAY (what its rua receives, gzipped):"
		x env STSGUARD_TEST_NOW=$(($(date -u -d "$TODAY" +%s) + 90000)) "$STSGUARD" report show enforce-ok.test \
			--day "$TODAY" -c "$TOP/report.conf" | sed 's/^/    /'
	fi
	# Reports go out in policy-domain order; rogue-first.test is the last with a mailto: rua.
	if STSGUARD_TEST_NOW=$(($(date -u -d "$TODAY" +%s) + 90000)) \
		/usr/bin/python3 "$HERE/check_report.py" mail "$mbox" rogue-first.test "$TODAY" "$TOP/dkim.pem" >"$TOP/mailcheck" 2>&1; then
		ok "the receiver parsed it back: MIME, gzip JSON of rogue-first.test, DKIM verified by python3-dkim"
	else
		bad "report mail: $(cat "$TOP/mailcheck")"
	fi
else
	echo "(python3-dkim not installed: report mail check skipped)"
fi

echo "--- nothing went wrong inside Exim"
if [ -s "$EX/log/paniclog" ]; then bad "paniclog: $(head -5 "$EX/log/paniclog")"; else ok "paniclog is empty"; fi
n=$(grep -c 'TLS-RPT result .* not recorded' "$LOG")
[ "$n" = 0 ] && ok "every TLS-RPT result was acknowledged by stsguardd" || bad "$n results not recorded: $(grep 'not recorded' "$LOG" | head -3)"

echo
echo "$pass passed, $fail failed ($((SECONDS - START)) s)"
[ "$fail" = 0 ]
