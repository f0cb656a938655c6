#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Compile every source that includes libnftables.h against a copy of the
# header under -I (not a system header, so its warnings count) with the
# project's flags and -Werror: proves that nftally builds cleanly with
# libnftables installed outside /usr/include (the header defines
# _GNU_SOURCE itself).
# Usage: gnu-source.sh SRCDIR BUILDDIR NFT_INCLUDEDIR CC... -- CFLAGS...
set -eu
src=$1 build=$2 incdir=$3
shift 3
cc=""
while [ $# -gt 0 ] && [ "$1" != -- ]; do cc="$cc $1"; shift; done
[ $# -gt 0 ] && shift
hdr=$incdir/nftables/libnftables.h
if [ ! -r "$hdr" ]; then
	echo "FAIL: no $hdr" >&2
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/nftables"
cp "$hdr" "$tmp/nftables/"
n=0
for f in "$src"/collector/*/*.c; do
	grep -q 'nftables/libnftables.h' "$f" || continue
	# shellcheck disable=SC2086 # cc is a command and its arguments
	$cc -std=c11 -Werror -I"$tmp" -I"$src/include/core" -I"$src/include/kernel" -I"$src/include/sinks" -I"$src/include/daemon" -I"$build" "$@" -fsyntax-only "$f"
	echo "ok - $f"
	n=$((n + 1))
done
if [ "$n" -eq 0 ]; then
	echo "FAIL: no source includes nftables/libnftables.h" >&2
	exit 1
fi
