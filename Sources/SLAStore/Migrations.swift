import Foundation
import GRDB
import SLACore

/// The store's schema, as named migrations. Never edit a shipped migration: add one.
enum Migrations {
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1-ledger") { db in
            // The event ledger: one row per event identity (one B-tree, keyed by it); `seq` keeps
            // arrival order. No index by incident until a query needs one: every index costs ingest.
            try db.execute(
                sql: """
                    CREATE TABLE events (
                        id TEXT PRIMARY KEY,
                        seq INTEGER NOT NULL,
                        source TEXT NOT NULL,
                        time INTEGER NOT NULL,
                        type TEXT NOT NULL,
                        incident TEXT, contract TEXT, service TEXT, priority TEXT, status TEXT,
                        assignee TEXT, team TEXT, level TEXT, due INTEGER, promise TEXT
                    ) WITHOUT ROWID;
                    CREATE TABLE source_offsets (
                        source TEXT NOT NULL,
                        fingerprint TEXT NOT NULL,
                        path TEXT NOT NULL,
                        inode INTEGER NOT NULL,
                        offset INTEGER NOT NULL,
                        line INTEGER NOT NULL,
                        PRIMARY KEY (source, fingerprint)
                    ) WITHOUT ROWID;
                    CREATE TABLE quarantine (
                        source TEXT NOT NULL,
                        fingerprint TEXT NOT NULL,
                        offset INTEGER NOT NULL,
                        line INTEGER NOT NULL,
                        field TEXT,
                        reason TEXT NOT NULL,
                        raw TEXT NOT NULL,
                        PRIMARY KEY (source, fingerprint, offset)
                    ) WITHOUT ROWID;
                    CREATE TABLE incidents (
                        incident TEXT PRIMARY KEY,
                        contract TEXT NOT NULL,
                        service TEXT,
                        opened_at INTEGER NOT NULL,
                        opening_priority TEXT NOT NULL,
                        priority TEXT NOT NULL,
                        status TEXT NOT NULL,
                        handoffs INTEGER NOT NULL,
                        covered INTEGER NOT NULL,
                        as_of INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    CREATE TABLE clocks (
                        incident TEXT NOT NULL,
                        metric TEXT NOT NULL,
                        priority TEXT NOT NULL,
                        outcome TEXT NOT NULL,
                        target INTEGER,
                        elapsed INTEGER NOT NULL,
                        stopped_at INTEGER,
                        breached_at INTEGER,
                        deadline INTEGER,
                        PRIMARY KEY (incident, metric)
                    ) WITHOUT ROWID;
                    CREATE TABLE rejections (
                        event_id TEXT PRIMARY KEY,
                        incident TEXT,
                        reason TEXT NOT NULL,
                        detail TEXT NOT NULL
                    ) WITHOUT ROWID;
                    CREATE INDEX rejections_incident ON rejections(incident);
                    CREATE TABLE source_stats (
                        source TEXT PRIMARY KEY,
                        lines INTEGER NOT NULL,
                        events INTEGER NOT NULL,
                        duplicates INTEGER NOT NULL,
                        quarantined INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    CREATE TABLE outbox (
                        id TEXT PRIMARY KEY,
                        kind TEXT NOT NULL,
                        incident TEXT NOT NULL,
                        contract TEXT NOT NULL,
                        metric TEXT NOT NULL,
                        priority TEXT NOT NULL,
                        percent TEXT NOT NULL,
                        target INTEGER NOT NULL,
                        due_at INTEGER NOT NULL,
                        decided_at_ms INTEGER NOT NULL,
                        late INTEGER NOT NULL,
                        notify TEXT NOT NULL,
                        delivered_at_ms INTEGER,
                        attempts INTEGER NOT NULL DEFAULT 0
                    ) WITHOUT ROWID;
                    """)
        }
        m.registerMigration("v2-deliveries") { db in
            // The outbox keeps what a message needs (customer, elapsed, deadline); delivery state is
            // per sink, so a dead webhook never holds back the journal or another endpoint.
            try db.execute(
                sql: """
                    ALTER TABLE outbox ADD COLUMN customer TEXT NOT NULL DEFAULT '';
                    ALTER TABLE outbox ADD COLUMN elapsed INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE outbox ADD COLUMN deadline INTEGER;
                    CREATE TABLE deliveries (
                        seq INTEGER PRIMARY KEY,
                        sink TEXT NOT NULL,
                        notification TEXT NOT NULL REFERENCES outbox(id),
                        state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'skipped')),
                        attempts INTEGER NOT NULL DEFAULT 0,
                        next_attempt_ms INTEGER NOT NULL,
                        done_ms INTEGER,
                        last_error TEXT,
                        UNIQUE (sink, notification)
                    );
                    CREATE INDEX deliveries_pending ON deliveries(sink, seq) WHERE state = 'pending';
                    INSERT INTO deliveries (sink, notification, state, next_attempt_ms)
                        SELECT 'journal', id, 'pending', decided_at_ms FROM outbox ORDER BY decided_at_ms, id;
                    """)
            // Webhook names of outbox rows from before this migration.
            let rows = try Row.fetchAll(
                db, sql: "SELECT id, notify, decided_at_ms FROM outbox ORDER BY decided_at_ms, id")
            for row in rows {
                let notify: String = row[1]
                for sink in notify.split(separator: ",") {
                    try db.execute(
                        sql:
                            "INSERT INTO deliveries (sink, notification, state, next_attempt_ms) VALUES (?, ?, 'pending', ?)",
                        arguments: [String(sink), row[0] as String, row[2] as Int64])
                }
            }
        }
        m.registerMigration("v3-breach-index") { db in
            // The control socket lists breaches by time; a partial index holds breached clocks only,
            // so clocks that never breach (most) cost ingest nothing.
            try db.execute(
                sql: "CREATE INDEX clocks_breached ON clocks(breached_at) WHERE breached_at IS NOT NULL")
        }
        m.registerMigration("v4-reports") { db in
            // Reports read stored verdicts and advance running clocks to the report instant, which
            // needs each clock's running stretch and calendar, and the breach's own priority and
            // target (a later priority change re-targets the clock, not the breach). Service events
            // (no incident) get a partial index: reports read them all, ingest of incident events
            // pays nothing. Sealed months keep their report as JSON with its hash; adjustments record
            // which month carried a correction of a sealed one, so it is carried once.
            try db.execute(
                sql: """
                    ALTER TABLE clocks ADD COLUMN running_since INTEGER;
                    ALTER TABLE clocks ADD COLUMN calendar TEXT NOT NULL DEFAULT '';
                    ALTER TABLE clocks ADD COLUMN breach_priority TEXT;
                    ALTER TABLE clocks ADD COLUMN breach_target INTEGER;
                    UPDATE clocks SET breach_priority = priority, breach_target = target WHERE breached_at IS NOT NULL;
                    UPDATE clocks SET running_since = (SELECT as_of FROM incidents i WHERE i.incident = clocks.incident)
                        WHERE outcome = 'running';
                    CREATE INDEX events_service ON events(time) WHERE incident IS NULL;
                    CREATE TABLE sealed_reports (
                        contract TEXT NOT NULL,
                        month TEXT NOT NULL,
                        sealed_at_ms INTEGER NOT NULL,
                        sha256 TEXT NOT NULL,
                        total_minor INTEGER NOT NULL,
                        currency TEXT NOT NULL,
                        body BLOB NOT NULL,
                        PRIMARY KEY (contract, month)
                    ) WITHOUT ROWID;
                    CREATE TABLE report_adjustments (
                        contract TEXT NOT NULL,
                        sealed_month TEXT NOT NULL,
                        applied_month TEXT NOT NULL,
                        amount_minor INTEGER NOT NULL,
                        PRIMARY KEY (contract, sealed_month, applied_month)
                    ) WITHOUT ROWID;
                    """)
        }
        m.registerMigration("v5-clocks-in-row") { db in
            // An incident's clocks move into its own row (`PackedClocks`): reports read one row
            // per incident instead of joining one per clock, and ingest writes one row per
            // touched incident. `settled_at` (when the last clock was decided; NULL while one is
            // not) lets a report skip incidents of earlier months without decoding them. The
            // control socket's breach list keeps a table of breached clocks only.
            try db.execute(
                sql: """
                    ALTER TABLE incidents ADD COLUMN clocks BLOB NOT NULL DEFAULT x'';
                    ALTER TABLE incidents ADD COLUMN settled_at INTEGER;
                    CREATE TABLE breaches (
                        incident TEXT NOT NULL,
                        metric TEXT NOT NULL,
                        breached_at INTEGER NOT NULL,
                        priority TEXT NOT NULL,
                        target INTEGER,
                        elapsed INTEGER NOT NULL,
                        PRIMARY KEY (incident, metric)
                    ) WITHOUT ROWID;
                    CREATE INDEX breaches_time ON breaches(breached_at);
                    INSERT INTO breaches (incident, metric, breached_at, priority, target, elapsed)
                        SELECT incident, metric, breached_at, priority, target, elapsed FROM clocks
                        WHERE breached_at IS NOT NULL;
                    """)
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT incident, metric, priority, outcome, target, elapsed, stopped_at, breached_at, deadline,
                        running_since, calendar, breach_priority, breach_target
                    FROM clocks ORDER BY incident, metric
                    """)
            let update = try db.makeStatement(sql: "UPDATE incidents SET clocks = ?, settled_at = ? WHERE incident = ?")
            var incident: String?
            var clocks: [PackedClocks.Row] = []
            func flush() throws {
                guard let incident else { return }
                var bytes: [UInt8] = []
                PackedClocks.encode(clocks, into: &bytes)
                try update.execute(arguments: [Data(bytes), PackedClocks.settledAt(clocks), incident])
            }
            while let r = try rows.next() {
                let id: String = r[0]
                if id != incident {
                    try flush()
                    incident = id
                    clocks.removeAll(keepingCapacity: true)
                }
                let priority: String = r[2]
                let breachedAt: Int64? = r[7]
                let target: Int64? = r[4]
                clocks.append(
                    PackedClocks.Row(
                        metric: r[1], priority: priority, outcome: r[3], target: target, elapsed: r[5],
                        stoppedAt: r[6], breachedAt: breachedAt, deadline: r[8], runningSince: r[9], calendar: r[10],
                        breachPriority: breachedAt == nil ? nil : (r[11] as String?) ?? priority,
                        breachTarget: breachedAt == nil ? nil : (r[12] as Int64?) ?? target))
            }
            try flush()
            try db.execute(sql: "DROP TABLE clocks")
        }
        m.registerMigration("v6-ledger-in-runs") { db in
            // The ledger moves from a row per event, keyed by its id, to a row per run of one
            // source's events (`PackedEvents`): a B-tree entry of fifteen columns per event
            // was most of a durable batch's cost. Identity is the
            // engine's, which loads every id from the ledger at start; service events, which
            // reports read, get a small table of their own.
            try db.execute(
                sql: """
                    CREATE TABLE ledger (
                        seq INTEGER PRIMARY KEY,
                        source TEXT NOT NULL,
                        events BLOB NOT NULL
                    );
                    CREATE TABLE service_events (
                        id TEXT PRIMARY KEY,
                        time INTEGER NOT NULL,
                        type TEXT NOT NULL,
                        service TEXT
                    ) WITHOUT ROWID;
                    INSERT INTO service_events (id, time, type, service)
                        SELECT id, time, type, service FROM events WHERE incident IS NULL;
                    """)
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT id, source, time, type, incident, contract, service, priority, status, assignee, team,
                        level, due, promise
                    FROM events ORDER BY seq
                    """)
            let insert = try db.makeStatement(sql: "INSERT INTO ledger (source, events) VALUES (?, ?)")
            var run: (source: String, events: [SLAEvent])?
            func flush() throws {
                guard let r = run, !r.events.isEmpty else { return }
                var bytes: [UInt8] = []
                PackedEvents.encode(r.events, into: &bytes)
                try insert.execute(arguments: [r.source, Data(bytes)])
            }
            while let r = try rows.next() {
                let source: String = r[1]
                // Every stored type was decoded from one; the old reader skipped any other.
                guard let type = EventType(rawValue: r[3]) else { continue }
                let due: Int64? = r[12]
                let e = SLAEvent(
                    id: r[0], time: Instant(r[2] as Int64), type: type, incident: r[4], contract: r[5], service: r[6],
                    priority: r[7], status: r[8], assignee: r[9], team: r[10], level: r[11],
                    due: due.map(Instant.init), promise: r[13])
                if run?.source != source || run!.events.count >= 20_000 {
                    try flush()
                    run = (source, [])
                }
                run!.events.append(e)
            }
            try flush()
            try db.execute(sql: "DROP TABLE events")
        }
        m.registerMigration("v7-source-tail-and-conflicts") { db in
            // The hash of the last line read of each file: a file found under another inode
            // continues a saved position only when it holds that line at the saved offset.
            try db.execute(sql: "ALTER TABLE source_offsets ADD COLUMN tail INTEGER")
            // Events whose id was known with other content, per source.
            try db.execute(sql: "ALTER TABLE source_stats ADD COLUMN conflicts INTEGER NOT NULL DEFAULT 0")
        }
        m.registerMigration("v8-incidents-by-contract") { db in
            // Reports and sealing read the incidents of one contract that matter for a month:
            // those not settled before it starts, opened before it ends (reportQuery). Without an
            // index each read scanned every incident of every contract: 100 contracts and a year of
            // history were 1,200 months to seal, each a scan of the whole table. Settled incidents
            // are keyed by when they settled, open ones last, so a month long past reads what
            // settled since then only from the index, and the month's own rows from the table.
            try db.execute(
                sql: """
                    CREATE INDEX incidents_report ON incidents(
                        contract, coalesce(settled_at, 9223372036854775807), opened_at)
                    """)
        }
        m.registerMigration("v9-state-behind") { db in
            // At most one row: the last ledger row whose incidents' stored state is current,
            // while later ones wait to be written (Batch.StateMark). None: all is current.
            try db.execute(sql: "CREATE TABLE state_behind (after_seq INTEGER NOT NULL)")
        }
        m.registerMigration("v10-live-snapshot") { db in
            // At most one row: the live engine's state as the daemon stopped (LiveSnapshot),
            // valid while the ledger ends at `ledger_row`.
            try db.execute(sql: "CREATE TABLE live_snapshot (ledger_row INTEGER NOT NULL, body BLOB NOT NULL)")
        }
        return m
    }
}
