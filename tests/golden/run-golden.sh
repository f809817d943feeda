#!/bin/sh
# run-golden.sh STSGUARD CASE.args
# Runs STSGUARD in tests/golden/data with the arguments of CASE.args (one
# per line; a line "<FILE" feeds FILE on stdin) and
# compares stdout, stderr and the exit status with CASE.out byte for byte.
# Set GOLDEN_UPDATE=1 to rewrite CASE.out instead (then review the diff).
set -eu
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
args=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
dir=$(cd "$(dirname "$args")" && pwd)
data=$(cd "$dir/../data" && pwd)
out=${args%.args}.out
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

set --
stdin=/dev/null
while IFS= read -r line || [ -n "$line" ]; do
	case $line in
	"<"*) stdin=${line#<} ;;
	*) set -- "$@" "$line" ;;
	esac
done <"$args"

rc=0
cd "$data"
"$bin" "$@" <"$stdin" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
{
	echo "== stdout"
	cat "$tmp/stdout"
	echo "== stderr"
	cat "$tmp/stderr"
	echo "== exit $rc"
} >"$tmp/got"

if [ "${GOLDEN_UPDATE:-0}" = 1 ]; then
	cp "$tmp/got" "$out"
	exit 0
fi
if ! diff -u "$out" "$tmp/got"; then
	echo "golden mismatch: $args" >&2
	exit 1
fi
