#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Named network namespaces (kernel/netns.c, through tests/nsdisc): opening
# refuses hostile names and anything that is not a network namespace, says
# EAGAIN for the empty file `ip netns add` binds the namespace onto a
# moment later; a namespace deleted and created again under the same name
# has another identity; the directory watcher follows names as they come
# and go, also in a directory that does not exist yet, and asks for a
# listing when its queue overflowed.  Temporary directories for everything
# but `ip netns add/del` of nft$$-names; the bind mounts of part 1 are made
# in a private mount namespace.
. "$(dirname "$0")/lib.sh"
NSDISC=${NSDISC:-$(dirname "$0")/../../build/tests/nsdisc}
need
[ -x "$NSDISC" ] || skip_or_fail "no nsdisc at $NSDISC"
command -v unshare >/dev/null || skip_or_fail "netns.sh needs unshare"
X="${PFX}x"
W="${PFX}w"
trap 'ip netns del "$X" 2>/dev/null; ip netns del "$W" 2>/dev/null; cleanup' EXIT

# Wait (at most 5 s) until FILE has N lines.
wait_lines() { # FILE N
	for _ in $(seq 100); do
		[ "$(wc -l < "$1")" -ge "$2" ] && return 0
		sleep 0.05
	done
	bad "only $(wc -l < "$1") of $2 lines in $1: $(tr '\n' '|' < "$1")"
}

# --- 1. netns_open in a directory of our own ---
T="$WORK/ns"
mkdir "$T" "$T/dir"
: > "$T/plain"
echo text > "$T/text"
mkfifo "$T/fifo"
ln -s /proc/self/ns/net "$T/link"
assert_eq EAGAIN "$("$NSDISC" open "$T" plain 2>/dev/null)" "an empty file (ip netns add in progress)"
assert_eq EINVAL "$("$NSDISC" open "$T" text 2>/dev/null)" "a file with contents (never a placeholder)"
assert_eq ENOENT "$("$NSDISC" open "$T" missing 2>/dev/null)" "a missing name"
assert_eq ENOENT "$("$NSDISC" open "$WORK/none" x 2>/dev/null)" "a missing directory"
for n in "" . .. a/b ../ns/plain "$(printf 'a\tb')" "$(printf 'a\177b')"; do
	assert_eq EINVAL "$("$NSDISC" open "$T" "$n" 2>/dev/null)" "hostile name '$n'"
done
assert_eq EINVAL "$("$NSDISC" open "$T" dir 2>/dev/null)" "a directory"
assert_eq EINVAL "$("$NSDISC" open "$T" fifo 2>/dev/null)" "a fifo (not opened: no hang)"
assert_eq EINVAL "$("$NSDISC" open "$T" link 2>/dev/null)" "a symbolic link to a namespace"
assert_eq "$T/plain is not a network namespace yet" \
	"$("$NSDISC" open "$T" plain 2>&1 >/dev/null | sed 's/^nsdisc: //')" "the EAGAIN message"
# The life of a name under `ip netns add/del`, by hand: a plain file, a
# network namespace bound onto it, the file again once unbound.  Another
# kind of namespace bound there is no network namespace.
got=$(unshare -m --propagation private sh -c '
	: > "$2/f"; : > "$2/u"
	"$1" open "$2" f
	mount --bind /proc/self/ns/net "$2/f" && "$1" open "$2" f
	mount --bind /proc/self/ns/uts "$2/u" && "$1" open "$2" u
	umount "$2/f" && "$1" open "$2" f' sh "$NSDISC" "$T" 2>/dev/null | tr '\n' ' ')
assert_eq "EAGAIN ok EINVAL EAGAIN " "$got" "plain, bound, another kind, unbound"

# --- 2. identity: the same name, deleted and created again ---
ip netns add "$X"
assert_eq ok "$("$NSDISC" open "" "$X" 2>&1)" "netns_open of a fresh ip netns add (default directory)"
assert_eq ok "$("$NSDISC" open /run/netns "$X" 2>&1)" "netns_open in /run/netns"
ID1=$("$NSDISC" id /run/netns "$X")
assert_eq 0 $? "identity, enter and leave (nsdisc id)"
assert_eq "$ID1" "$("$NSDISC" id /run/netns "$X")" "the same namespace, the same identity"
ip netns del "$X"
assert_eq ENOENT "$("$NSDISC" open /run/netns "$X" 2>/dev/null)" "deleted"
ip netns add "$X"
ID2=$("$NSDISC" id /run/netns "$X")
echo "# identities: $ID1 / $ID2"
case "$ID1 $ID2" in
c:*" c:"*) ok "cookies on this kernel ($(uname -r))" ;;
*) bad "no cookies on $(uname -r) (>= 5.14 has them)" ;;
esac
[ "${ID1%% *}" != "${ID2%% *}" ] && ok "created again under the same name: another identity" ||
	bad "created again under the same name: same identity ${ID1%% *}"
[ "${ID1#* }" = "${ID2#* }" ] && echo "# the new namespace got the old one's inode number: what a cookie tells apart"
ip netns del "$X"

