import Foundation
import SLACore

/// Renders a replay for people (table), programs (JSON) and tests (lines).
///
/// All three are deterministic: the same result renders to the same bytes.
public enum ReplayRenderer {
    /// One fact per line, stable wording: the form docs/semantics.md scenarios assert on.
    public static func lines(_ result: ReplayResult, contracts: [Contract]) -> String {
        let zones = Dictionary(contracts.map { ($0.id, $0.zone) }, uniquingKeysWith: { a, _ in a })
        let versioned = Set(contracts.filter { !$0.laterVersions.isEmpty }.map(\.id))
        var out: [String] = []
        for v in result.incidents {
            let zone = zones[v.contract] ?? .utc
            out.append(
                "\(v.incident) status=\(v.status.rawValue) priority=\(v.priority) handoffs=\(v.handoffs)"
                    + (v.covered ? "" : " not-covered"))
            for c in v.clocks {
                var line =
                    "\(v.incident) \(c.metric) \(c.priority) \(c.outcome.rawValue) elapsed=\(formatSeconds(c.elapsed))"
                if let t = c.target { line += " target=\(formatSeconds(t))" }
                if let d = c.deadline, c.outcome == .running { line += " deadline=\(ISO8601.format(d, in: zone))" }
                out.append(line)
                for x in c.crossings {
                    out.append(
                        "\(v.incident) \(c.metric) \(x.threshold.kind.rawValue) \(x.threshold.at) at=\(ISO8601.format(x.at, in: zone))"
                    )
                }
            }
        }
        for s in result.statements {
            let head = "\(s.contract) \(s.month)"
            if let a = s.availability {
                out.append(
                    "\(head) availability=\(a.achieved) downtime=\(formatSeconds(a.downtimeSeconds)) period=\(formatSeconds(a.periodSeconds)) maintenance=\(formatSeconds(a.maintenanceSeconds)) tier=\(a.tier.map { "below \($0.below)" } ?? "none") credit=\(a.credit)"
                )
            }
            out.append(
                "\(head) reaction=\(s.reaction.met)/\(s.reaction.total) resolution=\(s.resolution.met)/\(s.resolution.total) incidents=\(s.incidentsByPriority.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",")) handoffs=\(s.handoffs) bounced=\(s.bouncedIncidents)"
            )
            for b in s.breaches {
                out.append(
                    "\(head) breach \(b.incident) \(b.metric) \(b.priority) target=\(formatSeconds(b.target)) actual=\(formatSeconds(b.actual)) over=\(formatSeconds(b.overBy)) amount=\(b.amount) rule=\(b.rule)"
                        + (versioned.contains(s.contract) ? " version=\(b.version)" : "")
                )
            }
            out.append(
                "\(head) subtotal=\(s.subtotal) cap=\(s.cap.map(\.description) ?? "none")\(s.capApplied ? " capped" : "") total=\(s.total)\(s.provisional ? " provisional" : "")"
            )
        }
        for r in result.rejections {
            out.append("rejected \(r.event.id) \(r.reason.rawValue): \(r.detail)")
        }
        return out.joined(separator: "\n") + (out.isEmpty ? "" : "\n")
    }

    /// One CSV row (RFC 4180) per clock: the per-incident verdicts, compact enough for golden files.
    public static func verdicts(_ result: ReplayResult, contracts: [Contract]) -> String {
        let zones = Dictionary(contracts.map { ($0.id, $0.zone) }, uniquingKeysWith: { a, _ in a })
        var out =
            "incident,contract,status,handoffs,metric,priority,outcome,target_seconds,elapsed_seconds,breached_at\r\n"
        for v in result.incidents {
            let zone = zones[v.contract] ?? .utc
            for c in v.clocks {
                let fields = [
                    v.incident, v.contract, v.status.rawValue, String(v.handoffs), c.metric.description, c.priority,
                    c.outcome.rawValue, c.target.map(String.init) ?? "", String(c.elapsed),
                    c.breach.map { ISO8601.format($0.at, in: zone) } ?? "",
                ]
                out += fields.map(CSVWriter.escape).joined(separator: ",") + "\r\n"
            }
        }
        return out
    }

