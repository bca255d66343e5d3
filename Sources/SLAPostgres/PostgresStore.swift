import Logging
import PostgresNIO
import SLAConfig
import SLACore
import SLAStore
import Synchronization

/// slad's persistent state on PostgreSQL: the SQLite store's tables and meaning (`SLAStore`),
/// written by the leader only, every batch in one transaction behind the fence of its lease.
///
/// It holds one connection, which runs one transaction at a time: one caller at a time per
/// store, and a store per thread of work (the SQLite store's writer and readers likewise).
/// The daemon does not run on it yet (docs/ha.md).
public final class PostgresStore: Sendable {
    private let held: Mutex<PostgresConnection>
    private let location: PostgresLocation
    private let idleInTransaction: Duration?
    let logger: Logger

    /// Connects to `location` and brings its schema to this build's; with `migrate: false` (a
    /// reader) the schema must be this build's already.
    ///
    /// With `idleInTransaction`, the server ends this connection's session when it sits that
    /// long inside a transaction: a leader stopped (SIGSTOP, a stalled VM) in the middle of a
    /// write keeps the lease row's share lock, and no other node could ever take the lease.
    /// The server's timeout frees it; the stopped leader's write is rolled back, and written
    /// again by the next leader from the sources.
    public static func open(
        _ location: PostgresLocation, logger: Logger, migrate: Bool = true, idleInTransaction: Duration? = nil
    ) async throws -> PostgresStore {
        let connection = try await connect(location, idleInTransaction: idleInTransaction, logger: logger)
        do {
            if migrate {
                try await PostgresSchema.migrate(connection, logger: logger)
            } else {
                try await PostgresSchema.requireCurrent(connection, logger: logger)
            }
        } catch {
            try? await connection.close()
            throw error
        }
        return PostgresStore(
            connection: connection, location: location, idleInTransaction: idleInTransaction, logger: logger)
    }

    /// A connection to `location` with the session's settings.
    private static func connect(
        _ location: PostgresLocation, idleInTransaction: Duration?, logger: Logger
    ) async throws -> PostgresConnection {
        let connection = try await location.connect(logger: logger)
        guard let idleInTransaction else { return connection }
        do {
            let ms = Int64(LeaderLease.milliseconds(idleInTransaction))
            try await connection.run(
                PostgresQuery(unsafeSQL: "SET idle_in_transaction_session_timeout = \(ms)"), logger: logger)
        } catch {
            try? await connection.close()
            throw error
        }
        return connection
    }

    private init(
        connection: PostgresConnection, location: PostgresLocation, idleInTransaction: Duration?, logger: Logger
    ) {
        held = Mutex(connection)
        self.location = location
        self.idleInTransaction = idleInTransaction
        self.logger = logger
    }

    /// Whether the server (or this side) has closed the connection the next call would use;
    /// the call replaces it first.
    public var isConnectionClosed: Bool { held.withLock { $0.isClosed } }

    /// Closes the connection.
    public func close() async throws { try await held.withLock { $0 }.close() }

    /// The connection, replaced first when the server closed it: postgres-nio never answers a
    /// query sent on a connection the server closed (`pg_terminate_backend`, a restart), it
    /// would wait forever.
    var connection: PostgresConnection {
        get async throws {
            let current = held.withLock { $0 }
            guard current.isClosed else { return current }
            let fresh = try await Self.connect(location, idleInTransaction: idleInTransaction, logger: logger)
            logger.notice("slad: reconnected to the PostgreSQL store", metadata: ["store": "\(location)"])
            held.withLock { $0 = fresh }
            return fresh
        }
    }

