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
    var lines: [BreachLine] = []
    /// `lines` are in time order (``orderLines()``); lines added since are not.
    var ordered = true
    /// Breach amounts and rules already worked out: a month has few distinct (metric, priority,
    /// started hours), and the rule text is shared rather than built per line.
    var priced: [PriceKey: (amount: Money, rule: String)] = [:]

    struct PriceKey: Hashable {
        var metric: Metric
        var priority: String
        var hours: Int64
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
        for clock in v.clocks {
            if let breach = clock.breach {
                guard breach.at >= monthStart && breach.at < monthEnd else { continue }
                if clock.metric == .reaction { reaction.breached += 1 }
                if clock.metric == .resolution { resolution.breached += 1 }
                lines.append(line(v.incident, clock, breach))
                ordered = false
            } else if clock.outcome == .met, let stop = clock.stoppedAt, stop >= monthStart && stop < monthEnd {
                if clock.metric == .reaction { reaction.met += 1 }
                if clock.metric == .resolution { resolution.met += 1 }
            }
        }
    }

    /// Puts the lines counted so far in their statement order (time, incident, metric), which
    /// ``statement(services:asOf:)`` would otherwise do: parts of a month can be ordered at once
    /// on several threads, and ordered parts are merged in one pass.
    public mutating func orderLines() {
        if !ordered { Self.putInTimeOrder(&lines) }
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
        if ordered && other.ordered {
            lines = Self.merged(lines, other.lines)
        } else {
            lines += other.lines
            ordered = false
        }
    }

    mutating func line(_ incident: String, _ clock: ClockVerdict, _ breach: Crossing) -> BreachLine {
        let hours = (max(0, clock.elapsed - breach.target) + 3599) / 3600
        let key = PriceKey(metric: clock.metric, priority: breach.priority, hours: hours)
        let price: (amount: Money, rule: String)
        if let known = priced[key] {
            price = known
        } else {
            price = StatementBuilder.price(clock.metric, priority: breach.priority, hours: hours, contract: contract)
            priced[key] = price
        }
        return BreachLine(
            incident: incident, metric: clock.metric, priority: breach.priority, target: breach.target,
            actual: clock.elapsed, at: breach.at, amount: price.amount, rule: price.rule)
    }

    /// The statement of everything added, with the service timeline for availability.
    public func statement(services: ServiceTimeline, asOf: Instant) -> MonthlyStatement {
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
        if !ordered { Self.putInTimeOrder(&lines) }
        let availability = contract.availability.map {
            StatementBuilder.availabilityFigures(
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

    /// Puts lines in order of (time, incident, metric). A month holds up to millions of lines,
    /// and moving the lines themselves while comparing strings was most of a report's sort:
    /// order packed (time, position) integers instead, settle equal times by incident and
    /// metric, then move each line once to its place.
    static func putInTimeOrder(_ lines: inout [BreachLine]) {
        guard let first = lines.min(by: { $0.at < $1.at })?.at.seconds,
            let last = lines.max(by: { $0.at < $1.at })?.at.seconds,
            lines.count < 1 << 24, last - first < 1 << 39
        else { return lines.sort(by: before) }
        var keys = lines.indices.map { UInt64(lines[$0].at.seconds - first) << 24 | UInt64($0) }
        keys.sort()
        var order = keys.map { Int($0 & 0xFF_FFFF) }
        var start = 0
        while start < order.count {
            var end = start + 1
            while end < order.count && keys[end] >> 24 == keys[start] >> 24 { end += 1 }
            if end - start > 1 { order[start..<end].sort { before(lines[$0], lines[$1]) } }
            start = end
        }
        permute(&lines, by: &order)
    }

    /// Rearranges `items` so that position `k` holds what was at `order[k]`, moving each item
    /// once along the permutation's cycles: no second array of a million lines, and no
    /// reference counting of their texts. `order` is used up (each entry set to `-1`).
    static func permute<T>(_ items: inout [T], by order: inout [Int]) {
        precondition(items.count == order.count, "one position per item")
        items.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for start in order.indices where order[start] >= 0 {
                let held = (base + start).move()
                var k = start
                while order[k] != start {
                    let from = order[k]
                    (base + k).moveInitialize(from: base + from, count: 1)
                    order[k] = -1
                    k = from
                }
                (base + k).initialize(to: held)
                order[k] = -1
            }
        }
    }

    static func before(_ a: BreachLine, _ b: BreachLine) -> Bool {
        (a.at, a.incident, a.metric) < (b.at, b.incident, b.metric)
    }

    /// The lines of `a` and `b`, both in statement order, in statement order.
    static func merged(_ a: [BreachLine], _ b: [BreachLine]) -> [BreachLine] {
        guard !a.isEmpty else { return b }
        guard !b.isEmpty else { return a }
        var out: [BreachLine] = []
        out.reserveCapacity(a.count + b.count)
        var i = 0
        var j = 0
        while i < a.count && j < b.count {
            if before(b[j], a[i]) {
                out.append(b[j])
                j += 1
            } else {
                out.append(a[i])
                i += 1
            }
        }
        out += a[i...]
        out += b[j...]
        return out
    }
}
