import Logging
import PostgresNIO
import SLACore
import SLAStore

/// What the daemon reads back from its store at a restart and while it delivers, with the
/// answers of the SQLite store's methods of the same names (`SLAStore`), and the deliveries'
/// writes, fenced like every write of a leader.
extension PostgresStore {
    /// Calls `body` with each ledger row's source and events in arrival order, from the row
    /// after `after`: a run at a time, never the whole ledger at once.
    public func forEachEventRun(after: Int64 = 0, _ body: (String, [SLAEvent]) throws -> Void) async throws {
        let rows = try await connection.query(
            "SELECT seq, source, events FROM ledger WHERE seq > \(after) ORDER BY seq", logger: logger)
        for try await (seq, source, bytes) in rows.decode((Int64, String, ByteBuffer).self) {
            try body(source, try Self.events(bytes, row: seq))
        }
    }

    /// The events of ledger row `row`, packed in `bytes`; a damaged row is named in the error.
    static func events(_ bytes: ByteBuffer, row: Int64) throws -> [SLAEvent] {
        do {
            return try bytes.withUnsafeReadableBytes { try PackedEvents.decode($0.bindMemory(to: UInt8.self)) }
        } catch var malformed as PackedEvents.Malformed {
            malformed.row = row
            throw malformed
        }
    }

    /// The last ledger row whose incidents' stored state is current, when later rows' is not;
    /// nil when every incident's state is current.
    public func stateBehind() async throws -> Int64? {
        var after: Int64?
        for try await a in try await connection.query("SELECT after_seq FROM state_behind", logger: logger)
            .decode(Int64.self)
        {
            after = a
        }
        return after
    }

    /// The live engine's state as stored when the daemon last stopped (``Batch/liveSnapshot``),
    /// when the ledger ended at row `ledgerRow` then; nil when none is stored, it was stored at
    /// another row, or it cannot be read.
    public func liveSnapshot(atLedgerRow ledgerRow: Int64) async throws -> LiveSnapshot? {
        var out: LiveSnapshot?
        for try await body in try await connection.query(
            "SELECT body FROM live_snapshot WHERE ledger_row = \(ledgerRow)", logger: logger
        ).decode(ByteBuffer.self) {
            out = LiveSnapshot(decoding: Array(body.readableBytesView))
        }
        return out
    }

    /// The incidents the events of the ledger rows after row `seq` name.
    public func incidents(inLedgerAfter seq: Int64) async throws -> Set<String> {
        var out = Set<String>()
        try await forEachEventRun(after: seq) { _, events in
            for e in events { if let i = e.incident { out.insert(i) } }
        }
        return out
    }

    /// Saved offsets of every file of every source.
    public func offsets() async throws -> [SourceOffset] {
        var out: [SourceOffset] = []
        let rows = try await connection.query(
            "SELECT source, fingerprint, path, inode, \"offset\", line, tail FROM source_offsets", logger: logger)
        for try await (source, fingerprint, path, inode, offset, line, tail) in rows.decode(
            (String, String, String, Int64, Int64, Int64, Int64?).self)
        {
            out.append(
                SourceOffset(
                    source: source, fingerprint: fingerprint, path: path, inode: UInt64(bitPattern: inode),
                    offset: offset, line: Int(line), tail: tail.map { UInt64(bitPattern: $0) }))
        }
        return out
    }

    /// Every notification decided so far, in decision order.
    public func outbox() async throws -> [SLANotification] {
        var out: [SLANotification] = []
        let rows = try await connection.query(
            PostgresQuery(
                unsafeSQL: "SELECT \(OutboxColumns.select) FROM outbox o ORDER BY o.decided_at_ms, o.id COLLATE \"C\""),
            logger: logger)
        for try await row in rows {
            if let n = try Self.notification(row.makeRandomAccess(), from: 0) { out.append(n) }
        }
        return out
    }

    /// Which of `ids` the outbox holds already.
    public func knownNotifications(_ ids: [String]) async throws -> Set<String> {
        guard !ids.isEmpty else { return [] }
        var out = Set<String>()
        for try await id in try await connection.query(
            "SELECT id FROM outbox WHERE id = ANY(\(ids)::text[])", logger: logger
        ).decode(String.self) {
            out.insert(id)
        }
        return out
    }

