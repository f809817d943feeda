# daemon-lib.sh - sourced by the world tests that run stsguardd (bash).
# Needs W (world.sh), D (world dir, after `world.sh up`), STSGUARDD, SMQ.

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
x() { "$W" exec "$D" "$@"; }
expect_reply() { # NAME GOT WANT
	if [ "$2" = "$3" ]; then ok "$1: $2"; else bad "$1: got '$2', want '$3'"; fi
}

# daemon_conf CONF SOCK PORT QUERY_TIMEOUT: stsguardd's configuration for the world.
daemon_conf() {
	cat >"$1" <<CONFEOF
listen = unix:$2
listen = inet:127.0.0.1:$3
resolver = 127.0.0.2
ca_file = $WORLD_CA
cache_dir = $D/dcache
fetch_timeout = 3
query_timeout = $4
workers = 8
log_level = debug
CONFEOF
}

# spawn_daemon CONF SOCK [WRAPPER...]: start stsguardd in the world (DPID), wait until it answers.
spawn_daemon() {
	local conf=$1 sock=$2
	shift 2
	DPID=$("$W" spawn "$D" stsguardd "$@" "$STSGUARDD" -f -c "$conf")
	for _ in $(seq 1 200); do
		[ -S "$sock" ] && x "$SMQ" -t 2 "unix:$sock" prefetch ready.test >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "stsguardd did not start:"; cat "$D/log/spawn-stsguardd.log"
	return 1
}

# report_check TLSRPT_DIR OUT [EXPECT...]: the newest day of results in
# TLSRPT_DIR as its reports (`stsguard report send --dry-run --out OUT`, the
# CLI in the world on a clock of that day + 25 h, mail signed with a fresh
# Ed25519 key), then parsed back by check_report.py out (EXPECT: see there).
# Needs STSGUARD (the CLI) and HERE.
report_check() {
	local dir=$1 out=$2 day now o
	shift 2
	if ! /usr/bin/python3 -c 'import dkim' 2>/dev/null; then echo "(python3-dkim not installed: report check skipped)"; return; fi
	day=$(ls "$dir" 2>/dev/null | sed -n 's/^\([0-9]\{4\}-[0-9]\{2\}-[0-9]\{2\}\)\.results$/\1/p' | sort | tail -1)
	if [ -z "$day" ]; then bad "report: no day of results in $dir"; return; fi
	mkdir -p "$out"
	openssl genpkey -algorithm ed25519 -out "$out.key" 2>/dev/null
	cat >"$out.conf" <<CONFEOF
resolver = 127.0.0.2
ca_file = $WORLD_CA
cache_dir = $out.cache
tlsrpt_dir = $dir
report_organization = stsguard test
report_contact = tlsrpt@reporter.test
report_submitter = reporter.test
report_from = tlsrpt@reporter.test
dkim_key = $out.key
report_spool = $out.spool
CONFEOF
	now=$(($(date -u -d "$day" +%s) + 90000))
	if ! o=$(x env STSGUARD_TEST_NOW=$now "$STSGUARD" report send --day "$day" --dry-run --out "$out" -c "$out.conf" 2>&1); then
		bad "stsguard report send --dry-run: $o"
		return
	fi
	if STSGUARD_TEST_NOW=$now /usr/bin/python3 "$HERE/check_report.py" out "$out" "$day" "$out.key" "$@" >"$out.check" 2>&1; then
		ok "the reports of $day parse back ($(ls "$out" | grep -c '\.json\.gz$') reports, $(ls "$out" | grep -c '\.eml$') DKIM-verified mails): $(grep '^ok   [a-z0-9.-]*\.test:' "$out.check" | sed 's/^ok   //' | paste -sd ';' -)"
	else
		bad "reports of $day: $(grep -m1 FAIL "$out.check")"
	fi
}
