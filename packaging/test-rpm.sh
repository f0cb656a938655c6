#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The release tarball and the RPM, for real.  `meson dist` packs the
# committed tree and checks it (build, the tests a dist build registers:
# unit, install and the spec check; no root), then `rpmbuild -bb` builds
# the binary RPM from that tarball and packaging/nftally.spec for RHEL 9
# (--nodeps: the build dependencies are Debian's here; stand-ins for RHEL
# macros this rpm lacks, see rpm-stubs.sh), and `rpm -qp` checks its file
# list, %config flags, owners, modes and scriptlets; rpmlint (with the
# filters of nftally.rpmlintrc, each with its reason) must report no
# errors.  Installs nothing.
set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
here=$SRCDIR/packaging
. "$SRCDIR/packaging/test-lib.sh"
for t in meson git rpmbuild rpm rpmlint; do
	command -v $t >/dev/null || skip_or_fail "the rpm test needs $t"
done
T=$(mktemp -d /tmp/nftally-rpm.XXXXXX)
trap 'rm -rf "$T"' EXIT
VERSION=$(sed -n "s/^  version: '\([^']*\)',$/\1/p" "$SRCDIR/meson.build")

# --- meson dist: the tarball, built and tested ---
meson setup "$T/dist" "$SRCDIR" -Dintegration=false -Dpackage_tests=false > "$T/setup.log" 2>&1 ||
	{ cat "$T/setup.log"; bad "meson setup"; finish; }
# --allow-dirty: a checkout with uncommitted changes packs (and so tests)
# its last commit, with a warning.
if meson dist -C "$T/dist" --formats gztar --allow-dirty > "$T/dist.log" 2>&1; then
	ok "meson dist: built, tested and installed nftally-$VERSION.tar.gz"
else
	tail -n 30 "$T/dist.log"; bad "meson dist"; finish
fi
grep -qE '^ *[0-9]+/[0-9]+ nftally:unit / .* OK' "$T/dist.log" && ! grep -qE ' FAIL ' "$T/dist.log" &&
	ok "meson dist ran the unit suite" || bad "meson dist ran no unit test"
TARBALL=$T/dist/meson-dist/nftally-$VERSION.tar.gz
tar -tzf "$TARBALL" | grep -qx "nftally-$VERSION/debian/control" && ok "the tarball has debian/" ||
	bad "debian/ not in the tarball"

# --- rpmbuild -bb ---
. "$here/rpm-stubs.sh"
mkdir -p "$T/top/SOURCES"
cp "$TARBALL" "$T/top/SOURCES/"
# Source1, the charting library the RPM carries, from the npm registry
DYG=$(sed -n 's|^Source1: *https://registry.npmjs.org/dygraphs/-/\(dygraphs-[0-9.]*\.tgz\)$|\1|p' "$here/nftally.spec")
(cd "$T/top/SOURCES" && npm pack --silent "${DYG%.tgz}" > /dev/null 2>&1 || curl -fsSLO \
	"https://registry.npmjs.org/dygraphs/-/$DYG" 2>/dev/null) && [ -s "$T/top/SOURCES/$DYG" ] ||
	skip_or_fail "cannot fetch $DYG (Source1) from the npm registry"
# No debuginfo subpackage: Debian's rpm lacks RHEL's find-debuginfo setup.
if rpmbuild -bb --nodeps --define "_topdir $T/top" --define 'rhel 9' --define 'dist .el9' \
	--define 'debug_package %{nil}' "${stub_args[@]}" "$here/nftally.spec" > "$T/rpmbuild.log" 2>&1; then
	ok "rpmbuild -bb (stand-ins: ${stub_names[*]})"
else
	tail -n 30 "$T/rpmbuild.log"; bad "rpmbuild -bb"; finish
fi
RPM=$(ls "$T"/top/RPMS/*/nftally-"$VERSION"-1.el9.*.rpm 2>/dev/null | head -1)
[ -n "$RPM" ] || { bad "no binary RPM"; finish; }
grep -qE 'nftally:unit / .* OK' "$T/rpmbuild.log" && ok "%check ran the unit suite" || bad "%check ran no unit test"

files=$(rpm -qlp "$RPM")
for f in /usr/sbin/nftally /usr/share/nftally/templates/host.nft /usr/share/nftally/templates/gateway.nft \
	/usr/share/nftally/templates/bridge.nft /usr/lib/systemd/system/nftally.service /usr/lib/sysusers.d/nftally.conf \
	/etc/nftally/nftally.conf /usr/share/doc/nftally/nftally.conf /usr/share/doc/nftally/targets.example \
	/usr/share/nftally/web/dygraphs/dygraph.min.js /usr/share/nftally/web/dygraphs/dygraph.css \
	'/usr/share/(licenses|doc)/nftally[^/]*/LICENSE.dygraphs' \
	/usr/share/doc/nftally/operations.md /usr/share/man/man8/nftally.8 /var/lib/nftally; do
	# (RHEL's rpm compresses man pages, Debian's does not; Debian's rpm
	# may name the license directory nftally-VERSION)
	grep -qE "^$f(\.gz)?\$" <<<"$files" || bad "not in the RPM: $f"
done
ok "$(wc -l <<<"$files") paths in the RPM, the expected ones among them"
assert_eq "/etc/nftally/nftally.conf" \
	"$(rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$RPM" | awk 'NF == 2 && $1 ~ /c/ {print $2}')" "%config files"
assert_eq "cn" "$(rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$RPM" |
	awk '$2 == "/etc/nftally/nftally.conf" {print $1}')" "nftally.conf flags (%config(noreplace))"
assert_eq "drwx------ nftally nftally" \
	"$(rpm -qp --qf '[%{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILENAMES}\n]' "$RPM" |
	awk '$4 == "/var/lib/nftally" {print $1, $2, $3}')" "state directory mode and owner"
scripts=$(rpm -qp --scripts "$RPM")
for s in 'useradd -r -g nftally' 'systemctl --no-reload preset nftally.service' \
	'disable --now nftally.service' 'try-restart nftally.service' 'chown -R nftally:nftally /var/lib/nftally'; do
	grep -qF -- "$s" <<<"$scripts" && ok "scriptlets: $s" || bad "scriptlets lack: $s"
done
assert_eq "nftally $VERSION" "$(cd "$T" && rpm2cpio "$RPM" | cpio -id --quiet ./usr/sbin/nftally &&
	"$T/usr/sbin/nftally" --version | head -1 | awk '{print $1, $2}')" "the packaged binary's --version"
rpmlint -r "$here/nftally.rpmlintrc" "$RPM" > "$T/rpmlint" 2>&1
summary=$(tail -n 1 "$T/rpmlint")
if grep -qE '^ *[0-9]+ packages and [0-9]+ specfiles checked; 0 errors' <<<"$summary"; then
	ok "rpmlint: $summary"
else
	grep -E ': E: ' "$T/rpmlint"; bad "rpmlint: $summary"
fi
finish