    /// Writes `batch` in one transaction under fencing token `token`: the same rows, with the
    /// same meaning, as `SLAStore.commit(_:)`. Throws ``StaleFencingToken`` and writes nothing
    /// when this node no longer leads.
    ///
    /// Rows go in per table as arrays (`unnest`), one statement a table, not one a row: a batch
    /// of a time-ordered log touches thousands of incidents, and each statement is a round trip.
    public func commit(_ batch: Batch, token: Int64) async throws {
        let logger = logger
        try await LeaderLease.fenced(on: try await connection, token: token, logger: logger) { c in
            if batch.stateMark == .behindFromHere {
                try await c.run(
                    """
                    INSERT INTO state_behind (after_seq)
                        SELECT coalesce(max(seq), 0) FROM ledger WHERE NOT EXISTS (SELECT 1 FROM state_behind)
                    """, logger: logger)
            }
            try await Self.insertEvents(batch.events, token: token, c, logger)
            for q in batch.quarantine {
                try await c.run(
                    """
                    INSERT INTO quarantine (source, fingerprint, "offset", line, field, reason, raw)
                    VALUES (\(q.source), \(q.fingerprint), \(q.offset), \(Int64(q.line)), \(q.field), \(q.reason), \(q.raw))
                    ON CONFLICT DO NOTHING
                    """, logger: logger)
            }
            for o in batch.offsets {
                let inode = Int64(bitPattern: o.inode)
                let tail = o.tail.map { Int64(bitPattern: $0) }
                try await c.run(
                    """
                    INSERT INTO source_offsets (source, fingerprint, path, inode, "offset", line, tail)
                    VALUES (\(o.source), \(o.fingerprint), \(o.path), \(inode), \(o.offset), \(Int64(o.line)), \(tail))
                    ON CONFLICT (source, fingerprint) DO UPDATE SET
                        path = excluded.path, inode = excluded.inode, "offset" = excluded."offset",
                        line = excluded.line, tail = excluded.tail
                    """, logger: logger)
            }
            try await Self.writeState(batch, c, logger)
            if batch.stateMark == .current { try await c.run("DELETE FROM state_behind", logger: logger) }
            if let snapshot = batch.liveSnapshot {
                try await c.run("DELETE FROM live_snapshot", logger: logger)
                try await c.run(
                    """
                    INSERT INTO live_snapshot (ledger_row, body)
                        SELECT coalesce(max(seq), 0), \(ByteBuffer(bytes: snapshot.encoded())) FROM ledger
                    """, logger: logger)
            }
            try await Self.insertNotifications(batch, token: token, c, logger)
            for (source, st) in batch.stats.sorted(by: { $0.key < $1.key }) {
                try await c.run(
                    """
                    INSERT INTO source_stats (source, lines, events, duplicates, quarantined, conflicts)
                    VALUES (\(source), \(Int64(st.lines)), \(Int64(st.events)), \(Int64(st.duplicates)),
                        \(Int64(st.quarantined)), \(Int64(st.conflicts)))
                    ON CONFLICT (source) DO UPDATE SET lines = source_stats.lines + excluded.lines,
                        events = source_stats.events + excluded.events,
                        duplicates = source_stats.duplicates + excluded.duplicates,
                        quarantined = source_stats.quarantined + excluded.quarantined,
                        conflicts = source_stats.conflicts + excluded.conflicts
                    """, logger: logger)
            }
        }
    }

    /// Each run of one source's events as one ledger row (the SQLite store's encoding), in
    /// arrival order; service events also into `service_events`.
    private static func insertEvents(
        _ events: [(event: SLAEvent, source: String)], token: Int64, _ c: PostgresConnection, _ logger: Logger
    ) async throws {
        guard !events.isEmpty else { return }
        var sources: [String] = []
        var runs: [ByteBuffer] = []
        var start = 0
        var packed: [UInt8] = []
        while start < events.count {
            let source = events[start].source
            var end = start + 1
            while end < events.count && events[end].source == source { end += 1 }
            packed.removeAll(keepingCapacity: true)
            PackedEvents.encode(events[start..<end].lazy.map(\.event), into: &packed)
            sources.append(source)
            runs.append(ByteBuffer(bytes: packed))
            start = end
        }
        try await c.run(
            """
            INSERT INTO ledger (source, events, token)
                SELECT s, e, \(token) FROM unnest(\(sources)::text[], \(runs)::bytea[]) WITH ORDINALITY AS r(s, e, k)
                ORDER BY k
            """, logger: logger)
        let service = events.map(\.event).filter { $0.incident == nil }
        guard !service.isEmpty else { return }
        let ids = service.map(\.id)
        let times = service.map(\.time.seconds)
        let types = service.map(\.type.rawValue)
        let names = service.map { $0.service ?? "" }
        let named = service.map { $0.service != nil }
        try await c.run(
            """
            INSERT INTO service_events (id, time, type, service)
                SELECT i, t, y, CASE WHEN h THEN s END
                FROM unnest(\(ids)::text[], \(times)::bigint[], \(types)::text[], \(names)::text[], \(named)::bool[])
                    AS r(i, t, y, s, h)
            ON CONFLICT DO NOTHING
            """, logger: logger)
    }