# --- 3. the watcher, in a directory that does not exist yet ---
mkdir "$WORK/run"
D="$WORK/run/netns"
"$NSDISC" watch "$D" > "$WORK/w1" 2>&1 &
WPID=$!; PIDS="$PIDS $WPID"
wait_lines "$WORK/w1" 1
n=1
step() { # LINES COMMAND...: run it, wait for LINES more lines
	local more=$1; shift
	"$@"
	n=$((n + more))
	wait_lines "$WORK/w1" "$n"
}
step 2 mkdir "$D"
step 1 touch "$D/a"
step 2 mv "$D/a" "$D/b"
mkdir "$D/sub"                      # a directory is no namespace
rmdir "$D/sub"
touch "$D/$(printf 'bad\001')"      # nor is a hostile name
step 1 rm "$D/b"
rm "$D/$(printf 'bad\001')"
step 2 rmdir "$D"                   # the directory goes: watch the parent
step 2 mkdir "$D"
step 1 touch "$D/c"
step 2 mv "$D" "$WORK/run/old"      # moved away with the watch on it
touch "$WORK/run/old/d"             # not ours any more
mkdir "$WORK/tmpx" && touch "$WORK/tmpx/p" "$WORK/tmpx/q"
step 2 mv "$WORK/tmpx" "$D"         # appears with names in it
step 1 touch "$D/e"
kill "$WPID"; wait "$WPID"
assert_eq 0 $? "watcher exit code"
PIDS=$(echo "$PIDS" | sed "s/ $WPID//")
assert_eq "watching|rescan|list|+a|-a|+b|-b|rescan|list|rescan|list|+c|rescan|list|rescan|list p q|+e|" \
	"$(tr '\n' '|' < "$WORK/w1")" "the watcher's reports"

# --- 4. an overflowing queue asks for a listing ---
"$NSDISC" watch "$D" k > "$WORK/w2" 2>&1 &
WPID=$!; PIDS="$PIDS $WPID"
wait_lines "$WORK/w2" 1
kill -STOP "$WPID"
max=$(cat /proc/sys/fs/inotify/max_queued_events)
mkdir "$D/many"
(cd "$D/many" && seq $((max + 10)) | sed 's/^/o/' | xargs touch && mv o* ..)
touch "$D/k1"
kill -CONT "$WPID"
wait_lines "$WORK/w2" 3
sleep 0.3
kill "$WPID"; wait "$WPID"
PIDS=$(echo "$PIDS" | sed "s/ $WPID//")
assert_eq "watching|rescan|list k1|" "$(grep -v '^[+-]' "$WORK/w2" | tr '\n' '|')" \
	"after $((max + 10)) moves in: one rescan, the listing"
rm -rf "$D"

# --- 5. the watcher on /run/netns, with ip netns add/del ---
"$NSDISC" watch -o /run/netns "$W" > "$WORK/w3" 2>&1 &
WPID=$!; PIDS="$PIDS $WPID"
wait_lines "$WORK/w3" 1
ip netns add "$W"
wait_lines "$WORK/w3" 3
ip netns del "$W"
wait_lines "$WORK/w3" 4
kill "$WPID"; wait "$WPID"
PIDS=$(echo "$PIDS" | sed "s/ $WPID//")
# Other tests' namespaces come and go too: only ours are looked at.
assert_eq "+$W|open $W|-$W|" "$(grep -E "^([+-]|open )" "$WORK/w3" | tr '\n' '|')" \
	"ip netns add: created, then a namespace; ip netns del: removed"

# --- 6. under valgrind: open, identity, enter and leave, the watcher ---
if command -v valgrind >/dev/null && [ -z "${NFTALLY_SANITIZED:-}" ]; then
	VG="valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99"
	ip netns add "$X"
	vg() { # WHAT ARGS...
		local what=$1 rc; shift
		$VG "$NSDISC" "$@" > /dev/null 2> "$WORK/vg.err"
		rc=$?
		assert_eq 0 "$rc" "valgrind exit code of $what"
		[ "$rc" = 0 ] || cat "$WORK/vg.err"
	}
	vg "nsdisc id" id /run/netns "$X"
	vg "nsdisc open (EAGAIN)" open "$T" plain
	vg "nsdisc open (a hostile name)" open "$T" ..
	# The watcher through a directory's creation, names and removal.
	$VG "$NSDISC" watch "$D" > "$WORK/w4" 2> "$WORK/vg.err" &
	WPID=$!; PIDS="$PIDS $WPID"
	wait_lines "$WORK/w4" 1
	mkdir "$D"; wait_lines "$WORK/w4" 3
	touch "$D/v"; wait_lines "$WORK/w4" 4
	rm "$D/v"; wait_lines "$WORK/w4" 5
	rmdir "$D"; wait_lines "$WORK/w4" 7
	kill "$WPID"; wait "$WPID"
	rc=$?
	PIDS=$(echo "$PIDS" | sed "s/ $WPID//")
	assert_eq 0 "$rc" "valgrind exit code of nsdisc watch"
	[ "$rc" = 0 ] || cat "$WORK/vg.err"
	assert_eq "watching|rescan|list|+v|-v|rescan|list|" "$(tr '\n' '|' < "$WORK/w4")" \
		"the watcher's reports under valgrind"
	ip netns del "$X"
else
	echo "# no valgrind, or a sanitizer build: part 6 skipped"
fi
finish
