#!/usr/bin/env python3
"""Driver of Benchmarks/report-vs-duckdb.sh: a month's penalty statement, slad against DuckDB.

Two comparisons, each side a whole process doing the same work on the same input, the outputs
compared byte for byte before any ratio is printed:

  raw    the raw JSONL log -> the month's report CSV (every row: fee, incidents per priority,
         compliance, handoffs, one row per breach with its amount, subtotal, cap, total).
         slad: `slad replay --format csv`. DuckDB: read_json of the same file, clocks and money
         in SQL, COPY to CSV.
  store  prepared data -> the same CSV. slad: `slad report` on the store its daemon wrote.
         DuckDB: the same verdicts (incidents and clocks, exported once from slad's store, not
         timed) in tables of its own database file, then the same SQL from there.

DuckDB's SQL encodes this benchmark's contract (24x7, UTC, three priorities, its penalties)
and the events the generator writes (one open, one acknowledgement, at most one team change,
one resolution per incident, unique ids, times in UTC). slad computes the general rules. The
comparison is of the work for this input, not of generality.

  report_vs_duckdb.py SLAD INCIDENTS RUNS
  report_vs_duckdb.py --duckdb-raw EVENTS OUT | --duckdb-store DB OUT   (one timed DuckDB side)
"""
import csv
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

MONTH_START, MONTH_END = 1790812800, 1793491200  # 2026-10-01 .. 2026-11-01, UTC
AS_OF = "2026-12-15T00:00:00Z"
AS_OF_SECONDS = 1797292800

CONTRACT = """id: bench
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
"""

