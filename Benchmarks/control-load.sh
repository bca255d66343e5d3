#!/bin/bash
# Control socket under load, with the real daemon holding many open incidents
# (default 1 000 000): GET /v1/status requests/s and p50/p99 over keep-alive
# connections, and the latency of the first page of `incidents --at-risk`.
# Baseline, measured in the same run with the same client: a minimal C server
# answering every request with the same status document (the floor the kernel
# and the client set). Prints absolute figures and ratios.
#
#   Benchmarks/control-load.sh [INCIDENTS] [SECONDS] [CONNECTIONS]
#
# Needs gcc, python3, curl and make (it builds the release binary as shipped).
set -euo pipefail
cd "$(dirname "$0")/.."
incidents=${1:-1000000}
seconds=${2:-5}
connections=${3:-4}
make -s build  # the binary as shipped: release, Swift runtime linked statically
work=$(mktemp -d /tmp/slad-control-bench.XXXXXX)
trap 'kill $slad $baseline 2>/dev/null || true; rm -rf "$work"' EXIT
slad=0
baseline=0
gcc -O2 -pthread -o "$work/load" Benchmarks/control_load.c
mkdir -p "$work/config/contracts.d"
cat > "$work/config/contracts.d/bench.yaml" <<'YAML'
id: bench
customer: Bench AG
calendar: 24x7
fee: { amount: "1000.00", currency: EUR }
warn_at: ["50%", "80%"]
priorities:
  P1: { reaction: 4h, resolution: 24h }
YAML
printf 'sources:\n  - { name: bench, path: "%s/events.jsonl", format: jsonl }\n' "$work" > "$work/config/slad.yaml"
python3 - "$work/events.jsonl" "$incidents" <<'PY'
import sys, time, random
path, n = sys.argv[1], int(sys.argv[2])
now = int(time.time())
rnd = random.Random(7)
with open(path, "w") as f:
    for i in range(n):
        t = now - rnd.randrange(0, 3 * 3600)   # opened within 3 h: fine, at risk (past 2 h) or close to it
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
        f.write(f'{{"id":"b{i}","time":"{stamp}","type":"incident.opened","incident":"B-{i}","contract":"bench","priority":"P1"}}\n')
PY
sock="$work/slad.sock"
.build/release/slad run --config "$work/config" --state "$work/state" --socket "$sock" 2> "$work/stderr" &
slad=$!
start=$(date +%s)
until curl -s --unix-socket "$sock" http://slad/v1/status 2>/dev/null | grep -q "\"events\":$incidents,"; do
    sleep 1
    if ! kill -0 $slad 2>/dev/null; then cat "$work/stderr"; exit 1; fi
done
echo "slad holds $incidents open incidents (ingested in $(( $(date +%s) - start )) s)"
curl -s --unix-socket "$sock" http://slad/v1/status > "$work/status.json"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('  standing:', d['incidents'])" "$work/status.json"

"$work/load" serve "$work/baseline.sock" "$work/status.json" > "$work/baseline.out" &
baseline=$!
until grep -q ready "$work/baseline.out" 2>/dev/null; do sleep 0.1; done

field() { sed -E "s/.*$1=([0-9.]+).*/\1/" <<< "$2"; }
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }

base=$("$work/load" load "$work/baseline.sock" /v1/status "$connections" "$seconds")
mine=$("$work/load" load "$sock" /v1/status "$connections" "$seconds")
echo
echo "GET /v1/status, $connections keep-alive connections, ${seconds} s each"
echo "  baseline (minimal C server, same document): $base"
echo "  slad:                                       $mine"
echo "  slad/baseline: rps $(ratio "$(field rps "$mine")" "$(field rps "$base")")×," \
    "p50 $(ratio "$(field p50_us "$mine")" "$(field p50_us "$base")")×, p99 $(ratio "$(field p99_us "$mine")" "$(field p99_us "$base")")×"
echo "  goal: ≥ 50000 rps, p99 ≤ 1000 us"

page=$("$work/load" seq "$sock" "/v1/incidents?state=at_risk&limit=50" 200)
one=$("$work/load" seq "$sock" /v1/status 200)
echo
echo "first page of incidents --at-risk (50 of $incidents open), one request at a time"
echo "  GET /v1/status (same run, for scale):      $one"
echo "  GET /v1/incidents?state=at_risk&limit=50: $page"
echo "  at-risk page / status: p50 $(ratio "$(field p50_us "$page")" "$(field p50_us "$one")")×"
echo "  goal: first page ≤ 5000 us"
