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