# The month's statement from two views: `inc` (incident, opened_at, priority, handoffs) with the
# incidents opened in the month, and `clk` (incident, metric, priority, target, elapsed,
# stopped_at, breached_at) with every clock. Money in integer minor units; shares half-even.
STATEMENT = r"""
CREATE OR REPLACE TEMP MACRO money(m) AS printf('%d.%02d', m // 100, m % 100);
CREATE OR REPLACE TEMP MACRO half_even(n, d) AS
    CASE WHEN 2 * (n % d) > d OR (2 * (n % d) = d AND (n // d) % 2 = 1) THEN n // d + 1 ELSE n // d END;
CREATE OR REPLACE TEMP MACRO decimal2(n, d) AS
    CASE WHEN d = 0 THEN '0.00' ELSE printf('%d.%02d', half_even(n * 100, d) // 100, half_even(n * 100, d) % 100) END;
CREATE OR REPLACE TEMP MACRO utc(t) AS strftime(make_timestamp(t * 1000000), '%Y-%m-%dT%H:%M:%SZ');
CREATE OR REPLACE TEMP TABLE lines AS
SELECT incident, metric, priority, breached_at, target, elapsed, elapsed - target AS over_by,
       CASE WHEN metric = 'reaction' THEN CASE priority WHEN 'P1' THEN 10000 WHEN 'P2' THEN 5000 END
            ELSE CASE priority WHEN 'P1' THEN 50000 + 5000 * ((elapsed - target + 3599) // 3600)
                               WHEN 'P2' THEN 20000 + 2000 * ((elapsed - target + 3599) // 3600) END END AS amount,
       CASE WHEN metric = 'reaction' THEN CASE priority WHEN 'P1' THEN '100.00' WHEN 'P2' THEN '50.00' END
            ELSE CASE priority WHEN 'P1' THEN '500.00 + ' || ((elapsed - target + 3599) // 3600) || ' h × 50.00'
                               WHEN 'P2' THEN '200.00 + ' || ((elapsed - target + 3599) // 3600) || ' h × 20.00' END
       END AS rule
FROM clk WHERE breached_at >= {start} AND breached_at < {end};
CREATE OR REPLACE TEMP TABLE compliance AS
SELECT metric,
       count(*) FILTER (WHERE breached_at IS NULL AND stopped_at >= {start} AND stopped_at < {end}) AS met,
       count(*) FILTER (WHERE breached_at >= {start} AND breached_at < {end}) AS breached
FROM clk GROUP BY metric;
CREATE OR REPLACE TEMP TABLE money_total AS
SELECT coalesce(sum(amount), 0) AS subtotal, least(coalesce(sum(amount), 0), 1000000000) AS total FROM lines;
COPY (
  WITH head(k, section, item, value, amount, currency, note) AS (VALUES
      (1, 'report', 'customer', 'Bench AG', NULL, NULL, NULL),
      (2, 'report', 'period_start', '2026-10-01T00:00:00Z', NULL, NULL, NULL),
      (3, 'report', 'period_end', '2026-11-01T00:00:00Z', NULL, NULL, NULL),
      (4, 'report', 'timezone', 'UTC', NULL, NULL, NULL),
      (5, 'report', 'as_of', '2026-12-15T00:00:00Z', NULL, NULL, NULL),
      (6, 'fee', 'monthly', NULL, '100000.00', 'EUR', NULL),
      (7, 'fee', 'charged', '31/31 days', '100000.00', 'EUR', NULL)),
  opened AS (SELECT count(*) AS n, coalesce(sum(handoffs), 0) AS handoffs,
                    count(*) FILTER (WHERE handoffs > 2) AS bounced FROM inc),
  body AS (
    SELECT k, 0 AS k2, NULL AS k3, NULL AS k4, section, item, NULL AS incident, NULL AS metric, NULL AS priority,
           NULL AS "at", NULL AS target_seconds, NULL AS actual_seconds, NULL AS over_by_seconds, value, amount,
           currency, note FROM head
    UNION ALL
    SELECT 8, 0, priority, NULL, 'incidents', priority, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           count(*)::VARCHAR, NULL, NULL, NULL FROM inc GROUP BY priority
    UNION ALL
    SELECT 9, 0, NULL, NULL, 'incidents', 'total', NULL, NULL, NULL, NULL, NULL, NULL, NULL, n::VARCHAR, NULL, NULL,
           NULL FROM opened
    UNION ALL
    SELECT CASE metric WHEN 'reaction' THEN 10 ELSE 11 END, x.k2, NULL, NULL, metric, x.item, NULL, NULL, NULL,
           NULL, NULL, NULL, NULL, x.value, NULL, NULL, NULL
    FROM compliance, LATERAL (VALUES (1, 'met', met::VARCHAR), (2, 'breached', breached::VARCHAR),
        (3, 'compliance', CASE WHEN met + breached = 0 THEN 'n/a' ELSE decimal2(met * 100, met + breached) || '%' END))
        AS x(k2, item, value)
    UNION ALL
    SELECT 12, x.k2, NULL, NULL, 'handoffs', x.item, NULL, NULL, NULL, NULL, NULL, NULL, NULL, x.value, NULL, NULL,
           x.note
    FROM opened, LATERAL (VALUES (1, 'total', handoffs::VARCHAR, NULL), (2, 'per_incident', decimal2(handoffs, n), NULL),
        (3, 'bounced_incidents', bounced::VARCHAR, 'more than 2 handoffs')) AS x(k2, item, value, note)
    UNION ALL
    SELECT 13, breached_at, incident, metric, 'breach', metric, incident, metric, priority, utc(breached_at),
           target::VARCHAR, elapsed::VARCHAR, over_by::VARCHAR, NULL, money(coalesce(amount, 0)), 'EUR',
           coalesce(rule, 'no penalty for ' || metric || ' ' || priority) FROM lines
    UNION ALL
    SELECT 14, x.k2, NULL, NULL, 'summary', x.item, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, x.amount, x.currency,
           x.note
    FROM money_total, LATERAL (VALUES
        (1, 'subtotal', money(subtotal), 'EUR', NULL),
        (2, 'cap', '10000000.00', 'EUR', CASE WHEN subtotal > 1000000000 THEN 'applied' ELSE 'not reached' END),
        (3, 'total', money(total), 'EUR', NULL),
        (4, 'rounding', NULL, NULL, 'money: integer minor units; each line rounded half-even to the currency''s minor unit (only shares of the fee need rounding); percentages shown half-even, compared exactly'))
        AS x(k2, item, amount, currency, note)
  )
  SELECT 'bench' AS contract, '2026-10' AS month, 'final' AS state, section, item, incident, metric, priority, "at",
         target_seconds, actual_seconds, over_by_seconds, value, amount, currency, note
  FROM body ORDER BY k, k2, k3, k4
) TO '{out}' (FORMAT CSV, HEADER true, NEW_LINE '\r\n');
"""

