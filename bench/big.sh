#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# nftally's one-shot commands at large sizes (not part of the test suite):
# for each size N, a fresh network namespace, N IPv6 addresses one per line,
# and in that order: apply (new table), apply (nothing changed), apply (one
# address more), apply (skeleton changed: an exclude added to the config),
# run (launch to its start event, right after that apply; then stopped
# with SIGTERM, which makes its last report: timed from the signal, and
# the run's peak RSS, start and report), run again (the same, started
# with the state the first run left: every restart), a long run (started
# again, --interval 5: stopped after two reports of its own, so its peak
# covers a report made after a report of the same run), dump, remove.
# Prints, per command, wall seconds, peak RSS and CPU seconds (user +
# system) (/usr/bin/time -v).
# Needs root.
#   usage: bench/big.sh SIZE...        e.g. bench/big.sh 100000 300000
set -u
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: bench/big.sh SIZE..." >&2; exit 2; }
NFTALLY=${NFTALLY:-$PWD/build/nftally}
WORK=$(mktemp -d /tmp/nftally-big.XXXXXX)
NS=nftally-big-$$
trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$WORK"' EXIT
printf 'state_dir = %s/state\n' "$WORK" > "$WORK/b.conf"
printf 'state_dir = %s/state\nexclude = 198.18.0.9\n' "$WORK" > "$WORK/x.conf"

targets() { # N FILE: N IPv6 hosts in 2001:db8::/32
	awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++)
		printf "a%d 2001:db8:9::%x:%x\n", i, int(i / 65536) + 1, i % 65536 }' > "$2"
}

# CPU seconds (user + system) in a /usr/bin/time -v output: on this
# shared 2-core machine the wall time of one command swings by half
# between rounds, its CPU time far less.
cpu_of() { awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$1"; }

timed() { # LABEL N CMD...: one line "LABEL N SECONDS RSS_MB CPU_SECONDS"
	local label=$1 n=$2 t0 t1 rss; shift 2
	t0=$EPOCHREALTIME
	/usr/bin/time -v -o "$WORK/time" "$@" > /dev/null 2> "$WORK/err" ||
		{ echo "failed: $label ($(tail -1 "$WORK/err"))" >&2; return 1; }
	t1=$EPOCHREALTIME
	rss=$(awk -F': ' '/Maximum resident/ { print $2 }' "$WORK/time")
	printf '%-26s %8s %9.2f s %6d MB %7s s\n' "$label" "$n" "$(echo "$t1 - $t0" | bc -l)" \
		$((rss / 1024)) "$(cpu_of "$WORK/time")"
}

# seq of the last report in the state file (0: none yet)
state_seq() {
	local s
	s=$(sed -n '/^seq /{s/^seq //p;q}' "$WORK/state/nftally.state" 2> /dev/null)
	echo "${s:-0}"
}

# LABEL N INTERVAL REPORTS: a run (launch to its start event), left for
# REPORTS reports of its own, then stopped with SIGTERM (its last report,
# timed from the signal); the peak RSS covers all of it.
run_timed() {
	local label=$1 n=$2 interval=$3 reports=$4 seq0 t0 pid rss
	seq0=$(state_seq)
	t0=$EPOCHREALTIME
	ip netns exec "$NS" /usr/bin/time -v -o "$WORK/time.run" "$NFTALLY" -c "$WORK/x.conf" \
		-t "$t" --interval "$interval" run > "$WORK/run.json" 2> /dev/null &
	pid=$! # time's; nftally is its child
	for _ in $(seq 60000); do grep -q '"event":"start"' "$WORK/run.json" && break; sleep 0.005; done
	printf '%-26s %8s %9.2f s\n' "$label (start)" "$n" "$(echo "$EPOCHREALTIME - $t0" | bc -l)"
	for _ in $(seq 12000); do # at most 20 minutes
		[ "$(state_seq)" -ge $((seq0 + reports)) ] && break
		sleep 0.1
	done
	# SIGTERM: the run's last report, then it exits
	t0=$EPOCHREALTIME
	kill -TERM "$(ps -o pid= --ppid "$pid")"; wait "$pid"
	rss=$(awk -F': ' '/Maximum resident/ { print $2 }' "$WORK/time.run")
	printf '%-26s %8s %9.2f s %6d MB %7s s (the whole run)\n' "$label (report, stop)" "$n" \
		"$(echo "$EPOCHREALTIME - $t0" | bc -l)" $((rss / 1024)) "$(cpu_of "$WORK/time.run")"
}

printf '%-26s %8s %11s %9s %9s\n' command N time peak_RSS CPU
for n in "$@"; do
	t="$WORK/t$n"
	targets "$n" "$t"
	ip netns del "$NS" 2>/dev/null; ip netns add "$NS"; rm -rf "$WORK/state"
	timed "apply (new)" "$n" ip netns exec "$NS" "$NFTALLY" -c "$WORK/b.conf" -t "$t" apply
	timed "apply (unchanged)" "$n" ip netns exec "$NS" "$NFTALLY" -c "$WORK/b.conf" -t "$t" apply
	echo "extra 2001:db8:9:ffff::1" >> "$t"
	timed "apply (one more)" "$n" ip netns exec "$NS" "$NFTALLY" -c "$WORK/b.conf" -t "$t" apply
	timed "apply (new skeleton)" "$n" ip netns exec "$NS" "$NFTALLY" -c "$WORK/x.conf" -t "$t" apply
	run_timed "run" "$n" 3600 0
	run_timed "run again" "$n" 3600 0
	run_timed "long run" "$n" 5 2
	timed "dump" "$n" ip netns exec "$NS" "$NFTALLY" -c "$WORK/b.conf" -t "$t" dump
	timed "remove" "$n" ip netns exec "$NS" "$NFTALLY" -c "$WORK/b.conf" -t "$t" remove
	ip netns del "$NS"
done
