#!/bin/sh
# daemon.sh - TLS-RPT ingestion through stsguardd end to end: results sent to
# the `tlsrpt` map over the unix socket and acknowledged "OK stored" (after
# fdatasync), for several client concurrencies. Complements run.sh (the
# store alone). Needs no network: results for unknown domains are recorded
# as no-policy-found.
#
#   bench/ingest/daemon.sh            # release build; TOTAL=200000 per row
#   TOTAL=50000 bench/ingest/daemon.sh
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
total=${TOTAL:-200000}
if [ "${STSG_BUILD:-1}" = 1 ]; then
	{ [ -f build/release/CMakeCache.txt ] || cmake --preset release; } >/dev/null
	cmake --build --preset release --target stsguardd >/dev/null
fi
cc -O2 -Wall -o build/release/daemon_load bench/ingest/daemon_load.c
tmp=$(mktemp -d "$repo/build/release/dingest.XXXXXX")
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
cat >"$tmp/c.conf" <<CONF
listen = unix:$tmp/s.sock
cache_dir = $tmp/cache
resolver = 127.0.0.1
log_level = warning
CONF
build/release/core/stsguardd -f -c "$tmp/c.conf" 2>"$tmp/log" &
pid=$!
for _ in $(seq 1 100); do [ -S "$tmp/s.sock" ] && break; sleep 0.05; done
sync
echo "stsguardd $(git rev-parse --short HEAD), store on $(df -PT "$tmp" | awk 'NR == 2 { print $2 }'), $(nproc) cores, $total results per row"
echo
echo "| clients                   |   stored  |  results/s  |  refused |"
echo "|---------------------------|-----------|-------------|----------|"
for spec in "1 1" "8 1" "64 1" "1 100" "8 100" "16 500"; do
	set -- $spec
	build/release/daemon_load "$tmp/s.sock" "$1" "$2" "$total"
done
kill "$pid"
wait "$pid" 2>/dev/null || true
pid=