# The clocks of the raw log, for this contract and calendar (24x7: business time is wall time).
RAW = r"""
CREATE TEMP TABLE ev AS
SELECT incident, type, priority, team, epoch(strptime(time, '%Y-%m-%dT%H:%M:%SZ'))::BIGINT AS t
FROM read_json('{events}', format = 'newline_delimited',
               columns = {{id: 'VARCHAR', time: 'VARCHAR', type: 'VARCHAR', incident: 'VARCHAR',
                           contract: 'VARCHAR', priority: 'VARCHAR', team: 'VARCHAR'}});
CREATE TEMP TABLE incidents AS
SELECT incident,
       min(t) FILTER (WHERE type = 'incident.opened') AS opened_at,
       any_value(priority) FILTER (WHERE type = 'incident.opened') AS priority,
       any_value(team) FILTER (WHERE type = 'incident.opened') AS first_team,
       min(t) FILTER (WHERE type = 'incident.acknowledged') AS ack_at,
       min(t) FILTER (WHERE type = 'incident.resolved') AS resolved_at,
       list(team) FILTER (WHERE type = 'incident.updated' AND team IS NOT NULL) AS teams
FROM ev GROUP BY incident;
CREATE TEMP VIEW inc AS
SELECT incident, opened_at, priority, len(list_filter(teams, lambda x: x <> first_team)) AS handoffs FROM incidents
WHERE opened_at >= {start} AND opened_at < {end};
CREATE TEMP TABLE clocks AS
SELECT incident, 'reaction' AS metric, priority, opened_at, ack_at AS stopped_at,
       CASE priority WHEN 'P1' THEN 900 WHEN 'P2' THEN 3600 ELSE 14400 END AS target FROM incidents
UNION ALL
SELECT incident, 'resolution', priority, opened_at, resolved_at,
       CASE priority WHEN 'P1' THEN 14400 WHEN 'P2' THEN 28800 ELSE 86400 END FROM incidents;
CREATE TEMP VIEW clk AS
SELECT incident, metric, priority, target, coalesce(stopped_at, {as_of}) - opened_at AS elapsed, stopped_at,
       CASE WHEN coalesce(stopped_at, {as_of}) - opened_at > target THEN opened_at + target END AS breached_at
FROM clocks;
"""

# The verdicts of slad's store, loaded into DuckDB's own tables beforehand.
STORE = r"""
CREATE TEMP VIEW inc AS SELECT incident, opened_at, opening_priority AS priority, handoffs FROM incidents
WHERE contract = 'bench' AND covered = 1 AND opened_at >= {start} AND opened_at < {end};
CREATE TEMP VIEW clk AS
SELECT incident, metric, coalesce(breach_priority, priority) AS priority, coalesce(breach_target, target) AS target,
       elapsed, stopped_at, breached_at FROM clocks;
"""


def duckdb_side(kind, source, out):
    import duckdb

    con = duckdb.connect(source if kind == "store" else ":memory:", read_only=kind == "store")
    fill = dict(start=MONTH_START, end=MONTH_END, as_of=AS_OF_SECONDS, out=out, events=source)
    con.execute((RAW if kind == "raw" else STORE).format(**fill))
    con.execute(STATEMENT.format(**fill))
    con.close()


