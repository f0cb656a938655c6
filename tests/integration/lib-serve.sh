# SPDX-License-Identifier: GPL-2.0-or-later
# Shared by serve.sh, serve-browser.sh and bench/serve.sh: a store of
# known reports (billfill) and nftally serve started in a namespace of its
# own (so that its port and a non-loopback address are the test's).
BILLFILL=${BILLFILL:-$(dirname "$0")/../../build/tests/billfill}
T0=1767225600      # 2026-01-01 00:00 UTC
AT=$((T0 + 6000))  # the pages are made as of 01:40: January is this cycle
HOSTILE='<script>alert("x")</script>&amp;'
CUST_TOKEN=cust-a-token-0123456789
OP_TOKEN=operator-token-0123456789

# The known store: cust-a as in billing.sh (20 slots of January, two
# addresses) and once in December; cust-d in December only; cust-e with
# two network classes; a label made to break HTML.
serve_fill() { # DIR
	local i t
	{
		for i in $(seq 0 19); do
			t=$((T0 + 300 * i + 300))
			echo "$t cust-a 198.18.0.1 $((1000 * (i + 1))) $((1000 * (20 - i)))"
			echo "$t cust-a 198.18.0.2 $((500 * (i + 1))) 0"
		done
		echo "$((T0 - 3600)) cust-a 198.18.0.1 4000 1000"
		echo "$((T0 - 7200)) cust-d 198.18.0.4 70000 7000"
		echo "$((T0 - 6900)) cust-d 198.18.0.4 30000 3000"
		echo "$((T0 + 600)) cust-e 198.18.0.5 1000 0 web"
		echo "$((T0 + 600)) cust-e 198.18.0.5 2000 600 other"
		echo "$((T0 + 4000)) $HOSTILE 198.18.0.9 5 5"
	} > "$1/known.txt"
	"$BILLFILL" "$1/known.db" node1 < "$1/known.txt" || return 1
	printf '%s\n' "cust-a 198.18.0.1 198.18.0.2" > "$1/targets"
	cat > "$1/nftally.conf" <<CONF
store = $1/known.db
state_dir = $1/state
targets = $1/targets
timezone = UTC
quotas = $1/quotas
CONF
	# the quotas' bars: cust-a over (525,000 of 500,000 billed: 105 %),
	# cust-e warned (3,600 of 4,000: 90 %), cust-d at 0 by its max
	printf '%s\n' "cust-a 500kB" "cust-e 4000" "cust-d 1MB bill=max" > "$1/quotas"
	echo "$CUST_TOKEN cust-a" > "$1/tokens"
	echo "$OP_TOKEN" > "$1/operator-token"
}

# The start of serve.sh and serve-refresh.sh: what they need, the known
# store in $WORK, and namespace NS (W, its serve's URL U, get for curl).
serve_test_init() { # NS
	W=$1 U=http://127.0.0.1:9480
	need
	command -v curl >/dev/null || skip_or_fail "serve tests need curl"
	[ -x "$BILLFILL" ] || skip_or_fail "no billfill at $BILLFILL"
	serve_fill "$WORK"; assert_eq 0 $? "billfill"
	serve_ns "$1" || skip_or_fail "cannot make namespace $1"
}
get() { inns "$W" curl -s "$@"; }
# get for the overview with new filters: their first snapshot is made by
# serve's refresher, the request answering 503 after a second and a half
# while it is not made yet; asked again (at most 150 times, 0.2 s apart)
# until it is.
get_made() { # URL [CURL ARGS...]
	local i out
	for i in $(seq 150); do
		out=$(inns "$W" curl -s -w '\n%{http_code}' "$@")
		[ "${out##*$'\n'}" != 503 ] && break
		sleep 0.2
	done
	printf '%s\n' "${out%$'\n'*}"
}

# A namespace with lo and a veth pair (both ends inside) holding 198.18.9.1.
serve_ns() { # NS
	ip netns add "$1" || return 1
	TOPO_NS="$TOPO_NS $1"
	ip -n "$1" link set lo up
	ip -n "$1" link add v0 type veth peer name v1 || return 1
	ip -n "$1" addr add 198.18.9.1/32 dev v0
	ip -n "$1" link set v0 up
	ip -n "$1" link set v1 up
}

# Start nftally serve in NS with ARGS; wait (at most 5 s) for ADDR:PORT,
# then (at most 30 s more) for its first snapshot: the overview answers
# 503 while it is made (SERVE_READY_CURL: curl's arguments for it, e.g.
# the operator's token; SERVE_NO_WAIT=1: not waited for).  SERVE_PID is
# its pid (also in PIDS for cleanup).
serve_start() { # NS URL ARGS...
	local ns=$1 url=$2 i
	shift 2
	ip netns exec "$ns" "$NFTALLY" "$@" serve 2>>"$WORK/serve.err" &
	SERVE_PID=$!
	PIDS="$PIDS $SERVE_PID"
	for i in $(seq 50); do
		ip netns exec "$ns" curl -sk -o /dev/null "$url/static/nftally.css" && break
		kill -0 "$SERVE_PID" 2>/dev/null || return 1
		[ "$i" = 50 ] && return 1
		sleep 0.1
	done
	[ -n "${SERVE_NO_WAIT:-}" ] && return 0
	for i in $(seq 300); do
		# shellcheck disable=SC2086
		[ "$(ip netns exec "$ns" curl -sk -o /dev/null -w '%{http_code}' \
			${SERVE_READY_CURL:-} "$url/api/overview?per_page=1")" != 503 ] && return 0
		kill -0 "$SERVE_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

serve_stop() {
	kill "$SERVE_PID" 2>/dev/null
	wait "$SERVE_PID" 2>/dev/null
}
