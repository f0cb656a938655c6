#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# meson install into a temporary root: the binary, the template, the example
# config (copied to SYSCONFDIR only when absent: a second install keeps an
# edit) and targets, the systemd unit, its sysusers.d file and the man
# pages land where they should, the installed binary works with the
# installed files, the unit passes systemd-analyze verify and scores at most
# 2.5 in systemd-analyze security, and the man pages render.
set -u
BUILDDIR=${BUILDDIR:?BUILDDIR names the meson build directory}
DEST=$(mktemp -d /tmp/nftally-install.XXXXXX)
trap 'rm -rf "$DEST"' EXIT
FAILS=0
ok() { echo "ok - $*"; }
bad() { echo "not ok - $*"; FAILS=$((FAILS + 1)); }
need_or_fail() { # TOOL: a missing tool fails in CI, is skipped elsewhere
	command -v "$1" >/dev/null && return 0
	[ "${CI:-}" = true ] && { bad "$1 is not installed"; return 1; }
	echo "skip - $1 is not installed"; return 1
}

meson install -C "$BUILDDIR" --destdir "$DEST" --no-rebuild --quiet > "$DEST.log" 2>&1 ||
	{ cat "$DEST.log"; rm -f "$DEST.log"; exit 1; }
rm -f "$DEST.log"
find_one() { find "$DEST" -path "*$1" -type f | head -1; }
BIN=$(find_one /sbin/nftally)
TMPL=$(find_one /share/nftally/templates/host.nft)
CONF=$(find_one /etc/nftally/nftally.conf)
TARGETS=$(find_one /share/doc/nftally/targets.example)
UNIT=$(find_one /systemd/system/nftally.service)
SYSUSERS=$(find_one /sysusers.d/nftally.conf)
WEBJS=$(find_one /share/nftally/web/nftally.js)
WEBCSS=$(find_one /share/nftally/web/nftally.css)
GRAFANA=$(find_one /share/nftally/grafana-nftally.json)
for f in BIN TMPL CONF TARGETS UNIT SYSUSERS WEBJS WEBCSS GRAFANA; do
	[ -n "${!f}" ] && ok "installed $f: ${!f#"$DEST"}" || bad "$f not installed"
done
[ -x "$BIN" ] && ok "binary is executable" || bad "binary not executable"
EXAMPLE=$(find_one /share/doc/nftally/nftally.conf)
[ -n "$EXAMPLE" ] && cmp -s "$EXAMPLE" "$CONF" && ok "example config in the doc directory, copied to SYSCONFDIR" ||
	bad "example config: '${EXAMPLE#"$DEST"}'"
# A second install keeps an edited config (and a first one writes none
# over an existing file).
echo '# edited by the administrator' >> "$CONF"
meson install -C "$BUILDDIR" --destdir "$DEST" --no-rebuild --quiet > "$DEST/reinstall.log" 2>&1 ||
	bad "second meson install: $(cat "$DEST/reinstall.log")"
tail -n 1 "$CONF" | grep -qx '# edited by the administrator' && ! cmp -s "$EXAMPLE" "$CONF" &&
	ok "meson install keeps an edited config" || bad "meson install overwrote the edited config"
"$BIN" --version | grep -q '^nftally ' && ok "--version" || bad "--version"
"$BIN" -c "$CONF" -t "$TARGETS" --template "$TMPL" render > "$DEST/render.nft" &&
	grep -q '^add element inet nftally in4net { 198.18.4.0/24 : "in4_c6120400_24" }$' "$DEST/render.nft" &&
	ok "installed config, targets example and template render" || bad "render with installed files"
for cmd in render apply dump run remove; do
	"$BIN" "$cmd" --help | grep -q "^Usage: nftally \[OPTIONS\] $cmd$" && ok "$cmd --help" || bad "$cmd --help"
done
"$BIN" serve --help | grep -q "^Usage: nftally \[OPTIONS\] serve \[--listen ADDR:PORT\]" && ok "serve --help" ||
	bad "serve --help"

