import GRDBSQLite
import SLACore

/// Read-only connections to one store file whose read transactions all began on the same state
/// of it (the protocol is in ``SLAStore/forEachReportVerdict(contract:from:to:parts:_:)``).
/// Closing them ends their reads.
final class ConsistentReaders: @unchecked Sendable {
    // @unchecked: after `init`, connection k is used by one thread only (part k's).
    private let connections: [OpaquePointer]

    /// Opens `count` connections to the store at `path` and begins their reads; nil when one
    /// cannot be opened or something was committed while the reads began. `whileBeginning`
    /// runs after the other readers began, before the first one checks (tests commit there).
    convenience init?(path: String, count: Int, whileBeginning: () throws -> Void = {}) {
        guard !path.isEmpty, path != ":memory:" else { return nil }
        var opened: [OpaquePointer] = []
        for _ in 0..<count {
            var connection: OpaquePointer?
            // NOMUTEX: a connection is used by one thread at a time, so SQLite's per-call lock
            // (serialized mode, Debian's default) is pure cost.
            let rc = sqlite3_open_v2(path, &connection, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nil)
            if let connection { opened.append(connection) }
            guard rc == SQLITE_OK else {
                for c in opened { sqlite3_close_v2(c) }
                return nil
            }
        }
        self.init(connections: opened)
        guard beginOnOneState(whileBeginning) else { return nil }
    }

    private init(connections: [OpaquePointer]) {
        self.connections = connections
        // A writer's commit holds the lock for a moment.
        for c in connections { sqlite3_busy_timeout(c, 10_000) }
    }

    deinit {
        for c in connections { sqlite3_close_v2(c) }
    }

    /// Begins a read on every connection; true when all began on one state.
    private func beginOnOneState(_ whileBeginning: () throws -> Void) -> Bool {
        guard let before = dataVersion(0) else { return false }
        for k in connections.indices.dropFirst() {
            guard execute(k, "BEGIN"), dataVersion(k) != nil else { return false }
        }
        guard (try? whileBeginning()) != nil else { return false }
        guard execute(0, "BEGIN"), let after = dataVersion(0) else { return false }
        return after == before
    }

    private func execute(_ k: Int, _ sql: String) -> Bool {
        sqlite3_exec(connections[k], sql, nil, nil, nil) == SQLITE_OK
    }

    /// `PRAGMA data_version` of connection `k`: a read, so inside `BEGIN` it starts the
    /// connection's read transaction on the current state.
    private func dataVersion(_ k: Int) -> Int64? {
        guard let s = try? prepare(k, "PRAGMA data_version") else { return nil }
        defer { sqlite3_finalize(s) }
        return sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : nil
    }

    private func prepare(_ k: Int, _ sql: String) throws -> OpaquePointer {
        var s: OpaquePointer?
        let rc = sqlite3_prepare_v2(connections[k], sql, -1, &s, nil)
        guard rc == SQLITE_OK, let s else { throw SLAStore.failure(rc, connections[k]) }
        return s
    }

    /// Reads the verdicts of part `k`: incidents with `lower <= id < upper` (nil: unbounded);
    /// `fullScan` as in `SLAStore.reportQuery(lower:upper:fullScan:)`.
    func read(
        _ k: Int, contract: String, from: Instant, to: Instant, lower: String?, upper: String?, fullScan: Bool,
        _ body: (inout IncidentVerdict) throws -> Void
    ) throws {
        let s = try prepare(k, SLAStore.reportQuery(lower: lower != nil, upper: upper != nil, fullScan: fullScan))
        defer { sqlite3_finalize(s) }
        var values: [SLAStore.Value] = [.text(contract), .int(from.seconds), .int(to.seconds)]
        if lower != nil || upper != nil {
            values += [lower.map { .text($0) } ?? .null, upper.map { .text($0) } ?? .null]
        }
        _ = SLAStore.bind(s, values)
        let connection = connections[k]
        try SLAStore.readVerdicts(
            s, contract: contract, from: from, failure: { SLAStore.failure($0, connection) }, body)
    }
}
