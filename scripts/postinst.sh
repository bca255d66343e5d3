#!/bin/sh
# After slad's files are in place (scripts/install.sh on a live system; the .deb's
# DEBIAN/postinst, which is this file): slad's user and groups, its folders, the webhook
# signing key when missing, the journal catalog, and systemd told about the units.
# Enabling stays with the admin: systemctl enable --now slad.
set -eu
[ "${1:-configure}" = configure ] || exit 0
libdir="${SLAD_LIBDIR:-/usr/lib}"
if [ "$(id -u)" != 0 ]; then
    echo "slad: not root: skipped creating users, folders and the webhook key" >&2
    exit 0
fi
systemd-sysusers "$libdir/sysusers.d/slad.conf"
systemd-tmpfiles --create "$libdir/tmpfiles.d/slad.conf"
key=/etc/slad/secrets/ops.key
if [ ! -e "$key" ]; then
    mkdir -p -m 0700 /etc/slad/secrets
    (umask 077 && printf 'whsec_%s\n' "$(head -c 32 /dev/urandom | base64 -w0)" >"$key")
    echo "slad: generated the webhook signing key $key (give it to the receivers)"
fi
journalctl --update-catalog 2>/dev/null || true
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
fi