grep -q "^ExecStart=$(echo "${BIN#"$DEST"}") -c .*/nftally/nftally.conf run$" "$UNIT" &&
	ok "unit runs the installed binary" || bad "unit ExecStart: $(grep ExecStart= "$UNIT")"
grep -q '^CapabilityBoundingSet=CAP_NET_ADMIN$' "$UNIT" && grep -q '^ProtectSystem=strict$' "$UNIT" &&
	grep -q '^StateDirectory=nftally$' "$UNIT" && ok "unit: least privilege" || bad "unit hardening"
grep -q '^User=nftally$' "$UNIT" && grep -q '^AmbientCapabilities=CAP_NET_ADMIN$' "$UNIT" &&
	grep -q '^u nftally - ".*" /var/lib/nftally$' "$SYSUSERS" &&
	ok "unit runs as user nftally with CAP_NET_ADMIN; sysusers.d creates it" || bad "unit user"
# tests/integration/service.sh runs nftally under these lists; keep them.
grep -q '^SystemCallFilter=@system-service$' "$UNIT" &&
	grep -q '^SystemCallFilter=~@privileged @resources$' "$UNIT" &&
	grep -q '^RestrictAddressFamilies=AF_NETLINK AF_UNIX AF_INET AF_INET6$' "$UNIT" &&
	ok "unit: system call filter and address families" || bad "unit: system call filter"
if need_or_fail systemd-analyze; then
	sed "s|^ExecStart=/|ExecStart=$DEST/|" "$UNIT" > "$DEST/nftally.service"
	if systemd-analyze verify --man=no "$DEST/nftally.service" > "$DEST/verify" 2>&1 &&
		[ ! -s "$DEST/verify" ]; then
		ok "systemd-analyze verify: clean"
	else
		bad "systemd-analyze verify: $(cat "$DEST/verify")"
	fi
	# --offline (systemd 250 and later) scores the file without loading it.
	if systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
		score=$(systemd-analyze security --offline=yes "$DEST/nftally.service" 2>&1 |
			sed -n 's/.*Overall exposure level for nftally.service: \([0-9.]*\) .*/\1/p')
		if [ -n "$score" ] && [ "$(echo "$score <= 2.5" | bc)" = 1 ]; then
			ok "systemd-analyze security: exposure $score <= 2.5"
		else
			bad "systemd-analyze security: exposure '${score}' (want <= 2.5)"
			systemd-analyze security --offline=yes "$DEST/nftally.service" 2>&1 | grep '✗' | sed 's/^/# /'
		fi
	elif [ "${CI:-}" = true ]; then
		bad "systemd-analyze security has no --offline (systemd $(systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p'))"
	else
		echo "skip - systemd-analyze security has no --offline"
	fi
fi
# serve's example unit: clean, no capability, as private as run's
SUNIT=$(find_one /share/doc/nftally/nftally-serve.service)
[ -n "$SUNIT" ] && grep -q '^CapabilityBoundingSet=$' "$SUNIT" && grep -q '^User=nftally$' "$SUNIT" &&
	grep -q "^ExecStart=$(echo "${BIN#"$DEST"}") -c .*/nftally/nftally.conf serve$" "$SUNIT" &&
	ok "serve's example unit: installed, no capability" || bad "serve's example unit: '${SUNIT#"$DEST"}'"
if [ -n "$SUNIT" ] && need_or_fail systemd-analyze; then
	sed "s|^ExecStart=/|ExecStart=$DEST/|" "$SUNIT" > "$DEST/nftally-serve.service"
	systemd-analyze verify --man=no "$DEST/nftally-serve.service" > "$DEST/verify" 2>&1 &&
		[ ! -s "$DEST/verify" ] && ok "serve's unit: systemd-analyze verify clean" ||
		bad "serve's unit: systemd-analyze verify: $(cat "$DEST/verify")"
	if systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
		score=$(systemd-analyze security --offline=yes "$DEST/nftally-serve.service" 2>&1 |
			sed -n 's/.*Overall exposure level for nftally-serve.service: \([0-9.]*\) .*/\1/p')
		[ -n "$score" ] && [ "$(echo "$score <= 2.5" | bc)" = 1 ] &&
			ok "serve's unit: exposure $score <= 2.5" ||
			bad "serve's unit: exposure '${score}' (want <= 2.5)"
	fi
fi
if need_or_fail go-md2man && need_or_fail man; then
	for page in man8/nftally.8 man5/nftally.conf.5 man5/nftally-targets.5; do
		f=$(find_one "/$page")
		if [ -n "$f" ] && MANWIDTH=80 man -l "$f" 2>/dev/null | grep -q '^NAME'; then
			ok "man page $page renders"
		else
			bad "man page $page"
		fi
	done
fi
[ "$FAILS" -eq 0 ] && { echo "all assertions passed"; exit 0; }
echo "$FAILS assertion(s) failed"; exit 1
