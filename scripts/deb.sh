#!/usr/bin/env bash
# Builds dist/slad_VERSION_ARCH.deb with dpkg-deb from a staged `scripts/install.sh`.
#
#   scripts/deb.sh [--bin-dir DIR] [--version V] [--maintainer "NAME <MAIL>"] [--out DIR]
#
# The maintainer is --maintainer, else $DEB_MAINTAINER, else "$DEBFULLNAME <$DEBEMAIL>", else
# git's user.name and user.email; without any the build stops and says so.
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
maintainer="${DEB_MAINTAINER:-}"
out=dist
while (($#)); do
    case "$1" in
        --bin-dir) bin_dir="$2"; shift 2 ;;
        --version) version="$2"; shift 2 ;;
        --maintainer) maintainer="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "deb: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[ -n "$bin_dir" ] || bin_dir="$(swift build -c release --static-swift-stdlib --show-bin-path)"
if [ -z "$version" ]; then
    # What the binary says it is (`0.7.0+git20261206.262`: the release, the last commit's date
    # and the commit count, from the BuildVersion plugin): the package and `slad --version` agree,
    # and each commit sorts later.
    version="$("$bin_dir/slad" --version 2>/dev/null || true)"
    [ -n "$version" ] || { echo "deb: $bin_dir/slad --version says nothing; give --version" >&2; exit 1; }
fi
arch="$(dpkg --print-architecture)"
if [ -z "$maintainer" ] && [ -n "${DEBFULLNAME:-}" ] && [ -n "${DEBEMAIL:-}" ]; then
    maintainer="$DEBFULLNAME <$DEBEMAIL>"
fi
if [ -z "$maintainer" ] && git config user.name >/dev/null && git config user.email >/dev/null; then
    maintainer="$(git config user.name) <$(git config user.email)>"
fi
[ -n "$maintainer" ] || { echo "deb: who maintains the package? give --maintainer \"NAME <MAIL>\" or DEB_MAINTAINER" >&2; exit 2; }

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
# What Debian policy asks of every package's documentation: the copyright of everything in
# it (the binaries link their Swift dependencies statically) and a changelog.
doc="$stage/usr/share/doc/slad"
install -m 0644 debian/copyright "$doc/copyright"
{
    echo "slad ($version) unstable; urgency=medium"
    echo
    echo "  * Built from commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown):"
    echo "    $(git log -1 --format=%s 2>/dev/null | cut -c1-68 || echo 'a source tree without history')"
    echo
    echo " -- $maintainer  $(date -R -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")"
} | gzip -9 -n >"$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"
install -d -m 0755 "$stage/usr/share/lintian/overrides"
install -m 0644 debian/lintian-overrides "$stage/usr/share/lintian/overrides/slad"
# What dh_strip leaves out as well: the compilers' .comment and .note sections.
strip --remove-section=.comment --remove-section=.note "$stage/usr/bin/slad" "$stage/usr/bin/slactl" 2>/dev/null || true
install -d -m 0755 "$stage/DEBIAN"
(cd "$stage" && find usr -type f | sort | xargs md5sum) >"$stage/DEBIAN/md5sums"
(cd "$stage" && find etc -type f | sort | sed 's|^|/|') >"$stage/DEBIAN/conffiles"
install -m 0755 scripts/postinst.sh "$stage/DEBIAN/postinst"
# Stop on removal, and forget on purge, the way debhelper's snippets do (deb-systemd-invoke and
# deb-systemd-helper, from init-system-helpers); enabling stays with the admin.
cat >"$stage/DEBIAN/prerm" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ] && command -v deb-systemd-invoke >/dev/null; then
    deb-systemd-invoke stop slad.service slad.socket >/dev/null || true
fi
EOF
cat >"$stage/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl --system daemon-reload >/dev/null || true; fi
if command -v deb-systemd-helper >/dev/null; then
    if [ "$1" = remove ]; then deb-systemd-helper mask slad.service slad.socket >/dev/null || true; fi
    if [ "$1" = purge ]; then
        deb-systemd-helper purge slad.service slad.socket >/dev/null || true
        deb-systemd-helper unmask slad.service slad.socket >/dev/null || true
    fi
fi
EOF
chmod 0755 "$stage/DEBIAN/prerm" "$stage/DEBIAN/postrm"
size="$(du -sk --exclude=DEBIAN "$stage" | cut -f1)"
cat >"$stage/DEBIAN/control" <<EOF
Package: slad
Version: $version
Architecture: $arch
Maintainer: $maintainer
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
