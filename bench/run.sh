#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# nftally's benchmarks, side by side in one run (not part of the test suite):
#   control plane at N = 1k, 10k, 100k addresses: initial apply against
#   `nft -f` of the same table, reading every counter against
#   `nft -j list counters`, one address added/removed against
#   `nft add/delete element`, nftally's peak RSS; IPv6 at 100k;
#   packet path: 64-byte UDP forwarded through a router namespace with no
#   accounting, nftally with 100k addresses, and the classic one iptables
#   rule per address and direction at 1k and 10k; the store: recording one
#   report in which every address had traffic, a report over it, a rollup
#   (build/store-bench on a file in /var/tmp).
#   BENCH_ONLY=packet or BENCH_ONLY=store runs only that part;
#   BENCH_ONLY=control the control plane (apply, read, add1/del1, IPv6);
#   BENCH_ONLY=apply-read only apply and read, IPv4, at the sizes given.
#   A size above 100,000 (bench/run.sh 1 1000000) is nftally alone, IPv6
#   (2001:db8:9::/64 holds it; 198.18.0.0/15 does not): apply into an empty
#   namespace and dump, as apply-v6 and read-v6 (nft -f and nft list take
#   many minutes there).
#   BENCH_OUT=DIR: where the table, raw numbers and plot go (default
#   bench/results, or a scratch directory under BENCH_ONLY).
# Prints one table of medians and ratios, writes bench/results/ (table and
# PNG plot).  Needs root, nft, iptables-legacy, gnuplot, jq, bc
# (scripts/install-deps bench installs them).
#   usage: bench/run.sh [REPEATS] [SIZES...]   (defaults: 3, 1000 10000 100000)
#   PACKET_REPEATS=N rounds of the packet path (default 7)
set -u
cd "$(dirname "$0")/.."
REPEATS=${1:-3}; shift || true
SIZES=${*:-1000 10000 100000}
NFTALLY=${NFTALLY:-$PWD/build/nftally}
UDPSEND=${UDPSEND:-$PWD/build/tests/udpsend}
export NFTALLY UDPSEND
OUT=bench/results
mkdir -p "$OUT"
. tests/integration/lib.sh
need
command -v iptables-legacy >/dev/null || { echo "bench needs iptables-legacy" >&2; exit 1; }
# without gnuplot the figures are measured and printed, and no plot drawn
command -v gnuplot >/dev/null || echo "no gnuplot: no plot this time" >&2
B="${PFX}b"
RAW="$WORK/raw"   # lines: metric N tool value

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
record() { echo "$1 $2 $3 $4" >> "$RAW"; }
get() { awk -v m="$1" -v n="$2" -v t="$3" '$1 == m && $2 == n && $3 == t { print $4 }' "$RAW" | median; }

fresh() { ip netns del "$B" 2>/dev/null; ip netns add "$B"; }

targets() { # N FAMILY FILE: N hosts outside every test subnet
	awk -v n="$1" -v f="$2" 'BEGIN { for (i = 0; i < n; i++)
		if (f == 4) printf "a%d 198.19.%d.%d\n", i, int(i / 256) % 256, i % 256 + 0
		else printf "a%d 2001:db8:9::%x:%x\n", i, int(i / 65536) + 1, i % 65536 }' > "$3"
	if [ "$2" = 4 ] && [ "$1" -gt 65536 ]; then # past 198.19/16: continue in 198.18.64.0-198.18.255.255
		awk -v n="$1" 'BEGIN { for (i = 65536; i < n; i++)
			printf "a%d 198.18.%d.%d\n", i, 64 + int((i - 65536) / 256), i % 256 }' > "$3.tail"
		head -n 65536 "$3" > "$3.head"; cat "$3.head" "$3.tail" > "$3"; rm "$3.head" "$3.tail"
	fi
}

# The same table as nftally installs, as one nft file in block syntax.
nft_file() { # TARGETS FAMILY OUTFILE
	local key=ipv4_addr; [ "$2" = 6 ] && key=ipv6_addr
	"$NFTALLY" -c /dev/null -t "$1" render | awk -v fam="$2" '
		/^add counter/ { c[++nc] = $5; next }
		/^add element/ { m = $5; sub(/^add element inet [a-z]+ [a-z0-9]+ \{ /, ""); sub(/ \}$/, "");
				 if (!(m in ne)) maps[++nm] = m
				 e[m, ++ne[m]] = $0; next }
		{ skel = skel $0 "\n" }
		# element by element: joining them into one string per map copied
		# it again for every element (minutes at 100,000 on a busy machine)
		END { printf "%s", skel; printf "table inet nftally {\n";
		      for (i = 1; i <= nc; i++) printf "counter %s { }\n", c[i];
		      for (j = 1; j <= nm; j++) { m = maps[j]
			      printf "map %s { type %s : counter; elements = { ", m, (fam == 6 ? "ipv6_addr" : "ipv4_addr")
			      for (k = 1; k <= ne[m]; k++) printf "%s%s", e[m, k], (k < ne[m] ? ",\n" : "")
			      printf " } }\n" }
		      printf "}\n" }' > "$3"
}

