#!/usr/bin/env bash
# Installs slad: binaries, systemd units, sysusers/tmpfiles snippets, journal catalog,
# man pages, documentation and (only where none exists yet) the configuration in /etc/slad.
#
#   scripts/install.sh [--bin-dir DIR] [--prefix /usr] [--destdir DIR]
#
# --bin-dir   where the built slad and slactl are (default: the release build, made with
#             `make`); the Makefile passes BIN_DIR through.
# --prefix    /usr (default) or /usr/local; units and binaries follow it.
# --destdir   a staging root (packaging): nothing outside it is touched, no users are
#             created, systemd is not told. Without it, as root, the script also creates
#             slad's user and groups (systemd-sysusers), its folders (systemd-tmpfiles),
#             generates the webhook key when missing, updates the journal catalog and,
#             when systemd runs, reloads it. Enabling is left to the admin:
#             `systemctl enable --now slad` (docs in systemd/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

bin_dir=""
prefix=/usr
destdir=""
while (($#)); do
    case "$1" in
        --bin-dir) bin_dir="$2"; shift 2 ;;
        --prefix) prefix="$2"; shift 2 ;;
        --destdir) destdir="$2"; shift 2 ;;
        -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
if [ -z "$bin_dir" ]; then
    bin_dir="$(swift build -c release --show-bin-path)"
fi
for b in slad slactl; do
    [ -x "$bin_dir/$b" ] || { echo "install: $bin_dir/$b is missing: run 'make' first, or pass --bin-dir" >&2; exit 1; }
done

root="${destdir%/}"
bindir="$root$prefix/bin"
# systemd reads units from /usr/lib and /usr/local/lib (not from other prefixes).
libdir="$root$prefix/lib"
sharedir="$root$prefix/share"
confdir="$root/etc/slad"

install -d -m 0755 "$bindir" "$libdir/systemd/system" "$libdir/sysusers.d" "$libdir/tmpfiles.d" \
    "$libdir/systemd/catalog" "$sharedir/man/man1" "$sharedir/doc/slad/examples"
install -m 0755 "$bin_dir/slad" "$bin_dir/slactl" "$bindir/"

# Units name the binary by absolute path: follow the prefix.
for unit in slad.service slad.socket; do
    sed "s|/usr/bin/slad|$prefix/bin/slad|g" "systemd/$unit" >"$libdir/systemd/system/$unit"
    chmod 0644 "$libdir/systemd/system/$unit"
done
install -m 0644 systemd/sysusers.d/slad.conf "$libdir/sysusers.d/slad.conf"
install -m 0644 systemd/tmpfiles.d/slad.conf "$libdir/tmpfiles.d/slad.conf"
install -m 0644 systemd/slad.catalog "$libdir/systemd/catalog/slad.catalog"
for page in man/*.1; do
    gzip -9 -n -c "$page" >"$sharedir/man/man1/$(basename "$page").gz"
    chmod 0644 "$sharedir/man/man1/$(basename "$page").gz"
done
install -m 0644 README.md "$sharedir/doc/slad/"
install -m 0644 docs/*.md "$sharedir/doc/slad/"
install -m 0644 etc/samples/events.jsonl "$sharedir/doc/slad/examples/"
install -d -m 0755 "$sharedir/doc/slad/examples/prometheus" "$sharedir/doc/slad/examples/grafana"
install -m 0644 contrib/prometheus/*.yml "$sharedir/doc/slad/examples/prometheus/"
install -m 0644 contrib/grafana/*.json "$sharedir/doc/slad/examples/grafana/"
install -m 0644 systemd/README.md "$sharedir/doc/slad/systemd.md"

# Configuration: an admin's files are never overwritten; what is missing is added.
install -d -m 0755 "$confdir" "$confdir/contracts.d" "$confdir/calendars" "$confdir/sources"
install -d -m 0700 "$confdir/secrets"
place() { # source target
    if [ -e "$2" ]; then
        echo "install: keeping ${2#"$root"} (exists)"
    else
        install -m 0644 "$1" "$2"
    fi
}
place systemd/slad.yaml "$confdir/slad.yaml"
for dir in contracts.d calendars sources; do
    for f in etc/slad/"$dir"/*; do place "$f" "$confdir/$dir/$(basename "$f")"; done
done

[ -n "$destdir" ] && exit 0

# A live system: what the package's postinst does.
SLAD_LIBDIR="$libdir" scripts/postinst.sh configure
echo "install: done. Start with: systemctl enable --now slad"
