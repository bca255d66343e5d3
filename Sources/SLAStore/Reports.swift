import Foundation
import GRDB
import GRDBSQLite
import SLACore
import Synchronization

/// A month's report as sealed in the store.
public struct SealedReport: Sendable, Hashable {
    /// Contract id.
    public var contract: String
    /// `YYYY-MM`.
    public var month: String
    /// When it was sealed (Unix milliseconds).
    public var sealedAtMilliseconds: Int64
    /// SHA-256 (hex) of `body`.
    public var sha256: String
    /// The report's total before adjustments of its own, in minor units.
    public var totalMinorUnits: Int64
    /// The canonical JSON of the report.
    public var body: [UInt8]

    /// Creates a sealed report record.
    public init(
        contract: String, month: String, sealedAtMilliseconds: Int64, sha256: String, totalMinorUnits: Int64,
        body: [UInt8]
    ) {
        self.contract = contract
        self.month = month
        self.sealedAtMilliseconds = sealedAtMilliseconds
        self.sha256 = sha256
        self.totalMinorUnits = totalMinorUnits
        self.body = body
    }
}

/// A correction of a sealed month, carried by a later month's sealed report.
public struct RecordedAdjustment: Sendable, Hashable {
    /// The sealed month corrected.
    public var sealedMonth: String
    /// The month whose sealed report carried it.
    public var appliedMonth: String
    /// The amount, in minor units.
    public var amountMinorUnits: Int64

    /// Creates an adjustment record.
    public init(sealedMonth: String, appliedMonth: String, amountMinorUnits: Int64) {
        self.sealedMonth = sealedMonth
        self.appliedMonth = appliedMonth
        self.amountMinorUnits = amountMinorUnits
    }
}

/// Thrown when a store opened read-only predates the schema reports need.
public struct StoreOutdated: Error, CustomStringConvertible {
    /// What to do.
    public var description: String
}

extension SLAStore {
    /// Fails when the store (opened read-only) lacks migrations this build needs.
    public func requireCurrentSchema() throws {
        let current = try queue.read { try Migrations.migrator.hasCompletedMigrations($0) }
        guard current else {
            throw StoreOutdated(
                description:
                    "the store was written by an older slad; start the daemon once (or open a copy without --read-only) to migrate it"
            )
        }
    }

    /// Calls `body` with the stored verdict of each of `contract`'s incidents that can matter for
    /// `[from, to)`: opened before `to`, and opened in the period or with a clock decided in it or
    /// still undecided; in incident order.
    ///
    /// Verdicts hold as of their incident's last event; advance them with
    /// `IncidentVerdict.project(to:in:)`. Only breach crossings are stored, which is what
    /// statements use. One verdict value is refilled for every incident, so a month of a million
    /// incidents is read without holding them all; copy it to keep it.
    public func forEachReportVerdict(
        contract: String, from: Instant, to: Instant, _ body: (inout IncidentVerdict) throws -> Void
    ) throws {
        try forEachReportVerdict(
            contract: contract, from: from, to: to, fullScan: readPlan(contract: contract, from: from).fullScan, body)
    }

    /// ``forEachReportVerdict(contract:from:to:_:)`` with the plan's choice of table or index made.
    private func forEachReportVerdict(
        contract: String, from: Instant, to: Instant, fullScan: Bool, _ body: (inout IncidentVerdict) throws -> Void
    ) throws {
        try queue.read { db in
            let statement = try db.makeStatement(sql: Self.reportQuery(lower: false, upper: false, fullScan: fullScan))
            let s = Self.bind(statement, [.text(contract), .int(from.seconds), .int(to.seconds)])
            defer { sqlite3_reset(s) }
            try Self.readVerdicts(s, contract: contract, from: from, failure: { Self.failure($0, db) }, body)
        }
    }