timed() { # METRIC N TOOL CMD...: wall seconds and peak RSS (KiB)
	local m=$1 n=$2 tool=$3 t0 t1 secs rss; shift 3
	t0=$EPOCHREALTIME
	/usr/bin/time -f "%M" -o "$WORK/time" "$@" > /dev/null 2> "$WORK/time.err" ||
		{ echo "failed: $* ($(tail -1 "$WORK/time.err"))" >&2; return 1; }
	t1=$EPOCHREALTIME
	read -r rss < "$WORK/time"
	secs=$(echo "$t1 - $t0" | bc -l)
	LAST_SECS=$secs
	record "$m" "$n" "$tool" "$(printf '%.4f' "$secs")"
	record "$m-rss" "$n" "$tool" "$rss"
}

printf 'state_dir = %s/state\n' "$WORK" > "$WORK/b.conf"

control_plane() { # N FAMILY
	local n=$1 fam=$2 sfx="" t="$WORK/t$1-$2" f="$WORK/t$1-$2.nft"
	[ "$fam" = 6 ] && sfx=-v6
	targets "$n" "$fam" "$t"
	nft_file "$t" "$fam" "$f"
	for r in $(seq "$REPEATS"); do
		# apply: nft -f, then nftally, each into an empty namespace (A B A B)
		# (each pair also gives a ratio: the machine drifts between rounds)
		fresh; sleep 1; timed apply$sfx "$n" nft ip netns exec "$B" nft -f "$f"; a=$LAST_SECS
		fresh; sleep 1; timed apply$sfx "$n" nftally ip netns exec "$B" "$NFTALLY" -c "$WORK/b.conf" -t "$t" apply
		record "apply$sfx-ratio" "$n" x "$(echo "$a / $LAST_SECS" | bc -l)"
		# read every counter
		timed read$sfx "$n" nft ip netns exec "$B" nft -j list counters table inet nftally; a=$LAST_SECS
		timed read$sfx "$n" nftally ip netns exec "$B" "$NFTALLY" -c "$WORK/b.conf" -t "$t" dump
		record "read$sfx-ratio" "$n" x "$(echo "$a / $LAST_SECS" | bc -l)"
		{ [ "$fam" = 6 ] || [ "${BENCH_ONLY:-}" = apply-read ]; } && continue
		# one address added and removed: nft CLI
		timed add1 "$n" nft ip netns exec "$B" nft -f - <<NFT
add counter inet nftally in4_c6140001
add counter inet nftally out4_c6140001
add element inet nftally in4 { 198.20.0.1 : "in4_c6140001" }
add element inet nftally out4 { 198.20.0.1 : "out4_c6140001" }
NFT
		timed del1 "$n" nft ip netns exec "$B" nft -f - <<NFT
delete element inet nftally in4 { 198.20.0.1 }
delete element inet nftally out4 { 198.20.0.1 }
delete counter inet nftally in4_c6140001
delete counter inet nftally out4_c6140001
NFT
		# ... and through a running nftally (the reloaded event says how long)
		cp "$t" "$t.run"
		ip netns exec "$B" "$NFTALLY" -c "$WORK/b.conf" -t "$t.run" --interval 3600 run > "$WORK/run.json" 2>/dev/null &
		local pid=$!
		for _ in $(seq 600); do grep -q '"event":"start"' "$WORK/run.json" && break; sleep 0.1; done
		echo "new 198.20.0.1" >> "$t.run"
		for _ in $(seq 600); do [ "$(grep -c reloaded "$WORK/run.json")" -ge 1 ] && break; sleep 0.05; done
		cp "$t" "$t.run"
		for _ in $(seq 600); do [ "$(grep -c reloaded "$WORK/run.json")" -ge 2 ] && break; sleep 0.05; done
		kill -TERM $pid; wait $pid
		jq -r 'select(.event == "reloaded") | .message' "$WORK/run.json" | sed -n 's/.* in \([0-9.]*\) ms$/\1/p' |
			awk -v n="$n" 'NR == 1 { printf "add1 %s nftally %.4f\n", n, $1 / 1000 } NR == 2 { printf "del1 %s nftally %.4f\n", n, $1 / 1000 }' >> "$RAW"
		rm -rf "$WORK/state"
	done
}

