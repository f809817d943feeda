#!/bin/sh
# man-documented.sh SRCDIR - the manual pages cover the interfaces: every key
# of core/lib/config.c's key table has an entry (".B key" after ".TP") in
# stsguard.conf(5), every command of core/cli/stsguard.c's commands[] table a
# section (".SS command") in stsguard(1), and nothing is documented there that
# does not exist. Every page must format without a groff warning.
set -eu
src=$1
man=$src/packaging/man
rc=0

keys=$(sed -n 's/^[[:space:]]*{"\([a-z_]*\)", key_[a-z_]*},.*/\1/p' "$src/core/lib/config.c")
[ -n "$keys" ] || { echo "no keys found in core/lib/config.c" >&2; exit 1; }
# Only the KEYS section holds keys: other .TP items (FILES) are paths.
documented=$(awk '/^\.SH KEYS/ {on = 1; next} /^\.SH/ {on = 0}
	on && /^\.TP/ {tp = 1; next} on && tp && /^\.B [a-z_]+$/ {print $2} {tp = 0}' "$man/stsguard.conf.5")
for k in $keys; do
	echo "$documented" | grep -qx "$k" || { echo "stsguard.conf(5): config key not documented: $k" >&2; rc=1; }
done
for k in $documented; do
	echo "$keys" | grep -qx "$k" || { echo "stsguard.conf(5): documents an unknown config key: $k" >&2; rc=1; }
done

cmds=$(sed -n '/^static const struct command commands\[\] = {/,/^};/s/^\t{"\([a-z-]*\)", .*/\1/p' "$src/core/cli/stsguard.c")
[ -n "$cmds" ] || { echo "no commands found in core/cli/stsguard.c" >&2; exit 1; }
sections=$(sed -n 's/^\.SS \([a-z-]*\)$/\1/p' "$man/stsguard.1")
for c in $cmds; do
	echo "$sections" | grep -qx "$c" || { echo "stsguard(1): command not documented: $c" >&2; rc=1; }
done
for c in $sections; do
	echo "$cmds" | grep -qx "$c" || { echo "stsguard(1): documents an unknown command: $c" >&2; rc=1; }
done

for page in "$man"/*.[0-9]; do
	out=$(LC_ALL=C.UTF-8 groff -man -ww -z -Tutf8 "$page" 2>&1) || rc=1
	[ -z "$out" ] || { echo "$page: $out" >&2; rc=1; }
done
[ $rc -eq 0 ] && echo "$(echo "$keys" | wc -l) config keys and $(echo "$cmds" | wc -l) commands documented; $(ls "$man" | wc -l) pages format cleanly"
exit $rc