def generate(path, n):
    """Incidents opened over 2026-10 (three priorities), acknowledged, sometimes handed to a second
    team, resolved; the events written in time order, as a helpdesk writes them."""
    rnd = random.Random(11)
    events = []
    for i in range(n):
        t = MONTH_START + rnd.randrange(0, 30 * 86400)
        p = rnd.choice(["P1", "P2", "P3"])
        events.append((t, f'{{"id":"o{i}","time":"%s","type":"incident.opened","incident":"B-{i}",'
                          f'"contract":"bench","priority":"{p}","team":"L1"}}'))
        a = t + rnd.randrange(60, 3 * 3600)
        events.append((a, f'{{"id":"a{i}","time":"%s","type":"incident.acknowledged","incident":"B-{i}"}}'))
        if rnd.random() < 0.3:
            events.append((a + 60, f'{{"id":"h{i}","time":"%s","type":"incident.updated","incident":"B-{i}",'
                                   f'"team":"L2"}}'))
        r = a + rnd.randrange(600, 30 * 3600)
        events.append((r, f'{{"id":"r{i}","time":"%s","type":"incident.resolved","incident":"B-{i}"}}'))
    events.sort(key=lambda e: e[0])
    with open(path, "w") as f:
        for t, line in events:
            f.write(line % time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)) + "\n")
    return len(events)


def timed(argv):
    """Wall seconds and peak resident MiB of one process. The peak comes from GNU time, which
    starts the process itself: a process started from this one would count this one's memory
    (the pages it had at the fork) in its own peak."""
    with tempfile.NamedTemporaryFile("r") as peak:
        start = time.perf_counter()
        status = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", peak.name] + argv).returncode
        seconds = time.perf_counter() - start
        if status != 0:
            sys.exit(f"failed ({status}): {' '.join(argv)}")
        return seconds, int(peak.read().split()[-1]) / 1024


def same(a, b, what):
    x, y = open(a, "rb").read(), open(b, "rb").read()
    if x == y:
        return
    xl, yl = x.split(b"\r\n"), y.split(b"\r\n")
    k = next((i for i in range(min(len(xl), len(yl))) if xl[i] != yl[i]), min(len(xl), len(yl)))
    sys.exit(f"{what}: outputs differ at line {k + 1}:\n  {xl[k] if k < len(xl) else b'<end>'}\n"
             f"  {yl[k] if k < len(yl) else b'<end>'}")


def compare(label, slad_argv, slad_out, duck_argv, duck_out, runs):
    timed(slad_argv)
    timed(duck_argv)
    same(slad_out, duck_out, label)
    rows = []
    for _ in range(runs):
        s = timed(slad_argv)
        d = timed(duck_argv)
        rows.append((s, d))
        same(slad_out, duck_out, label)
    ratios = sorted(d[0] / s[0] for s, d in rows)
    slad_s = statistics.median(s[0] for s, _ in rows)
    duck_s = statistics.median(d[0] for _, d in rows)
    slad_m = statistics.median(s[1] for s, _ in rows)
    duck_m = statistics.median(d[1] for _, d in rows)
    print(f"{label:6s} slad {slad_s:7.2f} s {slad_m:7.0f} MiB   duckdb {duck_s:7.2f} s {duck_m:7.0f} MiB   "
          f"ratio duckdb/slad {statistics.median(ratios):5.2f} [{ratios[0]:.2f}-{ratios[-1]:.2f}]   "
          f"outputs byte-identical ({os.path.getsize(slad_out) // 1048576} MiB)")


