#!/usr/bin/env bash
# Check that packaging/nftally.spec parses for Rocky/RHEL 8 and 9, and that
# what it expands to is what those releases need.
#
#   packaging/check-spec.sh        (from any directory)
#
# Needs rpmspec (Debian: the "rpm" package; RHEL: "rpm-build"). When it is
# missing and the script runs as root, it installs it with apt-get or dnf.
#
# A Debian (or any non-RHEL) rpm lacks macros that RHEL's redhat-rpm-config,
# meson and systemd packages provide. The script first parses the spec as it
# is (only --define 'rhel N'); then again with stand-ins for whichever of
# those macros the local rpm lacks, so that the expanded spec can be checked.
# The stand-ins only approximate RHEL's definitions: this checks the spec's
# syntax, conditionals and file list, not a real build.
#
# Prints one line per check and ends with "packaging: N passed, M failed";
# exits 0 if all passed, 1 otherwise.

set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) || exit 1
spec=${NFTALLY_SPEC:-$here/nftally.spec}   # NFTALLY_SPEC: check another copy
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

pass=0
fail=0
ok()  { pass=$((pass + 1)); echo "ok    $*"; }
bad() { fail=$((fail + 1)); echo "FAIL  $*"; }
finish() {
    echo "packaging: $pass passed, $fail failed"
    if [ "$fail" -eq 0 ]; then exit 0; else exit 1; fi
}

# --- rpmspec -------------------------------------------------------------------
if ! command -v rpmspec >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    echo "rpmspec not found; installing it" >&2
    if command -v apt-get >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y rpm >"$tmp/install.log" 2>&1 ||
            { apt-get update >>"$tmp/install.log" 2>&1 &&
              apt-get install -y rpm >>"$tmp/install.log" 2>&1; }
    elif command -v dnf >/dev/null 2>&1; then
        dnf install -y rpm-build >"$tmp/install.log" 2>&1
    fi
fi
if ! command -v rpmspec >/dev/null 2>&1; then
    echo "rpmspec is not available: install it (Debian: apt-get install rpm; RHEL: dnf install rpm-build)" >&2
    [ -s "$tmp/install.log" ] && tail -n 5 "$tmp/install.log" >&2
    bad "rpmspec available"
    finish
fi
if [ ! -r "$spec" ]; then
    bad "$spec readable"
    finish
fi

# rpmspec runs in a scratch directory with a scratch %_topdir, so neither
# the cwd nor ~/rpmbuild matter.
cd "$tmp" || exit 1
base_args=(--define "_topdir $tmp/topdir")

# --- stand-ins for RHEL macros the local rpm lacks: stub_args, stub_names ---
. "$here/rpm-stubs.sh"

# parse OUT ARGS...: rpmspec ARGS into $tmp/OUT. Fails on a non-zero exit
# or on any warning or error on stderr (a bad %changelog date, for one, is
# only a warning).
parse() {
    local out=$1
    shift
    rpmspec "${base_args[@]}" "$@" >"$tmp/$out" 2>"$tmp/$out.err"
    local rc=$?
    if [ "$rc" -ne 0 ] || grep -qiE 'warning|error' "$tmp/$out.err"; then
        sed 's/^/        /' "$tmp/$out.err"
        return 1
    fi
    return 0
}
# section OUT NAME: the lines of section %NAME of the parsed spec OUT.
section() {
    awk -v s="%$2" '
        /^%(description|prep|build|install|check|pre|post|preun|postun|files|changelog)([ \t]|$)/ { on = ($1 == s) ; next }
        on' "$tmp/$1"
}
# check DESCRIPTION COMMAND...
check() {
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else bad "$desc"; fi
}
in_section() { section "$1" "$2" | grep -qE -- "$3"; }
not_in_section() { ! section "$1" "$2" | grep -qE -- "$3"; }
br_has() { grep -qxE -- "$2" "$tmp/$1"; }
br_hasnt() { ! grep -qxE -- "$2" "$tmp/$1"; }

echo "spec: $spec"
echo "rpm:  $(rpm --version)"
if [ "${#stub_names[@]}" -gt 0 ]; then
    echo "stand-ins for macros this rpm lacks: ${stub_names[*]}"
else
    echo "stand-ins: none needed"
fi

