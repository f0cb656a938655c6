#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The attack loop, bounded: bursts of known traffic between random attacks
# on a running nftally (kill -9, also during start-up; SIGHUP, also during
# start-up; the targets file truncated and rewritten, replaced, deleted and
# recreated; addresses removed and added back within one interval, before
# and after their drain report; `nft flush ruleset`; the table deleted).
# At the end, per address and direction, the JSON lines (a replay once),
# the store and the textfile must all equal what was sent: lost = 0 and
# doubled = 0.  Traffic is never in flight during an attack that loses
# what the kernel held (a flush waits for a report first), so every byte
# sent must be reported.
#   NFTALLY_SOAK_SECONDS  how long to attack (default 40)
#   NFTALLY_SOAK_SEED     the random seed, to repeat a run (default: PID)
. "$(dirname "$0")/lib.sh"
need
command -v sqlite3 >/dev/null || skip_or_fail "the soak test needs sqlite3"
setup_topology
write_config 1
cat >> "$WORK/nftally.conf" <<CONF
prom_file = $WORK/nftally.prom
CONF
T="$WORK/targets"
DB="$WORK/state/nftally.db"
BUDGET=${NFTALLY_SOAK_SECONDS:-40}
SEED=${NFTALLY_SOAK_SEED:-$$}
RANDOM=$SEED
echo "# soak: $BUDGET s, seed $SEED (NFTALLY_SOAK_SEED=$SEED repeats the attacks)"

ADDRS=(198.18.4.1 198.18.4.2 2001:db8:4::1 2001:db8:4::2)
LABELS=(vm-1 vm-2 vm-3 vm-4)
declare -A IB IP OB OP
for a in "${ADDRS[@]}"; do IB[$a]=0 IP[$a]=0 OB[$a]=0 OP[$a]=0; done

targets_but() { # [ADDR]: every target but ADDR
	for i in "${!ADDRS[@]}"; do
		[ "${ADDRS[$i]}" = "${1:-}" ] || echo "${LABELS[$i]} ${ADDRS[$i]}"
	done
}
targets_but > "$T"

OUTS=""
N=0
run_up() { # start a run into a new output file
	N=$((N + 1)); OUT="$WORK/run$N.json"; OUTS="$OUTS $OUT"
	start_run "$OUT"
}
run_kill() {
	kill -KILL "$RUN"; wait "$RUN" 2>/dev/null
	PIDS=$(echo "$PIDS" | sed "s/ $RUN//")
}
# Wait until OUT has N events of a kind (N counted from the file's start).
wait_events() { # EVENT N
	for _ in $(seq 100); do
		[ "$(grep -c "\"event\":\"$1\"" "$OUT")" -ge "$2" ] && return 0
		sleep 0.05
	done
	bad "no $2 $1 events in $OUT: $(tail -3 "$OUT")"
}
reloads() { grep -c '"event":"reloaded"' "$OUT"; }

# Known traffic to (in) and from (out) every target; all are targets now.
burst() {
	local a n p hdr
	for a in "${ADDRS[@]}"; do
		n=$((RANDOM % 8 + 1)) p=$((RANDOM % 400 + 10))
		case $a in *:*) hdr=48 src=2001:db8:1::2 ;; *) hdr=28 src=198.18.1.2 ;; esac
		send "$C" "$a" "$p" "$n" "$src"
		IB[$a]=$((IB[$a] + n * (p + hdr))) IP[$a]=$((IP[$a] + n))
		n=$((RANDOM % 8 + 1)) p=$((RANDOM % 400 + 10))
		send "$S" "$src" "$p" "$n" "$a"
		OB[$a]=$((OB[$a] + n * (p + hdr))) OP[$a]=$((OP[$a] + n))
	done
	sleep 0.05 # through the router before anyone reads or flushes
}

