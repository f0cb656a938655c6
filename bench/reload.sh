#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# How long a running `nftally run` takes to count an address added to its
# targets file, measured from outside (not part of the test suite): N
# addresses (default 100,000) in a namespace of its own, then ROUNDS times
# a targets file with one line more, written beside it and renamed into
# place (what editors and config management do), and ROUNDS times one line
# appended in place (`>>`); the time from the rename (or the append's
# close) until the run's `reloaded` line is in its output, which it
# prints after the kernel committed the new counters; and the run's CPU time
# (all threads, /proc/PID/task/*/schedstat) over the same span.  Medians.
# FAMILY=6: IPv6 addresses (the sizes past 131,072 the IPv4 test ranges
# cannot hold), 2001:db8:9::/48, new ones in 2001:db8:a::/48.
#   usage: [FAMILY=6] bench/reload.sh [N] [ROUNDS]   (defaults: 100000 5)
set -eu
cd "$(dirname "$0")/.."
N=${1:-100000} ROUNDS=${2:-5} FAMILY=${FAMILY:-4}
export FAMILY
NFTALLY=${NFTALLY:-$PWD/build/nftally}
W=$(mktemp -d /tmp/nftally-reload.XXXXXX) B=nftally-reload$$
ip netns add "$B"
trap 'kill "$PID" 2>/dev/null; wait; ip netns del "$B"; rm -rf "$W"' EXIT
# hosts of 198.18.0.0/15 (benchmarking, RFC 2544), new ones of 203.0.113.0/24
if [ "$FAMILY" = 6 ]; then
	awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++)
		printf "v-%d 2001:db8:9::%x:%x\n", i, int(i / 65536) + 1, i % 65536 }' > "$W/targets"
else
	awk -v n="$N" 'BEGIN { for (i = 0; i < n; i++)
		printf "v-%d 198.%d.%d.%d\n", i, 18 + int(i / 65536), int(i / 256) % 256, i % 256 }' > "$W/targets"
fi
printf 'table = reload\ntargets = %s/targets\ninterval = 3600\nstate_dir = %s/state\nstore = off\n' \
	"$W" "$W" > "$W/nftally.conf"
mkdir "$W/state"
ip netns exec "$B" "$NFTALLY" -c "$W/nftally.conf" run > "$W/run.json" 2> "$W/err" &
PID=$!
for _ in $(seq 6000); do grep -q '"event":"start"' "$W/run.json" && break; sleep 0.1; done
python3 - "$W" "$ROUNDS" "$PID" <<'PY'
import glob, os, sys, time
w, rounds, pid = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def cpu_ns():
    # the run's CPU time (all its threads), which the machine's load does
    # not stretch as it stretches the wall time
    return sum(int(open(f).read().split()[0])
               for f in glob.glob("/proc/%s/task/*/schedstat" % pid))
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
cpu = {"rename": [], "append": []}
for how in ("rename", "append"):
    for _ in range(rounds):
        k += 1
        line = ("new-%d 2001:db8:a::%x\n" if os.environ["FAMILY"] == "6"
                else "new-%d 203.0.113.%d\n") % (k, k)
        if how == "rename":
            with open(w + "/targets") as f, open(w + "/t.new", "w") as g:
                g.write(f.read() + line)
            c0 = cpu_ns()
            t0 = time.monotonic()
            os.rename(w + "/t.new", w + "/targets")
        else:
            with open(w + "/targets", "a") as f:
                f.write(line)
                f.flush()
                c0 = cpu_ns()
                t0 = time.monotonic()
        res[how].append(wait_reloaded(t0))
        cpu[how].append((cpu_ns() - c0) / 1e6)
        time.sleep(0.3)
for how, v in res.items():
    v.sort()
    c = sorted(cpu[how])
    print("reload_%s_ms_median=%.1f reload_%s_ms_max=%.1f reload_%s_cpu_ms_median=%.1f"
          % (how, v[len(v) // 2], how, v[-1], how, c[len(c) // 2]))
PY
awk '/VmHWM/ { print "run_peak_rss_kb=" $2 }' "/proc/$PID/status"
echo "addresses=$N family=$FAMILY"
