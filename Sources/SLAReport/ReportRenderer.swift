import Foundation
import SLAAPI
import SLACore

/// The documents of one report request: one month, one or more contracts.
public struct ReportDocument: Codable, Sendable, Equatable {
    /// `YYYY-MM`, or nil for a document spanning months (a replay).
    public var month: String?
    /// One report per contract and month, ordered by contract id then month.
    public var reports: [MonthlyReport]

    /// Creates a document.
    public init(month: String?, reports: [MonthlyReport]) {
        self.month = month
        self.reports = reports
    }
}

/// Output formats of a report.
public enum ReportFormat: String, Sendable, CaseIterable {
    case table, csv, json, html
    /// One row per charged line (breaches, availability credit, cap, corrections of sealed
    /// months): the `amount` column sums to the total.
    case chargesCSV = "charges-csv"

    /// The HTTP content type of the format.
    public var contentType: String {
        switch self {
        case .table: "text/plain; charset=utf-8"
        case .csv, .chargesCSV: "text/csv; charset=utf-8; header=present"
        case .json: "application/json"
        case .html: "text/html; charset=utf-8"
        }
    }
}

/// Renders report documents. Every renderer is a pure function of the document: the same
/// document gives the same bytes.
public enum ReportRenderer {
    /// Renders `document` in `format`.
    public static func render(_ document: ReportDocument, as format: ReportFormat) -> [UInt8] {
        switch format {
        case .json: APIJSON.encode(document, pretty: true)
        case .csv: joined(csvPieces(document))
        case .table: Array(table(document).utf8)
        case .html: Array(ReportHTML.page(document).utf8)
        case .chargesCSV: joined(chargesPieces(document))
        }
    }

    /// The UTF-8 byte order mark, which Excel needs to read a CSV as UTF-8 (`--bom`).
    public static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    /// The charges CSV's columns, in order.
    public static let chargesHeader = [
        "contract", "month", "state", "kind", "incident", "metric", "priority", "at", "amount", "currency", "rule",
    ]

    /// One row per charged line, in the report's order: each breach, the availability credit
    /// when one is owed, the cap's reduction when it applies (negative), each correction of a
    /// sealed month. Summing `amount` per contract and month gives the report's total, to the
    /// cent; the other figures of the report (fee, compliance) are in `--format csv`.
    static func chargesPieces(_ document: ReportDocument) -> [[UInt8]] {
        var out = CSVWriter(capacity: 1 << 16)
        for (i, name) in chargesHeader.enumerated() { out.field(name, first: i == 0) }
        out.endRow()
        for r in document.reports {
            func row(
                _ kind: String, incident: String = "", metric: String = "", priority: String = "", at: String = "",
                amount: MonthlyReport.Amount, rule: String
            ) {
                out.field(r.contract, first: true)
                out.field(r.month)
                out.field(r.state.rawValue)
                out.field(kind)
                out.field(incident)
                out.field(metric)
                out.field(priority)
                out.field(at)
                out.field(amount.amount)
                out.field(r.currency)
                out.field(rule)
                out.endRow()
            }
            for b in r.breaches {
                row(
                    "breach", incident: b.incident, metric: b.metric, priority: b.priority, at: b.at, amount: b.amount,
                    rule: b.rule)
            }
            if let a = r.availability, a.credit.minorUnits != 0 {
                row(
                    "availability_credit", at: r.periodEnd, amount: a.credit,
                    rule:
                        "availability \(a.achieved) below \(a.tierBelow ?? a.target): \(a.tierCredit ?? "") of \(r.fee.charged.amount)"
                )
            }
            if let cap = r.cap, r.capApplied, let currency = Currency(code: r.currency) {
                row(
                    "cap", at: r.periodEnd,
                    amount: .init(minorUnits: cap.minorUnits - r.subtotal.minorUnits, currency: currency),
                    rule: "capped at \(cap.amount) (subtotal \(r.subtotal.amount))")
            }
            for adj in r.adjustments {
                row(
                    "adjustment", at: r.periodEnd, amount: adj.amount,
                    rule:
                        "correction of sealed \(adj.sealedMonth): \(adj.sealedTotal.amount) → \(adj.recomputedTotal.amount)"
                )
            }
        }
        return [out.bytes]
    }

    /// ``render(_:as:)`` in pieces, to be written in order: a month's CSV can be a hundred
    /// megabytes made in parts on several threads, and joining them copies all of it.
    public static func pieces(_ document: ReportDocument, as format: ReportFormat) -> [[UInt8]] {
        switch format {
        case .csv: csvPieces(document)
        case .chargesCSV: chargesPieces(document)
        default: [render(document, as: format)]
        }
    }