    /// ``forEachReportVerdict(contract:from:to:_:)`` read in `parts.count` ranges of incident ids
    /// at once, each on a connection and thread of its own, every range from the same state of
    /// the store: `body` is called with `parts[k]` for the verdicts of range `k`, in incident
    /// order within a range, from several threads at once.
    ///
    /// The read of a month of a million incidents is mostly SQLite's (Benchmarks/report-vs-duckdb.sh),
    /// and one connection reads on one core. Readers on several connections see one state only
    /// if nothing is committed between their starts; SQLite's snapshot API would pin that, but
    /// Debian's SQLite is built without it, so the readers check instead: the first notes
    /// `PRAGMA data_version` (which changes on that connection whenever another connection
    /// has committed since its previous read), the others begin their reads, and the first
    /// begins its read and notes it again. Unchanged, every reader began on the state the first
    /// noted. Changed (the daemon committed in between), a contract with few incidents
    /// (``reportPartMinimum`` per part) or a store that cannot be opened again: everything is
    /// read into `parts[0]` on one connection.
    public func forEachReportVerdict<Part: Sendable>(
        contract: String, from: Instant, to: Instant, parts: inout [Part],
        _ body: @Sendable (inout Part, inout IncidentVerdict) throws -> Void
    ) throws {
        precondition(!parts.isEmpty, "at least one part")
        let count = parts.count
        let plan = try readPlan(contract: contract, from: from)
        let fullScan = plan.fullScan
        guard count > 1,
            let bounds = try splitKeys(contract: contract, incidents: plan.incidents, parts: count, fullScan: fullScan),
            let readers = ConsistentReaders(path: queue.path, count: count)
        else {
            try forEachReportVerdict(contract: contract, from: from, to: to, fullScan: fullScan) {
                try body(&parts[0], &$0)
            }
            return
        }
        let failed = Mutex<(any Error)?>(nil)
        parts.withUnsafeMutableBufferPointer { buffer in
            // Each thread touches its own part only.
            nonisolated(unsafe) let buffer = buffer
            DispatchQueue.concurrentPerform(iterations: count) { k in
                do {
                    try readers.read(
                        k, contract: contract, from: from, to: to, lower: k == 0 ? nil : bounds[k - 1],
                        upper: k == count - 1 ? nil : bounds[k], fullScan: fullScan
                    ) { try body(&buffer[k], &$0) }
                } catch {
                    failed.withLock { $0 = $0 ?? error }
                }
            }
        }
        if let error = failed.withLock({ $0 }) { throw error }
    }

    /// Fewer incidents of a contract than this per part, and one connection reads them all: the
    /// count, the connections and the threads would cost more than the split saves.
    static let reportPartMinimum = 25_000

    /// The incident ids that split `contract`'s `total` incidents into `parts` ranges of equal
    /// size (`parts - 1` ids, ascending); nil when the contract has too few incidents to split.
    ///
    /// Counted before the readers begin, so possibly on an older state: a bound only decides
    /// the balance, as any value splits exactly (the ranges are `< id` and `>= id` of it).
    /// With `fullScan` (``readPlan(contract:from:)``) the bounds are found in the table's own
    /// order: from the index they would be sorted first, all of them, for each bound.
    func splitKeys(contract: String, incidents total: Int, parts: Int, fullScan: Bool) throws -> [String]? {
        guard total >= Self.reportPartMinimum * parts else { return nil }
        return try queue.read { db in
            var keys: [String] = []
            for k in 1..<parts {
                guard
                    let key = try String.fetchOne(
                        db,
                        sql:
                            "SELECT incident FROM incidents WHERE \(fullScan ? "+" : "")contract = ? ORDER BY incident LIMIT 1 OFFSET ?",
                        arguments: [contract, total * k / parts])
                else { return nil }
                keys.append(key)
            }
            return keys
        }
    }

