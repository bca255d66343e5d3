#!/bin/bash
# Renders a report's HTML page in Debian's headless Chromium to a PNG and fails when the page
# logs anything to the console (errors, warnings or messages) or the PNG is missing.
#
#   scripts/render-report.sh [REPORT.html] [OUT.png]
#
# Without arguments it builds the sample: the November 2026 reports of the example contracts
# over the sample log (etc/samples), through `slad replay --format html`, into
# ./report-sample.html and ./report-sample.png.
# Installs chromium through apt when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
html=${1:-report-sample.html}
png=${2:-${html%.html}.png}
if [ $# -eq 0 ]; then
    [ -x .build/debug/slad ] || swift build --product slad
    .build/debug/slad replay --config etc/slad --events etc/samples/events.jsonl \
        --as-of 2026-12-01T00:00:00+03:00 --format html --month 2026-11 -o "$html" 2> /dev/null
fi
if ! command -v chromium > /dev/null; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
fi
log=$(mktemp)
profile=$(mktemp -d)
trap 'rm -rf "$log" "$profile"' EXIT
rm -f "$png"
# --enable-logging=stderr --v=0 puts every console message on stderr as "CONSOLE(...)".
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$profile" \
    --enable-logging=stderr --v=0 --window-size=1200,2400 --screenshot="$png" \
    "file://$(realpath "$html")" 2> "$log" || { cat "$log"; exit 1; }
if grep -E "CONSOLE|Uncaught|Failed to load resource" "$log"; then
    echo "render-report: the page logged to the console (above)" >&2
    exit 1
fi
[ -s "$png" ] || { echo "render-report: no PNG written" >&2; cat "$log"; exit 1; }
echo "rendered $html -> $png ($(stat -c %s "$png") bytes), no console messages"
