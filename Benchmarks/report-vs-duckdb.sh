#!/bin/bash
# A month's penalty statement, slad against DuckDB, on a generated time-ordered log of
# INCIDENTS incidents (default 1 000 000): from the raw JSONL (`slad replay` against DuckDB's
# read_json + SQL) and from prepared data (`slad report` on its store against DuckDB on the same
# verdicts in its own tables). Every run's outputs are compared byte for byte; prints the median
# and range of the time ratio DuckDB / slad over RUNS alternating runs (default 3), and peak RSS.
# Benchmarks/report_vs_duckdb.py says what each side does.
#
#   Benchmarks/report-vs-duckdb.sh [INCIDENTS] [RUNS]
#
# Needs python3 with duckdb (installed from PyPI when missing), GNU time (installed when missing)
# and make (it builds the release binary as shipped).
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build
python3 -c "import duckdb" 2>/dev/null || pip install -q duckdb 2>/dev/null || pip install -q --break-system-packages duckdb
[ -x /usr/bin/time ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }
exec python3 Benchmarks/report_vs_duckdb.py "$PWD/.build/release/slad" "${1:-1000000}" "${2:-3}"