    /// How a report reads `contract`'s incidents for a period from `from`: how many incidents
    /// the contract has, and whether to read the whole table in incident order (`fullScan`)
    /// instead of the index `incidents_report`, which it does when more than half of all
    /// incidents were opened since `from`. The index would then find nearly every incident and
    /// sort them all, ten times the ordered scan's work (a month of 1 M incidents of one
    /// contract: 23 s against 2.5 s, Benchmarks/report-vs-duckdb.sh). Counted, from the index
    /// alone, only for a contract with at least ``reportPartMinimum`` incidents: below that the
    /// index is quick whatever the month, and sealing asks for every month of every contract.
    func readPlan(contract: String, from: Instant) throws -> (incidents: Int, fullScan: Bool) {
        try queue.read { db in
            let mine =
                try Int.fetchOne(db, sql: "SELECT count(*) FROM incidents WHERE contract = ?", arguments: [contract])
                ?? 0
            guard mine >= Self.reportPartMinimum else { return (mine, false) }
            let recent =
                try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM incidents WHERE contract = ? AND opened_at >= ?",
                    arguments: [contract, from.seconds]) ?? 0
            let all = try Int.fetchOne(db, sql: "SELECT count(*) FROM incidents") ?? 0
            return (mine, recent * 2 > all)
        }
    }

    /// The report query; `lower` and `upper` add the bounds `incident >= ?4` and `incident < ?5`;
    /// `fullScan` reads the table in incident order, without the index (``readPlan(contract:from:)``).
    ///
    /// An incident matters while one of its clocks was decided in the period or not yet
    /// (`settled_at`, never before the incident opened); its clocks decided before are dropped
    /// as read. The condition is the index `incidents_report`'s, expression included.
    static func reportQuery(lower: Bool, upper: Bool, fullScan: Bool) -> String {
        // A unary `+` keeps SQLite from using an index for a term (`NOT INDEXED` does not stop
        // it from choosing the expression index of a WITHOUT ROWID table).
        let noIndex = fullScan ? "+" : ""
        return """
            SELECT incident, service, opened_at, opening_priority, priority, status, handoffs, covered, as_of, clocks
            FROM incidents
            WHERE \(noIndex)contract = ?1 AND \(noIndex)coalesce(settled_at, 9223372036854775807) >= ?2 AND opened_at < ?3
                \(lower ? "AND incident >= ?4" : "") \(upper ? "AND incident < ?5" : "")
            ORDER BY incident
            """
    }

    /// Steps the bound report query `s` for the period starting at `from`, calling `body` once
    /// per incident with its verdict.
    static func readVerdicts(
        _ s: OpaquePointer, contract: String, from: Instant, failure: (Int32) -> any Error,
        _ body: (inout IncidentVerdict) throws -> Void
    ) throws {
        var row = VerdictRows(s)
        var v = IncidentVerdict(
            incident: "", contract: contract, service: nil, openedAt: Instant(0), openingPriority: "", priority: "",
            status: .open, handoffs: 0, covered: false, clocks: [], asOf: Instant(0))
        while true {
            let rc = sqlite3_step(s)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw failure(rc) }
            row.fillIncident(&v)
            let count = try row.fillClocks(&v.clocks, droppingDecidedBefore: v.openedAt < from ? from : nil) {
                PackedClocks.Malformed(incident: v.incident)
            }
            v.clocks.removeSubrange(count...)
            try body(&v)
        }
    }

    /// Every service and maintenance event (those without an incident), in time order.
    public func serviceEvents() throws -> [SLAEvent] {
        try queue.read { db in
            let rows = try Row.fetchCursor(
                db,
                sql: "SELECT id, time, type, service FROM service_events ORDER BY time, id")
            var out: [SLAEvent] = []
            while let r = try rows.next() {
                guard let type = EventType(rawValue: r[2]) else { continue }
                out.append(SLAEvent(id: r[0], time: Instant(r[1]), type: type, service: r[3]))
            }
            return out
        }
    }

    /// The earliest instant with data for a contract: its first incident's opening.
    ///
    /// The query reads the contract's whole part of the report index (which orders by
    /// settlement first), each page once: through the small cache, so that the check a start
    /// makes for every contract does not fill the connection's cache with the index.
    public func firstIncident(contract: String) throws -> Instant? {
        try queue.read { db in
            try Self.withPassingCache(db) {
                try Int64.fetchOne(
                    db, sql: "SELECT MIN(opened_at) FROM incidents WHERE contract = ?", arguments: [contract]
                )
                .map(Instant.init)
            }
        }
    }

    /// The last sealed month (`YYYY-MM`) of each contract with a sealed report.
    public func lastSealedMonths() throws -> [String: String] {
        try queue.read { db in
            var out: [String: String] = [:]
            let rows = try Row.fetchCursor(db, sql: "SELECT contract, MAX(month) FROM sealed_reports GROUP BY contract")
            while let r = try rows.next() { out[r[0]] = r[1] }
            return out
        }
    }

    /// The sealed reports of a contract, by month, without their bodies (`body` is empty: a
    /// month's report can be large, and only the one asked for is read, with ``sealedBody``).
    public func sealedReports(contract: String) throws -> [SealedReport] {
        try queue.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT month, sealed_at_ms, sha256, total_minor FROM sealed_reports
                    WHERE contract = ? ORDER BY month
                    """, arguments: [contract]
            ).map {
                SealedReport(
                    contract: contract, month: $0[0], sealedAtMilliseconds: $0[1], sha256: $0[2],
                    totalMinorUnits: $0[3], body: [])
            }
        }
    }

    /// The stored report of a sealed month.
    public func sealedBody(contract: String, month: String) throws -> [UInt8]? {
        try queue.read { db in
            try Data.fetchOne(
                db, sql: "SELECT body FROM sealed_reports WHERE contract = ? AND month = ?",
                arguments: [contract, month]
            ).map(Array.init)
        }
    }

    /// Adjustments carried for a contract's sealed months.
    public func adjustments(contract: String) throws -> [RecordedAdjustment] {
        try queue.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT sealed_month, applied_month, amount_minor FROM report_adjustments
                    WHERE contract = ? ORDER BY applied_month, sealed_month
                    """, arguments: [contract]
            ).map { RecordedAdjustment(sealedMonth: $0[0], appliedMonth: $0[1], amountMinorUnits: $0[2]) }
        }
    }

    /// Seals a month with the adjustments its report carries, in one transaction. A month
    /// already sealed stays as it was: a seal is never rewritten.
    /// - Returns: whether this call sealed it.
    @discardableResult
    public func seal(_ report: SealedReport, currency: String, carrying: [RecordedAdjustment]) throws -> Bool {
        try queue.write { db in
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO sealed_reports (contract, month, sealed_at_ms, sha256, total_minor, currency, body)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    report.contract, report.month, report.sealedAtMilliseconds, report.sha256,
                    report.totalMinorUnits, currency, Data(report.body),
                ])
            guard db.changesCount == 1 else { return false }
            for a in carrying {
                try db.execute(
                    sql: """
                        INSERT INTO report_adjustments (contract, sealed_month, applied_month, amount_minor)
                        VALUES (?, ?, ?, ?)
                        """, arguments: [report.contract, a.sealedMonth, a.appliedMonth, a.amountMinorUnits])
            }
            return true
        }
    }
}