    static func joined(_ pieces: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(pieces.reduce(0) { $0 + $1.count })
        for piece in pieces { out.append(contentsOf: piece) }
        return out
    }

    /// The canonical bytes a seal's hash covers: compact JSON of the report without its seal.
    public static func canonical(_ report: MonthlyReport) -> [UInt8] {
        var unsealed = report
        unsealed.seal = nil
        return APIJSON.encode(unsealed)
    }

    /// The CSV columns, in order.
    public static let csvHeader = [
        "contract", "month", "state", "section", "item", "incident", "metric", "priority", "at", "target_seconds",
        "actual_seconds", "over_by_seconds", "value", "amount", "currency", "note",
    ]

    /// RFC 4180: CRLF line ends, one header row, fields quoted when they hold a comma, quote or line break.
    public static func csv(_ document: ReportDocument) -> String {
        String(decoding: render(document, as: .csv), as: UTF8.self)
    }

    /// The CSV in pieces: rows are written field by field into byte buffers, the breach rows of
    /// a large month in two halves on two threads (a month can hold a million breach lines;
    /// see Benchmarks/report-vs-duckdb.sh).
    static func csvPieces(_ document: ReportDocument) -> [[UInt8]] {
        var pieces: [[UInt8]] = []
        var out = CSVWriter(capacity: 1 << 16)
        for (i, name) in csvHeader.enumerated() { out.field(name, first: i == 0) }
        out.endRow()
        for r in document.reports {
            func row(
                _ section: String, _ item: String, value: String = "", amount: MonthlyReport.Amount? = nil,
                note: String = ""
            ) {
                out.row(r, section, item, value: value, amount: amount, note: note)
            }
            row("report", "customer", value: r.customer)
            row("report", "period_start", value: r.periodStart)
            row("report", "period_end", value: r.periodEnd)
            row("report", "timezone", value: r.timezone)
            row("report", "as_of", value: r.asOf)
            if let seal = r.seal { row("report", "sealed", value: seal.sealedAt, note: "sha256 " + seal.sha256) }
            row("fee", "monthly", amount: r.fee.monthly)
            row(
                "fee", "charged", value: "\(r.fee.validDays)/\(r.fee.daysInMonth) days", amount: r.fee.charged,
                note: r.fee.validDays == r.fee.daysInMonth ? "" : "prorated by valid days")
            if let a = r.availability {
                row("availability", "minutes_in_period", value: minutes(a.periodSeconds))
                row("availability", "maintenance_minutes", value: minutes(a.maintenanceSeconds))
                row("availability", "downtime_minutes", value: minutes(a.downtimeSeconds))
                row("availability", "achieved", value: a.achieved)
                row("availability", "target", value: a.target, note: a.met ? "met" : "missed")
                row("availability", "tier", value: a.tierBelow.map { "below \($0)" } ?? "none")
            }
            for p in r.incidentsByPriority { row("incidents", p.priority, value: String(p.opened)) }
            row("incidents", "total", value: String(r.incidentsByPriority.reduce(0) { $0 + $1.opened }))
            for (name, c) in [("reaction", r.reaction), ("resolution", r.resolution)] {
                row(name, "met", value: String(c.met))
                row(name, "breached", value: String(c.breached))
                row(name, "compliance", value: c.percent ?? "n/a")
            }
            row("handoffs", "total", value: String(r.handoffs.total))
            row("handoffs", "per_incident", value: r.handoffs.perIncident)
            row("handoffs", "bounced_incidents", value: String(r.handoffs.bounced), note: "more than 2 handoffs")
            let breaches = r.breaches
            let shared = CSVWriter.BreachRowParts(r)
            let statementRows = breaches.statementLines.map { StatementBreachRows($0.lines, zone: $0.zone, shared) }
            for part in Halves.run(
                breaches.count,
                { range in
                    if let statementRows { return statementRows.rows(range) }
                    // About 130 bytes per breach line: one allocation instead of doubling
                    // through tens of megabytes.
                    var part = CSVWriter(capacity: 160 * range.count)
                    for b in breaches[range] { part.breachRow(b, shared) }
                    return part.bytes
                })
            {
                pieces.append(out.bytes)
                out = CSVWriter(capacity: 1 << 16)
                pieces.append(part)
            }
            if let a = r.availability {
                row(
                    "credit", "availability", amount: a.credit,
                    note: a.tierBelow.map { "below \($0): \(a.tierCredit ?? "") of \(r.fee.charged.amount)" }
                        ?? "no tier hit")
            }
            row("summary", "subtotal", amount: r.subtotal)
            if let cap = r.cap { row("summary", "cap", amount: cap, note: r.capApplied ? "applied" : "not reached") }
            for adj in r.adjustments {
                row(
                    "adjustment", adj.sealedMonth, amount: adj.amount,
                    note:
                        "sealed \(adj.sealedMonth) total \(adj.sealedTotal.amount), recomputed \(adj.recomputedTotal.amount) (sha256 \(adj.sealedSha256.prefix(12)))"
                )
            }
            row("summary", "total", amount: r.total)
            row("summary", "rounding", note: r.rounding)
        }
        pieces.append(out.bytes)
        return pieces
    }

