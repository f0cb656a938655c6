#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The Debian package, for real: build it twice with dpkg-buildpackage from
# a copy of this tree (0.1.0-1, and 0.1.0-2 with a changed example config),
# lintian with no errors, install with dpkg, check files, conffiles, user,
# state directory, `nftally --version` and `nftally render`, record a real
# store with the installed binary as the user nftally in a test network
# namespace, edit the config, upgrade (the edit survives, the new default
# comes as .dpkg-dist, the store stays), remove (state and table kept),
# purge with NFTALLY_PURGE_TABLES=yes inside the namespace (state, config
# and the namespace's table gone; the host's tables untouched).
# Installs into this system: needs root; purges the package, and deletes
# the user it created, on every exit.
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$SRCDIR/packaging/test-lib.sh"

[ "$(id -u)" = 0 ] || skip_or_fail "the deb test installs a package: needs root"
for t in dpkg-buildpackage dh lintian git ip nft setpriv; do
	command -v $t >/dev/null || skip_or_fail "the deb test needs $t"
done
if dpkg-query -W -f='${Status}' nftally 2>/dev/null | grep -qv 'not-installed'; then
	skip_or_fail "a package nftally is installed here; the test would replace it"
fi

T=$(mktemp -d /tmp/nftally-deb.XXXXXX)
chmod 755 "$T"
NS="nftdeb$$"
USER_MADE=no POLICY_MADE=no
getent passwd nftally >/dev/null || USER_MADE=yes
# dpkg refuses while another dpkg or apt holds its lock: wait for it.
dpkg_() {
	local i
	for i in $(seq 120); do
		dpkg "$@" > "$T/dpkg.log" 2>&1 && return 0
		grep -q 'lock' "$T/dpkg.log" || { cat "$T/dpkg.log"; return 1; }
		sleep 5
	done
	cat "$T/dpkg.log"; return 1
}
cleanup() {
	[ -n "${RUN:-}" ] && kill "$RUN" 2>/dev/null && wait "$RUN" 2>/dev/null
	if dpkg-query -W -f='${Status}' nftally 2>/dev/null | grep -qv 'not-installed'; then
		dpkg_ --purge nftally || echo "cleanup: dpkg --purge nftally failed" >&2
	fi
	[ "$USER_MADE" = yes ] && getent passwd nftally >/dev/null && userdel nftally
	[ "$USER_MADE" = yes ] && getent group nftally >/dev/null && groupdel nftally
	[ "$POLICY_MADE" = yes ] && rm -f /usr/sbin/policy-rc.d
	ip netns del "$NS" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
# Under a running systemd, postinst would start the unit: forbid it, the
# way container builds do (deb-systemd-invoke asks policy-rc.d).
if [ -d /run/systemd/system ] && [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	POLICY_MADE=yes
fi

# --- build 0.1.0-1 and 0.1.0-2 from copies of the tree ---
copy_tree() { # DIR: the tracked and new files of the checkout, not build dirs
	mkdir -p "$1/nftally"
	git -C "$SRCDIR" ls-files -co --exclude-standard | grep -vE '^(build|obj-)' |
		(cd "$SRCDIR" && tar -cf - -T - 2>/dev/null) | tar -xf - -C "$1/nftally"
}
build() { # DIR
	(cd "$1/nftally" && dpkg-buildpackage -b -us -uc) > "$1/build.log" 2>&1 ||
		{ tail -n 30 "$1/build.log"; return 1; }
}
copy_tree "$T/v1"
copy_tree "$T/v2"
{
	printf 'nftally (0.1.0-2) unstable; urgency=medium\n\n  * Test upgrade.\n\n'
	printf ' -- nftally developers <dev@example.invalid>  %s\n\n' "$(date -R)"
	cat "$T/v2/nftally/debian/changelog"
} > "$T/changelog" && mv "$T/changelog" "$T/v2/nftally/debian/changelog"
echo '# new default of 0.1.0-2' >> "$T/v2/nftally/data/nftally.conf"
build "$T/v1" && ok "dpkg-buildpackage 0.1.0-1" || { bad "dpkg-buildpackage 0.1.0-1"; finish; }
build "$T/v2" && ok "dpkg-buildpackage 0.1.0-2" || { bad "dpkg-buildpackage 0.1.0-2"; finish; }
grep -q 'nftally:unit / .* OK' "$T/v1/build.log" && ! grep -q 'nftally:unit / .* FAIL' "$T/v1/build.log" &&
	ok "the build ran the unit suite" || bad "the build ran no unit test"
DEB1=$T/v1/nftally_0.1.0-1_$(dpkg --print-architecture).deb
DEB2=$T/v2/nftally_0.1.0-2_$(dpkg --print-architecture).deb
if lintian --fail-on error "$T"/v1/nftally_0.1.0-1_*.changes > "$T/lintian" 2>&1; then
	ok "lintian: no errors ($(grep -c '^W:' "$T/lintian") warnings)"
else
	bad "lintian: $(grep '^E:' "$T/lintian")"
fi

# --- install ---
TABLES_BEFORE=$(nft list tables)
dpkg_ -i "$DEB1" && ok "dpkg -i 0.1.0-1" || { bad "dpkg -i 0.1.0-1"; finish; }
files=$(dpkg -L nftally)
for f in /usr/sbin/nftally /usr/share/nftally/templates/host.nft /usr/share/nftally/templates/gateway.nft \
	/usr/share/nftally/templates/bridge.nft /lib/systemd/system/nftally.service /usr/lib/sysusers.d/nftally.conf \
	/etc/nftally/nftally.conf /usr/share/doc/nftally/nftally.conf /usr/share/doc/nftally/targets.example \
	/usr/share/doc/nftally/operations.md.gz /usr/share/man/man8/nftally.8.gz /usr/share/man/man5/nftally.conf.5.gz \
	/usr/share/man/man5/nftally-targets.5.gz; do
	grep -qx "$f" <<<"$files" && [ -e "$f" ] || bad "not installed: $f"
done
ok "$(wc -l <<<"$files") paths installed, the expected ones among them"
assert_eq "/etc/nftally/nftally.conf" \
	"$(dpkg-query -W -f='${Conffiles}\n' nftally | awk 'NF {print $1}')" "conffiles"
assert_eq "nftally nftally 700" "$(stat -c '%U %G %a' /var/lib/nftally)" "state directory owner and mode"
[ -L /etc/systemd/system/multi-user.target.wants/nftally.service ] && ok "unit enabled" || bad "unit not enabled"
assert_eq "nftally 0.1.0" "$(/usr/sbin/nftally --version | head -1 | awk '{print $1, $2}')" "nftally --version"
/usr/sbin/nftally -t /usr/share/doc/nftally/targets.example render > "$T/render.nft" 2>&1 &&
	grep -q '^add element inet nftally in4net { 198.18.4.0/24 : "in4_c6120400_24" }$' "$T/render.nft" &&
	ok "nftally render with the installed config, template and example" || bad "render: $(head -3 "$T/render.nft")"
assert_eq "" "$(pgrep -f '^/usr/sbin/nftally')" "no /usr/sbin/nftally process started"
assert_eq "$TABLES_BEFORE" "$(nft list tables)" "no table added to the host's namespace"

# --- a real run as the package's user, in a test namespace ---
ip netns add "$NS" && ip -n "$NS" link set lo up && ip -n "$NS" addr add 198.18.77.1/32 dev lo ||
	{ bad "test namespace"; finish; }
printf 'lo-a 198.18.77.1\n' > "$T/targets"; chmod 644 "$T/targets"
ip netns exec "$NS" setpriv --reuid=nftally --regid=nftally --init-groups \
	--inh-caps=-all,+net_admin --ambient-caps=-all,+net_admin --bounding-set=-all,+net_admin \
	/usr/sbin/nftally -t "$T/targets" --interval 1 run > "$T/run.json" 2> "$T/run.err" &
RUN=$!
for _ in $(seq 50); do [ "$(grep -c '"seq"' "$T/run.json")" -ge 2 ] && break; sleep 0.1; done
kill -TERM "$RUN"; wait "$RUN"; rc=$?; RUN=""
assert_eq 0 "$rc" "installed nftally run as user nftally with CAP_NET_ADMIN only, stopped by SIGTERM"
[ -s /var/lib/nftally/nftally.db ] && [ -s /var/lib/nftally/nftally.state ] &&
	ok "the run recorded state and store in /var/lib/nftally" || bad "no state or store: $(cat "$T/run.err")"
DB_BEFORE=$(md5sum < /var/lib/nftally/nftally.db)

# --- upgrade with an edited config ---
echo '# local edit' >> /etc/nftally/nftally.conf
dpkg_ -i --force-confdef --force-confold "$DEB2" && ok "dpkg -i 0.1.0-2 (upgrade)" || bad "upgrade"
assert_eq "0.1.0-2" "$(dpkg-query -W -f='${Version}' nftally)" "installed version"
assert_eq "# local edit" "$(tail -n 1 /etc/nftally/nftally.conf)" "the edited config survives the upgrade"
assert_eq "# new default of 0.1.0-2" "$(tail -n 1 /etc/nftally/nftally.conf.dpkg-dist 2>&1)" \
	"the new default comes as nftally.conf.dpkg-dist"
assert_eq "$DB_BEFORE" "$(md5sum < /var/lib/nftally/nftally.db)" "the store is kept by the upgrade"
assert_eq "nftally" "$(stat -c %U /var/lib/nftally/nftally.db)" "the store's owner"

# --- remove: state, store, config and table stay ---
dpkg_ -r nftally && ok "dpkg -r" || bad "dpkg -r"
assert_eq "deinstall ok config-files" "$(dpkg-query -W -f='${Status}' nftally)" "status after remove"
[ ! -e /usr/sbin/nftally ] && ok "binary removed" || bad "binary still there"
[ -s /var/lib/nftally/nftally.db ] && [ -e /var/lib/nftally/nftally.state ] &&
	ok "remove keeps the state and the store" || bad "remove deleted the state"
[ -e /etc/nftally/nftally.conf ] && ok "remove keeps the config" || bad "remove deleted the config"
ip netns exec "$NS" nft list table inet nftally >/dev/null 2>&1 && ok "remove keeps the table" ||
	bad "remove deleted the table"

# --- purge, asked to delete the tables (of the test namespace only) ---
NFTALLY_PURGE_TABLES=yes ip netns exec "$NS" dpkg --purge nftally > "$T/purge.log" 2>&1 &&
	ok "dpkg --purge" || bad "dpkg --purge: $(cat "$T/purge.log")"
assert_eq "" "$(dpkg-query -W -f='${Status}' nftally 2>/dev/null | grep -v not-installed)" "status after purge"
[ ! -e /var/lib/nftally ] && ok "purge deletes the state directory" || bad "purge kept /var/lib/nftally"
[ ! -e /etc/nftally/nftally.conf ] && [ ! -e /etc/nftally/nftally.conf.dpkg-dist ] &&
	ok "purge deletes the config" || bad "purge kept the config"
[ ! -e /etc/systemd/system/multi-user.target.wants/nftally.service ] &&
	ok "purge drops the unit's enablement" || bad "unit still enabled"
assert_eq "" "$(ip netns exec "$NS" nft list tables)" "purge with NFTALLY_PURGE_TABLES=yes deletes nftally's table"
grep -q 'deleted table inet nftally' "$T/purge.log" && ok "purge says so" || bad "purge output: $(cat "$T/purge.log")"
assert_eq "$TABLES_BEFORE" "$(nft list tables)" "the host's tables untouched"
finish
