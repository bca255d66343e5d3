#!/usr/bin/env bash
# Builds dist/slad_VERSION_ARCH.deb with dpkg-deb from a staged `scripts/install.sh`.
#
#   scripts/deb.sh [--bin-dir DIR] [--version V] [--out DIR]
#
# The binaries must link only libraries that Debian packages ship: `make deb` builds them
# with the Swift runtime linked statically. A binary linking a library no package owns
# (a debug build against the toolchain's libswiftCore.so) is refused, naming the library.
# Depends: is computed from the libraries the binaries link (dpkg -S), plus systemd.
# Files under /etc are conffiles: an upgrade never overwrites an admin's edits.
set -euo pipefail
cd "$(dirname "$0")/.."

bin_dir=""
version=""
out=dist
while (($#)); do
    case "$1" in
        --bin-dir) bin_dir="$2"; shift 2 ;;
        --version) version="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "deb: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[ -n "$bin_dir" ] || bin_dir="$(swift build -c release --static-swift-stdlib --show-bin-path)"
if [ -z "$version" ]; then
    # The binaries' version (Sources/SLAAPI/SladVersion.swift), then +gitYYYYMMDD.COMMITS of the
    # last commit: what `slad --version` says is what the package is, and each commit sorts later.
    upstream=$(sed -n 's/.*static let current = "\(.*\)".*/\1/p' Sources/SLAAPI/SladVersion.swift)
    version="$upstream+git$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null || echo 0).$(git rev-list --count HEAD 2>/dev/null || echo 0)"
fi
arch="$(dpkg --print-architecture)"

# Depends: the packages owning each linked library; anything unowned is an error.
declare -A packages=()
unowned=()
for b in slad slactl; do
    [ -x "$bin_dir/$b" ] || { echo "deb: $bin_dir/$b is missing: run 'make' first" >&2; exit 1; }
    # Only the libraries the binary names itself (NEEDED); theirs are their packages' business.
    resolved="$(ldd "$bin_dir/$b")"
    while read -r soname; do
        # "libz.so.1 => /lib/…/libz.so.1 (…)", or the loader itself: "/lib64/ld-linux-x86-64.so.2 (…)".
        lib="$(awk -v n="$soname" '$1 == n && $2 == "=>" { print $3 } substr($1, length($1) - length(n)) == "/" n { print $1 }' <<<"$resolved")"
        owner="$( [ -n "$lib" ] && { dpkg -S "$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")" 2>/dev/null; } || true)"
        if [ -z "$owner" ]; then
            unowned+=("$b: ${lib:-$soname}")
        else
            packages["${owner%%:*}"]=1
        fi
    done < <(objdump -p "$bin_dir/$b" | awk '$1 == "NEEDED" { print $2 }')
done
if ((${#unowned[@]})); then
    echo "deb: these libraries belong to no Debian package (build with 'make deb', which links the Swift runtime statically):" >&2
    printf '  %s\n' "${unowned[@]}" >&2
    exit 1
fi
depends="$(printf '%s\n' "${!packages[@]}" systemd | sort -u | paste -sd, | sed 's/,/, /g')"

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage" # the package's root entry: mktemp's 0700 must not reach /
scripts/install.sh --bin-dir "$bin_dir" --prefix /usr --destdir "$stage" >/dev/null
# As dh_strip does: the symbols stay in the build tree, the package ships lean binaries.
if command -v strip >/dev/null; then
    strip --strip-unneeded "$stage/usr/bin/slad" "$stage/usr/bin/slactl"
else
    echo "deb: strip not found (binutils): the binaries keep their symbols" >&2
fi
install -d -m 0755 "$stage/DEBIAN"
(cd "$stage" && find etc -type f | sort | sed 's|^|/|') >"$stage/DEBIAN/conffiles"
install -m 0755 scripts/postinst.sh "$stage/DEBIAN/postinst"
cat >"$stage/DEBIAN/prerm" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
    systemctl stop slad.service slad.socket || true
    systemctl disable slad.service slad.socket || true
fi
EOF
cat >"$stage/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
EOF
chmod 0755 "$stage/DEBIAN/prerm" "$stage/DEBIAN/postrm"
size="$(du -sk --exclude=DEBIAN "$stage" | cut -f1)"
cat >"$stage/DEBIAN/control" <<EOF
Package: slad
Version: $version
Architecture: $arch
Maintainer: slad developers <slad@localhost>
Installed-Size: $size
Depends: $depends
Section: admin
Priority: optional
Description: SLA monitoring daemon
 slad loads SLA contracts, tails incident event logs, keeps every reaction and
 resolution deadline in a timer wheel, warns before a breach, posts breaches to
 the systemd journal and to webhooks, answers over a Unix socket (slactl) and
 writes monthly penalty reports.
EOF
mkdir -p "$out"
deb="$out/slad_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