    /// Seconds as minutes with two decimals (half-even).
    static func minutes(_ seconds: Int64) -> String { decimal(seconds, over: 60, digits: 2) }

    /// A terminal page per contract: header, figures, breaches, money.
    public static func table(_ document: ReportDocument) -> String {
        var out = ""
        for r in document.reports {
            if !out.isEmpty { out += "\n" }
            let state =
                switch r.state {
                case .sealed: "SEALED" + (r.seal.map { " \($0.sealedAt), sha256 \($0.sha256.prefix(16))…" } ?? "")
                case .final: "FINAL (not sealed)"
                case .provisional: "PROVISIONAL: figures may still change"
                }
            out += "\(r.contract) (\(r.customer)) \(r.month) [\(state)]\n"
            out += "period \(r.periodStart) – \(r.periodEnd) (\(r.timezone)), as of \(r.asOf)\n"
            var fee = "fee \(r.fee.monthly.amount) \(r.currency)"
            if r.fee.validDays != r.fee.daysInMonth {
                fee += ", prorated \(r.fee.validDays)/\(r.fee.daysInMonth) days: \(r.fee.charged.amount) \(r.currency)"
            }
            out += fee + "\n"
            if let versions = r.versions, !versions.isEmpty {
                out += "terms: " + versions.map(Self.versionText).joined(separator: "; ") + "\n"
            }
            if let a = r.availability {
                out +=
                    "availability \(a.achieved) (target \(a.target), \(a.met ? "met" : "missed")): \(minutes(a.periodSeconds)) min in period, \(minutes(a.maintenanceSeconds)) maintenance, \(minutes(a.downtimeSeconds)) down; tier \(a.tierBelow.map { "below \($0)" } ?? "none")\n"
            }
            let byPriority = r.incidentsByPriority.map { "\($0.priority) \($0.opened)" }.joined(separator: ", ")
            out += "incidents opened: \(byPriority.isEmpty ? "none" : byPriority)\n"
            for (name, c) in [("reaction", r.reaction), ("resolution", r.resolution)] {
                out += "\(name): \(c.met) met, \(c.breached) breached (\(c.percent ?? "n/a"))\n"
            }
            out +=
                "handoffs: \(r.handoffs.total) (\(r.handoffs.perIncident) per incident), \(r.handoffs.bounced) bounced more than twice\n"
            var rows = [["INCIDENT", "METRIC", "PRIO", "BREACHED AT", "TARGET", "ACTUAL", "OVER BY", "AMOUNT", "RULE"]]
            for b in r.breaches {
                rows.append([
                    b.incident, b.metric, b.priority, b.at, formatSeconds(b.targetSeconds),
                    formatSeconds(b.actualSeconds), formatSeconds(b.overBySeconds), b.amount.amount, ruleText(r, b),
                ])
            }
            if r.breaches.isEmpty { out += "no breaches\n" } else { out += "\n" + ReplayRenderer.align(rows) + "\n" }
            var money: [[String]] = []
            if let a = r.availability { money.append(["availability credit", a.credit.amount]) }
            money.append(["breach penalties", penalties(r)])
            money.append(["subtotal", r.subtotal.amount])
            if let cap = r.cap { money.append(["cap" + (r.capApplied ? " (applied)" : ""), cap.amount]) }
            for adj in r.adjustments { money.append(["adjustment for sealed \(adj.sealedMonth)", adj.amount.amount]) }
            money.append(["TOTAL " + r.currency, r.total.amount])
            let width = money.map(\.[0].count).max() ?? 0
            let amountWidth = money.map(\.[1].count).max() ?? 0
            for m in money {
                out +=
                    m[0] + String(repeating: " ", count: width - m[0].count + 2)
                    + String(repeating: " ", count: amountWidth - m[1].count) + m[1] + "\n"
            }
            out += "rounding: \(r.rounding)\n"
        }
        if document.reports.isEmpty { out = "no contract has a report for \(document.month ?? "these events")\n" }
        return out
    }

    /// A breach's rule, with the version that priced it when the month has several.
    static func ruleText(_ r: MonthlyReport, _ b: MonthlyReport.Breach) -> String {
        guard (r.versions?.count ?? 0) > 1, let version = b.version else { return b.rule }
        return "\(b.rule) (version \(version))"
    }