    /// Replaces the state of the incidents a batch touched, as the SQLite store does.
    private static func writeState(_ batch: Batch, _ c: PostgresConnection, _ logger: Logger) async throws {
        let touched = batch.incidents.map(\.incident) + batch.unevaluated
        if !batch.unevaluated.isEmpty {
            try await c.run(
                "DELETE FROM incidents WHERE incident = ANY(\(batch.unevaluated)::text[])", logger: logger)
        }
        if !touched.isEmpty {
            try await c.run("DELETE FROM breaches WHERE incident = ANY(\(touched)::text[])", logger: logger)
            try await c.run("DELETE FROM rejections WHERE incident = ANY(\(touched)::text[])", logger: logger)
        }
        if !batch.incidents.isEmpty {
            let v = batch.incidents
            var clocks: [ByteBuffer] = []
            var settled: [Int64] = []
            var packed: [UInt8] = []
            for incident in v {
                packed.removeAll(keepingCapacity: true)
                PackedClocks.encode(incident.clocks, into: &packed)
                clocks.append(ByteBuffer(bytes: packed))
                settled.append(PackedClocks.settledAt(incident.clocks) ?? Int64.min)
            }
            let (ids, contracts) = (v.map(\.incident), v.map(\.contract))
            let (services, hasService) = (v.map { $0.service ?? "" }, v.map { $0.service != nil })
            let openedAt = v.map(\.openedAt.seconds)
            let (opening, priority) = (v.map(\.openingPriority), v.map(\.priority))
            let status = v.map(\.status.rawValue)
            let handoffs = v.map { Int64($0.handoffs) }
            let covered = v.map { Int64($0.covered ? 1 : 0) }
            let asOf = v.map(\.asOf.seconds)
            // Int64.min stands for "not settled": unnest has no arrays of optionals here.
            try await c.run(
                """
                INSERT INTO incidents (incident, contract, service, opened_at, opening_priority, priority, status,
                    handoffs, covered, as_of, clocks, settled_at)
                SELECT i, c, CASE WHEN hs THEN s END, o, op, p, st, h, cv, a, k, NULLIF(se, -9223372036854775808)
                FROM unnest(\(ids)::text[], \(contracts)::text[], \(services)::text[], \(hasService)::bool[],
                    \(openedAt)::bigint[], \(opening)::text[], \(priority)::text[], \(status)::text[],
                    \(handoffs)::bigint[], \(covered)::bigint[], \(asOf)::bigint[], \(clocks)::bytea[],
                    \(settled)::bigint[]) AS r(i, c, s, hs, o, op, p, st, h, cv, a, k, se)
                ON CONFLICT (incident) DO UPDATE SET contract = excluded.contract, service = excluded.service,
                    opened_at = excluded.opened_at, opening_priority = excluded.opening_priority,
                    priority = excluded.priority, status = excluded.status, handoffs = excluded.handoffs,
                    covered = excluded.covered, as_of = excluded.as_of, clocks = excluded.clocks,
                    settled_at = excluded.settled_at
                """, logger: logger)
        }
        // The breach list is of what customers were promised: OLA holds are not in it.
        var breach:
            (
                incident: [String], metric: [String], at: [Int64], priority: [String], target: [Int64],
                elapsed: [Int64]
            ) = ([], [], [], [], [], [])
        for v in batch.incidents {
            for clock in v.clocks where !clock.metric.isOLA {
                guard let first = ClockVerdict.firstBreach(in: clock.crossings) else { continue }
                breach.incident.append(v.incident)
                breach.metric.append(clock.metric.description)
                breach.at.append(first.at.seconds)
                breach.priority.append(clock.priority)
                breach.target.append(clock.target ?? Int64.min)
                breach.elapsed.append(clock.elapsed)
            }
        }
        if !breach.incident.isEmpty {
            try await c.run(
                """
                INSERT INTO breaches (incident, metric, breached_at, priority, target, elapsed)
                SELECT i, m, b, p, NULLIF(t, -9223372036854775808), e
                FROM unnest(\(breach.incident)::text[], \(breach.metric)::text[], \(breach.at)::bigint[],
                    \(breach.priority)::text[], \(breach.target)::bigint[], \(breach.elapsed)::bigint[])
                    AS r(i, m, b, p, t, e)
                ON CONFLICT (incident, metric) DO UPDATE SET breached_at = excluded.breached_at,
                    priority = excluded.priority, target = excluded.target, elapsed = excluded.elapsed
                """, logger: logger)
        }
        for r in batch.rejections {
            try await c.run(
                """
                INSERT INTO rejections (event_id, incident, reason, detail)
                VALUES (\(r.event.id), \(r.event.incident), \(r.reason.rawValue), \(r.detail))
                ON CONFLICT (event_id) DO UPDATE SET incident = excluded.incident, reason = excluded.reason,
                    detail = excluded.detail
                """, logger: logger)
        }
    }