for rel in 8 9; do
    r="rhel $rel"
    rel_args=(--define "rhel $rel" --define "dist .el$rel")

    # The spec as it is.
    if parse "raw$rel" -P "${rel_args[@]}" "$spec"; then
        ok "$r: rpmspec -P parses as it is"
    else
        bad "$r: rpmspec -P parses as it is"
    fi

    # With the stand-ins; everything below checks this expansion.
    if ! parse "p$rel" -P "${rel_args[@]}" "${stub_args[@]}" "$spec"; then
        bad "$r: rpmspec -P parses with stand-ins"
        continue
    fi
    ok "$r: rpmspec -P parses with stand-ins"
    p=p$rel

    # No macro the spec uses is left unexpanded, outside comments (%doc,
    # %dir, %attr, %config and %license are file-list directives, not macros).
    left=$(grep -v '^[[:space:]]*#' "$tmp/$p" | grep -oE '%\{?[A-Za-z_][A-Za-z0-9_]*' | tr -d '%{' |
        grep -vxE 'description|prep|build|install|check|pre|post|preun|postun|files|changelog|doc|dir|attr|config|license' |
        sort -u | tr '\n' ' ')
    left=${left% }
    check "$r: no unexpanded macros${left:+ (left: $left)}" test -z "$left"

    # Header and dependencies.
    check "$r: Name/Version/Release" \
        test "$(rpmspec "${base_args[@]}" -q --srpm --qf '%{name}-%{version}-%{release} %{license}\n' \
            "${rel_args[@]}" "${stub_args[@]}" "$spec" 2>/dev/null)" = "nftally-0.1.0-1.el$rel GPL-2.0-or-later AND MIT"
    rpmspec "${base_args[@]}" -q --buildrequires "${rel_args[@]}" "${stub_args[@]}" "$spec" >"$tmp/br$rel" 2>/dev/null
    rpmspec "${base_args[@]}" -q --buildrequires --without man "${rel_args[@]}" "${stub_args[@]}" "$spec" >"$tmp/brnoman$rel" 2>/dev/null
    rpmspec "${base_args[@]}" -q --requires "${rel_args[@]}" "${stub_args[@]}" "$spec" >"$tmp/req$rel" 2>/dev/null
    for dep in 'gcc' 'meson >= 0.56' 'ninja-build' 'pkgconfig\(libnftables\) >= 0.9.3' \
               'pkgconfig\(libnftnl\) >= 1.1.5' 'pkgconfig\(libmnl\) >= 1.0.4' 'pkgconfig\(json-c\) >= 0.13'; do
        check "$r: BuildRequires: ${dep//\\/}" br_has "br$rel" "$dep"
    done
    if [ "$rel" -ge 9 ]; then
        check "$r: BuildRequires: systemd-rpm-macros, not systemd" \
            eval 'br_has br$rel systemd-rpm-macros && br_hasnt br$rel systemd'
    else
        check "$r: BuildRequires: systemd, not systemd-rpm-macros" \
            eval 'br_has br$rel systemd && br_hasnt br$rel systemd-rpm-macros'
    fi
    check "$r: BuildRequires: go-md2man by default" br_has "br$rel" '/usr/bin/go-md2man'
    check "$r: --without man: no go-md2man" br_hasnt "brnoman$rel" '.*md2man.*'
    check "$r: Requires: nftables" br_has "req$rel" nftables

    # Build, check, install and scriptlets.
    # (rpmspec -P drops the %build header after %autosetup: search it all.)
    build=$(tr '\n' ' ' <"$tmp/$p" | sed 's/\\ */ /g')
    for opt in -Dintegration=false -Dpackage_tests=false -Dman=enabled -Dsystemdunitdir=/usr/lib/systemd/system; do
        check "$r: %build configures with $opt" grep -qE -- "meson setup [^%]* $opt( |$)" <<<"$build"
    done
    check "$r: %check runs the unit suite" in_section "$p" check '^meson test .*--suite unit'
    check "$r: %install runs meson install" in_section "$p" install 'meson install'
    check "$r: %install creates the state directory 0700" \
        in_section "$p" install 'install -d -m 0700 .*/var/lib/nftally$'
    check "$r: %post presets nftally.service" in_section "$p" post 'preset nftally\.service'
    check "$r: %preun disables nftally.service" in_section "$p" preun 'disable --now nftally\.service'
    check "$r: %postun restarts nftally.service" in_section "$p" postun 'try-restart nftally\.service'
    check "$r: %pre creates the user nftally" in_section "$p" pre 'useradd -r -g nftally '
    check "$r: %post gives the state to nftally" in_section "$p" post 'chown -R nftally:nftally /var/lib/nftally'

    # Files.
    for f in '^/usr/sbin/nftally$' \
             '^/usr/share/nftally/templates/host\.nft$' \
             '^/usr/lib/systemd/system/nftally\.service$' \
             '^/usr/lib/sysusers\.d/nftally\.conf$' \
             '^%dir /etc/nftally$' \
             '^%config\(noreplace\) /etc/nftally/nftally\.conf$' \
             '^%doc /usr/share/doc/nftally/targets\.example$' \
             '^/usr/share/man/man8/nftally\.8\*$' \
             '^/usr/share/man/man5/nftally\.conf\.5\*$' \
             '^/usr/share/man/man5/nftally-targets\.5\*$' \
             '^%dir %attr\(0700,nftally,nftally\) /var/lib/nftally$'; do
        shown=${f//\\/}
        shown=${shown#^}
        check "$r: %files: ${shown%$}" in_section "$p" files "$f"
    done
    if parse "noman$rel" -P --without man "${rel_args[@]}" "${stub_args[@]}" "$spec"; then
        check "$r: --without man: no man pages in %files" not_in_section "noman$rel" files '/usr/share/man/'
        check "$r: --without man: -Dman=disabled" \
            grep -qE -- '^ *-Dman=disabled' "$tmp/noman$rel"
    else
        bad "$r: --without man: rpmspec -P parses"
    fi

    # Changelog: one entry, today's, by the project address.
    check "$r: %changelog entry" in_section "$p" changelog \
        '^\* Sun Nov 22 2026 nftally developers <dev@example\.invalid> - 0\.1\.0-1$'
done

# Nothing in the spec names a real host but the npm registry, for the
# charting library the RPM carries (Source1).
check "URLs only under example.invalid (and Source1 from the npm registry)" \
    eval "! grep -oE 'https?://[^ )]+' '$spec' | grep -vq '^https://example\.invalid/' ||
          [ \"\$(grep -oE 'https?://[^ )]+' '$spec' | grep -v '^https://example\.invalid/')\" = \
            https://registry.npmjs.org/dygraphs/-/dygraphs-2.2.1.tgz ]"
check "Source1: dygraphs from the npm registry, declared bundled" \
    eval "grep -qx 'Source1: *https://registry.npmjs.org/dygraphs/-/dygraphs-2.2.1.tgz' '$spec' &&
          grep -qx 'Provides: *bundled(js-dygraphs) = 2.2.1' '$spec'"

finish