# nftally alone, IPv6, at a size the nft CLI would take many minutes for.
big_plane() { # N
	local n=$1 t="$WORK/t$1-6"
	targets "$n" 6 "$t"
	for r in $(seq "$REPEATS"); do
		fresh; sleep 1
		timed apply-v6 "$n" nftally ip netns exec "$B" "$NFTALLY" -c "$WORK/b.conf" -t "$t" apply
		timed read-v6 "$n" nftally ip netns exec "$B" "$NFTALLY" -c "$WORK/b.conf" -t "$t" dump
		rm -rf "$WORK/state"
	done
	ip netns del "$B"
}

# Packet path: pps of 64-byte UDP through the router, and CPU jiffies per packet.
busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
flood() { # SETUP
	local count=1000000 b0 b1 t0 t1
	b0=$(busy); t0=$(date +%s.%N)
	inns "$C" "$UDPSEND" 198.18.2.2 9999 36 $count 198.18.1.2
	t1=$(date +%s.%N); b1=$(busy)
	LAST_PPS=$(echo "$count / ($t1 - $t0)" | bc -l | cut -d. -f1)
	record pps 0 "$1" "$LAST_PPS"
	record jiffies-per-mpkt 0 "$1" "$(( (b1 - b0) * 1000000 / count ))"
}
packet_path() {
	setup_topology
	targets 100000 4 "$WORK/p100k"; echo "vm 198.18.2.2" >> "$WORK/p100k"
	for n in 1000 10000; do
		{ echo "*filter"; awk -v n=$n 'BEGIN { for (i = 0; i < n; i++) {
			printf "-A FORWARD -d 198.19.%d.%d\n-A FORWARD -s 198.19.%d.%d\n", int(i/256), i%256, int(i/256), i%256 } }'
		  echo "-A FORWARD -d 198.18.2.2"; echo "-A FORWARD -s 198.18.2.2"; echo "COMMIT"; } > "$WORK/ipt$n"
	done
	# This machine's packet rate drifts by 10-20 % within minutes, so every
	# round measures all setups back to back and each is compared with the
	# round's own "none"; the table shows the median of those ratios.
	for r in $(seq "${PACKET_REPEATS:-7}"); do
		local none_pps=""
		for setup in ${PACKET_SETUPS:-none nftally-100k iptables-1k iptables-10k}; do
			inns "$R" nft flush ruleset; inns "$R" iptables-legacy -F FORWARD
			case $setup in
			nftally-100k) inns "$R" "$NFTALLY" -c "$WORK/b.conf" -t "$WORK/p100k" apply 2>/dev/null ;;
			iptables-1k) inns "$R" iptables-legacy-restore < "$WORK/ipt1000" ;;
			iptables-10k) inns "$R" iptables-legacy-restore < "$WORK/ipt10000" ;;
			esac
			flood "$setup"
			[ "$setup" = none ] && none_pps=$LAST_PPS
			[ -n "$none_pps" ] && record ratio 0 "$setup" "$(echo "$LAST_PPS / $none_pps" | bc -l)"
		done
	done
	inns "$R" iptables-legacy -F FORWARD
}

# The store: K=10 reports of N addresses, each with traffic, on a real disk.
store_bench() { # N
	local d; d=$(mktemp -d -p /var/tmp nftally-bench.XXXXXX)
	for _ in $(seq "$REPEATS"); do
		"${STORE_BENCH:-$PWD/build/store-bench}" "$1" 10 "$d/b.db" |
			awk -F= -v n="$1" '{ print $1, n, "nftally", $2 }' >> "$RAW"
	done
	rm -rf "$d"
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, kernel $(uname -r), $(nft --version)"
case ${BENCH_ONLY:-} in
""|control|apply-read)
	for n in $SIZES; do
		if [ "$n" -gt 100000 ]; then
			echo "nftally alone, IPv6, N = $n ..."; big_plane "$n"
		else
			echo "control plane, N = $n ..."; control_plane "$n" 4
		fi
	done
	[ "${BENCH_ONLY:-}" = apply-read ] || { echo "IPv6, N = 100000 ..."; control_plane 100000 6; }
esac
if [ -z "${BENCH_ONLY:-}" ] || [ "$BENCH_ONLY" = store ]; then
	for n in $SIZES; do echo "store, N = $n ..."; store_bench "$n"; done
fi
if [ -z "${BENCH_ONLY:-}" ] || [ "$BENCH_ONLY" = packet ]; then
	echo "packet path ..."; packet_path
