import SLAAPI
import SLACore
import SLAStore

/// The month of each support line and team against its OLA (`slad report --units`,
/// `slad replay --format units…`): per unit and priority, the holds decided in the month, how
/// many met and breached their target, the time held (median and 90th percentile), the holds
/// handed on and the returns. Deterministic: the same verdicts give the same bytes.
///
/// A hold belongs to the month, in its unit's calendar zone, in which it was decided: its
/// breach instant, or its stop when it met its target. A hold still running and not breached
/// is not counted yet.
public struct UnitReport: Codable, Sendable, Equatable {
    /// One priority's figures of one unit (or `all` of them).
    public struct Row: Codable, Sendable, Equatable {
        /// The priority at the hold's end, or `all`.
        public var priority: String
        /// The target of that priority (business seconds), absent on `all` or without one.
        public var targetSeconds: Int64?
        /// Holds decided in the month.
        public var holds: Int
        /// Of those, within the target.
        public var met: Int
        /// Of those, past it: the OLA breaches.
        public var breached: Int
        /// `met / holds` as a percentage with two decimals (half-even); absent without holds.
        public var attainment: String?
        /// Median business seconds held, over the decided holds that have ended (lower median).
        public var heldMedianSeconds: Int64?
        /// 90th percentile of the same (nearest rank).
        public var heldP90Seconds: Int64?
        /// Holds that ended while the incident stayed open (handed on to another unit).
        public var handedOn: Int
        /// Holds that brought the incident back to the unit (its second hold or later).
        public var returns: Int
    }

    /// The contract's own clocks of one metric and priority decided while the unit held the
    /// incident: how the unit did on what the customer was promised.
    public struct ClockRow: Codable, Sendable, Equatable {
        /// `reaction` or `resolution`.
        public var metric: String
        /// The priority at the clock's end.
        public var priority: String
        /// Met while the unit held the incident (the stop fell in one of its holds).
        public var met: Int
        /// Breached while it held it (the breach instant fell in one of its holds).
        public var breached: Int
        /// `met / (met + breached)`, two decimals.
        public var attainment: String?
    }

    /// One line or team.
    public struct Unit: Codable, Sendable, Equatable {
        /// `line` or `team`.
        public var kind: String
        /// Its name, as events carry it.
        public var name: String
        /// The calendar its time is counted in, and the zone its month is read in.
        public var calendar: String
        /// That zone.
        public var timezone: String
        /// One row per priority (in name order), then `all`.
        public var rows: [Row]
        /// The contract clocks decided in the month while the unit held the incident, by metric
        /// then priority.
        public var clocks: [ClockRow]
        /// Holds of the unit running at the report instant (the live picture: `slactl lines`,
        /// `slactl teams`); absent in a month's report.
        public var holdingNow: Int?
        /// Of those, past their target.
        public var holdingNowBreached: Int?
    }

    /// `slad.units/1`.
    public var schema = "slad.units/1"
    /// `YYYY-MM`.
    public var month: String
    /// The evaluation instant, UTC.
    public var asOf: String
    /// Lines, then teams, each by name.
    public var units: [Unit]
}

extension UnitReport {
    /// Gathers the OLA holds of verdicts, one verdict at a time.
    public struct Tally: Sendable {
        let olas: OLABook
        let month: YearMonth
        /// Per unit (`line:L1`): per priority, the decided holds' outcome, time held if ended,
        /// handed on, return.
        var holds: [String: [String: [(met: Bool, held: Int64?, handedOn: Bool, isReturn: Bool)]]] = [:]
        /// With `now`: per unit, the holds still running, and of those the breached.
        let now: Bool
        var holding: [String: (all: Int, breached: Int)] = [:]
        /// Per unit, metric and priority: contract clocks decided while the unit held the incident.
        var decided: [String: [String: [String: (met: Int, breached: Int)]]] = [:]

        /// An empty tally of `month` for the units of `olas`; `now` also counts the holds
        /// running at the report instant.
        public init(olas: OLABook, month: YearMonth, now: Bool = false) {
            self.olas = olas
            self.month = month
            self.now = now
        }

