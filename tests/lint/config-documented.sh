#!/bin/sh
# config-documented.sh SRCDIR - every key the config parser knows has a row in
# docs/configuration.md, and every documented key is known (STYLE.md: "a test
# fails when a key is undocumented").
set -eu
src=$1
keys=$(sed -n 's/^[[:space:]]*{"\([a-z_]*\)", key_[a-z_]*},.*/\1/p' "$src/core/lib/config.c")
[ -n "$keys" ] || { echo "no keys found in core/lib/config.c" >&2; exit 1; }
rc=0
for k in $keys; do
	grep -q "^| \`$k\` |" "$src/docs/configuration.md" || { echo "undocumented config key: $k" >&2; rc=1; }
done
for k in $(sed -n 's/^| `\([a-z_]*\)` |.*/\1/p' "$src/docs/configuration.md"); do
	echo "$keys" | grep -qx "$k" || { echo "documented but unknown config key: $k" >&2; rc=1; }
done
[ $rc -eq 0 ] && echo "$(echo "$keys" | wc -l) config keys, all documented"
exit $rc
