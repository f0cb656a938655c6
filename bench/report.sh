#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A `run`'s report at large sizes when every address had traffic since the
# last one (not part of the test suite; bench/big.sh measures reports
# without traffic).  For each size N: three fresh namespaces, a peer P, the
# router R where nftally runs (template host, the default config: a state
# directory and the store in it, no metrics) and a server S, wired
# P - R - S by veth pairs; R routes 2001:db8:9::/48, the N IPv6 targets of
# bench/big.sh, to S.  The run is started once; then ROUNDS times, right
# after a report: build/sendall sends one datagram from P to every target
# (counted in, at R's forward hook) and one from every target (S, its
# source set per datagram) to P (counted out), both dropped by the
# receiver's prerouting after a counter there; the next interval boundary
# is the report's start, and its end is when the state file says that
# seq (polled every 20 ms from outside); the run's CPU seconds over it
# (user + system, /proc/PID/stat) are given too, the machine being
# shared.  Each report is checked: one line per target, every line 1
# packet in and 1 out, the sums of packets and bytes in its lines and in
# the store's usage rows equal what was sent, and the receivers got every
# datagram.  The run's VmHWM is read after
# every report; at the end it is stopped with SIGTERM (its last report,
# with no traffic) and its peak RSS taken from /usr/bin/time.
# With METRICS=1 the run also exports its metrics (docs/metrics.md): a
# prom_file in the work directory and listen = [::1]:9663 in R.  Its
# publication follows the report's state file; pub_s is from the same
# boundary to the prom file's replacement (inode and ctime polled every
# 20 ms); cpu_s is read then, VmHWM after one GET /metrics by curl in R,
# whose wall seconds, the run's CPU seconds over it and its size (MB) are
# given.  Both the scrape and the prom file must hold, for every
# target (label and canonical address), one nftally_bytes_total and one
# nftally_packets_total series per direction, each ROUND * (PAYLOAD + 48)
# bytes and ROUND packets (all-time totals from a new store), and
# nftally_addresses N.  (Before d41637d the listener cut every scrape of
# more than 64 KiB: see docs/performance.md, "with the metrics on".)
# Needs root.  Namespaces are named PREFIX{p,r,s}-PID (NS_PREFIX, default
# nftally-rep-).
#   usage: bench/report.sh SIZE...     e.g. bench/report.sh 100000 1000000
#   ROUNDS=3, INTERVAL=SECONDS (default: N / 5000, at least 30; it must
#   hold a send and a report), PAYLOAD=16, METRICS=1
set -u
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: bench/report.sh SIZE..." >&2; exit 2; }
NFTALLY=${NFTALLY:-$PWD/build/nftally}
SENDALL=${SENDALL:-$PWD/build/sendall}
ROUNDS=${ROUNDS:-3}
PAYLOAD=${PAYLOAD:-16}
METRICS=${METRICS:-}
WORK=$(mktemp -d /tmp/nftally-report.XXXXXX)
NS_PREFIX=${NS_PREFIX:-nftally-rep-}
P=${NS_PREFIX}p-$$ R=${NS_PREFIX}r-$$ S=${NS_PREFIX}s-$$
RUNPID="" pid=""
cleanup() { # the run (nftally, then the time that waits for it) first
	[ -n "$pid" ] && kill "$pid" 2> /dev/null
	[ -n "$RUNPID" ] && kill "$RUNPID" 2> /dev/null && wait "$RUNPID" 2> /dev/null
	for ns in "$P" "$R" "$S"; do ip netns del "$ns" 2> /dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT
printf 'state_dir = %s/state\n' "$WORK" > "$WORK/nftally.conf"
PROM=$WORK/nftally.prom URL='http://[::1]:9663/metrics'
[ -n "$METRICS" ] && printf 'prom_file = %s\nlisten = [::1]:9663\n' "$PROM" >> "$WORK/nftally.conf"

inns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
mac() { inns "$1" cat "/sys/class/net/$2/address"; }
pin() { inns "$1" ip neigh replace "$2" lladdr "$3" dev "$4" nud permanent; }
now() { echo "$EPOCHREALTIME"; }
fsub() { echo "$1 - $2" | bc -l; }

topology() {
	local ns pm rm0 rm1 sm
	for ns in "$P" "$R" "$S"; do
		ip netns del "$ns" 2> /dev/null
		ip netns add "$ns"
		inns "$ns" ip link set lo up
		inns "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0 \
			net.ipv6.conf.all.router_solicitations=0 \
			net.ipv6.conf.default.router_solicitations=0
	done
	ip link add p0 netns "$P" type veth peer name r0 netns "$R"
	ip link add s0 netns "$S" type veth peer name r1 netns "$R"
	inns "$P" ip addr add 2001:db8:1::2/64 dev p0 nodad
	inns "$R" ip addr add 2001:db8:1::1/64 dev r0 nodad
	inns "$R" ip addr add 2001:db8:2::1/64 dev r1 nodad
	inns "$S" ip addr add 2001:db8:2::2/64 dev s0 nodad
	inns "$P" ip link set p0 up; inns "$S" ip link set s0 up
	inns "$R" ip link set r0 up; inns "$R" ip link set r1 up
	inns "$R" sysctl -qw net.ipv6.conf.all.forwarding=1
	inns "$P" ip -6 route add default via 2001:db8:1::1
	inns "$S" ip -6 route add default via 2001:db8:2::1
	inns "$R" ip -6 route add 2001:db8:9::/48 via 2001:db8:2::2
	pm=$(mac "$P" p0) rm0=$(mac "$R" r0) rm1=$(mac "$R" r1) sm=$(mac "$S" s0)
	pin "$P" 2001:db8:1::1 "$rm0" p0; pin "$R" 2001:db8:1::2 "$pm" r0
	pin "$R" 2001:db8:2::2 "$sm" r1; pin "$S" 2001:db8:2::1 "$rm1" s0
	for ns in "$P" "$S"; do
		inns "$ns" nft -f - <<-'NFT'
		table inet sink {
			counter rx { }
			chain pre {
				type filter hook prerouting priority -300; policy accept;
				udp dport 9999 counter name rx drop
			}
		}
		NFT
	done
}

rx() { inns "$1" nft -j list counter inet sink rx | jq '.nftables[1].counter.packets'; }

state_seq() {
	local s
	s=$(sed -n '/^seq /{s/^seq //p;q}' "$WORK/state/nftally.state" 2> /dev/null)
	echo "${s:-0}"
}

hwm() { awk '/^VmHWM/ { print int($2 / 1024) }' "/proc/$1/status"; }
# the CPU seconds (user + system) process PID has used: a report's, on a
# machine shared with other work, besides its wall seconds
TCK=$(getconf CLK_TCK)
cpu() { awk -v t="$TCK" '{ printf "%.2f\n", ($14 + $15) / t }' "/proc/$1/stat"; }

# SEQ FROM: the lines of report SEQ in run.json from byte FROM on: lines,
# lines of exactly 1 packet each way, packets and bytes each way
check_lines() {
	tail -c +"$2" "$WORK/run.json" | awk -v seq="\"seq\":$1," '
		index($0, seq) && /"in_bytes"/ {
			n++
			match($0, /"in_bytes":[0-9]+/); ib += substr($0, RSTART + 11, RLENGTH - 11)
			match($0, /"in_packets":[0-9]+/); ip = substr($0, RSTART + 13, RLENGTH - 13)
			match($0, /"out_bytes":[0-9]+/); ob += substr($0, RSTART + 12, RLENGTH - 12)
			match($0, /"out_packets":[0-9]+/); op = substr($0, RSTART + 14, RLENGTH - 14)
			ipk += ip; opk += op; if (ip == 1 && op == 1) one++
		}
		END { printf "%d %d %d %d %d %d\n", n, one, ipk, ib, opk, ob }'
}

# the prom file's identity: a publication renames a new file over it
prom_id() { stat -c '%i %z' "$PROM" 2> /dev/null; }

# FILE ROUND: the metrics in FILE against the targets after ROUND rounds:
# series of bytes in, of them exact, bytes out, exact, packets in, exact,
# packets out, exact; series of no target, series there twice;
# nftally_addresses
check_metrics() {
	awk -v wb=$(($2 * (PAYLOAD + 48))) -v wp="$2" '
		FNR == NR { t[$1 "|" $2] = 0; next }
		/^nftally_(bytes|packets)_total\{/ {
			match($0, /label="[^"]*"/); l = substr($0, RSTART + 7, RLENGTH - 8)
			match($0, /addr="[^"]*"/); a = substr($0, RSTART + 6, RLENGTH - 7)
			match($0, /direction="[a-z]*"/); d = substr($0, RSTART + 11, RLENGTH - 12)
			b = /^nftally_bytes/; k = (b ? "b" : "p") d
			f = (b ? 1 : 4) * (d == "in" ? 1 : 2)
			n[k]++; if ($NF == (b ? wb : wp)) ok[k]++
			if (!((l "|" a) in t)) { stray++; next }
			if (int(t[l "|" a] / f) % 2) twice++; else t[l "|" a] += f
		}
		/^nftally_addresses\{/ { addrs = $NF }
		END { printf "%d %d %d %d %d %d %d %d %d %d %s\n", n["bin"], ok["bin"],
			n["bout"], ok["bout"], n["pin"], ok["pin"], n["pout"], ok["pout"],
			stray, twice, addrs }' "$WORK/t" "$1"
}

if [ -n "$METRICS" ]; then
	printf '%-8s %5s %8s %9s %7s %6s %9s %8s %8s %7s %8s  %s\n' N round send_s report_s \
		pub_s cpu_s VmHWM_MB lines fetch_s fetch_cpu fetch_MB check
else
	printf '%-8s %5s %8s %9s %6s %9s %8s  %s\n' N round send_s report_s cpu_s VmHWM_MB lines check
fi
for n in "$@"; do
	interval=${INTERVAL:-$((n / 5000 < 30 ? 30 : n / 5000))}
	awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++)
		printf "a%d 2001:db8:9::%x:%x\n", i, int(i / 65536) + 1, i % 65536 }' > "$WORK/t"
	rm -rf "$WORK/state"
	topology
	inns "$R" "$NFTALLY" -c "$WORK/nftally.conf" -t "$WORK/t" apply 2> /dev/null ||
		{ echo "apply failed" >&2; exit 1; }
	ip netns exec "$R" /usr/bin/time -v -o "$WORK/time.run" "$NFTALLY" -c "$WORK/nftally.conf" \
		-t "$WORK/t" --interval "$interval" run > "$WORK/run.json" 2> "$WORK/run.err" &
	RUNPID=$! # time's; nftally is its child
	for _ in $(seq 60000); do grep -q '"event":"start"' "$WORK/run.json" && break; sleep 0.01; done
	pid=$(ps -o pid= --ppid "$RUNPID" | tr -d ' ')
	# the publication at start, after the start event
	for _ in $(seq 60000); do [ -z "$METRICS" ] || [ -e "$PROM" ] && break; sleep 0.01; done
	for round in $(seq "$ROUNDS"); do
		seq0=$(state_seq)
		from=$(($(stat -c %s "$WORK/run.json") + 1))
		p0=$(rx "$P") s0=$(rx "$S") c0=$(cpu "$pid") id0=$(prom_id)
		t0=$(now)
		inns "$P" "$SENDALL" to "$n" "$PAYLOAD" || exit 1
		inns "$S" "$SENDALL" from "$n" "$PAYLOAD" 2001:db8:1::2 || exit 1
		t1=$(now)
		# the report that starts at the next boundary, after the send
		b=$(( (${t1%.*} / interval + 1) * interval ))
		[ "$(state_seq)" = "$seq0" ] && [ $((b - interval)) -lt "${t0%.*}" ] ||
			echo "round $round: a report began during the send (INTERVAL too short)" >&2
		for _ in $(seq $((interval * 50 * 20))); do
			[ "$(state_seq)" -gt "$seq0" ] && break
			sleep 0.02
		done
		t2=$(now)
		if [ -n "$METRICS" ]; then
			for _ in $(seq $((interval * 50 * 20))); do
				[ "$(prom_id)" != "$id0" ] && break
				sleep 0.02
			done
			t3=$(now) c1=$(cpu "$pid")
			inns "$R" curl -sS -o "$WORK/scrape" -w '%{http_code} %{size_download}' "$URL" \
				> "$WORK/curl" || echo "round $round: the scrape failed" >&2
			t4=$(now) c2=$(cpu "$pid")
			read -r code size < "$WORK/curl"
			peak=$(hwm "$pid")
			want_m="$n $n $n $n $n $n $n $n 0 0 $n"
			m_scrape=$(check_metrics "$WORK/scrape" "$round")
			m_file=$(check_metrics "$PROM" "$round")
		else
			peak=$(hwm "$pid") c1=$(cpu "$pid")
		fi
		read -r lines one ipk ib opk ob <<< "$(check_lines $((seq0 + 1)) "$from")"
		db=$(sqlite3 "$WORK/state/nftally.db" "SELECT count(*), sum(in_packets),
			sum(in_bytes), sum(out_packets), sum(out_bytes) FROM usage
			WHERE tier = 0 AND t = $b" | tr '|' ' ')
		pr=$(( $(rx "$P") - p0 )) sr=$(( $(rx "$S") - s0 ))
		want="$n $n $n $((n * (PAYLOAD + 48))) $n $((n * (PAYLOAD + 48)))"
		want_db="$n $n $((n * (PAYLOAD + 48))) $n $((n * (PAYLOAD + 48)))"
		if [ "$lines $one $ipk $ib $opk $ob" = "$want" ] && [ "$db" = "$want_db" ] &&
		   [ "$pr $sr" = "$n $n" ]; then
			check=exact
		else
			check="WRONG: lines $lines $one $ipk $ib $opk $ob, store $db, rx $pr $sr"
		fi
		if [ -z "$METRICS" ]; then
			printf '%-8s %5s %8.2f %9.2f %6.2f %9s %8s  %s\n' "$n" "$round" \
				"$(fsub "$t1" "$t0")" "$(fsub "$t2" "$b")" "$(fsub "$c1" "$c0")" "$peak" \
				"$lines" "$check"
			continue
		fi
		[ "$code $m_scrape" = "200 $want_m" ] && [ "$m_file" = "$want_m" ] ||
			check="WRONG: metrics: HTTP $code $m_scrape, file $m_file; $check"
		printf '%-8s %5s %8.2f %9.2f %7.2f %6.2f %9s %8s %8.2f %9.2f %8.1f  %s\n' "$n" \
			"$round" "$(fsub "$t1" "$t0")" "$(fsub "$t2" "$b")" "$(fsub "$t3" "$b")" \
			"$(fsub "$c1" "$c0")" "$peak" "$lines" "$(fsub "$t4" "$t3")" \
			"$(fsub "$c2" "$c1")" "$(echo "$size / 1000000" | bc -l)" "$check"
	done
	t0=$(now)
	kill -TERM "$pid"; wait "$RUNPID"; RUNPID="" pid=""
	rss=$(awk -F': ' '/Maximum resident/ { print int($2 / 1024) }' "$WORK/time.run")
	if [ -n "$METRICS" ]; then
		printf '%-8s %5s %8s %9.2f %7s %6s %9s %8s %8s %9s %8s  %s\n' "$n" stop - \
			"$(fsub "$(now)" "$t0")" - - "$rss" - - - - "peak RSS of the whole run (/usr/bin/time)"
	else
		printf '%-8s %5s %8s %9.2f %6s %9s %8s  %s\n' "$n" stop - "$(fsub "$(now)" "$t0")" - \
			"$rss" - "peak RSS of the whole run (/usr/bin/time)"
	fi
	grep '"event":"error"' "$WORK/run.json" | head -3 >&2
	for ns in "$P" "$R" "$S"; do ip netns del "$ns"; done
	rm -f "$WORK/run.json" "$WORK/scrape" "$PROM"
done