def main():
    slad, incidents, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    me = os.path.abspath(__file__)
    work = tempfile.mkdtemp(prefix="slad-report-bench-")
    os.makedirs(f"{work}/config/contracts.d")
    with open(f"{work}/config/contracts.d/bench.yaml", "w") as f:
        f.write(CONTRACT)
    events = f"{work}/events.jsonl"
    with open(f"{work}/config/slad.yaml", "w") as f:
        f.write(f'sources:\n  - {{ name: bench, path: "{events}", format: jsonl }}\nreports:\n  seal_after: 366d\n')
    count = generate(events, incidents)
    print(f"{incidents} incidents, {count} events in time order ({os.path.getsize(events) // 1048576} MiB); "
          f"month 2026-10 as of {AS_OF}; {runs} alternating runs each, median [range]", flush=True)

    compare("raw",
            [slad, "replay", "--config", f"{work}/config", "--events", events, "--format", "csv", "--month", "2026-10",
             "--as-of", AS_OF, "-o", f"{work}/slad-raw.csv"], f"{work}/slad-raw.csv",
            [sys.executable, me, "--duckdb-raw", events, f"{work}/duck-raw.csv"], f"{work}/duck-raw.csv", runs)

    # The store slad's daemon writes, and the same verdicts in DuckDB's own tables (neither timed).
    subprocess.run([slad, "run", "--config", f"{work}/config", "--state", f"{work}/state", "--socket",
                    f"{work}/slad.sock", "--exit-when-idle"], check=True, stderr=subprocess.DEVNULL)
    store = f"{work}/state/slad.sqlite"
    load_duckdb(slad, work, store)
    compare("store",
            [slad, "report", "--config", f"{work}/config", "--state", store, "--month", "2026-10", "--as-of", AS_OF,
             "--format", "csv", "-o", f"{work}/slad-store.csv"], f"{work}/slad-store.csv",
            [sys.executable, me, "--duckdb-store", f"{work}/verdicts.duckdb", f"{work}/duck-store.csv"],
            f"{work}/duck-store.csv", runs)
    same(f"{work}/slad-raw.csv", f"{work}/slad-store.csv", "slad replay vs slad report")
    subprocess.run(["rm", "-rf", work])


def load_duckdb(slad, work, store):
    """slad's stored verdicts as DuckDB tables: incidents as stored, clocks one row each (they
    are packed into their incident's row; `slad dump` prints them one per line)."""
    import duckdb

    db = sqlite3.connect(store)
    incidents = db.execute(
        "SELECT incident, contract, opened_at, opening_priority, handoffs, covered FROM incidents").fetchall()
    db.close()
    dump = subprocess.run([slad, "dump", "--state", os.path.dirname(store)], check=True, capture_output=True,
                          text=True).stdout
    section = dump.split("# clocks\n", 1)[1].split("\n# ", 1)[0]
    clocks_csv = f"{work}/clocks.csv"
    with open(clocks_csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["incident", "metric", "priority", "target", "elapsed", "stopped_at", "breached_at",
                    "breach_priority", "breach_target"])
        for line in section.splitlines():
            c = [None if v == "∅" else v for v in line.split("|")]
            w.writerow([c[0], c[1], c[2], c[4], c[5], c[6], c[7], c[11], c[12]])
    con = duckdb.connect(f"{work}/verdicts.duckdb")
    con.execute("CREATE TABLE incidents (incident VARCHAR, contract VARCHAR, opened_at BIGINT, "
                "opening_priority VARCHAR, handoffs BIGINT, covered BIGINT)")
    load_incidents(con, incidents, work)
    con.execute(f"""CREATE TABLE clocks AS SELECT * FROM read_csv('{clocks_csv}', header = true,
        columns = {{'incident': 'VARCHAR', 'metric': 'VARCHAR', 'priority': 'VARCHAR', 'target': 'BIGINT',
                   'elapsed': 'BIGINT', 'stopped_at': 'BIGINT', 'breached_at': 'BIGINT',
                   'breach_priority': 'VARCHAR', 'breach_target': 'BIGINT'}})""")
    con.execute("CHECKPOINT")
    con.close()


def load_incidents(con, rows, work):
    path = f"{work}/incidents.csv"
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    con.execute(f"""INSERT INTO incidents SELECT * FROM read_csv('{path}', header = false,
        columns = {{'incident': 'VARCHAR', 'contract': 'VARCHAR', 'opened_at': 'BIGINT',
                   'opening_priority': 'VARCHAR', 'handoffs': 'BIGINT', 'covered': 'BIGINT'}})""")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] in ("--duckdb-raw", "--duckdb-store"):
        duckdb_side(sys.argv[1][len("--duckdb-"):], sys.argv[2], sys.argv[3])
    else:
        main()