    /// New notifications into the outbox under `token`, each with a delivery row per sink; one
    /// already there (decided again after a takeover or a crash) keeps its rows.
    private static func insertNotifications(
        _ batch: Batch, token: Int64, _ c: PostgresConnection, _ logger: Logger
    ) async throws {
        for n in batch.notifications {
            let deadline = n.deadline?.seconds
            var inserted = false
            for try await _ in try await c.query(
                """
                INSERT INTO outbox (id, kind, incident, contract, metric, priority, percent, target, due_at,
                    decided_at_ms, late, notify, customer, elapsed, deadline, token)
                VALUES (\(n.id), \(n.kind.rawValue), \(n.incident), \(n.contract), \(n.metric.description),
                    \(n.priority), \(n.percent.description), \(n.target), \(n.due.seconds), \(n.decidedAtMilliseconds),
                    \(n.late ? 1 : 0), \(n.notify.joined(separator: ",")), \(n.customer), \(n.elapsed), \(deadline),
                    \(token))
                ON CONFLICT (id) DO NOTHING
                RETURNING 1
                """, logger: logger)
            {
                inserted = true
            }
            guard inserted else { continue }
            let sinks = ["journal"] + n.notify
            var states = Array(repeating: "pending", count: sinks.count)
            var next = Array(repeating: n.decidedAtMilliseconds, count: sinks.count)
            var done = Array(repeating: Int64.min, count: sinks.count)
            var attempts = Array(repeating: Int64(0), count: sinks.count)
            if let at = batch.journaled[n.id] {
                (states[0], next[0], done[0], attempts[0]) = ("delivered", at, at, 1)
            }
            try await c.run(
                """
                INSERT INTO deliveries (sink, notification, state, next_attempt_ms, done_ms, attempts)
                SELECT s, \(n.id), st, na, NULLIF(d, -9223372036854775808), a
                FROM unnest(\(sinks)::text[], \(states)::text[], \(next)::bigint[], \(done)::bigint[],
                    \(attempts)::bigint[]) WITH ORDINALITY AS r(s, st, na, d, a, k)
                ORDER BY k
                ON CONFLICT DO NOTHING
                """, logger: logger)
        }
    }

    /// The durable state as text, in the format of `SLAStore.canonicalDump()`: equal dumps mean
    /// equal ledgers, incident states, verdicts, quarantine and offsets, whichever store holds them.
    public func canonicalDump() async throws -> String {
        let connection = try await connection
        var out = "# events\n"
        var lines: [(id: String, line: String)] = []
        try await forEachEventRun { source, events in
            for e in events { lines.append((e.id, DumpLines.event(e, source: source))) }
        }
        lines.sort { $0.id.utf8.lexicographicallyPrecedes($1.id.utf8) }
        for l in lines { out += l.line + "\n" }
        try await dump(
            "incidents",
            """
            SELECT incident, contract, service, opened_at::text, opening_priority, priority, status, handoffs::text,
                covered::text, as_of::text, settled_at::text
            FROM incidents ORDER BY incident COLLATE "C"
            """, 11, into: &out)
        out += "# clocks\n"
        let clocks = try await connection.query(
            "SELECT incident, clocks FROM incidents ORDER BY incident COLLATE \"C\"", logger: logger)
        for try await (incident, bytes) in clocks.decode((String, ByteBuffer).self) {
            let rows = try Array(bytes.readableBytesView).withUnsafeBufferPointer {
                try PackedClocks.rows($0, incident: incident)
            }
            for c in rows { out += DumpLines.clock(c, incident: incident) + "\n" }
        }
        try await dump(
            "breaches",
            """
            SELECT incident, metric, breached_at::text, priority, target::text, elapsed::text FROM breaches
            ORDER BY incident COLLATE "C", metric COLLATE "C"
            """, 6, into: &out)
        try await dump(
            "rejections",
            "SELECT event_id, incident, reason, detail FROM rejections ORDER BY event_id COLLATE \"C\"", 4, into: &out)
        try await dump(
            "quarantine",
            """
            SELECT source, fingerprint, "offset"::text, line::text, field, reason, raw FROM quarantine
            ORDER BY source COLLATE "C", fingerprint COLLATE "C", quarantine."offset"
            """, 7, into: &out)
        try await dump(
            "offsets",
            """
            SELECT source, fingerprint, "offset"::text, line::text FROM source_offsets
            ORDER BY source COLLATE "C", fingerprint COLLATE "C"
            """, 4, into: &out)
        return out
    }

    /// Appends a titled section of the rows of `sql`, whose `columns` columns are all text.
    private func dump(_ title: String, _ sql: String, _ columns: Int, into out: inout String) async throws {
        out += "# \(title)\n"
        for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger) {
            let cells = row.makeRandomAccess()
            out += DumpLines.line(try (0..<columns).map { try cells[$0].decode(String?.self) }) + "\n"
        }
    }
}