        /// Counts the OLA holds of one verdict (already advanced to the report instant), and its
        /// reaction and resolution clocks for the line and the team holding it when each was
        /// decided.
        public mutating func add(_ v: IncidentVerdict) {
            for clock in v.clocks where clock.metric == .reaction || clock.metric == .resolution {
                guard clock.outcome == .met || clock.outcome == .breached,
                    let at = clock.breach?.at ?? clock.stoppedAt
                else { continue }
                for kind in ["line:", "team:"] {
                    // A kind's holds follow one another: the one holding at `at` is the first to
                    // stop at or after it, else the one still running. Two stopping at one
                    // instant (a handoff in the row that resolves) are the one that held and one
                    // that began there: the longer held wins, then the name, so the store's clock
                    // order and the replay's give the same unit.
                    var best: (hold: String, stop: Instant, elapsed: Int64)?
                    var running: String?
                    for c in v.clocks {
                        guard case .ola(let hold) = c.metric, hold.hasPrefix(kind) else { continue }
                        guard let stop = c.stoppedAt else {
                            running = hold
                            continue
                        }
                        guard stop >= at else { continue }
                        if let b = best, (b.stop, -b.elapsed, b.hold) <= (stop, -c.elapsed, hold) { continue }
                        best = (hold, stop, c.elapsed)
                    }
                    guard let holderName = best?.hold ?? running, let terms = olas.terms(ofHold: holderName),
                        terms.calendar.zone.month(of: at) == month
                    else { continue }
                    let unit = String(holderName.prefix { $0 != "#" })
                    if clock.outcome == .breached {
                        decided[unit, default: [:]]["\(clock.metric)", default: [:]][clock.priority, default: (0, 0)]
                            .breached += 1
                    } else {
                        decided[unit, default: [:]]["\(clock.metric)", default: [:]][clock.priority, default: (0, 0)]
                            .met += 1
                    }
                }
            }
            // The incident's own end (its resolution clock's stop, which the store keeps too): a
            // hold that stopped before it was handed on.
            let end = v.status == .open ? nil : v.clocks.first { $0.metric == .resolution }?.stoppedAt
            for clock in v.clocks {
                guard case .ola(let hold) = clock.metric, let terms = olas.terms(ofHold: hold) else { continue }
                if now && clock.stoppedAt == nil {
                    let unit = String(hold.prefix { $0 != "#" })
                    holding[unit, default: (0, 0)].all += 1
                    if clock.outcome == .breached { holding[unit, default: (0, 0)].breached += 1 }
                }
                let decided = clock.breach?.at ?? (clock.outcome == .met ? clock.stoppedAt : nil)
                guard let decided, terms.calendar.zone.month(of: decided) == month else { continue }
                let handedOn = clock.stoppedAt.map { stop in end.map { stop < $0 } ?? true } ?? false
                let isReturn = hold.split(separator: "#").last.flatMap { Int($0) }.map { $0 > 1 } ?? false
                let unit = String(hold.prefix { $0 != "#" })
                holds[unit, default: [:]][clock.priority, default: []].append(
                    (
                        clock.outcome != .breached, clock.stoppedAt == nil ? nil : clock.elapsed, handedOn,
                        isReturn
                    ))
            }
        }

        /// The report, every configured unit listed (one without holds shows zeros).
        public func report(asOf: Instant) -> UnitReport {
            var units: [Unit] = []
            for (kind, book) in [("line", olas.lines), ("team", olas.teams)] {
                for (name, terms) in book.sorted(by: { $0.key < $1.key }) {
                    let byPriority = holds["\(kind):\(name)"] ?? [:]
                    var rows = byPriority.keys.sorted().map {
                        Self.row($0, target: terms.targets[$0], byPriority[$0]!)
                    }
                    rows.append(Self.row("all", target: nil, byPriority.values.flatMap { $0 }))
                    let held = holding["\(kind):\(name)"] ?? (0, 0)
                    var clocks: [ClockRow] = []
                    for (metric, byPriority) in (decided["\(kind):\(name)"] ?? [:]).sorted(by: { $0.key < $1.key }) {
                        for (priority, c) in byPriority.sorted(by: { $0.key < $1.key }) {
                            let total = Int64(c.met + c.breached)
                            clocks.append(
                                ClockRow(
                                    metric: metric, priority: priority, met: c.met, breached: c.breached,
                                    attainment: total == 0
                                        ? nil : decimal(Int64(c.met) * 100, over: total, digits: 2) + "%"))
                        }
                    }
                    units.append(
                        Unit(
                            kind: kind, name: name, calendar: terms.calendar.id,
                            timezone: terms.calendar.zone.identifier, rows: rows, clocks: clocks,
                            holdingNow: now ? held.all : nil, holdingNowBreached: now ? held.breached : nil))
                }
            }
            return UnitReport(month: month.description, asOf: ISO8601.format(asOf, in: .utc), units: units)
        }