# ---- the attacks; each leaves a run up and every address a target ----
a_kill() { # kill -9, traffic while down, restart
	run_kill; burst; run_up
}
a_kill_start() { # kill -9 while it starts
	run_kill
	N=$((N + 1)); OUT="$WORK/run$N.json"; OUTS="$OUTS $OUT"
	ip netns exec "$R" "$NFTALLY" -c "$WORK/nftally.conf" run > "$OUT" 2> "$OUT.err" &
	RUN=$!; PIDS="$PIDS $RUN"
	sleep "0.0$((RANDOM % 10))"
	run_kill; burst; run_up
}
a_hup_start() { # SIGHUP while it starts: a resync after the start, no death
	run_kill
	N=$((N + 1)); OUT="$WORK/run$N.json"; OUTS="$OUTS $OUT"
	ip netns exec "$R" "$NFTALLY" -c "$WORK/nftally.conf" run > "$OUT" 2> "$OUT.err" &
	RUN=$!; PIDS="$PIDS $RUN"
	# once nftally itself has blocked the signal: before that the process
	# may still be `ip netns exec`, or the loader, which SIGHUP ends
	for _ in $(seq 200); do
		case $(awk '$1 == "SigBlk:" { print substr($2, length($2)) }' \
			"/proc/$RUN/status" 2>/dev/null) in
		[13579bdf]) break ;;
		esac
		sleep 0.01
	done
	sleep "0.0$((RANDOM % 5))"
	kill -HUP "$RUN"
	wait_events start 1
	kill -0 "$RUN" 2>/dev/null || { bad "SIGHUP during start-up killed run"; run_up; }
}
a_hup() { local n; n=$(reloads); kill -HUP "$RUN"; wait_events reloaded $((n + 1)); }
a_truncate() { # cat > targets: empty for a moment
	targets_but > "$T.new"; cat "$T.new" > "$T"
	sleep 0.4
}
a_replace() { targets_but > "$T.new"; mv "$T.new" "$T"; sleep 0.4; }
a_recreate() { # deleted, then written anew
	rm -f "$T"; sleep "0.$((RANDOM % 4))"; targets_but > "$T"; sleep 0.4
}
a_readd() { # one address leaves and comes back within an interval
	local x=${ADDRS[$((RANDOM % 4))]} n
	n=$(reloads); targets_but "$x" > "$T.new"; mv "$T.new" "$T"
	wait_events reloaded $((n + 1))
	[ $((RANDOM % 2)) = 0 ] && wait_seq_after "$OUT" # its drain report
	n=$(reloads); targets_but > "$T.new"; mv "$T.new" "$T"
	wait_events reloaded $((n + 1))
}
a_readd_kill() { # it leaves, kill -9 before or after its drain, back at restart
	local x=${ADDRS[$((RANDOM % 4))]} n
	n=$(reloads); targets_but "$x" > "$T.new"; mv "$T.new" "$T"
	wait_events reloaded $((n + 1))
	[ $((RANDOM % 2)) = 0 ] && wait_seq_after "$OUT"
	# traffic only once it is a target again: without its element the
	# kernel does not count it, by design
	run_kill; targets_but > "$T"; run_up
}
a_flush() { # everything the kernel held was reported first
	local n; n=$(grep -c '"event":"table_reinstalled"' "$OUT")
	wait_seq_after "$OUT"
	if [ $((RANDOM % 2)) = 0 ]; then inns "$R" nft flush ruleset
	else inns "$R" nft delete table inet nftally; fi
	wait_events table_reinstalled $((n + 1))
}
ATTACKS=(a_kill a_kill_start a_hup_start a_hup a_truncate a_replace a_recreate
	 a_readd a_readd_kill a_flush)

run_up
END=$((SECONDS + BUDGET))
declare -A DONE
while [ $SECONDS -lt $END ]; do
	burst
	atk=${ATTACKS[$((RANDOM % ${#ATTACKS[@]}))]}
	echo "# $atk"; $atk
	DONE[$atk]=$((${DONE[$atk]:-0} + 1))
done
burst
sleep 0.2
stop_run; assert_eq 0 $? "last run exits 0"
echo "# attacks: $(for k in "${!DONE[@]}"; do printf '%s=%s ' "$k" "${DONE[$k]}"; done)"
[ "${#DONE[@]}" -ge 5 ] || bad "only ${#DONE[@]} kinds of attack ran; raise NFTALLY_SOAK_SECONDS"

# ---- the three outputs against what was sent ----
# JSON lines: per address, a replayed report (same seq) once.
jq -rs '[.[] | select(.addr)] | group_by(.addr)[] | unique_by(.seq) |
	"\(.[0].addr) \(map(.in_bytes) | add) \(map(.in_packets) | add) \(map(.out_bytes) | add) \(map(.out_packets) | add)"' \
	$OUTS > "$WORK/json.sum"
sqlite3 -separator ' ' "$DB" 'SELECT s.addr, sum(t.in_bytes), sum(t.in_packets),
	sum(t.out_bytes), sum(t.out_packets) FROM totals t JOIN series s ON s.id = t.series
	GROUP BY s.addr' > "$WORK/store.sum"
prom() { # NAME ADDR DIRECTION: summed over labels
	awk -v n="$1" -v a="addr=\"$2\"" -v d="direction=\"$3\"" \
		'index($1, n "{") == 1 && index($0, a) && index($0, d) { s += $2 } END { print s + 0 }' \
		"$WORK/nftally.prom"
}
# lost and doubled, in bytes, per address and output (both directions)
lost_doubled() { # FILE ADDR
	awk -v a="$2" -v ib="${IB[$2]}" -v ob="${OB[$2]}" '
	$1 == a { d = ($2 - ib) + ($4 - ob); l = 0
		  if ($2 < ib) l += ib - $2; if ($4 < ob) l += ob - $4
		  dbl = 0; if ($2 > ib) dbl += $2 - ib; if ($4 > ob) dbl += $4 - ob
		  print "lost = " l " doubled = " dbl; f = 1 }
	END { if (!f) print "lost = " ib + ob " doubled = 0" }' "$1"
}
for a in "${ADDRS[@]}"; do
	echo "# $a: JSON lines $(lost_doubled "$WORK/json.sum" "$a"), store $(lost_doubled "$WORK/store.sum" "$a")"
	want="${IB[$a]} ${IP[$a]} ${OB[$a]} ${OP[$a]}"
	assert_eq "$want" "$(awk -v a="$a" '$1 == a { print $2, $3, $4, $5 }' "$WORK/json.sum")" \
		"JSON lines of $a (in bytes, packets, out bytes, packets)"
	assert_eq "$want" "$(awk -v a="$a" '$1 == a { print $2, $3, $4, $5 }' "$WORK/store.sum")" \
		"store totals of $a"
	assert_eq "$want" "$(prom nftally_bytes_total "$a" in) $(prom nftally_packets_total "$a" in) $(prom nftally_bytes_total "$a" out) $(prom nftally_packets_total "$a" out)" \
		"textfile of $a"
done
assert_eq 0 "$(cat $OUTS | grep -c '"event":"counter_reset"')" "no counter_reset: nobody else touched a counter"
assert_eq 0 "$(cat $OUTS | grep -c '"event":"state_damaged"')" "no state damaged"
finish