    /// The statement and rejection lines of ``lines(_:contracts:)``, with rejection counts: a month-level summary.
    public static func statements(_ result: ReplayResult, contracts: [Contract]) -> String {
        let all = lines(result, contracts: contracts).split(separator: "\n")
        let months = Set(result.statements.map { "\($0.contract) \($0.month) " })
        var out = all.filter { line in months.contains { line.hasPrefix($0) } }.joined(separator: "\n")
        out += "\n\(result.eventCount) events, \(result.incidents.count) incidents, \(result.rejections.count) rejected"
        let counts = result.rejectionCounts
        if !counts.isEmpty { out += " (" + counts.map { "\($0.reason): \($0.count)" }.joined(separator: ", ") + ")" }
        return out + "\n"
    }

    /// A terminal summary: incidents with their clocks, then money per contract and month.
    public static func table(_ result: ReplayResult, contracts: [Contract]) -> String {
        let zones = Dictionary(contracts.map { ($0.id, $0.zone) }, uniquingKeysWith: { a, _ in a })
        var rows: [[String]] = [
            ["INCIDENT", "CONTRACT", "METRIC", "PRIO", "TARGET", "ELAPSED", "VERDICT", "BREACHED AT"]
        ]
        for v in result.incidents {
            for c in v.clocks where c.outcome != .untracked {
                rows.append([
                    v.incident, v.contract, c.metric.description, c.priority, c.target.map { formatSeconds($0) } ?? "-",
                    formatSeconds(c.elapsed), c.outcome.rawValue,
                    c.breach.map { ISO8601.format($0.at, in: zones[v.contract] ?? .utc) } ?? "",
                ])
            }
        }
        var out = align(rows)
        out += "\n"
        var money: [[String]] = [
            ["CONTRACT", "MONTH", "AVAILABILITY", "CREDIT", "BREACHES", "PENALTIES", "CAP", "TOTAL", ""]
        ]
        for s in result.statements {
            let penalties = s.breaches.reduce(Money.zero(s.fee.currency)) { $0 + $1.amount }
            money.append([
                s.contract, s.month.description, s.availability.map { $0.achieved.description } ?? "-",
                s.availability.map { $0.credit.description } ?? "-", String(s.breaches.count), penalties.description,
                s.cap.map { $0.description + (s.capApplied ? " (applied)" : "") } ?? "-", s.total.description,
                s.provisional ? "provisional" : "",
            ])
        }
        out += align(money)
        out += "\n\(result.eventCount) events, \(result.incidents.count) incidents, \(result.rejections.count) rejected"
        let counts = result.rejectionCounts
        if !counts.isEmpty { out += " (" + counts.map { "\($0.reason): \($0.count)" }.joined(separator: ", ") + ")" }
        out +=
            "\nas of \(ISO8601.format(result.asOf, in: .utc)); amounts rounded half-even per line to the minor unit\n"
        return out
    }

    static func align(_ rows: [[String]]) -> String {
        guard let first = rows.first else { return "" }
        var widths = Array(repeating: 0, count: first.count)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        return rows.map { r in
            r.enumerated().map { i, c in i == r.count - 1 ? c : c + String(repeating: " ", count: widths[i] - c.count) }
                .joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }.joined(separator: "\n") + "\n"
    }

    /// JSON with sorted keys; money as decimal text plus minor units, times as RFC 3339 in the contract zone.
    public static func json(_ result: ReplayResult, contracts: [Contract]) throws -> String {
        let zones = Dictionary(contracts.map { ($0.id, $0.zone) }, uniquingKeysWith: { a, _ in a })
        let document = JSONReplay(result, zones: zones)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(document), as: UTF8.self) + "\n"
    }
}

