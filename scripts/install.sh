#!/usr/bin/env bash
# Installs slad: stripped binaries, shell completions, systemd units, sysusers/tmpfiles snippets,
# journal catalog, man pages, documentation with the example set-up, and (only where none
# exists yet) /etc/slad/slad.yaml with empty contracts.d, calendars and sources.
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
    "$libdir/systemd/catalog" "$sharedir/man/man1" "$sharedir/man/man5" "$sharedir/doc/slad/examples" \
    "$sharedir/bash-completion/completions" "$sharedir/zsh/vendor-completions" "$sharedir/fish/vendor_completions.d"
install -m 0755 "$bin_dir/slad" "$bin_dir/slactl" "$bindir/"
# As dh_strip does: the symbols stay in the build tree; installed binaries are a fraction of the size.
if command -v strip >/dev/null; then
    strip --strip-unneeded --remove-section=.comment --remove-section=.note "$bindir/slad" "$bindir/slactl"
else
    echo "install: strip not found (binutils): the binaries keep their symbols" >&2
fi
# Completions come from the argument parsers of the binaries just installed.
for b in slad slactl; do
    # bash-completion sources the file: a #! line would say it is a script to run.
    "$bin_dir/$b" --generate-completion-script bash | sed '1{/^#!/d}' >"$sharedir/bash-completion/completions/$b"
    "$bin_dir/$b" --generate-completion-script zsh >"$sharedir/zsh/vendor-completions/_$b"
    "$bin_dir/$b" --generate-completion-script fish >"$sharedir/fish/vendor_completions.d/$b.fish"
done
chmod 0644 "$sharedir/bash-completion/completions/"slad* "$sharedir/zsh/vendor-completions/"_slad* \
    "$sharedir/fish/vendor_completions.d/"slad*

# Units name the binary by absolute path: follow the prefix.
for unit in slad.service slad.socket; do
    sed "s|/usr/bin/slad|$prefix/bin/slad|g" "systemd/$unit" >"$libdir/systemd/system/$unit"
    chmod 0644 "$libdir/systemd/system/$unit"
done
install -m 0644 systemd/sysusers.d/slad.conf "$libdir/sysusers.d/slad.conf"
install -m 0644 systemd/tmpfiles.d/slad.conf "$libdir/tmpfiles.d/slad.conf"
install -m 0644 systemd/slad.catalog "$libdir/systemd/catalog/slad.catalog"
for page in man/*.1 man/*.5; do
    section="${page##*.}"
    gzip -9 -n -c "$page" >"$sharedir/man/man$section/$(basename "$page").gz"
    chmod 0644 "$sharedir/man/man$section/$(basename "$page").gz"
done
install -m 0644 README.md "$sharedir/doc/slad/"
install -m 0644 docs/*.md "$sharedir/doc/slad/"
install -m 0644 systemd/README.md "$sharedir/doc/slad/systemd.md"
# The example set-up (demo customers, calendars, mappings of real logs, a sample log, Prometheus
# rules, a Grafana dashboard) is documentation: copied into /etc/slad only by an admin who wants it.
examples="$sharedir/doc/slad/examples"
install -d -m 0755 "$examples/contracts.d" "$examples/calendars" "$examples/sources" "$examples/prometheus" \
    "$examples/grafana" "$sharedir/doc/slad/schema"
install -m 0644 etc/slad/slad.yaml "$examples/slad.yaml"
for dir in contracts.d calendars sources; do install -m 0644 etc/slad/"$dir"/* "$examples/$dir/"; done
install -m 0644 etc/samples/events.jsonl "$examples/"
install -m 0644 contrib/prometheus/*.yml "$examples/prometheus/"
install -m 0644 contrib/grafana/*.json "$examples/grafana/"
install -m 0644 contrib/schema/*.json "$sharedir/doc/slad/schema/"

# Configuration: slad.yaml and empty folders for the site's own contracts, calendars and source
# mappings. An admin's files are never overwritten.
install -d -m 0755 "$confdir" "$confdir/contracts.d" "$confdir/calendars" "$confdir/sources"
if [ -e "$confdir/slad.yaml" ]; then
    echo "install: keeping ${confdir#"$root"}/slad.yaml (exists)"
else
    install -m 0644 systemd/slad.yaml "$confdir/slad.yaml"
fi

[ -n "$destdir" ] && exit 0

# A live system: what the package's postinst does.
SLAD_LIBDIR="$libdir" scripts/postinst.sh configure
echo "install: done. Start with: systemctl enable --now slad"
