import Foundation
import GRDB
import GRDBSQLite
import SLACore

/// slad's persistent state on SQLite (WAL): the event ledger, incident state,
/// source offsets, quarantine and the outbox.
///
/// Every ingest batch is one transaction: the events, the state they lead to,
/// the quarantined lines and the offsets reached commit together or not at
/// all, so a crash at any instant leaves a store that a restart continues from
/// without losing or doubling anything.
public final class SLAStore: Sendable {
    /// The database; GRDB serializes access.
    let queue: DatabaseQueue

    /// Opens (creating and migrating when needed) the store at `path`.
    public init(path: String) throws {
        var config = Configuration()
        config.prepareDatabase { db in
            // WAL: readers (reports, the control socket) never block the writer.
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            // FULL: a committed batch survives power loss, not only a crash.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        queue = try DatabaseQueue(path: path, configuration: config)
        try Migrations.migrator.migrate(queue)
    }

    /// Writes a batch in one transaction.
    public func commit(_ batch: Batch) throws {
        try queue.inTransaction { db in
            try Self.insertEvents(batch.events, db)
            for q in batch.quarantine {
                try db.execute(
                    sql: """
                        INSERT OR IGNORE INTO quarantine (source, fingerprint, offset, line, field, reason, raw)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        """, arguments: [q.source, q.fingerprint, q.offset, q.line, q.field, q.reason, q.raw])
            }
            for o in batch.offsets {
                try db.execute(
                    sql: """
                        INSERT INTO source_offsets (source, fingerprint, path, inode, offset, line) VALUES (?, ?, ?, ?, ?, ?)
                        ON CONFLICT (source, fingerprint) DO UPDATE SET
                            path = excluded.path, inode = excluded.inode, offset = excluded.offset, line = excluded.line
                        """, arguments: [o.source, o.fingerprint, o.path, Int64(bitPattern: o.inode), o.offset, o.line])
            }
            try Self.writeState(batch, db)
            for (source, st) in batch.stats {
                try db.execute(
                    sql: """
                        INSERT INTO source_stats (source, lines, events, duplicates, quarantined) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT (source) DO UPDATE SET lines = lines + excluded.lines, events = events + excluded.events,
                            duplicates = duplicates + excluded.duplicates, quarantined = quarantined + excluded.quarantined
                        """, arguments: [source, st.lines, st.events, st.duplicates, st.quarantined])
            }
            return .commit
        }
    }

    /// Inserts events with one prepared statement bound through the SQLite C API: the ingest hot path.
    static func insertEvents(_ events: [(event: SLAEvent, source: String)], _ db: Database) throws {
        guard !events.isEmpty else { return }
        let statement = try db.cachedStatement(
            sql: """
                INSERT OR IGNORE INTO events
                    (id, source, time, type, incident, contract, service, priority, status, assignee, team, level, due, promise)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        let s = statement.sqliteStatement
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        func bind(_ index: Int32, _ text: String?) {
            guard let text else {
                sqlite3_bind_null(s, index)
                return
            }
            var copy = text
            copy.withUTF8 { buffer in
                _ = sqlite3_bind_text(s, index, buffer.baseAddress, Int32(buffer.count), transient)
            }
        }
        for (e, source) in events {
            sqlite3_reset(s)
            bind(1, e.id)
            bind(2, source)
            sqlite3_bind_int64(s, 3, e.time.seconds)
            bind(4, e.type.rawValue)
            bind(5, e.incident)
            bind(6, e.contract)
            bind(7, e.service)
            bind(8, e.priority)
            bind(9, e.status)
            bind(10, e.assignee)
            bind(11, e.team)
            bind(12, e.level)
            if let due = e.due { sqlite3_bind_int64(s, 13, due.seconds) } else { sqlite3_bind_null(s, 13) }
            bind(14, e.promise)
            let rc = sqlite3_step(s)
            guard rc == SQLITE_DONE else {
                throw DatabaseError(
                    resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
            }
        }
        sqlite3_reset(s)
    }

    /// Replaces the state of the incidents a batch touched.
    static func writeState(_ batch: Batch, _ db: Database) throws {
        let touched = batch.incidents.map(\.incident) + batch.unevaluated
        for incident in touched {
            try db.execute(sql: "DELETE FROM clocks WHERE incident = ?", arguments: [incident])
            try db.execute(sql: "DELETE FROM rejections WHERE incident = ?", arguments: [incident])
            try db.execute(sql: "DELETE FROM incidents WHERE incident = ?", arguments: [incident])
        }
        for v in batch.incidents {
            try db.execute(
                sql: """
                    INSERT INTO incidents
                        (incident, contract, service, opened_at, opening_priority, priority, status, handoffs, covered, as_of)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    v.incident, v.contract, v.service, v.openedAt.seconds, v.openingPriority, v.priority,
                    v.status.rawValue, v.handoffs, v.covered, v.asOf.seconds,
                ])
            for c in v.clocks {
                try db.execute(
                    sql: """
                        INSERT INTO clocks (incident, metric, priority, outcome, target, elapsed, stopped_at, breached_at, deadline)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        v.incident, c.metric.description, c.priority, c.outcome.rawValue, c.target, c.elapsed,
                        c.stoppedAt?.seconds, c.breach?.at.seconds, c.deadline?.seconds,
                    ])
            }
        }
        for r in batch.rejections {
            try db.execute(
                sql: "INSERT OR REPLACE INTO rejections (event_id, incident, reason, detail) VALUES (?, ?, ?, ?)",
                arguments: [r.event.id, r.event.incident, r.reason.rawValue, r.detail])
        }
    }

    /// Every event in arrival order.
    public func events() throws -> [(event: SLAEvent, source: String)] {
        try queue.read { db in
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT id, source, time, type, incident, contract, service, priority, status, assignee, team, level, due, promise
                    FROM events ORDER BY seq
                    """)
            var out: [(SLAEvent, String)] = []
            while let r = try rows.next() {
                guard let type = EventType(rawValue: r[3]) else { continue }
                let due: Int64? = r[12]
                out.append(
                    (
                        SLAEvent(
                            id: r[0], time: Instant(r[2]), type: type, incident: r[4], contract: r[5], service: r[6],
                            priority: r[7], status: r[8], assignee: r[9], team: r[10], level: r[11],
                            due: due.map(Instant.init), promise: r[13]), r[1]
                    ))
            }
            return out
        }
    }