        static func row(
            _ priority: String, target: Int64?, _ list: [(met: Bool, held: Int64?, handedOn: Bool, isReturn: Bool)]
        ) -> Row {
            let met = list.filter(\.met).count
            let held = list.compactMap(\.held).sorted()
            // Nearest rank: the smallest value with at least p of the values at or below it.
            func rank(_ numerator: Int, _ denominator: Int) -> Int64? {
                held.isEmpty ? nil : held[max(0, (held.count * numerator + denominator - 1) / denominator - 1)]
            }
            return Row(
                priority: priority, targetSeconds: target, holds: list.count, met: met, breached: list.count - met,
                attainment: list.isEmpty ? nil : decimal(Int64(met) * 100, over: Int64(list.count), digits: 2) + "%",
                heldMedianSeconds: rank(1, 2), heldP90Seconds: rank(9, 10), handedOn: list.filter(\.handedOn).count,
                returns: list.filter(\.isReturn).count)
        }
    }

    /// A terminal table per unit.
    public var table: String {
        var out = "OLA report \(month), as of \(asOf)\n"
        for u in units {
            out += "\n\(u.kind) \(u.name) (calendar \(u.calendar), \(u.timezone))"
            if let held = u.holdingNow {
                out += ": holding \(held) now, \(u.holdingNowBreached ?? 0) past target"
            }
            out += "\n"
            var rows = [
                [
                    "PRIO", "TARGET", "HOLDS", "MET", "BREACHED", "ATTAINMENT", "HELD MEDIAN", "HELD P90", "HANDED ON",
                    "RETURNS",
                ]
            ]
            for r in u.rows {
                rows.append([
                    r.priority, r.targetSeconds.map { formatSeconds($0) } ?? "", String(r.holds), String(r.met),
                    String(r.breached), r.attainment ?? "n/a", r.heldMedianSeconds.map { formatSeconds($0) } ?? "",
                    r.heldP90Seconds.map { formatSeconds($0) } ?? "", String(r.handedOn), String(r.returns),
                ])
            }
            out += ReplayRenderer.align(rows)
            if !u.clocks.isEmpty {
                var clockRows = [["CONTRACT CLOCK", "PRIO", "MET", "BREACHED", "ATTAINMENT"]]
                for c in u.clocks {
                    clockRows.append([
                        c.metric, c.priority, String(c.met), String(c.breached), c.attainment ?? "n/a",
                    ])
                }
                out += ReplayRenderer.align(clockRows)
            }
        }
        return out
    }

    /// One CSV row (RFC 4180) per unit, metric and priority, durations in seconds: the OLA
    /// holds (`ola`), then the contract clocks decided while the unit held the incident.
    public var csv: String {
        var w = CSVWriter()
        for (k, h) in [
            "month", "kind", "unit", "metric", "calendar", "timezone", "priority", "target_seconds", "holds", "met",
            "breached",
            "attainment", "held_median_seconds", "held_p90_seconds", "handed_on", "returns",
        ].enumerated() {
            w.field(h, first: k == 0)
        }
        w.bytes += [0x0D, 0x0A]
        for u in units {
            for r in u.rows {
                w.field(month, first: true)
                let text: (Int64?) -> String = { $0.map { String($0) } ?? "" }
                let fields: [String] = [
                    u.kind, u.name, "ola", u.calendar, u.timezone, r.priority, text(r.targetSeconds), String(r.holds),
                    String(r.met), String(r.breached), r.attainment ?? "", text(r.heldMedianSeconds),
                    text(r.heldP90Seconds), String(r.handedOn), String(r.returns),
                ]
                for f in fields { w.field(f) }
                w.bytes += [0x0D, 0x0A]
            }
            for c in u.clocks {
                w.field(month, first: true)
                let fields: [String] = [
                    u.kind, u.name, c.metric, u.calendar, u.timezone, c.priority, "", String(c.met + c.breached),
                    String(c.met), String(c.breached), c.attainment ?? "", "", "", "", "",
                ]
                for f in fields { w.field(f) }
                w.bytes += [0x0D, 0x0A]
            }
        }
        return String(decoding: w.bytes, as: UTF8.self)
    }

