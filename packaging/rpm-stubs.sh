# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by check-spec.sh and test-rpm.sh (bash): stand-ins for the RHEL
# macros a Debian (or other non-RHEL) rpm lacks, as rpm arguments in
# stub_args and their names in stub_names.
# Each is defined only if the local rpm does not define it (on RHEL with
# rpm-build, meson and the systemd macros installed, none is needed). The
# values follow RHEL's macros.meson and macros.systemd, shortened.
stub_args=()
stub_names=()
stub() { # stub NAME[()] BODY
    local name=${1%%(*}
    if [ "$(rpm --eval "%{?$name:1}")" != 1 ]; then
        stub_args+=(--define "$1 $2")
        stub_names+=("$name")
    fi
}
stub _unitdir '/usr/lib/systemd/system'
stub _sysusersdir '/usr/lib/sysusers.d'
stub _vpath_builddir 'redhat-linux-build'
stub meson 'meson setup --buildtype=plain --prefix=%{_prefix} --sbindir=%{_sbindir} --sysconfdir=%{_sysconfdir} --localstatedir=%{_localstatedir} --sharedstatedir=%{_sharedstatedir} --mandir=%{_mandir} --wrap-mode=nodownload --auto-features=enabled . %{_vpath_builddir}'
stub meson_build 'meson compile -C %{_vpath_builddir} --verbose'
stub meson_install 'DESTDIR=%{buildroot} meson install -C %{_vpath_builddir} --no-rebuild'
stub meson_test 'meson test -C %{_vpath_builddir} --print-errorlogs'
stub 'systemd_post()' 'if [ $1 -eq 1 ]; then systemctl --no-reload preset %{?*} || :; fi'
stub 'systemd_preun()' 'if [ $1 -eq 0 ]; then systemctl --no-reload disable --now %{?*} || :; fi'
stub 'systemd_postun_with_restart()' 'if [ $1 -ge 1 ]; then systemctl try-restart %{?*} || :; fi'
# Debian's rpm keeps upstream's /usr/com here; RHEL's is /var/lib.
if [ "$(rpm --eval '%{_sharedstatedir}')" != /var/lib ]; then
    stub_args+=(--define '_sharedstatedir /var/lib')
    stub_names+=(_sharedstatedir)
fi
