#!/usr/bin/env bash
# The soak test (not in CI): slad, as shipped, under mixed load for MINUTES (default 60):
# ingest on two sources with deadlines falling due all the time, rotations by rename and
# copytruncate, a webhook receiver that fails one minute in four, control requests, reloads,
# a SIGKILL and restart every 10 minutes. Prints resident memory, open descriptors, ledger size,
# pending deliveries and control latency every 5 minutes, then whether descriptors stayed in a
# band and memory grew no faster than the ledger (Tests/Soak/soak.py says how).
#
#   scripts/soak.sh [MINUTES]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
make -s build
exec python3 Tests/Soak/soak.py "$PWD/.build/release/slad" "${1:-60}"