    /// Pending deliveries of one sink in outbox order, at most `limit`.
    public func pendingDeliveries(sink: String, limit: Int) async throws -> [PendingDelivery] {
        var out: [PendingDelivery] = []
        var query = PostgresQuery(
            unsafeSQL: """
                SELECT d.seq, d.attempts, d.next_attempt_ms, \(OutboxColumns.select)
                FROM deliveries d JOIN outbox o ON o.id = d.notification
                WHERE d.sink = $1 AND d.state = 'pending' ORDER BY d.seq LIMIT $2
                """)
        query.binds.append(sink)
        query.binds.append(Int64(limit))
        for try await row in try await connection.query(query, logger: logger) {
            let cells = row.makeRandomAccess()
            guard let n = try Self.notification(cells, from: 3) else { continue }
            out.append(
                PendingDelivery(
                    seq: try cells[0].decode(Int64.self), sink: sink, notification: n,
                    attempts: Int(try cells[1].decode(Int32.self)),
                    nextAttemptMilliseconds: try cells[2].decode(Int64.self)))
        }
        return out
    }

    /// Records an attempt's outcome under fencing token `token`: still `pending` with the next
    /// attempt time, or a final state with its time and reason. Refused (``StaleFencingToken``)
    /// when this node no longer leads: the new leader delivers it again, which at-least-once
    /// allows.
    public func recordDelivery(seq: Int64, attempts: Int, outcome: DeliveryOutcome, token: Int64) async throws {
        let (state, next, done, error) = OutboxColumns.outcome(outcome)
        let logger = logger
        try await LeaderLease.fenced(on: try await connection, token: token, logger: logger) { c in
            try await c.run(
                """
                UPDATE deliveries SET state = \(state), attempts = \(Int32(attempts)),
                    next_attempt_ms = COALESCE(\(next), next_attempt_ms), done_ms = \(done), last_error = \(error)
                WHERE seq = \(seq)
                """, logger: logger)
        }
    }

    /// Pending deliveries to sinks no longer configured are failed (and counted per sink),
    /// under fencing token `token`.
    public func failOrphanDeliveries(
        knownSinks: Set<String>, nowMilliseconds: Int64, token: Int64
    ) async throws -> [String: Int] {
        let logger = logger
        return try await LeaderLease.fenced(on: try await connection, token: token, logger: logger) { c in
            var sinks: [String] = []
            for try await sink in try await c.query(
                "SELECT DISTINCT sink FROM deliveries WHERE state = 'pending'", logger: logger
            ).decode(String.self) where !knownSinks.contains(sink) {
                sinks.append(sink)
            }
            var failed: [String: Int] = [:]
            for sink in sinks {
                let reason = OutboxColumns.orphanReason(sink)
                for try await n in try await c.query(
                    """
                    WITH changed AS (
                        UPDATE deliveries SET state = 'failed', done_ms = \(nowMilliseconds), last_error = \(reason)
                        WHERE sink = \(sink) AND state = 'pending' RETURNING 1
                    )
                    SELECT count(*) FROM changed
                    """, logger: logger
                ).decode(Int64.self) {
                    failed[sink] = Int(n)
                }
            }
            return failed
        }
    }

    /// Pending deliveries per sink (the outbox depth).
    public func pendingDeliveryCounts() async throws -> [String: Int] {
        try await counts("SELECT sink, count(*) FROM deliveries WHERE state = 'pending' GROUP BY sink")
    }

    /// A count per key, from a query of (key, count) rows.
    private func counts(_ query: PostgresQuery) async throws -> [String: Int] {
        var out: [String: Int] = [:]
        for try await (key, n) in try await connection.query(query, logger: logger).decode((String, Int64).self) {
            out[key] = Int(n)
        }
        return out
    }

    /// Deliveries per sink and state (`journal` → `delivered` → 12).
    public func deliveryCounts() async throws -> [String: [String: Int]] {
        var out: [String: [String: Int]] = [:]
        for try await (sink, state, n) in try await connection.query(
            "SELECT sink, state, count(*) FROM deliveries GROUP BY sink, state", logger: logger
        ).decode((String, String, Int64).self) {
            out[sink, default: [:]][state] = Int(n)
        }
        return out
    }

