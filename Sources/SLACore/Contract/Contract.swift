/// An SLA contract with everything resolved: calendars built, durations in seconds, money parsed.
///
/// Immutable, and a class: the engine hands its incident's contract to every evaluation, and a
/// reference is one retain where a struct of these fields would be fifteen.
public final class Contract: Sendable {
    /// The contract id, unique across the configuration.
    public let id: String
    /// The customer's name as it appears in reports.
    public let customer: String
    /// First and last day (inclusive, contract time zone) on which the contract applies.
    public let validFrom: LocalDate?
    /// Last day (inclusive, contract time zone) on which the contract applies.
    public let validTo: LocalDate?
    /// The contract calendar: its zone defines report months, its hours the business time.
    public let calendar: BusinessCalendar
    /// Monthly fee; its currency is the contract's currency.
    public let fee: Money
    /// Services whose outages count for availability.
    public let services: [String]
    /// The availability promise, if any.
    public let availability: AvailabilityTerms?
    /// Terms per priority name, in the order they were written.
    public let priorities: [PriorityTerms]
    /// Statuses that stop the resolution clock while the incident is in them.
    public let pauseOn: Set<String>
    /// Statuses that stop the reaction clock while the incident is in them (none by default).
    public let reactionPauseOn: Set<String>
    /// Warning thresholds below 100 %, ascending.
    public let warnAt: [Percentage]
    /// Escalation levels at 100 % or more, ascending.
    public let escalations: [Escalation]
    /// What breaches cost, and the monthly cap.
    public let penalties: PenaltyRules
    /// Webhook names that hear about this contract.
    public let notify: [String]
    /// Every threshold of a clock under this contract: its warnings, the breach, its
    /// escalations, in that order.
    /// Made once here rather than in each evaluation (four arrays per incident).
    public let thresholds: [Threshold]
    /// Warnings and escalations of promises, by promise name (`callback`, …); `default` for
    /// the names without their own. A promise of no entry has its breach only.
    public let promises: [String: PromiseTerms]
    /// The thresholds of each entry of ``promises``, made once.
    let promiseThresholdTable: [String: [Threshold]]
    /// This version's name (`version:` in the contract file; `1` when it has none).
    public let version: String
    /// SHA-256 (hex) of this version's terms as written, so that a report names exactly what
    /// judged it; empty for a contract built in code.
    public let versionHash: String
    /// When this version takes effect; nil for the first version, in force from the start.
    public let effective: Instant?
    /// Whether this version also judges incidents already open at ``effective``, from that
    /// instant on (their elapsed time kept); otherwise they stay under the version they opened in.
    public let appliesToOpen: Bool
    /// The versions after this one, in effective order; empty on those versions themselves.
    /// The first version stands for the contract: the engine and the reports look it up by id.
    public let laterVersions: [Contract]
    /// The OLAs of the support lines and teams that handle its incidents (slad.yaml's, shared
    /// by every contract and version).
    public let olas: OLABook

    /// Creates a resolved contract.
    public init(
        id: String, customer: String, validFrom: LocalDate? = nil, validTo: LocalDate? = nil,
        calendar: BusinessCalendar,
        fee: Money, services: [String] = [], availability: AvailabilityTerms? = nil, priorities: [PriorityTerms],
        pauseOn: Set<String> = [], warnAt: [Percentage] = [], escalations: [Escalation] = [],
        penalties: PenaltyRules = PenaltyRules(), notify: [String] = [], promises: [String: PromiseTerms] = [:],
        reactionPauseOn: Set<String> = [], version: String = "1", versionHash: String = "", effective: Instant? = nil,
        appliesToOpen: Bool = false, laterVersions: [Contract] = [], olas: OLABook = .none
    ) {
        self.id = id
        self.customer = customer
        self.validFrom = validFrom
        self.validTo = validTo
        self.calendar = calendar
        self.fee = fee
        self.services = services
        self.availability = availability
        self.priorities = priorities
        self.pauseOn = pauseOn
        self.reactionPauseOn = reactionPauseOn
        self.warnAt = warnAt
        self.escalations = escalations
        self.penalties = penalties
        self.notify = notify
        thresholds = Self.thresholds(warnAt: warnAt, escalations: escalations)
        self.promises = promises
        promiseThresholdTable = promises.mapValues { Self.thresholds(warnAt: $0.warnAt, escalations: $0.escalations) }
        self.version = version
        self.versionHash = versionHash
        self.effective = effective
        self.appliesToOpen = appliesToOpen
        self.laterVersions = laterVersions
        self.olas = olas
    }

    /// This contract with `later` as its later versions.
    public func with(laterVersions later: [Contract]) -> Contract { copy(laterVersions: later, olas: olas) }

