import Logging
import PostgresNIO
import SLACore
import SLAStore

/// What monthly reports read from the PostgreSQL store, and their seal: the answers of the SQLite
/// store's methods of the same names, in the same order (texts ordered by their bytes).
extension PostgresStore {
    /// Every service and maintenance event (those without an incident), in time order.
    public func serviceEvents() async throws -> [SLAEvent] {
        var out: [SLAEvent] = []
        for try await (id, time, type, service) in try await connection.query(
            "SELECT id, time, type, service FROM service_events ORDER BY time, id COLLATE \"C\"", logger: logger
        ).decode((String, Int64, String, String?).self) {
            guard let type = EventType(rawValue: type) else { continue }
            out.append(SLAEvent(id: id, time: Instant(time), type: type, service: service))
        }
        return out
    }

    /// The earliest instant with data for a contract: its first incident's opening.
    public func firstIncident(contract: String) async throws -> Instant? {
        var first: Int64?
        for try await at in try await connection.query(
            "SELECT min(opened_at) FROM incidents WHERE contract = \(contract)", logger: logger
        ).decode(Int64?.self) {
            first = at
        }
        return first.map(Instant.init)
    }

    /// The last sealed month (`YYYY-MM`) of each contract with a sealed report.
    public func lastSealedMonths() async throws -> [String: String] {
        var out: [String: String] = [:]
        for try await (contract, month) in try await connection.query(
            "SELECT contract, max(month COLLATE \"C\") FROM sealed_reports GROUP BY contract", logger: logger
        ).decode((String, String).self) {
            out[contract] = month
        }
        return out
    }

    /// The sealed reports of a contract, by month, without their bodies.
    public func sealedReports(contract: String) async throws -> [SealedReport] {
        var out: [SealedReport] = []
        for try await (month, sealedAt, sha256, total) in try await connection.query(
            """
            SELECT month, sealed_at_ms, sha256, total_minor FROM sealed_reports
            WHERE contract = \(contract) ORDER BY month COLLATE "C"
            """, logger: logger
        ).decode((String, Int64, String, Int64).self) {
            out.append(
                SealedReport(
                    contract: contract, month: month, sealedAtMilliseconds: sealedAt, sha256: sha256,
                    totalMinorUnits: total, body: []))
        }
        return out
    }

    /// The stored report of a sealed month.
    public func sealedBody(contract: String, month: String) async throws -> [UInt8]? {
        var body: [UInt8]?
        for try await bytes in try await connection.query(
            "SELECT body FROM sealed_reports WHERE contract = \(contract) AND month = \(month)", logger: logger
        ).decode(ByteBuffer.self) {
            body = Array(bytes.readableBytesView)
        }
        return body
    }

    /// Adjustments carried for a contract's sealed months, by applied month then sealed month.
    public func adjustments(contract: String) async throws -> [RecordedAdjustment] {
        var out: [RecordedAdjustment] = []
        for try await (sealed, applied, amount) in try await connection.query(
            """
            SELECT sealed_month, applied_month, amount_minor FROM report_adjustments
            WHERE contract = \(contract) ORDER BY applied_month COLLATE "C", sealed_month COLLATE "C"
            """, logger: logger
        ).decode((String, String, Int64).self) {
            out.append(RecordedAdjustment(sealedMonth: sealed, appliedMonth: applied, amountMinorUnits: amount))
        }
        return out
    }

    /// Seals a month with the adjustments its report carries, in one transaction under fencing
    /// token `token`; a month sealed already stays as it was. Returns whether this call sealed it.
    @discardableResult
    public func seal(
        _ report: SealedReport, currency: String, carrying: [RecordedAdjustment], token: Int64
    ) async throws -> Bool {
        let logger = logger
        return try await LeaderLease.fenced(on: try await connection, token: token, logger: logger) { c in
            var sealed = false
            for try await _ in try await c.query(
                """
                INSERT INTO sealed_reports (contract, month, sealed_at_ms, sha256, total_minor, currency, body)
                VALUES (\(report.contract), \(report.month), \(report.sealedAtMilliseconds), \(report.sha256),
                    \(report.totalMinorUnits), \(currency), \(ByteBuffer(bytes: report.body)))
                ON CONFLICT DO NOTHING
                RETURNING 1
                """, logger: logger)
            {
                sealed = true
            }
            guard sealed else { return false }
            for a in carrying {
                try await c.run(
                    """
                    INSERT INTO report_adjustments (contract, sealed_month, applied_month, amount_minor)
                    VALUES (\(report.contract), \(a.sealedMonth), \(a.appliedMonth), \(a.amountMinorUnits))
                    """, logger: logger)
            }
            return true
        }
    }

    /// An incident row of the report query, as read; made into a verdict by the caller.
    struct ReportRow: Sendable {
        var incident: String
        var service: String?
        var openedAt: Int64
        var openingPriority: String
        var priority: String
        var status: String
        var handoffs: Int32
        var covered: Int32
        var asOf: Int64
        var clocks: ByteBuffer

        /// The row's first ten columns, in ``columns``' order.
        init(_ cells: PostgresRandomAccessRow) throws {
            incident = try cells[0].decode(String.self)
            service = try cells[1].decode(String?.self)
            openedAt = try cells[2].decode(Int64.self)
            openingPriority = try cells[3].decode(String.self)
            priority = try cells[4].decode(String.self)
            status = try cells[5].decode(String.self)
            handoffs = try cells[6].decode(Int32.self)
            covered = try cells[7].decode(Int32.self)
            asOf = try cells[8].decode(Int64.self)
            clocks = try cells[9].decode(ByteBuffer.self)
        }

        /// The incidents table's columns a verdict is made from.
        static let columns =
            "incident, service, opened_at, opening_priority, priority, status, handoffs, covered, as_of, clocks"
    }

    /// Opens a read of `contract`'s incidents that matter for `[from, to)` (the SQLite store's
    /// report query), in incident order, as a cursor in a read-only transaction: one state of
    /// the store for the whole read, fetched a page at a time with ``nextReportRows(_:)``.
    func beginReportRead(contract: String, from: Instant, to: Instant) async throws {
        let connection = try await connection
        try await connection.run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
        do {
            // A cursor's statement takes no parameters: the contract goes in as an escape string
            // literal (E'…', whose meaning does not depend on standard_conforming_strings).
            let literal =
                "E'" + contract.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
                + "'"
            try await connection.run(
                PostgresQuery(
                    unsafeSQL: """
                        DECLARE slad_report NO SCROLL CURSOR FOR
                        SELECT \(ReportRow.columns)
                        FROM incidents
                        WHERE contract = \(literal) AND coalesce(settled_at, 9223372036854775807) >= \(from.seconds)
                            AND opened_at < \(to.seconds)
                        ORDER BY incident COLLATE "C"
                        """), logger: logger)
        } catch {
            try? await connection.run("ROLLBACK", logger: logger)
            throw error
        }
    }

    /// The next `count` rows of the read ``beginReportRead(contract:from:to:)`` opened; fewer at its end.
    func nextReportRows(_ count: Int) async throws -> [ReportRow] {
        var out: [ReportRow] = []
        out.reserveCapacity(count)
        for try await row in try await connection.query(
            PostgresQuery(unsafeSQL: "FETCH FORWARD \(count) FROM slad_report"), logger: logger)
        {
            out.append(try ReportRow(row.makeRandomAccess()))
        }
        return out
    }

    /// Ends the read ``beginReportRead(contract:from:to:)`` opened.
    func endReportRead() async throws {
        try await connection.run("COMMIT", logger: logger)
    }
}