    /// A version of the terms: its name, since when, and the start of its hash.
    static func versionText(_ v: MonthlyReport.Version) -> String {
        "version \(v.version)" + (v.effective.map { " from \($0)" } ?? "")
            + (v.appliesToOpen ? " (open incidents too)" : "")
            + " sha256 \(v.sha256.prefix(16))…"
    }

    /// Sum of the breach lines, as decimal text.
    static func penalties(_ r: MonthlyReport) -> String {
        let minor = r.breaches.reduce(0) { $0 + $1.amount.minorUnits }
        guard let currency = Currency(code: r.currency) else { return String(minor) }
        return Money(minorUnits: minor, currency: currency).amountText
    }
}

extension ReportDocument {
    /// The reports of a replay: one per contract and month with activity (or of `month` only).
    public init(_ result: ReplayResult, contracts: [Contract], month: YearMonth? = nil) {
        let byID = Dictionary(contracts.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let reports = result.statements.filter { month == nil || $0.month == month }.map { s in
            MonthlyReport(
                s, zone: byID[s.contract]?.zone ?? .utc, asOf: result.asOf,
                state: s.provisional ? .provisional : .final, contract: byID[s.contract])
        }
        self.init(month: month?.description, reports: reports)
    }
}

/// RFC 4180 fields appended to one byte buffer.
struct CSVWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    /// A field, quoted only when it holds a comma, a quote or a line break.
    mutating func field(_ text: String, first: Bool = false) {
        if !first { bytes.append(0x2C) }
        var text = text
        text.withUTF8 { utf8 in
            guard Self.needsQuotes(utf8) else {
                bytes.append(contentsOf: utf8)
                return
            }
            bytes.append(0x22)
            for b in utf8 {
                if b == 0x22 { bytes.append(0x22) }
                bytes.append(b)
            }
            bytes.append(0x22)
        }
    }

    /// Whether a field of these bytes must be quoted: it holds a comma, a quote or a line break.
    static func needsQuotes(_ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        utf8.contains { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }
    }

    /// An integer field (digits and a sign never need quoting).
    mutating func number(_ value: Int64) {
        bytes.append(0x2C)
        bytes.append(contentsOf: String(value).utf8)
    }

    /// `count` empty fields.
    mutating func empty(_ count: Int) {
        for _ in 0..<count { bytes.append(0x2C) }
    }

    /// One field as text, for callers that build rows as strings.
    static func escape(_ text: String) -> String {
        var w = CSVWriter()
        w.field(text, first: true)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    /// One row of report `r` other than a breach line (``breachRow(_:_:)``), with the columns
    /// of `ReportRenderer.csvHeader`; the breach columns are empty.
    mutating func row(
        _ r: MonthlyReport, _ section: String, _ item: String, value: String = "",
        amount: MonthlyReport.Amount? = nil, note: String = ""
    ) {
        field(r.contract, first: true)
        field(r.month)
        field(r.state.rawValue)
        field(section)
        field(item)
        empty(7)
        field(value)
        field(amount?.amount ?? "")
        field(amount == nil ? "" : r.currency)
        field(note)
        endRow()
    }

    /// The fields every breach row of a report shares, quoted once: a month can have a million
    /// breach rows, and these are most of the fields written per row.
    struct BreachRowParts {
        /// `contract,month,state,breach,`
        var lead: [UInt8]
        /// `,currency,`
        var currency: [UInt8]

        init(_ r: MonthlyReport) {
            var w = CSVWriter()
            w.field(r.contract, first: true)
            w.field(r.month)
            w.field(r.state.rawValue)
            w.field("breach")
            w.bytes.append(0x2C)
            lead = w.bytes
            w = CSVWriter()
            w.field(r.currency)
            w.bytes.append(0x2C)
            currency = w.bytes
        }
    }

    /// The row of breach line `b`: section `breach`, item the metric, the breach columns, the
    /// amount, and the rule as its note.
    mutating func breachRow(_ b: MonthlyReport.Breach, _ shared: BreachRowParts) {
        bytes.append(contentsOf: shared.lead)
        field(b.metric, first: true)
        field(b.incident)
        field(b.metric)
        field(b.priority)
        field(b.at)
        number(b.targetSeconds)
        number(b.actualSeconds)
        number(b.overBySeconds)
        bytes.append(0x2C)
        field(b.amount.amount)
        bytes.append(contentsOf: shared.currency)
        field(b.rule, first: true)
        endRow()
    }

    mutating func endRow() {
        bytes.append(0x0D)
        bytes.append(0x0A)
    }
}