fi
ip netns del "$B" 2>/dev/null
[ -n "${BENCH_ONLY:-}" ] && OUT=$WORK/out
OUT=${BENCH_OUT:-$OUT}
mkdir -p "$OUT"
cp "$RAW" "$OUT/raw.txt"

{
	echo "# nftally benchmark, $(date -u +%Y-%m-%dT%H:%MZ), medians of $REPEATS runs (packet path: ${PACKET_REPEATS:-7} rounds)"
	echo "# $(nproc) cores, kernel $(uname -r), $(nft --version)"
	printf '%-18s %8s %12s %12s %10s %12s\n' metric N nft nftally "nft/nftally" "(paired)"
	for m in apply read add1 del1 apply-v6 read-v6; do
		for n in $(echo $SIZES 100000 | tr ' ' '\n' | sort -gu); do
			a=$(get "$m" "$n" nft); b=$(get "$m" "$n" nftally); p=$(get "$m-ratio" "$n" x)
			[ -n "$b" ] || continue
			if [ -z "$a" ]; then # nftally alone
				printf '%-18s %8s %12s %11ss\n' "$m" "$n" "-" "$b"
				continue
			fi
			printf '%-18s %8s %11ss %11ss %10.1f %12s\n' "$m" "$n" "$a" "$b" "$(echo "$a / $b" | bc -l)" \
				"${p:+$(printf '%.1f' "$p")}"
		done
	done
	for m in apply-rss read-rss apply-v6-rss read-v6-rss; do
		for n in $(echo $SIZES 100000 | tr ' ' '\n' | sort -gu); do
			a=$(get "$m" "$n" nft); b=$(get "$m" "$n" nftally)
			[ -n "$b" ] && printf '%-18s %8s %9s KiB %9s KiB\n' "$m" "$n" "${a:-?}" "$b"
		done
	done
	printf '%-18s %8s %10s %11s %10s %10s %12s\n' "store" N "record ms" "of 60 s" \
		"report ms" "rollup ms" "bytes/row"
	for n in $SIZES; do
		r=$(get store_record_ms_median "$n" nftally)
		[ -n "$r" ] || continue
		printf '%-18s %8s %10s %10.2f%% %10s %10s %12s\n' "one report" "$n" "$r" \
			"$(echo "$r / 600" | bc -l)" "$(get store_report_ms "$n" nftally)" \
			"$(get store_rollup_ms "$n" nftally)" "$(get store_bytes_per_row "$n" nftally)"
	done
	base=$(get pps 0 none)
	[ -n "$base" ] && printf '%-18s %12s %10s %13s %16s\n' "packet path" pps "vs none" "(min-max)" \
		"jiffies/Mpkt"
	for s in ${PACKET_SETUPS:-none nftally-100k iptables-1k iptables-10k}; do
		[ -n "$base" ] || break
		p=$(get pps 0 "$s"); j=$(get jiffies-per-mpkt 0 "$s")
		lo=$(awk -v t="$s" '$1 == "ratio" && $3 == t { print $4 }' "$RAW" | sort -g | head -1)
		hi=$(awk -v t="$s" '$1 == "ratio" && $3 == t { print $4 }' "$RAW" | sort -g | tail -1)
		printf '%-18s %12s %10.2f %6.2f-%-6.2f %16s\n' "$s" "$p" "$(get ratio 0 "$s")" "$lo" "$hi" "$j"
	done
} | tee "$OUT/latest.txt"

# Scaling plot: time against N, log-log (the series this run measured).
plot=""
series() { # METRIC TOOL TITLE
	local n v f="$WORK/$1-$2.dat"
	for n in $(echo $SIZES 100000 | tr ' ' '\n' | sort -gu); do
		v=$(get "$1" "$n" "$2"); [ -n "$v" ] && echo "$n $v"
	done > "$f"
	[ -s "$f" ] && plot="$plot${plot:+, }\"$f\" w lp t \"$3\""
}
series apply nft "nft -f (apply)"
series apply nftally "nftally apply"
series read nft "nft -j list counters"
series read nftally "nftally dump"
series add1 nft "nft add element (one address)"
series add1 nftally "nftally run reload (one address)"
series apply-v6 nftally "nftally apply, IPv6"
series read-v6 nftally "nftally dump, IPv6"
command -v gnuplot >/dev/null && gnuplot <<GP
set terminal pngcairo size 1000,600 noenhanced
set output "$OUT/scaling.png"
set logscale xy
set xlabel "accounted addresses (IPv4; IPv6 where the key says so)"
set ylabel "seconds (median)"
set key outside right
set grid
set title "nftally against the nft CLI, same table, same machine, one run"
plot $plot
GP
echo "wrote $OUT/latest.txt$(command -v gnuplot >/dev/null && echo " and $OUT/scaling.png")"