    /// One printable page: per unit a bar of its attainment per priority, then the table.
    public var html: String {
        let e = ReportHTML.escape
        var out = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>OLA report \(e(month))</title>
            <style>
            body { font: 14px/1.4 system-ui, sans-serif; color: #1b1f24; margin: 2em; }
            table { border-collapse: collapse; margin: 0.5em 0 1.5em; } td, th { border: 1px solid #c8ccd1; padding: 2px 8px; }
            .num { text-align: right; } .muted { color: #59636e; }
            </style>
            </head>
            <body>
            <h1>OLA report \(e(month))</h1>
            <p class="muted">as of \(e(asOf)); each hold counts in the month it was decided, in its unit's zone</p>

            """
        for u in units {
            out += "<h2>\(e(u.kind)) \(e(u.name))</h2>\n"
            out += "<p class=\"muted\">calendar \(e(u.calendar)), \(e(u.timezone))</p>\n"
            let bars = u.rows.filter { $0.priority != "all" }
            if !bars.isEmpty {
                let height = 24 * bars.count + 8
                out +=
                    "<svg viewBox=\"0 0 520 \(height)\" width=\"520\" height=\"\(height)\" role=\"img\" aria-label=\"attainment by priority\">\n"
                for (k, r) in bars.enumerated() {
                    // Attainment in hundredths of a percent, as a bar of up to 400 px.
                    let hundredths = r.holds == 0 ? 0 : r.met * 10_000 / r.holds
                    let width = hundredths * 400 / 10_000
                    let y = 4 + 24 * k
                    out +=
                        "<text x=\"0\" y=\"\(y + 15)\">\(e(r.priority))</text><rect x=\"60\" y=\"\(y)\" width=\"400\" height=\"18\" fill=\"#eef0f2\"/><rect x=\"60\" y=\"\(y)\" width=\"\(width)\" height=\"18\" fill=\"#2f7d4a\"/><text x=\"466\" y=\"\(y + 15)\">\(e(r.attainment ?? "n/a"))</text>\n"
                }
                out += "</svg>\n"
            }
            out +=
                "<table>\n<tr><th>Priority</th><th class=\"num\">Target</th><th class=\"num\">Holds</th><th class=\"num\">Met</th><th class=\"num\">Breached</th><th class=\"num\">Attainment</th><th class=\"num\">Held median</th><th class=\"num\">Held p90</th><th class=\"num\">Handed on</th><th class=\"num\">Returns</th></tr>\n"
            for r in u.rows {
                let cells = [
                    r.targetSeconds.map { formatSeconds($0) } ?? "", String(r.holds), String(r.met), String(r.breached),
                    r.attainment ?? "n/a", r.heldMedianSeconds.map { formatSeconds($0) } ?? "",
                    r.heldP90Seconds.map { formatSeconds($0) } ?? "", String(r.handedOn), String(r.returns),
                ]
                out +=
                    "<tr><td>\(e(r.priority))</td>" + cells.map { "<td class=\"num\">\(e($0))</td>" }.joined()
                    + "</tr>\n"
            }
            out += "</table>\n"
            if !u.clocks.isEmpty {
                out +=
                    "<table>\n<tr><th>Contract clock</th><th>Priority</th><th class=\"num\">Met</th><th class=\"num\">Breached</th><th class=\"num\">Attainment</th></tr>\n"
                for c in u.clocks {
                    out +=
                        "<tr><td>\(e(c.metric))</td><td>\(e(c.priority))</td><td class=\"num\">\(c.met)</td><td class=\"num\">\(c.breached)</td><td class=\"num\">\(e(c.attainment ?? "n/a"))</td></tr>\n"
                }
                out += "</table>\n"
            }
        }
        return out + "</body>\n</html>\n"
    }

    /// The report in `format` (`charges-csv` has no meaning here and gives the CSV).
    public func render(_ format: ReportFormat) -> [UInt8] {
        switch format {
        case .table: Array(table.utf8)
        case .csv, .chargesCSV: Array(csv.utf8)
        case .json: APIJSON.encode(self, pretty: true)
        case .html: Array(html.utf8)
        }
    }
}

extension ReportBook {
    /// The OLA report of `month` from the stored verdicts of every contract's incidents, each
    /// advanced to `asOf`; `now` adds the holds running at `asOf` (the live picture).
    public func unitReport(month: YearMonth, asOf: Instant, now: Bool = false) throws -> UnitReport {
        let olas = contracts.first?.olas ?? .none
        var tally = UnitReport.Tally(olas: olas, month: month, now: now)
        guard !olas.isEmpty else { return tally.report(asOf: asOf) }
        // A day either side of the month in UTC holds it in every zone.
        let to = Instant(ZoneRules.utc.startOfDay(month.next.firstDay).seconds + 86_400)
        for c in contracts {
            try store.forEachReportVerdict(contract: c.id, from: Instant(0), to: to) { v in
                v.project(to: asOf, in: c)
                tally.add(v)
            }
        }
        return tally.report(asOf: asOf)
    }
}
