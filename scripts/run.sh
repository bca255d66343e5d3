#!/usr/bin/env bash
# Runs slad on its embedded defaults: the example contracts and calendars in
# etc/slad, the sample event log in etc/samples, state under ./state.
# The daemon then keeps tailing the sample log until Ctrl-C (SIGINT), or stops
# once it has caught up when SLAD_EXIT_WHEN_IDLE=1.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

swift build --product slad
swift build --product slactl
bin="$(swift build --show-bin-path)/slad"

echo "== slad check-config etc/slad"
"$bin" check-config etc/slad
echo
echo "== slad replay --config etc/slad --events etc/samples/events.jsonl"
"$bin" replay --config etc/slad --events etc/samples/events.jsonl
echo
# The control socket: the system path as root (slactl finds it without options), else under ./state.
socket=/run/slad/slad.sock
[ "$(id -u)" = 0 ] || socket="$PWD/state/slad.sock"
echo "== slad run --config etc/slad --state state --socket $socket"
echo "   (Ctrl-C stops it; in another shell: $(swift build --show-bin-path)/slactl status --socket $socket)"
idle=()
[ "${SLAD_EXIT_WHEN_IDLE:-0}" = "1" ] && idle=(--exit-when-idle)
exec "$bin" run --config etc/slad --state state --socket "$socket" "${idle[@]}"
