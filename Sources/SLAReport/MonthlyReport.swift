import SLACore

/// The penalty report of one contract for one calendar month: what finance pays out from.
///
/// This is the documented JSON schema (docs/reports.md) and the input of every renderer, so a
/// sealed report stored as JSON renders to the same table, CSV and HTML years later, whatever
/// the contracts say by then. Money is decimal text plus integer minor units; durations are
/// integer seconds; instants are RFC 3339 in the contract's zone.
public struct MonthlyReport: Codable, Sendable, Equatable {
    /// How final the figures are.
    public enum State: String, Codable, Sendable {
        /// The month is not over: figures will change.
        case provisional
        /// The month is over but not sealed (within the grace before sealing, or computed offline):
        /// late events can still change it until it is sealed.
        case final
        /// Read from the store, where it was sealed: later events show as adjustments elsewhere.
        case sealed
    }

    /// An amount in the report's currency.
    public struct Amount: Codable, Sendable, Equatable {
        /// Decimal text, e.g. `"45000.00"`.
        public var amount: String
        /// The same amount in minor units.
        public var minorUnits: Int64

        init(_ money: Money) {
            amount = money.amountText
            minorUnits = money.minorUnits
        }
    }

    /// The fee, and how much of it the month carries.
    public struct Fee: Codable, Sendable, Equatable {
        /// The monthly fee in the contract.
        public var monthly: Amount
        /// The fee for this month (prorated when the contract is valid on part of it only).
        public var charged: Amount
        /// Days of the month the contract is valid.
        public var validDays: Int
        /// Days in the month.
        public var daysInMonth: Int
    }

    /// An interval of the month, for the timeline chart.
    public struct Span: Codable, Sendable, Equatable {
        /// Start (inclusive).
        public var start: String
        /// End (exclusive).
        public var end: String
        /// Seconds from the period start to `start` and to `end`, so charts need no date parsing.
        public var fromSecond: Int64
        /// See `fromSecond`.
        public var toSecond: Int64
    }

    /// Availability over the period.
    public struct Availability: Codable, Sendable, Equatable {
        /// Seconds of the availability calendar in the period.
        public var periodSeconds: Int64
        /// Maintenance seconds excluded.
        public var maintenanceSeconds: Int64
        /// Downtime seconds counted.
        public var downtimeSeconds: Int64
        /// Achieved, rounded half-even to 0.0001 % (compared with targets exactly).
        public var achieved: String
        /// Promised.
        public var target: String
        /// Whether the target was met.
        public var met: Bool
        /// The credit tier hit (`below` of the tier), if any.
        public var tierBelow: String?
        /// The credit of that tier, as a share of the charged fee.
        public var tierCredit: String?
        /// The credit owed.
        public var credit: Amount
        /// Counted downtime intervals.
        public var downtime: [Span]
        /// Excluded maintenance intervals.
        public var maintenance: [Span]
    }

    /// Met, breached and their share for one metric.
    public struct Compliance: Codable, Sendable, Equatable {
        /// Clocks decided in the month that met their target.
        public var met: Int
        /// Clocks that breached in the month.
        public var breached: Int
        /// Met share, rounded half-even to 0.01 %; nil when nothing was decided.
        public var percent: String?
    }

    /// Handoffs of the incidents opened in the month.
    public struct Handoffs: Codable, Sendable, Equatable {
        /// All handoffs.
        public var total: Int
        /// Per incident opened, rounded half-even to 0.01.
        public var perIncident: String
        /// Incidents handed off more than twice.
        public var bounced: Int
    }

    /// Incidents opened under one priority.
    public struct PriorityCount: Codable, Sendable, Equatable {
        /// The priority at open.
        public var priority: String
        /// Incidents opened.
        public var opened: Int
    }

    /// One breach and its price.
    public struct Breach: Codable, Sendable, Equatable {
        /// The incident.
        public var incident: String
        /// `reaction`, `resolution` or `promise:NAME`.
        public var metric: String
        /// The priority in force at the breach.
        public var priority: String
        /// When it breached.
        public var at: String
        /// Target in business seconds.
        public var targetSeconds: Int64
        /// Elapsed business seconds at the stop, or at `as_of` while still running.
        public var actualSeconds: Int64
        /// How far past the target.
        public var overBySeconds: Int64
        /// What it costs.
        public var amount: Amount
        /// How the amount was computed.
        public var rule: String
        /// The contract version whose penalties priced it (absent in reports sealed before
        /// contracts had versions).
        public var version: String?
    }

    /// A version of the contract's terms that can have judged the month: every version in
    /// force before the month's end.
    public struct Version: Codable, Sendable, Equatable {
        /// Its name.
        public var version: String
        /// When it took effect (contract zone); absent for the first version.
        public var effective: String?
        /// Whether it judges incidents already open when it takes effect.
        public var appliesToOpen: Bool
        /// SHA-256 of its terms as written in the contract file.
        public var sha256: String
    }