/// Reads the rows of the report query into a reused verdict. The same few priorities, metrics,
/// outcomes and calendars repeat on every row; each is made (and parsed) once, not per row.
struct VerdictRows {
    let s: OpaquePointer
    var services = Recent<String>()
    var openingPriorities = Recent<String>()
    var priorities = Recent<String>()
    var statuses = Recent<IncidentStatus?>()
    var clocks = ClockRows()

    init(_ s: OpaquePointer) { self.s = s }

    /// A column declared NOT NULL.
    func required(_ i: Int32) -> Int64 { sqlite3_column_int64(s, i) }

    func bytes(_ i: Int32) -> UnsafeBufferPointer<UInt8>? {
        guard let p = sqlite3_column_text(s, i) else { return nil }
        return UnsafeBufferPointer(start: p, count: Int(sqlite3_column_bytes(s, i)))
    }

    static func string(_ b: UnsafeBufferPointer<UInt8>) -> String { String(decoding: b, as: UTF8.self) }

    mutating func fillIncident(_ v: inout IncidentVerdict) {
        v.incident = bytes(0).map(Self.string) ?? ""
        v.service = bytes(1).map { services.value($0, Self.string) }
        v.openedAt = Instant(required(2))
        v.openingPriority = bytes(3).map { openingPriorities.value($0, Self.string) } ?? ""
        v.priority = bytes(4).map { priorities.value($0, Self.string) } ?? ""
        v.status = bytes(5).flatMap { statuses.value($0) { IncidentStatus(rawValue: Self.string($0)) } } ?? .open
        v.handoffs = Int(required(6))
        v.covered = required(7) == 1
        v.asOf = Instant(required(8))
    }

    /// ``ClockRows/fill(_:from:droppingDecidedBefore:damaged:)`` with the row's packed clocks.
    mutating func fillClocks(
        _ clocks: inout [ClockVerdict], droppingDecidedBefore before: Instant?, damaged: () -> any Error
    ) throws -> Int {
        // The pointer first, then the length (SQLite's documented order); no clocks: no bytes.
        guard let start = sqlite3_column_blob(s, 9) else { return 0 }
        let length = Int(sqlite3_column_bytes(s, 9))
        return try self.clocks.fill(
            &clocks, from: UnsafeBufferPointer(start: start.assumingMemoryBound(to: UInt8.self), count: length),
            droppingDecidedBefore: before, damaged: damaged)
    }
}

