/// Availability of a contract's services over one report period.
public struct AvailabilityFigures: Sendable, Hashable {
    /// Seconds of the availability calendar in the period (before exclusions).
    public var periodSeconds: Int64
    /// Maintenance seconds excluded from the period.
    public var maintenanceSeconds: Int64
    /// Downtime seconds that count (outside excluded maintenance).
    public var downtimeSeconds: Int64
    /// Achieved availability, rounded half-even to a millionth for display.
    public var achieved: Percentage
    /// The availability promised.
    public var target: Percentage
    /// Whether the target was met (compared exactly, not on the rounded figure).
    public var met: Bool
    /// The credit tier hit, if any.
    public var tier: CreditTier?
    /// The credit owed for the tier hit (zero when none).
    public var credit: Money
    /// Downtime intervals that count, for charts.
    public var downtime: IntervalSet
    /// Maintenance intervals excluded, for charts.
    public var maintenance: IntervalSet
}

/// One breach and what it costs.
public struct BreachLine: Sendable, Hashable {
    /// The incident that breached.
    public var incident: String
    /// Which clock breached.
    public var metric: Metric
    /// The priority in force at the breach.
    public var priority: String
    /// Target in business seconds (promises: seconds from made to due).
    public var target: Int64
    /// Elapsed at the stop, or at the evaluation instant when still running.
    public var actual: Int64
    /// How far past the target, never negative.
    public var overBy: Int64 { max(0, actual - target) }
    /// When the breach happened.
    public var at: Instant
    /// What the breach costs.
    public var amount: Money
    /// How the amount was computed, e.g. `5000.00 + 3 h × 500.00`.
    public var rule: String
    /// The contract version whose penalties priced it.
    public var version: String = "1"
}

/// Met and total of one metric's clocks decided in the month.
public struct Compliance: Sendable, Hashable {
    /// Clocks that met their target.
    public var met = 0
    /// Clocks that breached.
    public var breached = 0
    /// All clocks decided in the month.
    public var total: Int { met + breached }
}

/// The penalty statement of one contract for one month.
public struct MonthlyStatement: Sendable {
    /// The contract id.
    public var contract: String
    /// The customer's name.
    public var customer: String
    /// The calendar month in the contract zone.
    public var month: YearMonth
    /// The part of the month the contract was in force and data covers.
    public var periodStart: Instant
    /// End of the period covered (exclusive).
    public var periodEnd: Instant
    /// The fee for the month: the monthly fee, prorated by valid days when the contract
    /// covers only part of the month. Credits and a percentage cap apply to this amount.
    public var fee: Money
    /// The monthly fee as written in the contract.
    public var fullFee: Money
    /// Days of the month (contract zone) the contract was valid.
    public var validDays: Int
    /// Days in the month.
    public var daysInMonth: Int
    /// Availability figures, when the contract promises availability.
    public var availability: AvailabilityFigures?
    /// Incidents opened in the month, per priority.
    public var incidentsByPriority: [String: Int]
    /// Reaction clocks decided in the month.
    public var reaction: Compliance
    /// Resolution clocks decided in the month.
    public var resolution: Compliance
    /// Handoffs of incidents opened in the month.
    public var handoffs: Int
    /// Incidents opened in the month handed off more than twice.
    public var bouncedIncidents: Int
    /// Every breach of the month, in time order.
    public var breaches: BreachLines
    /// Credit plus breach penalties, before the cap.
    public var subtotal: Money
    /// The cap as an amount, when the contract has one.
    public var cap: Money?
    /// Whether the cap reduced the subtotal.
    public var capApplied: Bool
    /// What is owed for the month.
    public var total: Money
    /// The month was not over at the evaluation instant.
    public var provisional: Bool
}

/// Builds monthly statements. Pure: all inputs are values.
public enum StatementBuilder {
    /// The statement of `contract` for `month` from the verdicts of its incidents and its service timeline.
    public static func statement(
        contract: Contract, month: YearMonth, verdicts: some Sequence<IncidentVerdict>, services: ServiceTimeline,
        asOf: Instant
    ) -> MonthlyStatement {
        var tally = StatementTally(contract: contract, month: month)
        for v in verdicts { tally.add(v) }
        return tally.statement(services: services, asOf: asOf)
    }

