# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by test-deb.sh and test-rpm.sh: TAP-like assertions, and a missing
# prerequisite that fails in CI (CI=true) and skips elsewhere.
FAILS=0
ok() { echo "ok - $*"; }
bad() { echo "not ok - $*"; FAILS=$((FAILS + 1)); }
skip_or_fail() {
	[ "${CI:-}" = true ] && { echo "FAIL: $*" >&2; exit 1; }
	echo "SKIP: $*" >&2; exit 77
}
assert_eq() { if [ "$1" = "$2" ]; then ok "$3 = $1"; else bad "$3: want $1, got $2"; fi; }
finish() {
	[ "$FAILS" -eq 0 ] && { echo "all assertions passed"; exit 0; }
	echo "$FAILS assertion(s) failed"; exit 1
}
