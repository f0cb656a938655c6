#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The hardened unit (data/nftally.service) does not break a run.  nftally
# run as an unprivileged user (uid 65534) holding CAP_NET_ADMIN and no
# other capability, as User= and AmbientCapabilities= make it, installs its
# table, counts exact traffic, follows a targets change and a SIGHUP,
# writes its state, store and textfile and answers /metrics; and under
# strace every system call it makes is one the unit's SystemCallFilter=
# allows, every socket is of a family RestrictAddressFamilies= allows, and
# the only /proc file it opens outside its own /proc/PID is the kernel's
# boot id (why the unit has no ProcSubset=pid).  systemd is not PID 1 on the
# test machines, so systemd itself cannot apply the unit here; the lists
# are read from the unit and expanded by this systemd's systemd-analyze.
. "$(dirname "$0")/lib.sh"
need
for t in setpriv strace systemd-analyze curl; do
	command -v $t >/dev/null || skip_or_fail "service test needs $t"
done
UNIT="${SRCDIR:-$(dirname "$0")/../..}/data/nftally.service"
[ -r "$UNIT" ] || skip_or_fail "no unit at $UNIT"
USR=65534
setup_topology
write_config 1
PORT=9664
cat >> "$WORK/nftally.conf" <<CONF
prom_file = $WORK/prom/nftally.prom
listen = 127.0.0.1:$PORT
CONF
printf 'vm-a 198.18.2.2\nvm-b 2001:db8:2::2\n' > "$WORK/targets"
# What the packages set up: a state directory of the user's, mode 0700,
# and a textfile directory it may write; readable config and targets.
chmod 755 "$WORK"
chmod 644 "$WORK/nftally.conf" "$WORK/targets"
install -d -m 0700 -o $USR -g $USR "$WORK/state"
install -d -m 0755 -o $USR -g $USR "$WORK/prom"
# The user must reach the binary and the templates wherever the checkout
# is (a clone in a directory of mode 0700 hides them): copies in $WORK.
install -m 0755 "$NFTALLY" "$WORK/nftally"
install -d -m 0755 "$WORK/templates"
install -m 0644 "${SRCDIR:-$(dirname "$0")/../..}"/nft-templates/*.nft "$WORK/templates/"
echo "template_dir = $WORK/templates" >> "$WORK/nftally.conf"

OUT=$WORK/run.json
# LeakSanitizer cannot work under ptrace (sanitizer builds): the other
# integration tests check leaks of run.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
ip netns exec "$R" strace -f -qq -o "$WORK/trace" \
	setpriv --reuid=$USR --regid=$USR --clear-groups \
	--inh-caps=-all,+net_admin --ambient-caps=-all,+net_admin --bounding-set=-all,+net_admin \
	"$WORK/nftally" -c "$WORK/nftally.conf" run > "$OUT" 2> "$OUT.err" &
TRACER=$!; PIDS="$PIDS $TRACER"
RUN=""
for _ in $(seq 100); do
	grep -q '"event":"start"' "$OUT" 2>/dev/null && break
	kill -0 "$TRACER" 2>/dev/null || break
	sleep 0.1
done
grep -q '"event":"start"' "$OUT" || { bad "run did not start: $(cat "$OUT.err")"; finish; }
# Signals go to nftally, strace's child, not to strace.
RUN=$(pgrep -P "$TRACER" -x nftally)
[ -n "$RUN" ] || { bad "no nftally process under strace"; finish; }
PIDS="$RUN $PIDS"
assert_eq "$USR $USR 0000000000001000" \
	"$(awk '/^Uid:/ {u=$2} /^Gid:/ {g=$2} /^CapEff:/ {c=$2} END {print u, g, c}' "/proc/$RUN/status")" \
	"run's uid, gid and effective capabilities (CAP_NET_ADMIN only)"

wait_event() { # N EVENT: the Nth EVENT was printed
	for _ in $(seq 100); do
		[ "$(grep -c "\"event\":\"$2\"" "$OUT")" -ge "$1" ] && return 0
		sleep 0.1
	done
	bad "no $1 $2 events: $(cat "$OUT.err")"
}
wait_report() { # a report that began after now has been printed
	local n; n=$(jq -s '[.[] | .seq // 0] | max' "$OUT")
	for _ in $(seq 50); do
		[ "$(jq -s '[.[] | .seq // 0] | max' "$OUT")" -ge $((n + 2)) ] && return 0
		sleep 0.1
	done
	bad "no report after seq $n"
}
send "$C" 198.18.2.2 100 10 198.18.1.2
send "$S" 2001:db8:1::2 80 9 2001:db8:2::2
wait_report
# A targets change seen by the inotify watch, then a SIGHUP (full resync).
printf 'vm-a 198.18.2.2\nvm-b 2001:db8:2::2\nvm-net 198.18.4.0/24\n' > "$WORK/targets.new"
chmod 644 "$WORK/targets.new"; mv "$WORK/targets.new" "$WORK/targets"
wait_event 1 reloaded
send "$C" 198.18.4.2 300 3 198.18.1.2
kill -HUP "$RUN"
wait_event 2 reloaded
send "$C" 198.18.2.2 100 5 198.18.1.2
wait_report
METRICS=$(inns "$R" curl -s --max-time 5 "http://127.0.0.1:$PORT/metrics")
grep -q '^nftally_bytes_total{.*"vm-a".*} ' <<<"$METRICS" && ok "/metrics answers" ||
	bad "/metrics: $(head -3 <<<"$METRICS")"
kill -TERM "$RUN"
wait "$TRACER"
assert_eq 0 "$?" "run exits 0 on SIGTERM"
PIDS=""

assert_eq "" "$(grep -v '^nftally: table inet nftally installed' "$OUT.err" | grep '^nftally:')" "no error messages"
assert_eq "" "$(grep '"event":"error"' "$OUT")" "no error events"
assert_eq "$((15 * 128)) 15" "$(sum_field "$OUT" 198.18.2.2 in_bytes) $(sum_field "$OUT" 198.18.2.2 in_packets)" \
	"198.18.2.2 in bytes and packets"
assert_eq "$((9 * 128)) 9" "$(sum_field "$OUT" 2001:db8:2::2 out_bytes) $(sum_field "$OUT" 2001:db8:2::2 out_packets)" \
	"2001:db8:2::2 out bytes and packets"
assert_eq "$((3 * 328)) 3" "$(sum_field "$OUT" 198.18.4.0/24 in_bytes) $(sum_field "$OUT" 198.18.4.0/24 in_packets)" \
	"198.18.4.0/24 (added while running) in bytes and packets"
owners=$(stat -c '%n %u' "$WORK/state/nftally.state" "$WORK/state/nftally.db" "$WORK/prom/nftally.prom" 2>&1 |
	awk -v u=$USR '$2 != u')
assert_eq "" "$owners" "state, store and textfile written by uid $USR"

# --- what the run did, against the unit's lists ---
# Only nftally's calls: from its execve on (setpriv's come before).
start=$(grep -n "execve(\"$WORK/nftally\"" "$WORK/trace" | head -1 | cut -d: -f1)
[ -n "$start" ] || { bad "no execve of nftally in the trace"; finish; }
tail -n +"$start" "$WORK/trace" > "$WORK/trace.run"
# expand GROUP|CALL...: the system calls, groups expanded by systemd-analyze.
expand() {
	local x
	for x in "$@"; do
		case $x in
		@*) expand $(systemd-analyze syscall-filter "$x" | sed -n 's/^    \([^#]\)/\1/p') ;;
		*) echo "$x" ;;
		esac
	done
}
allow=$(sed -n 's/^SystemCallFilter=\([^~]\)/\1/p' "$UNIT")
deny=$(sed -n 's/^SystemCallFilter=~//p' "$UNIT")
[ -n "$allow" ] && [ -n "$deny" ] || bad "unit has no SystemCallFilter= allow and deny lines"
expand $allow | sort -u > "$WORK/allow"
expand $deny | sort -u > "$WORK/deny"
comm -23 "$WORK/allow" "$WORK/deny" > "$WORK/allowed"
sed -nE 's/^[0-9]+ +([a-z0-9_]+)\(.*/\1/p' "$WORK/trace.run" | sort -u > "$WORK/used"
ok "the run made $(wc -l < "$WORK/used") distinct system calls, the filter allows $(wc -l < "$WORK/allowed")"
assert_eq "" "$(comm -23 "$WORK/used" "$WORK/allowed" | tr '\n' ' ')" \
	"system calls outside SystemCallFilter="