    /// What a breach of `metric` at `priority` costs when `hours` started hours late, and the rule as text.
    static func price(_ metric: Metric, priority: String, hours: Int64, contract: Contract) -> (
        amount: Money, rule: String
    ) {
        let penalty: BreachPenalty? =
            switch metric {
            case .reaction: contract.penalties.reaction[priority]
            case .resolution: contract.penalties.resolution[priority]
            case .promise: contract.penalties.promise
            case .availability, .ola: nil
            }
        guard let penalty else { return (.zero(contract.currency), "no penalty for \(metric) \(priority)") }
        guard let perHour = penalty.perHourLate else { return (penalty.fixed, penalty.fixed.amountText) }
        let hourly = "\(hours) h × \(perHour.amountText)"
        return (
            penalty.fixed + perHour.times(hours),
            penalty.fixed.minorUnits == 0 ? hourly : penalty.fixed.amountText + " + " + hourly
        )
    }

    static func availabilityFigures(
        _ terms: AvailabilityTerms, contract: Contract, fee: Money, services: ServiceTimeline, period: Range<Int64>
    ) -> AvailabilityFigures {
        let calendar = terms.calendar
        let periodSet = IntervalSet([period])
        let maintenance =
            terms.excludeMaintenance
            ? services.maintenance(of: contract.services).clamped(to: period) : IntervalSet()
        let downtime = services.downtime(of: contract.services).clamped(to: period).subtracting(maintenance)
        let periodSeconds = periodSet.measure(with: calendar)
        let maintenanceSeconds = maintenance.measure(with: calendar)
        let downSeconds = downtime.measure(with: calendar)
        let effective = periodSeconds - maintenanceSeconds
        let up = effective - downSeconds
        let achieved =
            effective > 0
            ? Percentage(millionths: roundHalfEven(numerator: up * 1_000_000, denominator: effective)) : .hundred
        // Exact comparisons: up/effective < p  ⇔  up · 10⁶ < p · effective.
        func below(_ p: Percentage) -> Bool { effective > 0 && up * 1_000_000 < p.millionths * effective }
        let tier = terms.credits.filter { below($0.below) }.min { $0.below < $1.below }
        return AvailabilityFigures(
            periodSeconds: periodSeconds, maintenanceSeconds: maintenanceSeconds, downtimeSeconds: downSeconds,
            achieved: achieved, target: terms.target, met: !below(terms.target), tier: tier,
            credit: tier.map { fee.times($0.credit) } ?? .zero(contract.currency), downtime: downtime,
            maintenance: maintenance)
    }
}

/// A month's statement gathered one verdict at a time, so that a report over a million
/// incidents never holds them all (Benchmarks/report-vs-duckdb.sh).
public struct StatementTally: Sendable {
    /// The contract the statement is for.
    public let contract: Contract
    /// The calendar month in the contract zone.
    public let month: YearMonth
    let monthStart: Instant
    let monthEnd: Instant
    var byPriority: [String: Int] = [:]
    var reaction = Compliance()
    var resolution = Compliance()
    var handoffs = 0
    var bounced = 0
    var lines = BreachLines()
    /// `lines` are in time order (``orderLines()``); lines added since are not.
    var ordered = true
    /// Where the price of each (metric, priority, started hours) is in `lines.prices`: a month
    /// has few of them, and each amount and rule text is worked out once.
    var priced: [PriceKey: Int] = [:]

    struct PriceKey: Hashable {
        var metric: Metric
        var priority: String
        var hours: Int64
        var version: Int
    }

    /// Starts an empty statement of `contract` for `month`.
    public init(contract: Contract, month: YearMonth) {
        self.contract = contract
        self.month = month
        monthStart = contract.zone.startOfDay(month.firstDay)
        monthEnd = contract.zone.startOfDay(month.next.firstDay)
    }

    /// Counts one incident's verdict (already advanced to the report instant).
    public mutating func add(_ v: IncidentVerdict) {
        guard v.covered else { return }
        if v.openedAt >= monthStart && v.openedAt < monthEnd {
            byPriority[v.openingPriority, default: 0] += 1
            handoffs += v.handoffs
            if v.handoffs > 2 { bounced += 1 }
        }
        // An OLA is an internal target: it costs the customer nothing and is no compliance of theirs.
        for clock in v.clocks where !clock.metric.isOLA {
            if let breach = clock.breach {
                guard breach.at >= monthStart && breach.at < monthEnd else { continue }
                if clock.metric == .reaction { reaction.breached += 1 }
                if clock.metric == .resolution { resolution.breached += 1 }
                let hours = (max(0, clock.elapsed - breach.target) + 3599) / 3600
                let version = contract.laterVersions.isEmpty ? 0 : versionIndex(v.openedAt, breach.at)
                lines.append(
                    incident: v.incident, at: breach.at, target: breach.target, actual: clock.elapsed,
                    price: price(clock.metric, breach.priority, hours, version: version))
                ordered = false
            } else if clock.outcome == .met, let stop = clock.stoppedAt, stop >= monthStart && stop < monthEnd {
                if clock.metric == .reaction { reaction.met += 1 }
                if clock.metric == .resolution { resolution.met += 1 }
            }
        }
    }