    /// A correction of a sealed month, carried by the first month not yet sealed.
    public struct Adjustment: Codable, Sendable, Equatable {
        /// The sealed month corrected.
        public var sealedMonth: String
        /// The seal's content hash, to find the sealed report.
        public var sealedSha256: String
        /// Total of the sealed report (with adjustments already carried by earlier months).
        public var sealedTotal: Amount
        /// Total of that month computed from today's data.
        public var recomputedTotal: Amount
        /// The difference carried by this month (negative: owed back).
        public var amount: Amount
    }

    /// Set on a report read from a seal; not part of the hashed content.
    public struct Seal: Codable, Sendable, Equatable {
        /// When the month was sealed.
        public var sealedAt: String
        /// SHA-256 (hex) of the report's canonical JSON without this member.
        public var sha256: String
    }

    /// Schema name and version.
    public var schema = "slad.report/1"
    /// Contract id.
    public var contract: String
    /// Customer name.
    public var customer: String
    /// `YYYY-MM`.
    public var month: String
    /// IANA zone the month is read in.
    public var timezone: String
    /// ISO 4217 code of every amount.
    public var currency: String
    /// Start of the period covered (the month, clipped to the contract's validity).
    public var periodStart: String
    /// End of the period covered (exclusive; clipped to `as_of` while the month runs).
    public var periodEnd: String
    /// The instant the figures hold for.
    public var asOf: String
    /// Provisional, final or sealed.
    public var state: State
    /// The seal, when read from one.
    public var seal: Seal?
    /// The rounding rule.
    public var rounding: String
    /// Fee and proration.
    public var fee: Fee
    /// Availability, when the contract promises it.
    public var availability: Availability?
    /// Incidents opened in the month per priority at open, by priority name.
    public var incidentsByPriority: [PriorityCount]
    /// Reaction compliance.
    public var reaction: Compliance
    /// Resolution compliance.
    public var resolution: Compliance
    /// Handoff statistics.
    public var handoffs: Handoffs
    /// Every breach of the month, in time order.
    public var breaches: Breaches
    /// Availability credit plus breach penalties.
    public var subtotal: Amount
    /// The cap as an amount, if the contract has one.
    public var cap: Amount?
    /// Whether the cap reduced the subtotal.
    public var capApplied: Bool
    /// The contract's versions up to the month's end, the terms its lines were judged by
    /// (absent in reports sealed before contracts had versions).
    public var versions: [Version]?
    /// Corrections of sealed months.
    public var adjustments: [Adjustment]
    /// What is owed: the capped subtotal plus adjustments.
    public var total: Amount

    /// The stated rounding rule.
    public static let roundingRule =
        "money: integer minor units; each line rounded half-even to the currency's minor unit (only shares of the fee need rounding); percentages shown half-even, compared exactly"
}

extension MonthlyReport {
    /// The report of a statement, as of `asOf`, carrying `adjustments`; `terms` (the contract)
    /// names the versions that judged it.
    public init(
        _ s: MonthlyStatement, zone: ZoneRules, asOf: Instant, state: State, adjustments: [Adjustment] = [],
        contract terms: Contract? = nil
    ) {
        let format = { (t: Instant) in ISO8601.format(t, in: zone) }
        let start = s.periodStart.seconds
        let span = { (r: Range<Int64>) in
            Span(
                start: format(Instant(r.lowerBound)), end: format(Instant(r.upperBound)),
                fromSecond: r.lowerBound - start, toSecond: r.upperBound - start)
        }
        contract = s.contract
        customer = s.customer
        month = s.month.description
        timezone = zone.identifier
        currency = s.fee.currency.code
        periodStart = format(s.periodStart)
        periodEnd = format(s.periodEnd)
        self.asOf = format(asOf)
        self.state = state
        rounding = Self.roundingRule
        fee = Fee(
            monthly: Amount(s.fullFee), charged: Amount(s.fee), validDays: s.validDays, daysInMonth: s.daysInMonth)
        availability = s.availability.map { a in
            Availability(
                periodSeconds: a.periodSeconds, maintenanceSeconds: a.maintenanceSeconds,
                downtimeSeconds: a.downtimeSeconds, achieved: a.achieved.description, target: a.target.description,
                met: a.met, tierBelow: a.tier?.below.description, tierCredit: a.tier?.credit.description,
                credit: Amount(a.credit), downtime: a.downtime.intervals.map(span),
                maintenance: a.maintenance.intervals.map(span))
        }
        incidentsByPriority = s.incidentsByPriority.sorted { $0.key < $1.key }.map {
            PriorityCount(priority: $0.key, opened: $0.value)
        }
        reaction = Compliance(s.reaction)
        resolution = Compliance(s.resolution)
        let opened = s.incidentsByPriority.values.reduce(0, +)
        handoffs = Handoffs(
            total: s.handoffs, perIncident: decimal(Int64(s.handoffs), over: Int64(opened), digits: 2),
            bounced: s.bouncedIncidents)
        breaches = Breaches(s.breaches, zone: zone)
        subtotal = Amount(s.subtotal)
        cap = s.cap.map(Amount.init)
        capApplied = s.capApplied
        let monthEnd = zone.startOfDay(s.month.next.firstDay)
        versions = terms.map { c in
            c.versions.filter { ($0.effective ?? monthEnd) < monthEnd || $0 === c }.map {
                Version(
                    version: $0.version, effective: $0.effective.map(format), appliesToOpen: $0.appliesToOpen,
                    sha256: $0.versionHash)
            }
        }
        self.adjustments = adjustments
        let adjusted = adjustments.reduce(s.total.minorUnits) { $0 + $1.amount.minorUnits }
        total = Amount(Money(minorUnits: adjusted, currency: s.fee.currency))
    }

