#!/bin/bash
# Deadline → journald entry and deadline → webhook received, with the real
# daemon holding many open incidents (default 1 000 000), against a baseline
# measured in the same run: a C program (notify_baseline.c) that sleeps until each
# deadline and then writes the same kind of journal entry and POST. Prints p50/p99
# and ratios; slad runs with allowed_lateness 0s, and a notification before its
# deadline fails the run.
#
#   Benchmarks/notify-latency.sh [INCIDENTS] [SAMPLES]
#
# SLAD_BENCH_OLAS=1 gives every incident a line and a team OLA and slad.yaml policies
# (issue 24's configuration); SLAD_BENCH_BIN=PATH runs another slad binary (an older
# build, for a comparison of ratios to the baseline).
#
# Runs in a private mount namespace beside its own systemd-journald (the
# machine's journal is untouched); needs root, python3, gcc and a release build
# (built with `make build`, as shipped).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${SLAD_IN_NAMESPACE:-}" != 1 ]; then
    make -s build  # the binary as shipped: release, Swift runtime linked statically
    export SLAD_IN_NAMESPACE=1
    exec unshare --mount --propagation private "$0" "$@"
fi
for d in /run/systemd/journal /run/log /var/log/journal; do mkdir -p "$d"; mount -t tmpfs tmpfs "$d"; done
/lib/systemd/systemd-journald &
journald=$!
trap 'kill $journald 2>/dev/null || true' EXIT
for _ in $(seq 200); do [ -S /run/systemd/journal/socket ] && break; sleep 0.05; done
python3 Benchmarks/notify_latency.py "${SLAD_BENCH_BIN:-.build/release/slad}" "${1:-1000000}" "${2:-300}"
