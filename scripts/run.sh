#!/usr/bin/env bash
# Runs slad on its embedded defaults: the example contracts and calendars in
# etc/slad, the sample event log in etc/samples, state under ./state.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

swift build --product slad
bin="$(swift build --show-bin-path)/slad"
mkdir -p state

echo "== slad check-config etc/slad"
"$bin" check-config etc/slad
echo
echo "== slad replay --config etc/slad --events etc/samples/events.jsonl"
"$bin" replay --config etc/slad --events etc/samples/events.jsonl "$@"
