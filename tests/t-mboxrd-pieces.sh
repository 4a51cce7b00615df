#!/bin/bash
# t-mboxrd-pieces.sh - mboxrd quoting where a line start straddles the
# reads of a text held in a file (mboxrd.c through the test driver
# tests/mboxrd-pieces.c, checked by tests/mboxrd_pieces.py): ">From" and
# "From " lines split at every octet across a read, followed by another
# From-like line, a '>' run across three reads, and texts ending inside a
# line start. Under an ASan build directory the driver is built with ASan
# and UBSan too.
. "$(dirname "$0")/lib.sh"
# The driver builds; the helper's cases (a fixed list); its exit status.
plan $((2 + $($PY "$TOP/tests/mboxrd_pieces.py" --count)))

san=""
case "$BIN" in
*asan*) san="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" ;;
esac
DRV=$T/mboxrd-pieces
# shellcheck disable=SC2086
if cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 $san -I"$TOP" -o "$DRV" \
	"$TOP/tests/mboxrd-pieces.c" "$TOP/mboxrd.c" "$TOP/util.c" 2>"$T/cc.err"; then
	ok "mboxrd-pieces builds with -Wall -Wextra -Werror${san:+ and sanitizers}"
else
	nok "mboxrd-pieces builds"; cat "$T/cc.err"
fi
timeout -k 5 300 $PY "$TOP/tests/mboxrd_pieces.py" "$DRV" "$T"
helper_ran mboxrd_pieces.py $?
