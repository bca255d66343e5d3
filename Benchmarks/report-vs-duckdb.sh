#!/bin/bash
# Monthly penalty report for one contract-month with many incidents (default 1 000 000):
# `slad report` on the store (process start, SQLite read, verdicts advanced to the report
# instant, statement, CSV of every line), against DuckDB computing the same figures (per-breach
# penalties with every started hour, compliance counts, incidents per priority, handoffs,
# subtotal, cap, total, and the same breach lines written as CSV) from the same stored
# verdicts, exported once from the store as CSV. Both measured in this run, best of 3.
# Prints absolute times and the ratio DuckDB / slad (goal: >= 1, slad not slower).
#
#   Benchmarks/report-vs-duckdb.sh [INCIDENTS]
#
# Needs python3 with duckdb (pip install duckdb; installed when missing) and make (it builds the release binary as shipped).
set -euo pipefail
cd "$(dirname "$0")/.."
incidents=${1:-1000000}
make -s build  # the binary as shipped: release, Swift runtime linked statically
python3 -c "import duckdb" 2>/dev/null || pip install -q duckdb 2>/dev/null || pip install -q --break-system-packages duckdb
work=$(mktemp -d /tmp/slad-report-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/config/contracts.d"
cat > "$work/config/contracts.d/bench.yaml" <<'YAML'
id: bench
customer: Bench AG
calendar: 24x7
timezone: UTC
fee: { amount: "100000.00", currency: EUR }
priorities:
  P1: { reaction: 15m, resolution: 4h }
  P2: { reaction: 1h, resolution: 8h }
  P3: { reaction: 4h, resolution: 24h }
penalties:
  reaction_breach: { P1: "100.00", P2: "50.00" }
  resolution_breach: { P1: { fixed: "500.00", per_hour_late: "50.00" }, P2: { fixed: "200.00", per_hour_late: "20.00" } }
  cap: "10000%"
YAML
printf 'sources:\n  - { name: bench, path: "%s/events.jsonl", format: jsonl }\nreports:\n  seal_after: 366d\n' "$work" \
    > "$work/config/slad.yaml"
python3 - "$work/events.jsonl" "$incidents" <<'PY'
import sys, random, time
path, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(11)
start = 1790812800  # 2026-10-01T00:00:00Z
def stamp(t): return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
with open(path, "w") as f:
    for i in range(n):
        t = start + rnd.randrange(0, 30 * 86400)
        p = rnd.choice(["P1", "P2", "P3"])
        f.write(f'{{"id":"o{i}","time":"{stamp(t)}","type":"incident.opened","incident":"B-{i}","contract":"bench","priority":"{p}","team":"L1"}}\n')
        a = t + rnd.randrange(60, 3 * 3600)
        f.write(f'{{"id":"a{i}","time":"{stamp(a)}","type":"incident.acknowledged","incident":"B-{i}"}}\n')
        if rnd.random() < 0.3:
            f.write(f'{{"id":"h{i}","time":"{stamp(a + 60)}","type":"incident.updated","incident":"B-{i}","team":"L2"}}\n')
        r = a + rnd.randrange(600, 30 * 3600)
        f.write(f'{{"id":"r{i}","time":"{stamp(r)}","type":"incident.resolved","incident":"B-{i}"}}\n')
PY
t0=$(date +%s)
.build/release/slad run --config "$work/config" --state "$work/state" --socket "$work/slad.sock" --exit-when-idle \
    2> "$work/ingest.log"
echo "store: $incidents incidents in 2026-10 (ingested in $(( $(date +%s) - t0 )) s)"
asof=2026-12-15T00:00:00Z
python3 - "$work" "$asof" <<'PY'
import csv, os, sqlite3, subprocess, sys, time
import duckdb
work, asof = sys.argv[1], sys.argv[2]
store = os.path.join(work, "state", "slad.sqlite")
# The same stored verdicts for DuckDB, exported once (not timed).
db = sqlite3.connect(store)
with open(os.path.join(work, "incidents.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["incident", "contract", "opened_at", "opening_priority", "handoffs", "covered"])
    w.writerows(db.execute("SELECT incident, contract, opened_at, opening_priority, handoffs, covered FROM incidents"))
db.close()
# Clocks are packed into their incident's row; `slad dump` prints them one line each
# (incident|metric|priority|outcome|target|elapsed|stopped_at|breached_at|deadline|running_since|calendar|
# breach_priority|breach_target, ∅ for NULL).
dump = subprocess.run([".build/release/slad", "dump", "--state", os.path.join(work, "state")], check=True,
                      capture_output=True, text=True).stdout
clocks = dump.split("# clocks\n", 1)[1].split("\n# ", 1)[0]
with open(os.path.join(work, "clocks.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["incident", "metric", "outcome", "elapsed", "stopped_at", "breached_at", "breach_priority", "breach_target"])
    for line in clocks.splitlines():
        c = ["" if v == "∅" else v for v in line.split("|")]
        w.writerow([c[0], c[1], c[3], c[5], c[6], c[7], c[11], c[12]])
del dump, clocks

def slad():
    out = os.path.join(work, "slad.csv")
    t = time.perf_counter()
    subprocess.run([".build/release/slad", "report", "--config", os.path.join(work, "config"), "--state", store,
                    "--month", "2026-10", "--as-of", asof, "--format", "csv", "-o", out], check=True)
    return time.perf_counter() - t, out

# Month bounds and penalty rules of bench.yaml, as SQL.
QUERY = """
CREATE OR REPLACE TEMP TABLE i AS SELECT * FROM read_csv('{work}/incidents.csv', header=true, auto_detect=true);
CREATE OR REPLACE TEMP TABLE c AS SELECT * FROM read_csv('{work}/clocks.csv', header=true, auto_detect=true,
    types={{'stopped_at': 'BIGINT', 'breached_at': 'BIGINT', 'breach_priority': 'VARCHAR', 'breach_target': 'BIGINT'}});
CREATE OR REPLACE TEMP TABLE lines AS
SELECT c.incident, c.metric, c.breach_priority AS priority, c.breached_at, c.breach_target AS target,
       c.elapsed AS actual, greatest(0, c.elapsed - c.breach_target) AS over_by,
       CASE WHEN c.metric = 'reaction' THEN (CASE c.breach_priority WHEN 'P1' THEN 10000 WHEN 'P2' THEN 5000 ELSE 0 END)
            ELSE (CASE c.breach_priority WHEN 'P1' THEN 50000 + 5000 * ((greatest(0, c.elapsed - c.breach_target) + 3599) // 3600)
                                         WHEN 'P2' THEN 20000 + 2000 * ((greatest(0, c.elapsed - c.breach_target) + 3599) // 3600)
                                         ELSE 0 END) END AS amount_minor
FROM c JOIN i USING (incident)
WHERE i.contract = 'bench' AND i.covered = 1 AND c.breached_at >= 1790812800 AND c.breached_at < 1793491200;
COPY (SELECT * FROM lines ORDER BY breached_at, incident, metric) TO '{work}/duckdb.csv' (HEADER);
SELECT
  (SELECT count(*) FROM lines) AS breaches,
  (SELECT sum(amount_minor) FROM lines) AS subtotal_minor,
  (SELECT count(*) FILTER (WHERE metric = 'reaction') FROM lines) AS reaction_breached,
  (SELECT count(*) FROM c JOIN i USING (incident) WHERE i.contract = 'bench' AND c.metric = 'reaction'
     AND c.outcome = 'met' AND c.stopped_at >= 1790812800 AND c.stopped_at < 1793491200) AS reaction_met,
  (SELECT count(*) FROM c JOIN i USING (incident) WHERE i.contract = 'bench' AND c.metric = 'resolution'
     AND c.outcome = 'met' AND c.stopped_at >= 1790812800 AND c.stopped_at < 1793491200) AS resolution_met,
  (SELECT list(struct_pack(p := opening_priority, n := n) ORDER BY opening_priority) FROM
     (SELECT opening_priority, count(*) AS n FROM i WHERE contract = 'bench' AND covered = 1
        AND opened_at >= 1790812800 AND opened_at < 1793491200 GROUP BY 1)) AS by_priority,
  (SELECT sum(handoffs) FROM i WHERE contract = 'bench' AND opened_at >= 1790812800 AND opened_at < 1793491200) AS handoffs,
  (SELECT count(*) FROM i WHERE contract = 'bench' AND handoffs > 2 AND opened_at >= 1790812800 AND opened_at < 1793491200) AS bounced;
"""

def duck():
    t = time.perf_counter()
    con = duckdb.connect()
    statements = [s for s in QUERY.format(work=work).split(";") if s.strip()]
    for s in statements[:-1]:
        con.execute(s)
    row = con.execute(statements[-1]).fetchone()
    con.close()
    return time.perf_counter() - t, row

best_slad, best_duck = 1e9, 1e9
for _ in range(3):
    ts, out = slad()
    td, row = duck()
    best_slad, best_duck = min(best_slad, ts), min(best_duck, td)
# Same figures: breach count, subtotal, compliance and handoff counts must agree.
rows = {(r["section"], r["item"]): r for r in csv.DictReader(open(out, newline=""))}
breaches = sum(1 for r in csv.DictReader(open(out, newline="")) if r["section"] == "breach")
subtotal = rows[("summary", "subtotal")]["amount"]
print(f"figures: slad {breaches} breaches, subtotal {subtotal}; duckdb {row[0]} breaches, subtotal {row[1] / 100:.2f}")
assert breaches == row[0], "breach counts differ"
assert subtotal == f"{row[1] / 100:.2f}", "subtotals differ"
assert rows[("reaction", "met")]["value"] == str(row[3]), "reaction met differs"
assert rows[("resolution", "met")]["value"] == str(row[4]), "resolution met differs"
assert rows[("handoffs", "total")]["value"] == str(row[6]), "handoffs differ"
print(f"slad report (process, SQLite, CSV out):      {best_slad * 1000:8.0f} ms")
print(f"duckdb (CSV scan, SQL, CSV out, in-process): {best_duck * 1000:8.0f} ms")
print(f"ratio duckdb / slad: {best_duck / best_slad:.2f}  (>= 1: slad not slower)")
PY