    /// The total in minor units before adjustments: what a later correction is measured against.
    public var cappedSubtotalMinorUnits: Int64 {
        total.minorUnits - adjustments.reduce(0) { $0 + $1.amount.minorUnits }
    }
}

extension MonthlyReport {
    /// The breach lines of a report: a JSON array of ``Breach``.
    ///
    /// A report made from a statement keeps the statement's compact lines and makes each
    /// ``Breach`` when it is read, so a month of a million lines is not copied into a million
    /// documents of five texts each before it is written; a report read from its JSON (a sealed
    /// one) holds the decoded breaches. Both read the same.
    public struct Breaches: RandomAccessCollection, Sendable, Codable, Equatable {
        enum Storage: Sendable {
            case decoded([Breach])
            case lines(BreachLines, ZoneRules)
        }

        let storage: Storage

        /// The breaches of `lines`, their instants written in `zone`.
        public init(_ lines: BreachLines, zone: ZoneRules) { storage = .lines(lines, zone) }

        /// `breaches`, as they are.
        public init(_ breaches: [Breach] = []) { storage = .decoded(breaches) }

        /// The statement lines and zone behind these breaches, when they were made from a statement.
        public var statementLines: (lines: BreachLines, zone: ZoneRules)? {
            if case .lines(let lines, let zone) = storage { return (lines, zone) }
            return nil
        }

        /// The first breach's position, 0.
        public var startIndex: Int { 0 }
        /// One past the last breach.
        public var endIndex: Int {
            switch storage {
            case .decoded(let breaches): breaches.count
            case .lines(let lines, _): lines.count
            }
        }

        /// Breach `k` (made from its statement line, when there is one).
        public subscript(k: Int) -> Breach {
            switch storage {
            case .decoded(let breaches): return breaches[k]
            case .lines(let lines, let zone):
                let line = lines[k]
                return Breach(
                    incident: line.incident, metric: line.metric.description, priority: line.priority,
                    at: ISO8601.format(line.at, in: zone), targetSeconds: line.target, actualSeconds: line.actual,
                    overBySeconds: line.overBy, amount: Amount(line.amount), rule: line.rule, version: line.version)
            }
        }

        /// Reads a JSON array of breaches.
        public init(from decoder: any Decoder) throws {
            storage = .decoded(try [Breach](from: decoder))
        }

        /// Writes a JSON array of breaches.
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.unkeyedContainer()
            for breach in self { try container.encode(breach) }
        }

        /// Equal when they read the same, however they are stored.
        public static func == (a: Breaches, b: Breaches) -> Bool { a.elementsEqual(b) }
    }
}

extension MonthlyReport.Compliance {
    init(_ c: SLACore.Compliance) {
        met = c.met
        breached = c.breached
        percent = c.total == 0 ? nil : decimal(Int64(c.met) * 100, over: Int64(c.total), digits: 2) + "%"
    }
}

extension MonthlyReport.Amount {
    /// An amount of `minorUnits` in `currency`.
    public init(minorUnits: Int64, currency: Currency) {
        self.init(Money(minorUnits: minorUnits, currency: currency))
    }
}

/// `numerator / denominator` as decimal text with `digits` decimals, rounded half-even; `0` over `0` is 0.
func decimal(_ numerator: Int64, over denominator: Int64, digits: Int) -> String {
    guard denominator != 0 else { return "0." + String(repeating: "0", count: digits) }
    var scale: Int64 = 1
    for _ in 0..<digits { scale *= 10 }
    let scaled = roundHalfEven(numerator: numerator * scale, denominator: denominator)
    let sign = scaled < 0 ? "-" : ""
    let whole = scaled.magnitude / UInt64(scale)
    let fraction = String(scaled.magnitude % UInt64(scale))
    return "\(sign)\(whole)." + String(repeating: "0", count: digits - fraction.count) + fraction
}