    /// Counters per source since the store was created.
    public func sourceStats() async throws -> [String: SourceStats] {
        var out: [String: SourceStats] = [:]
        for try await (source, lines, events, duplicates, quarantined, conflicts) in try await connection.query(
            "SELECT source, lines, events, duplicates, quarantined, conflicts FROM source_stats", logger: logger
        ).decode((String, Int64, Int64, Int64, Int64, Int64).self) {
            var st = SourceStats()
            st.lines = Int(lines)
            st.events = Int(events)
            st.duplicates = Int(duplicates)
            st.quarantined = Int(quarantined)
            st.conflicts = Int(conflicts)
            out[source] = st
        }
        return out
    }

    /// Quarantined lines per reason.
    public func quarantineCounts() async throws -> [String: Int] {
        try await counts("SELECT reason, count(*) FROM quarantine GROUP BY reason")
    }

    /// A notification from the columns of ``OutboxColumns/select``, starting at `i`.
    static func notification(_ cells: PostgresRandomAccessRow, from i: Int) throws -> SLANotification? {
        func text(_ k: Int) throws -> String { try cells[i + k].decode(String.self) }
        func number(_ k: Int) throws -> Int64 { try cells[i + k].decode(Int64.self) }
        return OutboxColumns.notification(
            OutboxColumns.Row(
                id: try text(0), kind: try text(1), incident: try text(2), contract: try text(3), metric: try text(4),
                priority: try text(5), percent: try text(6), target: try number(7), due: try number(8),
                decidedAtMilliseconds: try number(9), late: try cells[i + 10].decode(Int32.self) != 0,
                notify: try text(11), customer: try text(12), elapsed: try number(13),
                deadline: try cells[i + 14].decode(Int64?.self)))
    }
}

extension PostgresStore {
    /// Up to `limit` ledger rows after row `after`, in order: the ledger read a page at a time
    /// by a caller that cannot take its rows inside a task.
    func ledgerPage(after: Int64, limit: Int) async throws -> [(seq: Int64, source: String, events: [SLAEvent])] {
        var out: [(seq: Int64, source: String, events: [SLAEvent])] = []
        let rows = try await connection.query(
            "SELECT seq, source, events FROM ledger WHERE seq > \(after) ORDER BY seq LIMIT \(Int64(limit))",
            logger: logger)
        for try await (seq, source, bytes) in rows.decode((Int64, String, ByteBuffer).self) {
            out.append((seq, source, try Self.events(bytes, row: seq)))
        }
        return out
    }

    /// Settled incidents' stored breaches from `lower` on, oldest first, at most `limit`.
    func settledBreaches(from lower: Int64, contract: String?, limit: Int) async throws -> [StoredBreach] {
        var out: [StoredBreach] = []
        for try await (incident, contract, metric, priority, target, elapsed, at) in try await connection.query(
            """
            SELECT b.incident, i.contract, b.metric, b.priority, b.target, b.elapsed, b.breached_at
            FROM breaches b JOIN incidents i ON i.incident = b.incident
            WHERE i.settled_at IS NOT NULL AND b.breached_at >= \(lower)
                AND (\(contract)::text IS NULL OR i.contract = \(contract))
            ORDER BY b.breached_at, b.incident COLLATE "C", b.metric COLLATE "C" LIMIT \(Int64(limit))
            """, logger: logger
        ).decode((String, String, String, String, Int64?, Int64, Int64).self) {
            out.append(
                StoredBreach(
                    incident: incident, contract: contract, metric: metric, priority: priority, targetSeconds: target,
                    elapsedSeconds: elapsed, breachedAt: Instant(at)))
        }
        return out
    }

    /// The incidents not settled yet (of `contract`, or all), with their contract: open work.
    func unsettledIncidents(contract: String?) async throws -> [(contract: String, row: ReportRow)] {
        var out: [(contract: String, row: ReportRow)] = []
        for try await row in try await connection.query(
            """
            SELECT \(unescaped: ReportRow.columns), contract
            FROM incidents WHERE settled_at IS NULL AND (\(contract)::text IS NULL OR contract = \(contract))
            """, logger: logger)
        {
            let cells = row.makeRandomAccess()
            out.append((try cells[10].decode(String.self), try ReportRow(cells)))
        }
        return out
    }
}