    /// Saved offsets of every file of every source.
    public func offsets() throws -> [SourceOffset] {
        try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT source, fingerprint, path, inode, offset, line FROM source_offsets").map {
                SourceOffset(
                    source: $0[0], fingerprint: $0[1], path: $0[2], inode: UInt64(bitPattern: $0[3]), offset: $0[4],
                    line: $0[5])
            }
        }
    }

    /// Counters per source since the store was created.
    public func sourceStats() throws -> [String: SourceStats] {
        try queue.read { db in
            var out: [String: SourceStats] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT source, lines, events, duplicates, quarantined FROM source_stats")
            {
                var st = SourceStats()
                st.lines = row[1]
                st.events = row[2]
                st.duplicates = row[3]
                st.quarantined = row[4]
                out[row[0]] = st
            }
            return out
        }
    }

    /// Quarantined lines per reason.
    public func quarantineCounts() throws -> [String: Int] {
        try queue.read { db in
            var out: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT reason, COUNT(*) FROM quarantine GROUP BY reason") {
                out[row[0]] = row[1]
            }
            return out
        }
    }

    /// A value as dump text: `∅` for null, numbers and text as they are (`|`, `\` and newlines escaped).
    static func dumpText(_ value: DatabaseValue) -> String {
        switch value.storage {
        case .null: return "∅"
        case .int64(let i): return String(i)
        case .double(let d): return String(d)
        case .string(let s):
            return s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "|", with: "\\|")
                .replacingOccurrences(of: "\n", with: "\\n")
        case .blob(let b): return "x'" + b.map { String(format: "%02x", $0) }.joined() + "'"
        }
    }

    /// A canonical text dump of the durable state (not of arrival order):
    /// equal dumps mean equal ledgers, incident states, verdicts, quarantine and offsets.
    public func canonicalDump() throws -> String {
        try queue.read { db in
            var out = ""
            func dump(_ title: String, _ sql: String) throws {
                out += "# \(title)\n"
                let rows = try Row.fetchCursor(db, sql: sql)
                while let row = try rows.next() {
                    out += row.databaseValues.map(Self.dumpText).joined(separator: "|") + "\n"
                }
            }
            try dump(
                "events",
                "SELECT id, source, time, type, incident, contract, service, priority, status, assignee, team, level, due, promise FROM events ORDER BY id"
            )
            try dump("incidents", "SELECT * FROM incidents ORDER BY incident")
            try dump("clocks", "SELECT * FROM clocks ORDER BY incident, metric")
            try dump("rejections", "SELECT * FROM rejections ORDER BY event_id")
            try dump("quarantine", "SELECT * FROM quarantine ORDER BY source, fingerprint, offset")
            try dump(
                "offsets", "SELECT source, fingerprint, offset, line FROM source_offsets ORDER BY source, fingerprint")
            return out
        }
    }
}