    /// This contract, every version of it, with `olas` as its lines' and teams' OLAs.
    public func with(olas: OLABook) -> Contract {
        copy(laterVersions: laterVersions.map { $0.copy(laterVersions: [], olas: olas) }, olas: olas)
    }

    private func copy(laterVersions later: [Contract], olas: OLABook) -> Contract {
        Contract(
            id: id, customer: customer, validFrom: validFrom, validTo: validTo, calendar: calendar, fee: fee,
            services: services, availability: availability, priorities: priorities, pauseOn: pauseOn, warnAt: warnAt,
            escalations: escalations, penalties: penalties, notify: notify, promises: promises,
            reactionPauseOn: reactionPauseOn, version: version, versionHash: versionHash, effective: effective,
            appliesToOpen: appliesToOpen, laterVersions: later, olas: olas)
    }

    /// Every version, the first (this one) included, in effective order.
    public var versions: [Contract] { [self] + laterVersions }

    /// The version in force at `instant`: the last one in effect by then (the first before any).
    public func version(at instant: Instant) -> Contract {
        laterVersions.last { $0.effective! <= instant } ?? self
    }

    /// The version that judges an incident opened at `openedAt` at the instant `at`: the one in
    /// force at its opening, replaced by each later version that applies to open incidents once
    /// that version has taken effect.
    public func judging(openedAt: Instant, at: Instant) -> Contract {
        var v = version(at: openedAt)
        for w in laterVersions where w.appliesToOpen && w.effective! > openedAt && w.effective! <= at { v = w }
        return v
    }

    /// The versions that take over an incident opened at `openedAt` while it is open, in order.
    func takeovers(openedAt: Instant) -> ArraySlice<Contract> {
        laterVersions.filter { $0.appliesToOpen && $0.effective! > openedAt }[...]
    }

    /// The terms of a whole month (fee, availability, cap): those of the version in force at
    /// the month's first instant, in the contract zone.
    public func monthTerms(_ month: YearMonth) -> Contract {
        laterVersions.isEmpty ? self : version(at: zone.startOfDay(month.firstDay))
    }

    static func thresholds(warnAt: [Percentage], escalations: [Escalation]) -> [Threshold] {
        warnAt.map { Threshold(kind: .warning, at: $0) } + [Threshold(kind: .breach, at: .hundred)]
            + escalations.map { Threshold(kind: .escalation, at: $0.at, notify: $0.notify) }
    }

    /// The thresholds of a promise named `name`, in the order of ``thresholds``: its own
    /// entry's, else the `default` entry's, else the breach alone.
    /// A period of a recurring promise (`status_update#3`) has its kind's.
    public func promiseThresholds(_ name: String) -> [Threshold] {
        let kind = name.firstIndex(of: "#").map { String(name[..<$0]) } ?? name
        return promiseThresholdTable[kind] ?? promiseThresholdTable["default"]
            ?? [Threshold(kind: .breach, at: .hundred)]
    }

    /// The recurring promise kinds and their periods (seconds), by kind.
    public var recurringPromises: [(kind: String, every: Int64)] {
        promises.compactMap { kind, terms in terms.every.map { (kind, $0) } }.sorted { $0.kind < $1.kind }
    }

    /// The contract's zone: its calendar's.
    public var zone: ZoneRules { calendar.zone }
    /// The contract's currency: its fee's.
    public var currency: Currency { fee.currency }

    /// The terms of priority `name`, if the contract has any.
    public func terms(for name: String) -> PriorityTerms? { priorities.first { $0.name == name } }

    /// Whether the contract is in force at `instant` (validity days read in the contract zone).
    public func isValid(at instant: Instant) -> Bool {
        let date = zone.localDate(at: instant)
        if let validFrom, date < validFrom { return false }
        if let validTo, date > validTo { return false }
        return true
    }

    /// The calendar month (contract zone) an instant falls in.
    public func month(of instant: Instant) -> YearMonth { zone.month(of: instant) }

    /// Days of `month` on which the contract is in force: the proration basis of its fee.
    public func validDays(in month: YearMonth) -> Int {
        let first = month.firstDay
        let last = first.adding(days: Int64(LocalDate.daysIn(year: month.year, month: month.month) - 1))
        let from = max(first, validFrom ?? first)
        let to = min(last, validTo ?? last)
        return from > to ? 0 : Int(to.daysSinceEpoch - from.daysSinceEpoch + 1)
    }

    /// The calendar named `id` among those the contract's clocks count in.
    public func calendar(id: String) -> BusinessCalendar? {
        for v in versions {
            if v.calendar.id == id { return v.calendar }
            if let terms = v.priorities.first(where: { $0.calendar.id == id }) { return terms.calendar }
        }
        for terms in olas.lines.values where terms.calendar.id == id { return terms.calendar }
        for terms in olas.teams.values where terms.calendar.id == id { return terms.calendar }
        return id == "24x7" ? .twentyFourSeven(zone: zone) : nil
    }