/// Turns an incident's packed clocks (``PackedClocks``) into clock verdicts, for either store.
/// The same few metrics, priorities, outcomes and calendars repeat on every row; each is made
/// (and parsed) once, not per row.
package struct ClockRows {
    var metricNames = Recent<String>()
    var clockPriorities = Recent<String>()
    var outcomes = Recent<ClockOutcome?>()
    var calendars = Recent<String>()
    var breachPriorities = Recent<String>()
    let breach = Threshold(kind: .breach, at: .hundred)

    package init() {}

    static func string(_ b: UnsafeBufferPointer<UInt8>) -> String { String(decoding: b, as: UTF8.self) }

    /// Fills `clocks` from `packed` (appending when the array is shorter), reusing the slots'
    /// arrays, and returns how many it filled. With `before`, a clock stopped before it (and not
    /// breached since) is left out.
    package mutating func fill(
        _ clocks: inout [ClockVerdict], from packed: UnsafeBufferPointer<UInt8>, droppingDecidedBefore before: Instant?,
        damaged: () -> any Error
    ) throws -> Int {
        var reader = PackedClocks.Reader(packed)
        var index = 0
        while let raw = reader.next() {
            guard let metric = raw.metric({ metricNames.value($0, Self.string) }),
                let outcome = outcomes.value(raw.outcome, { ClockOutcome(rawValue: Self.string($0)) })
            else { throw damaged() }
            if let before,
                let decided = PackedClocks.decidedAt(stoppedAt: raw.stoppedAt, breachedAt: raw.breachedAt),
                decided < before.seconds
            {
                continue
            }
            let priority = clockPriorities.value(raw.priority, Self.string)
            if index == clocks.count {
                clocks.append(
                    ClockVerdict(
                        metric: metric, priority: "", target: nil, elapsed: 0, outcome: outcome, stoppedAt: nil,
                        crossings: [], upcoming: [], calendarID: "", runningSince: nil))
            }
            clocks[index].metric = metric
            clocks[index].priority = priority
            clocks[index].target = raw.target
            clocks[index].elapsed = raw.elapsed
            clocks[index].outcome = outcome
            clocks[index].stoppedAt = raw.stoppedAt.map(Instant.init)
            clocks[index].crossings.removeAll(keepingCapacity: true)
            if let at = raw.breachedAt {
                let breachPriority = raw.breachPriority.map { breachPriorities.value($0, Self.string) } ?? priority
                clocks[index].crossings.append(
                    Crossing(
                        threshold: breach, at: Instant(at), target: raw.breachTarget ?? raw.target ?? 0,
                        priority: breachPriority))
            }
            clocks[index].upcoming.removeAll(keepingCapacity: true)
            if let due = raw.deadline, let target = raw.target {
                clocks[index].upcoming.append(
                    Crossing(threshold: breach, at: Instant(due), target: target, priority: priority))
            }
            clocks[index].calendarID = calendars.value(raw.calendar, Self.string)
            clocks[index].runningSince = raw.runningSince.map(Instant.init)
            index += 1
        }
        guard !reader.damaged else { throw damaged() }
        return index
    }
}

/// The last few distinct short texts of one column with what they were turned into, keyed by
/// their bytes packed in two words: comparing two integers is cheaper than making the value again.
struct Recent<Value> {
    var keys: [Key] = []
    var values: [Value] = []

    struct Key: Equatable {
        var count: Int
        var low: UInt64
        var high: UInt64
    }

    mutating func value(_ b: UnsafeBufferPointer<UInt8>, _ make: (UnsafeBufferPointer<UInt8>) -> Value) -> Value {
        guard b.count <= 16 else { return make(b) }
        var words: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &words) { $0.copyMemory(from: UnsafeRawBufferPointer(b)) }
        let key = Key(count: b.count, low: words.0, high: words.1)
        for k in keys.indices where keys[k] == key { return values[k] }
        let value = make(b)
        if keys.count < 8 {
            keys.append(key)
            values.append(value)
        } else {
            let slot = Int(truncatingIfNeeded: key.low % 8)
            keys[slot] = key
            values[slot] = value
        }
        return value
    }
}
