#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Two nftally binaries side by side (a change against the code before it):
# apply into an empty namespace, dump, apply with nothing changed and
# remove, at N IPv4 addresses, alternating the binaries in every round, a
# fresh network namespace each time, wall time measured from outside the
# process.  Not part of the test suite.  Needs root.
#   usage: bench/compare.sh OLD_BINARY NEW_BINARY [N [ROUNDS]]
#   (defaults: 100000 addresses, 3 rounds; N at most 131072)
set -u
[ $# -ge 2 ] || { echo "usage: bench/compare.sh OLD NEW [N [ROUNDS]]" >&2; exit 2; }
OLD=$1 NEW=$2 N=${3:-100000} ROUNDS=${4:-3}
[ "$N" -le 131072 ] || { echo "N is at most 131072 (198.18.0.0/15)" >&2; exit 2; }
W=$(mktemp -d) NS="cmp$$"
trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$W"' EXIT
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++)
	printf "t%d 198.%d.%d.%d\n", i, 18 + int(i / 65536), int(i / 256) % 256, i % 256 }' > "$W/targets"
printf 'targets = %s/targets\nstate_dir = %s/state\nstore = off\n' "$W" "$W" > "$W/conf"
secs() { # COMMAND...: its wall time
	local s e
	s=$(date +%s.%N)
	"$@" > /dev/null 2>&1
	e=$(date +%s.%N)
	echo "$e - $s" | bc
}
printf '%-6s %5s %8s %8s %12s %8s\n' binary round apply dump apply-again remove
for round in $(seq "$ROUNDS"); do
	for v in old new; do
		if [ $v = old ]; then bin=$OLD; else bin=$NEW; fi
		ip netns add "$NS"
		run() { ip netns exec "$NS" "$bin" -c "$W/conf" "$@"; }
		printf '%-6s %5s %8.2f %8.2f %12.2f %8.2f\n' $v "$round" "$(secs run apply)" \
			"$(secs run dump)" "$(secs run apply)" "$(secs run remove)"
		ip netns del "$NS"
		rm -rf "$W/state"
	done
done
