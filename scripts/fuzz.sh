#!/usr/bin/env bash
# Fuzzes slad's parsers with libFuzzer and AddressSanitizer: the JSONL decoder, the CSV reader
# with the status-snapshot mapper, the YAML configuration loader, the iCalendar reader and the
# control socket's request handling. Each target starts from its committed corpus
# (Tests/Fuzz/Corpus/TARGET); new inputs go to .build-fuzz/corpus/TARGET, crashes to
# .build-fuzz/crashes/TARGET (add each as a regression input to the corpus once fixed).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      default: 600 s each, every target, two at a time
#
# FUZZ_SEED=N repeats a run's mutations (libFuzzer's -seed); unset, libFuzzer draws a seed and
# the line of each target says which. FUZZ_CONFIG=debug|release picks the build (default
# release: the optimized parsers run 5-10x as many inputs a second; debug builds in half the
# time). CI runs `FUZZ_CONFIG=debug scripts/fuzz.sh 20` (a short cut on the committed corpus).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(FuzzJSONL FuzzCSV FuzzConfig FuzzICal FuzzControl)
scratch=.build-fuzz
config=${FUZZ_CONFIG:-release}
for t in "${targets[@]}"; do
    # SwiftPM links libFuzzer's main for --sanitize fuzzer; the coverage every Swift module needs
    # is asked of swiftc itself.
    SLAD_FUZZ=1 swift build -c "$config" --scratch-path "$scratch" --sanitize fuzzer --sanitize address \
        -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table --product "$t" 2>&1 \
        | grep -E "error|warning: .*slad|Compiling|Build" | tail -n 2
done
bin=$(SLAD_FUZZ=1 swift build -c "$config" --scratch-path "$scratch" --show-bin-path)
status=0
run() {
    local t=$1
    mkdir -p "$scratch/corpus/$t" "$scratch/crashes/$t"
    local log="$scratch/$t.log"
    local seed
    if "$bin/$t" -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 -timeout=10 ${FUZZ_SEED:+-seed="$FUZZ_SEED"} \
        -artifact_prefix="$scratch/crashes/$t/" "$scratch/corpus/$t" "Tests/Fuzz/Corpus/$t" >"$log" 2>&1; then
        seed=$(grep -oE 'Seed: [0-9]+' "$log" | head -n 1 | awk '{print $2}')
        echo "$t (seed $seed): $(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}') executions," \
            "coverage $(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | awk '{print $2}') edges," \
            "corpus $(ls "$scratch/corpus/$t" | wc -l) new inputs, no crash"
    else
        seed=$(grep -oE 'Seed: [0-9]+' "$log" | head -n 1 | awk '{print $2}')
        echo "$t: FAILED with seed $seed (FUZZ_SEED=$seed repeats it); see $log and $scratch/crashes/$t" >&2
        tail -n 40 "$log" >&2
        return 1
    fi
}
# Two at a time: the machines have two cores.
for ((i = 0; i < ${#targets[@]}; i += 2)); do
    run "${targets[i]}" & a=$!
    b=""
    if ((i + 1 < ${#targets[@]})); then run "${targets[i + 1]}" & b=$!; fi
    wait $a || status=1
    if [ -n "$b" ]; then wait $b || status=1; fi
done
exit $status
