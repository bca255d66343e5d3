#!/usr/bin/env bash
# Runs every check CI runs: formatting, one build, the whole test suite on it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

echo "== swift format lint --strict"
swift format lint --strict --recursive Package.swift Sources Tests Benchmarks

echo "== swift build --build-tests (warnings are errors)"
log=$(mktemp)
swift build --build-tests 2>&1 | tee "$log"
if grep -E "warning:" "$log" | grep -v -E "^warning: (input verification|'.+': found [0-9]+ file)" >/dev/null; then
    echo "test: the build printed warnings; slad builds warning-free" >&2
    grep -E "warning:" "$log" >&2
    exit 1
fi

echo "== swift test"
export SLAD_BIN="$(swift build --show-bin-path)/slad"
swift test --skip-build
