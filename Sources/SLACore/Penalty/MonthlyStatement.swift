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
    public var breaches: [BreachLine]
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
        contract: Contract, month: YearMonth, verdicts: [IncidentVerdict], services: ServiceTimeline, asOf: Instant
    ) -> MonthlyStatement {
        let zone = contract.zone
        let monthStart = zone.startOfDay(month.firstDay)
        let monthEnd = zone.startOfDay(month.next.firstDay)
        let validity = contract.validityInstants
        let start = max(monthStart, validity.start ?? monthStart)
        let end = max(start, min(monthEnd, validity.end ?? monthEnd, max(asOf, start)))
        let inMonth = { (t: Instant) in t >= monthStart && t < monthEnd }
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

        var byPriority: [String: Int] = [:]
        var reaction = Compliance()
        var resolution = Compliance()
        var handoffs = 0
        var bounced = 0
        var lines: [BreachLine] = []
        for v in verdicts where v.covered {
            if inMonth(v.openedAt) {
                byPriority[v.openingPriority, default: 0] += 1
                handoffs += v.handoffs
                if v.handoffs > 2 { bounced += 1 }
            }
            for clock in v.clocks {
                if let breach = clock.breach {
                    guard inMonth(breach.at) else { continue }
                    if clock.metric == .reaction { reaction.breached += 1 }
                    if clock.metric == .resolution { resolution.breached += 1 }
                    lines.append(breachLine(v, clock, breach, contract: contract))
                } else if clock.outcome == .met, let stop = clock.stoppedAt, inMonth(stop) {
                    if clock.metric == .reaction { reaction.met += 1 }
                    if clock.metric == .resolution { resolution.met += 1 }
                }
            }
        }
        lines.sort { ($0.at, $0.incident, $0.metric) < ($1.at, $1.incident, $1.metric) }

        let availability = contract.availability.map {
            availabilityFigures(
                $0, contract: contract, fee: fee, services: services, period: start.seconds..<end.seconds)
        }
        var subtotal = availability?.credit ?? .zero(currency)
        for line in lines { subtotal = subtotal + line.amount }
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

    static func breachLine(_ v: IncidentVerdict, _ clock: ClockVerdict, _ breach: Crossing, contract: Contract)
        -> BreachLine
    {
        let penalty: BreachPenalty? =
            switch clock.metric {
            case .reaction: contract.penalties.reaction[breach.priority]
            case .resolution: contract.penalties.resolution[breach.priority]
            case .promise: contract.penalties.promise
            }
        let actual = clock.elapsed
        var amount = Money.zero(contract.currency)
        var rule = "no penalty for \(clock.metric) \(breach.priority)"
        if let penalty {
            amount = penalty.fixed
            rule = penalty.fixed.amountText
            if let perHour = penalty.perHourLate {
                let over = max(0, actual - breach.target)
                let hours = (over + 3599) / 3600
                amount = amount + perHour.times(hours)
                let hourly = "\(hours) h × \(perHour.amountText)"
                rule = penalty.fixed.minorUnits == 0 ? hourly : rule + " + " + hourly
            }
        }
        return BreachLine(
            incident: v.incident, metric: clock.metric, priority: breach.priority, target: breach.target,
            actual: actual,
            at: breach.at, amount: amount, rule: rule)
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