    /// The index in ``Contract/versions`` of the version judging an incident opened at
    /// `openedAt` at the instant `at`.
    func versionIndex(_ openedAt: Instant, _ at: Instant) -> Int {
        let judge = contract.judging(openedAt: openedAt, at: at)
        return contract.laterVersions.firstIndex { $0 === judge }.map { $0 + 1 } ?? 0
    }

    /// The index of the price of a breach of `metric` at `priority`, `hours` started hours late,
    /// under version number `version` of the contract.
    mutating func price(_ metric: Metric, _ priority: String, _ hours: Int64, version: Int) -> Int {
        let key = PriceKey(metric: metric, priority: priority, hours: hours, version: version)
        if let known = priced[key] { return known }
        let judge = version == 0 ? contract : contract.laterVersions[version - 1]
        let (amount, rule) = StatementBuilder.price(metric, priority: priority, hours: hours, contract: judge)
        let k = lines.addPrice(
            .init(metric: metric, priority: priority, amount: amount, rule: rule, version: judge.version))
        priced[key] = k
        return k
    }

    /// Puts the lines counted so far in their statement order (time, incident, metric), which
    /// ``statement(services:asOf:)`` would otherwise do: parts of a month can be ordered at once
    /// on several threads, and ordered parts are merged in one pass.
    public mutating func orderLines() {
        if !ordered { lines.putInTimeOrder() }
        ordered = true
    }

    /// Adds what `other` counted (the same contract and month, other incidents): a month read
    /// in parts is tallied per part, then merged. The statement's line order does not depend on
    /// the order of merging.
    public mutating func merge(_ other: StatementTally) {
        precondition(other.contract.id == contract.id && other.month == month, "tallies of one contract and month")
        byPriority.merge(other.byPriority, uniquingKeysWith: +)
        reaction.met += other.reaction.met
        reaction.breached += other.reaction.breached
        resolution.met += other.resolution.met
        resolution.breached += other.resolution.breached
        handoffs += other.handoffs
        bounced += other.bounced
        let remap = lines.adopt(pricesOf: other.lines)
        for (key, k) in other.priced where priced[key] == nil { priced[key] = remap[k] }
        if ordered && other.ordered {
            lines.merge(ordered: other.lines, remap: remap)
        } else {
            lines.append(contentsOf: other.lines, remap: remap)
            ordered = false
        }
    }

    /// The statement of everything added, with the service timeline for availability.
    public func statement(services: ServiceTimeline, asOf: Instant) -> MonthlyStatement {
        // The month's own terms: fee, availability and cap of the version in force at its start.
        let contract = self.contract.monthTerms(month)
        let validity = contract.validityInstants
        let start = max(monthStart, validity.start ?? monthStart)
        let end = max(start, min(monthEnd, validity.end ?? monthEnd, max(asOf, start)))
        let currency = contract.currency
        let daysInMonth = LocalDate.daysIn(year: month.year, month: month.month)
        let validDays = contract.validDays(in: month)
        let fee =
            validDays == daysInMonth
            ? contract.fee
            : Money(
                minorUnits: roundHalfEven(
                    numerator: contract.fee.minorUnits * Int64(validDays), denominator: Int64(daysInMonth)),
                currency: currency)
        var lines = self.lines
        if !ordered { lines.putInTimeOrder() }
        let availability = contract.availability.map {
            StatementBuilder.availabilityFigures(
                $0, contract: contract, fee: fee, services: services, period: start.seconds..<end.seconds)
        }
        let subtotal = lines.total(zero: availability?.credit ?? .zero(currency))
        let cap: Money? = contract.penalties.cap.map {
            switch $0 {
            case .percentOfFee(let p): fee.times(p)
            case .amount(let m): m
            }
        }
        let capApplied = cap.map { subtotal > $0 } ?? false
        return MonthlyStatement(
            contract: contract.id, customer: contract.customer, month: month, periodStart: start, periodEnd: end,
            fee: fee, fullFee: contract.fee, validDays: validDays, daysInMonth: daysInMonth, availability: availability,
            incidentsByPriority: byPriority, reaction: reaction,
            resolution: resolution, handoffs: handoffs, bouncedIncidents: bounced, breaches: lines, subtotal: subtotal,
            cap: cap, capApplied: capApplied, total: capApplied ? cap! : subtotal, provisional: asOf < monthEnd)
    }
}
