#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# How long a running `nftally run` takes to count an address added to its
# targets file, measured from outside (not part of the test suite): N
# addresses (default 100,000) in a namespace of its own, then ROUNDS times
# a targets file with one line more, written beside it and renamed into
# place (what editors and config management do), and ROUNDS times one line
# appended in place (`>>`); the time from the rename (or the append's
# close) until the run's `reloaded` line is in its output, which it
# prints after the kernel committed the new counters.  Medians.
#   usage: bench/reload.sh [N] [ROUNDS]   (defaults: 100000 5)
set -eu
cd "$(dirname "$0")/.."
N=${1:-100000} ROUNDS=${2:-5}
NFTALLY=${NFTALLY:-$PWD/build/nftally}
W=$(mktemp -d /tmp/nftally-reload.XXXXXX) B=nftally-reload$$
ip netns add "$B"
trap 'kill "$PID" 2>/dev/null; wait; ip netns del "$B"; rm -rf "$W"' EXIT
# hosts of 198.18.0.0/15 (benchmarking, RFC 2544), new ones of 203.0.113.0/24
awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++)
	printf "v-%d 198.%d.%d.%d\n", i, 18 + int(i / 65536), int(i / 256) % 256, i % 256 }' > "$W/targets"
printf 'table = reload\ntargets = %s/targets\ninterval = 3600\nstate_dir = %s/state\nstore = off\n' \
	"$W" "$W" > "$W/nftally.conf"
mkdir "$W/state"
ip netns exec "$B" "$NFTALLY" -c "$W/nftally.conf" run > "$W/run.json" 2> "$W/err" &
PID=$!
for _ in $(seq 600); do grep -q '"event":"start"' "$W/run.json" && break; sleep 0.1; done
python3 - "$W" "$ROUNDS" <<'PY'
import os, sys, time
w, rounds = sys.argv[1], int(sys.argv[2])
out = open(w + "/run.json")
out.read()
k = 0
def wait_reloaded(t0):
    buf = ""
    while '"reloaded"' not in buf:
        buf += out.read()
        time.sleep(0.0002)
    return (time.monotonic() - t0) * 1000
res = {"rename": [], "append": []}
for how in ("rename", "append"):
    for _ in range(rounds):
        k += 1
        line = "new-%d 203.0.113.%d\n" % (k, k)
        if how == "rename":
            with open(w + "/targets") as f, open(w + "/t.new", "w") as g:
                g.write(f.read() + line)
            t0 = time.monotonic()
            os.rename(w + "/t.new", w + "/targets")
        else:
            with open(w + "/targets", "a") as f:
                f.write(line)
                f.flush()
                t0 = time.monotonic()
        res[how].append(wait_reloaded(t0))
        time.sleep(0.3)
for how, v in res.items():
    v.sort()
    print("reload_%s_ms_median=%.1f reload_%s_ms_max=%.1f" % (how, v[len(v) // 2], how, v[-1]))
PY
echo "addresses=$N"