families=$(sed -n 's/^RestrictAddressFamilies=//p' "$UNIT")
used_fam=$(grep -oE '^[0-9]+ +socket(pair)?\(AF_[A-Z0-9]+' "$WORK/trace.run" | sed 's/.*(//' | sort -u)
grep -q AF_NETLINK <<<"$used_fam" && ok "the run opened netlink sockets" || bad "no netlink socket in the trace"
outside=""
for f in $used_fam; do
	grep -qw -- "$f" <<<"$families" || outside="$outside $f"
done
assert_eq "" "$outside" "socket families outside RestrictAddressFamilies=($families)"
assert_eq "" "$(grep -oE '"/proc/[^"]*"' "$WORK/trace.run" |
	grep -vE '^"/proc/(self|thread-self|[0-9]+)(/|")' | grep -vx '"/proc/sys/kernel/random/boot_id"' |
	sort -u | tr '\n' ' ')" "/proc files other than its own and the boot id"
grep -q '"/proc/sys/kernel/random/boot_id"' "$WORK/trace.run" && ok "the run reads the boot id" ||
	bad "the run did not read the boot id (a table after a reboot would be taken for the old one)"
grep -q '^ProcSubset=' "$UNIT" && bad "ProcSubset= in the unit hides the boot id" ||
	ok "no ProcSubset= in the unit"
finish
