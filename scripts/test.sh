#!/usr/bin/env bash
# Runs every check CI runs: formatting, one build, the whole test suite on it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
# Test-only tools, the real servers the suite runs: Prometheus and promtool (Debian's
# prometheus), Alertmanager (prometheus-alertmanager), and a JSON Schema validator
# (python3-jsonschema, with python3-yaml, for scripts/check-schema.py), and PostgreSQL's server
# (postgresql: the PostgreSQL store's tests start throwaway clusters with its initdb and pg_ctl).
missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
python3 -c 'import jsonschema, yaml' >/dev/null 2>&1 || missing+=(python3-jsonschema python3-yaml)
compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null || missing+=(postgresql)
if ((${#missing[@]})); then
    echo "test: installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
fi

echo "== swift format lint --strict"
swift format lint --strict --recursive Package.swift Plugins Sources Tests Benchmarks

echo "== swift build --build-tests (warnings are errors)"
log=$(mktemp)
swift build --build-tests 2>&1 | tee "$log"
# Manifest notes about other packages ("warning: 'swift-distributed-tracing': found 1 file(s)
# which are unhandled") are theirs; every other warning, ours or in our code, fails the run.
ours=$(grep -E "warning:" "$log" | grep -v -P "^warning: '(?!slad')[^']+': " || true)
if [ -n "$ours" ]; then
    echo "test: the build printed warnings; slad builds warning-free" >&2
    echo "$ours" >&2
    exit 1
fi

echo "== swift test"
export SLAD_BIN="$(swift build --show-bin-path)/slad"
out=$(mktemp)
status=0
swift test --skip-build 2>&1 | tee "$out" || status=$?
# XCTest prints "Executed 0 tests" (slad's tests use Swift Testing); close with
# one plain line counting the Swift Testing test cases that ran.
total=$(grep -o -E '^. Test run with [0-9]+ tests?' "$out" | grep -o -E '[0-9]+' | tail -n 1)
failed=$(grep -c -E '^✘ Test .*failed after' "$out" || true)
passed=$(( ${total:-0} - failed ))
cases=$(grep -o -E '^✔ Test .* with [0-9]+ test cases passed' "$out" | awk '{ for (i = 1; i < NF; i++) if ($(i+1) == "test") n += $i } END { print n + 0 }')
echo "parameterized test cases run: $cases"
echo "$passed passed, $failed failed"
[ "$status" = 0 ] || exit $status

# The parsers under libFuzzer and AddressSanitizer, a short cut on the committed corpus (the
# campaign is `scripts/fuzz.sh`, 10 minutes a target on a release build; docs/testing.md). A debug
# build here: it builds in half the time, and 20 s a target is a smoke test, not a campaign.
echo "== FUZZ_CONFIG=debug scripts/fuzz.sh 20"
FUZZ_CONFIG=debug scripts/fuzz.sh 20
