import Foundation
import GRDB
import GRDBSQLite
import SLACore

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

    /// The stored verdicts of `contract`'s incidents that can matter for `[from, to)`: opened
    /// before `to`, and opened in the period or with a clock decided in it or still undecided.
    ///
    /// Verdicts hold as of their incident's last event; advance them with
    /// `IncidentVerdict.projected(to:in:)`. Only breach crossings are stored, which is what
    /// statements use.
    public func reportVerdicts(contract: String, from: Instant, to: Instant) throws -> [IncidentVerdict] {
        try queue.read { db in
            let statement = try db.makeStatement(
                sql: """
                    SELECT i.incident, i.service, i.opened_at, i.opening_priority, i.priority, i.status, i.handoffs,
                        i.covered, i.as_of, c.metric, c.priority, c.outcome, c.target, c.elapsed, c.stopped_at,
                        c.breached_at, c.deadline, c.running_since, c.calendar, c.breach_priority, c.breach_target
                    FROM incidents i LEFT JOIN clocks c ON c.incident = i.incident
                    WHERE i.contract = ?1 AND i.opened_at < ?3
                        AND (i.opened_at >= ?2 OR c.stopped_at IS NULL OR c.stopped_at >= ?2 OR c.breached_at >= ?2)
                    ORDER BY i.incident, c.metric
                    """)
            let s = Self.bind(statement, [.text(contract), .int(from.seconds), .int(to.seconds)])
            defer { sqlite3_reset(s) }
            func text(_ i: Int32) -> String? {
                guard let p = sqlite3_column_text(s, i) else { return nil }
                return String(cString: p)
            }
            func int(_ i: Int32) -> Int64? {
                sqlite3_column_type(s, i) == SQLITE_NULL ? nil : sqlite3_column_int64(s, i)
            }
            let breach = Threshold(kind: .breach, at: .hundred)
            var out: [IncidentVerdict] = []
            while true {
                let rc = sqlite3_step(s)
                if rc == SQLITE_DONE { break }
                guard rc == SQLITE_ROW else { throw Self.failure(rc, db) }
                let incident = text(0) ?? ""
                if out.last?.incident != incident {
                    out.append(
                        IncidentVerdict(
                            incident: incident, contract: contract, service: text(1), openedAt: Instant(int(2) ?? 0),
                            openingPriority: text(3) ?? "", priority: text(4) ?? "",
                            status: IncidentStatus(rawValue: text(5) ?? "") ?? .open, handoffs: Int(int(6) ?? 0),
                            covered: int(7) == 1, clocks: [], asOf: Instant(int(8) ?? 0)))
                }
                guard let metricText = text(9), let metric = Metric(parsing: metricText),
                    let outcome = ClockOutcome(rawValue: text(11) ?? "")
                else { continue }
                let priority = text(10) ?? ""
                let target = int(12)
                var crossings: [Crossing] = []
                if let at = int(15) {
                    crossings.append(
                        Crossing(
                            threshold: breach, at: Instant(at), target: int(20) ?? target ?? 0,
                            priority: text(19) ?? priority))
                }
                var upcoming: [Crossing] = []
                if let due = int(16), let target {
                    upcoming.append(Crossing(threshold: breach, at: Instant(due), target: target, priority: priority))
                }
                out[out.count - 1].clocks.append(
                    ClockVerdict(
                        metric: metric, priority: priority, target: target, elapsed: int(13) ?? 0, outcome: outcome,
                        stoppedAt: int(14).map(Instant.init), crossings: crossings, upcoming: upcoming,
                        calendarID: text(18) ?? "", runningSince: int(17).map(Instant.init)))
            }
            return out
        }
    }

    /// Every service and maintenance event (those without an incident), in time order.
    public func serviceEvents() throws -> [SLAEvent] {
        try queue.read { db in
            let rows = try Row.fetchCursor(
                db,
                sql: "SELECT id, time, type, service FROM events WHERE incident IS NULL ORDER BY time, id")
            var out: [SLAEvent] = []
            while let r = try rows.next() {
                guard let type = EventType(rawValue: r[2]) else { continue }
                out.append(SLAEvent(id: r[0], time: Instant(r[1]), type: type, service: r[3]))
            }
            return out
        }
    }

    /// The earliest instant with data for a contract: its first incident's opening.
    public func firstIncident(contract: String) throws -> Instant? {
        try queue.read { db in
            try Int64.fetchOne(
                db, sql: "SELECT MIN(opened_at) FROM incidents WHERE contract = ?", arguments: [contract]
            )
            .map(Instant.init)
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
