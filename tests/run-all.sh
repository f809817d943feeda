#!/usr/bin/env bash
# run-all.sh - every test stsguard has: the dev build (warnings are errors)
# with the whole ctest suite, the same suite under ASan+UBSan, and each
# libFuzzer target for FUZZ_SECONDS (default 30). World tests need root
# (network namespaces); they are skipped with a message otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
JOBS=${JOBS:-$(nproc)}

step() { printf '\n=== %s\n' "$*"; }

step "dev build (-Werror) and test suite"
cmake --preset dev -DSTSGUARD_WITH_MILTER=ON >/dev/null  # CI: libmilter-dev is installed; never skip the milter
cmake --build --preset dev -j "$JOBS"
ctest --preset dev -j "$JOBS"

step "ASan + UBSan build and test suite"
cmake --preset asan -DSTSGUARD_WITH_MILTER=ON >/dev/null
cmake --build --preset asan -j "$JOBS"
ctest --preset asan -j "$JOBS"

step "libFuzzer targets, ${FUZZ_SECONDS}s each"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$JOBS"
for t in build/fuzz/tests/fuzz_*; do
	name=$(basename "$t")
	target=${name#fuzz_}
	work=$(mktemp -d)
	mkdir "$work/corpus"
	cp tests/fuzz/corpus/"$target"/* "$work/corpus/"
	echo "--- $name"
	rc=0
	# Full malloc stacks so the suppressions (third-party leaks only) can match.
	ASAN_OPTIONS="fast_unwind_on_malloc=0" \
	LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0" \
	"$t" -max_total_time="$FUZZ_SECONDS" -max_len=70000 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$work/" -print_final_stats=1 "$work/corpus" >"$work/log" 2>&1 || rc=$?
	grep -E '^stat::(number_of_executed_units|new_units_added)' "$work/log" || true
	if [ "$rc" -ne 0 ]; then
		tail -n 60 "$work/log" >&2
		echo "fuzz target $name failed (exit $rc); inputs kept in $work" >&2
		exit 1
	fi
	rm -rf "$work"
done
step "all tests passed"
