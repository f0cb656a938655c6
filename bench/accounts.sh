#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# One `nftally run` over many network namespaces: N namespaces in
# /run/netns, each with ADDRS addresses on an interface qg-N, all matched
# by one glob account (targets = interfaces qg-*).  Measured from outside
# the process: the time from the creation of the last namespace to its
# `start` line, how late each interval's reports are after the boundary
# (the last report line of a boundary against the boundary, median and
# max over ROUNDS boundaries), and the run's peak RSS (VmHWM).  Not part of
# the test suite.
#   usage: bench/accounts.sh [N] [ADDRS] [ROUNDS]   (defaults: 100 10 5)
set -u
cd "$(dirname "$0")/.."
N=${1:-100}; ADDRS=${2:-10}; ROUNDS=${3:-5}
NFTALLY=${NFTALLY:-$PWD/build/nftally}
UDPSEND=${UDPSEND:-$PWD/build/tests/udpsend}
export NFTALLY UDPSEND
. tests/integration/lib.sh
need
NS=()
trap 'for p in $PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done;
      for n in "${NS[@]}"; do ip netns del "$n" 2>/dev/null; done; rm -rf "$WORK"' EXIT

mkns() { # NAME INDEX: a namespace with ADDRS addresses on qg-INDEX
	ip netns add "$1"
	ip -n "$1" link add "qg-$2" type veth peer name "qx-$2"
	ip -n "$1" link set "qg-$2" up
	for a in $(seq "$ADDRS"); do
		ip -n "$1" addr add "198.18.$(($2 % 256)).$a/32" dev "qg-$2"
	done
}

cat > "$WORK/nftally.conf" <<CONF
interval = 5
state_dir = $WORK/state
[account routers]
template = gateway
netns = ${PFX}r*
interfaces = qg-*
targets = interfaces qg-*
CONF
for i in $(seq 1 $((N - 1))); do NS+=("${PFX}r$i"); mkns "${PFX}r$i" "$i"; done
"$NFTALLY" -c "$WORK/nftally.conf" run > "$WORK/out" 2> "$WORK/err" &
RUN=$!; PIDS="$PIDS $RUN"
for _ in $(seq 600); do [ "$(grep -c '"event":"start"' "$WORK/out")" -ge $((N - 1)) ] && break; sleep 0.1; done
t0=$(date +%s.%N)
NS+=("${PFX}r$N"); mkns "${PFX}r$N" "$N"
for _ in $(seq 3000); do grep -q "\"netns\":\"${PFX}r$N\".*\"event\":\"start\"" "$WORK/out" && break; sleep 0.002; done
t1=$(date +%s.%N)
echo "namespaces: $N, addresses each: $ADDRS"
printf 'new namespace to its start line: %.0f ms\n' "$(echo "($t1 - $t0) * 1000" | bc)"
# Reports: the arrival of the last line of each boundary, seen from here.
: > "$WORK/late"
for r in $(seq "$ROUNDS"); do
	b=$(( ( $(date +%s) / 5 + 1 ) * 5 ))
	want=$((N * ADDRS))
	while [ "$(date +%s)" -lt "$b" ]; do sleep 0.01; done
	tb=$(date -d @"$b" -u +%Y-%m-%dT%H:%M:%SZ)
	for _ in $(seq 3000); do
		[ "$(grep -c "\"time\":\"$tb\".*\"seq\"" "$WORK/out")" -ge "$want" ] && break
		sleep 0.002
	done
	echo "$(date +%s.%N) - $b" | bc >> "$WORK/late"
done
sort -g "$WORK/late" | awk '{ v[NR] = $1 } END { printf "last report line after the boundary: median %.0f ms, max %.0f ms (%d boundaries)\n", v[int((NR + 1) / 2)] * 1000, v[NR] * 1000, NR }'
grep VmHWM "/proc/$RUN/status" | awk '{ printf "peak RSS: %.1f MB\n", $2 / 1024 }'
grep -c '"event":"error"' "$WORK/out" | awk '{ print "error events: " $1 }'
