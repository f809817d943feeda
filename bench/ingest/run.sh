#!/bin/sh
# run.sh - build the release preset and measure how many TLS-RPT results per
# second the store (core/lib/tlsrpt_store.c) makes durable, with group commit.
#
#   bench/ingest/run.sh              # REPS=3, about 30 s on 2 cores
#   REPS=1 bench/ingest/run.sh
#   BENCH_DIR=/var/tmp bench/ingest/run.sh   # where the throwaway stores go
#   STSG_BUILD=0 bench/ingest/run.sh         # do not (re)build
#
# Each scenario writes a fresh store on BENCH_DIR (default build/release, i.e.
# the disk the repository is on: fdatasync on tmpfs would measure nothing).
# A line is a scenario; figures are the median run by results/s:
#   results/s   acknowledged (fdatasync'ed) results per second
#   syncs/s     fdatasync + directory fsync calls per second
#   per sync    results made durable per commit (group commit at work)
#   CPU us      process CPU time per result (both cores count)
set -eu

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
reps=${REPS:-3}

if [ "${STSG_BUILD:-1}" = 1 ]; then
	log=$(mktemp)
	{ [ -f build/release/CMakeCache.txt ] || cmake --preset release; } >"$log" 2>&1 &&
		cmake --build --preset release --target bench_ingest >>"$log" 2>&1 ||
		{ cat "$log" >&2; rm -f "$log"; exit 1; }
	rm -f "$log"
fi
bin=$repo/build/release/tests/bench_ingest
[ -x "$bin" ] || { echo "run.sh: $bin not built" >&2; exit 1; }

base=${BENCH_DIR:-$repo/build/release}
mkdir -p "$base"
tmp=$(mktemp -d "$base/ingest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
sync # the build's dirty pages would otherwise be flushed by our first fdatasyncs
echo "store on $tmp ($(df -PT "$tmp" | awk 'NR == 2 { print $2 }')), $(nproc) cores," \
	"median of $reps run(s) per scenario"
echo

# scenario label, then bench_ingest arguments
set -- \
	"encode only, 2 threads (no disk)|-m encode -t 2 -n 400000" \
	"add, 1 thread|-m add -t 1 -n 3000" \
	"add, 8 threads|-m add -t 8 -n 40000" \
	"add, 64 threads|-m add -t 64 -n 150000" \
	"add_batch 100, 1 thread|-m batch -t 1 -b 100 -n 300000" \
	"add_batch 1000, 1 thread|-m batch -t 1 -b 1000 -n 600000" \
	"add_batch 100, 8 threads|-m batch -t 8 -b 100 -n 600000" \
	"add_batch 1000, 2 threads|-m batch -t 2 -b 1000 -n 600000"

printf '| %-36s | %11s | %9s | %9s | %8s | %6s |\n' scenario results/s syncs/s "per sync" "CPU us" bytes
printf '|%s|%s|%s|%s|%s|%s|\n' -------------------------------------- ------------- ----------- ----------- ---------- --------
for sc in "$@"; do
	label=${sc%%|*}
	args=${sc#*|}
	out=$tmp/runs
	: >"$out"
	i=0
	while [ "$i" -lt "$reps" ]; do
		i=$((i + 1))
		# shellcheck disable=SC2086
		"$bin" -d "$tmp/s$i" $args >>"$out"
		rm -rf "$tmp/s$i"
	done
	sort -t "$(printf '\t')" -k6,6n "$out" | awk -F'\t' -v n="$reps" -v label="$label" '
		NR == int((n + 1) / 2) {
			per = ($1 == "encode") ? "-" : sprintf("%.1f", $9)
			printf "| %-36s | %11.0f | %9.0f | %9s | %8.2f | %6s |\n", label, $6, $8, per, $11, ($1 == "encode") ? "-" : $10
		}'
done