    /// `[start, end)` of the validity, unbounded sides as nil.
    public var validityInstants: (start: Instant?, end: Instant?) {
        (validFrom.map { zone.startOfDay($0) }, validTo.map { zone.startOfDay($0.adding(days: 1)) })
    }
}

/// When a promise of one kind warns and escalates, in shares of the time from its making to
/// its due instant.
public struct PromiseTerms: Sendable, Hashable {
    /// Warning shares below 100 %, ascending.
    public var warnAt: [Percentage]
    /// Escalations at 100 % or more, ascending.
    public var escalations: [Escalation]
    /// For a recurring promise (a status update every N hours while the incident is open):
    /// its period in seconds of wall time; nil for a promise made by `promise.made`.
    public var every: Int64?

    /// Terms.
    public init(warnAt: [Percentage], escalations: [Escalation], every: Int64? = nil) {
        self.warnAt = warnAt
        self.escalations = escalations
        self.every = every
    }
}

/// Targets for one priority.
public struct PriorityTerms: Sendable {
    /// The priority's name, e.g. `P1`.
    public var name: String
    /// Business seconds to first reaction, nil when not promised.
    public var reaction: Int64?
    /// Business seconds to resolution, nil when not promised.
    public var resolution: Int64?
    /// The calendar both targets are measured in.
    public var calendar: BusinessCalendar

    /// Creates the terms of one priority.
    public init(name: String, reaction: Int64?, resolution: Int64?, calendar: BusinessCalendar) {
        self.name = name
        self.reaction = reaction
        self.resolution = resolution
        self.calendar = calendar
    }
}

/// Availability promise and the service credits owed when it is missed.
public struct AvailabilityTerms: Sendable {
    /// The availability promised.
    public var target: Percentage
    /// Time that counts for availability (24x7, or e.g. business hours only).
    public var calendar: BusinessCalendar
    /// Whether maintenance windows are taken out of the period and the downtime.
    public var excludeMaintenance: Bool
    /// Tiers in any order; the most severe one whose `below` the achieved value is under applies.
    public var credits: [CreditTier]

    /// Creates availability terms.
    public init(target: Percentage, calendar: BusinessCalendar, excludeMaintenance: Bool, credits: [CreditTier]) {
        self.target = target
        self.calendar = calendar
        self.excludeMaintenance = excludeMaintenance
        self.credits = credits
    }
}

/// "Achieved below `below` → credit `credit` of the monthly fee".
public struct CreditTier: Sendable, Hashable {
    /// The tier applies when achieved availability is under this.
    public var below: Percentage
    /// The share of the monthly fee credited.
    public var credit: Percentage

    /// Creates a tier.
    public init(below: Percentage, credit: Percentage) {
        self.below = below
        self.credit = credit
    }
}

/// An escalation level: when a clock passes `at` of its target, notify these.
public struct Escalation: Sendable, Hashable {
    /// The share of the target at which it escalates.
    public var at: Percentage
    /// Webhook names to notify.
    public var notify: [String]

    /// Creates an escalation level.
    public init(at: Percentage, notify: [String]) {
        self.at = at
        self.notify = notify
    }
}

/// What one breach costs.
public struct BreachPenalty: Sendable, Hashable {
    /// Charged once per breach.
    public var fixed: Money
    /// Charged for every started hour (of the clock's calendar) past the target.
    public var perHourLate: Money?

    /// Creates a breach penalty.
    public init(fixed: Money, perHourLate: Money? = nil) {
        self.fixed = fixed
        self.perHourLate = perHourLate
    }
}

/// The upper bound on what a contract pays in one month.
public enum PenaltyCap: Sendable, Hashable {
    case percentOfFee(Percentage)
    case amount(Money)
}

/// Penalties per breach kind and priority, and the monthly cap.
public struct PenaltyRules: Sendable {
    /// Reaction breach penalties by priority.
    public var reaction: [String: BreachPenalty]
    /// Resolution breach penalties by priority.
    public var resolution: [String: BreachPenalty]
    /// What a broken promise costs.
    public var promise: BreachPenalty?
    /// The most the contract pays in one month.
    public var cap: PenaltyCap?

    /// Creates penalty rules; everything defaults to "no penalty".
    public init(
        reaction: [String: BreachPenalty] = [:], resolution: [String: BreachPenalty] = [:],
        promise: BreachPenalty? = nil, cap: PenaltyCap? = nil
    ) {
        self.reaction = reaction
        self.resolution = resolution
        self.promise = promise
        self.cap = cap
    }
}