/// The JSON shape of `slad replay --format json`: incidents with their clocks and thresholds,
/// quarantined lines, rejections, and the statement per contract and month.
struct JSONReplay: Encodable {
    struct MoneyJSON: Encodable {
        var amount: String
        var currency: String
        var minor_units: Int64
        init(_ m: Money) {
            amount = m.amountText
            currency = m.currency.code
            minor_units = m.minorUnits
        }
    }
    struct CrossingJSON: Encodable {
        var kind: String
        var at_percent: String
        var at: String
        var target_seconds: Int64
        var priority: String
    }
    struct ClockJSON: Encodable {
        var metric: String
        var priority: String
        var outcome: String
        var target_seconds: Int64?
        var elapsed_seconds: Int64
        var stopped_at: String?
        var deadline: String?
        var calendar: String
        var crossings: [CrossingJSON]
    }
    struct IncidentJSON: Encodable {
        var incident: String
        var contract: String
        var service: String?
        var opened_at: String
        var priority: String
        var opening_priority: String
        var status: String
        var handoffs: Int
        var covered: Bool
        var clocks: [ClockJSON]
    }
    struct BreachJSON: Encodable {
        var incident: String
        var metric: String
        var priority: String
        var at: String
        var target_seconds: Int64
        var actual_seconds: Int64
        var over_by_seconds: Int64
        var amount: MoneyJSON
        var rule: String
    }
    struct AvailabilityJSON: Encodable {
        var period_seconds: Int64
        var maintenance_seconds: Int64
        var downtime_seconds: Int64
        var achieved: String
        var target: String
        var met: Bool
        var tier_below: String?
        var credit: MoneyJSON
    }
    struct StatementJSON: Encodable {
        var contract: String
        var customer: String
        var month: String
        var period_start: String
        var period_end: String
        var provisional: Bool
        var fee: MoneyJSON
        var availability: AvailabilityJSON?
        var incidents_by_priority: [String: Int]
        var reaction_met: Int
        var reaction_total: Int
        var resolution_met: Int
        var resolution_total: Int
        var handoffs: Int
        var bounced_incidents: Int
        var breaches: [BreachJSON]
        var subtotal: MoneyJSON
        var cap: MoneyJSON?
        var cap_applied: Bool
        var total: MoneyJSON
    }
    struct RejectionJSON: Encodable {
        var event: String
        var reason: String
        var detail: String
    }

    var as_of: String
    var events: Int
    var rounding: String
    var incidents: [IncidentJSON]
    var statements: [StatementJSON]
    var rejections: [RejectionJSON]

    init(_ r: ReplayResult, zones: [String: ZoneRules]) {
        as_of = ISO8601.format(r.asOf, in: .utc)
        events = r.eventCount
        rounding = "half-even per line to the currency's minor unit"
        incidents = r.incidents.map { v in
            let z = zones[v.contract] ?? .utc
            return IncidentJSON(
                incident: v.incident, contract: v.contract, service: v.service,
                opened_at: ISO8601.format(v.openedAt, in: z),
                priority: v.priority, opening_priority: v.openingPriority, status: v.status.rawValue,
                handoffs: v.handoffs,
                covered: v.covered,
                clocks: v.clocks.map { c in
                    ClockJSON(
                        metric: c.metric.description, priority: c.priority, outcome: c.outcome.rawValue,
                        target_seconds: c.target,
                        elapsed_seconds: c.elapsed, stopped_at: c.stoppedAt.map { ISO8601.format($0, in: z) },
                        deadline: c.deadline.map { ISO8601.format($0, in: z) }, calendar: c.calendarID,
                        crossings: c.crossings.map {
                            CrossingJSON(
                                kind: $0.threshold.kind.rawValue, at_percent: $0.threshold.at.description,
                                at: ISO8601.format($0.at, in: z), target_seconds: $0.target, priority: $0.priority)
                        })
                })
        }
        statements = r.statements.map { s in
            let z = zones[s.contract] ?? .utc
            return StatementJSON(
                contract: s.contract, customer: s.customer, month: s.month.description,
                period_start: ISO8601.format(s.periodStart, in: z), period_end: ISO8601.format(s.periodEnd, in: z),
                provisional: s.provisional, fee: MoneyJSON(s.fee),
                availability: s.availability.map {
                    AvailabilityJSON(
                        period_seconds: $0.periodSeconds, maintenance_seconds: $0.maintenanceSeconds,
                        downtime_seconds: $0.downtimeSeconds, achieved: $0.achieved.description,
                        target: $0.target.description,
                        met: $0.met, tier_below: $0.tier?.below.description, credit: MoneyJSON($0.credit))
                }, incidents_by_priority: s.incidentsByPriority, reaction_met: s.reaction.met,
                reaction_total: s.reaction.total, resolution_met: s.resolution.met,
                resolution_total: s.resolution.total,
                handoffs: s.handoffs, bounced_incidents: s.bouncedIncidents,
                breaches: s.breaches.map {
                    BreachJSON(
                        incident: $0.incident, metric: $0.metric.description, priority: $0.priority,
                        at: ISO8601.format($0.at, in: z), target_seconds: $0.target, actual_seconds: $0.actual,
                        over_by_seconds: $0.overBy, amount: MoneyJSON($0.amount), rule: $0.rule)
                }, subtotal: MoneyJSON(s.subtotal), cap: s.cap.map(MoneyJSON.init), cap_applied: s.capApplied,
                total: MoneyJSON(s.total))
        }
        rejections = r.rejections.map {
            RejectionJSON(event: $0.event.id, reason: $0.reason.rawValue, detail: $0.detail)
        }
    }
}
