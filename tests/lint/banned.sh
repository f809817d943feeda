#!/bin/sh
# banned.sh SRCDIR - fail if our C sources call functions that have no
# length bound or hide errors (curl's banned list). Tests included.
set -eu
src=$1
pattern='\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atoll|strtok|strncpy|strncat|tmpnam|mktemp)[[:space:]]*\('
hits=$(find "$src/core" "$src/adapters" "$src/tests" -name '*.[ch]' 2>/dev/null \
	| xargs grep -nE "$pattern" 2>/dev/null || true)
if [ -n "$hits" ]; then
	echo "banned functions used:" >&2
	echo "$hits" >&2
	exit 1
fi
count=$(find "$src/core" "$src/adapters" "$src/tests" -name '*.[ch]' | wc -l)
echo "checked $count C files: no banned function"
