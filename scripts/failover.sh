#!/usr/bin/env bash
# The long failover campaign (issue 25, docs/ha.md): three slad processes on one throwaway
# PostgreSQL cluster, the leader killed with SIGKILL, stopped beyond its lease with SIGSTOP and
# cut from the database with pg_terminate_backend, N times of each kind (default 20), while
# events stream in and deadlines fall due. Prints the takeover times (min, median, max) and
# fails on any lost or doubled event, undelivered notification, id delivered with two contents
# or write accepted under a stale token. The test suite runs the same test once of each kind.
#
# HISTORY incidents (3 events each) are written to the log before the nodes start, and every
# standby has followed them before each kill. SLAD_BIN runs another slad build as the nodes
# (the release build: make build, then SLAD_BIN=.build/release/slad).
#
#   scripts/failover.sh [KILLS] [HISTORY]
set -euo pipefail
cd "$(dirname "$0")/.."
kills="${1:-20}"
history="${2:-0}"
swift build --build-tests
bin="$(swift build --show-bin-path)"
SLAD_BIN="${SLAD_BIN:-$bin/slad}" SLAD_FAILOVER_KILLS="$kills" SLAD_FAILOVER_HISTORY="$history" \
    "$bin/sladPackageTests.xctest" --testing-library swift-testing --filter FailoverTests 2>&1 \
    | sed 's/\x1b\[[0-9;]*m//g' | grep -E "failover:|✘|✔ Test run|Test run with"
