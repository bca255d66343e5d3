import Foundation
import SLACore

// The control socket's JSON documents, shared by the server (SLAControl, slad)
// and the client (slactl), so that both sides agree on one shape. Keys are
// snake_case on the wire; times are ISO 8601 UTC strings; durations are seconds.

/// An error answer: a stable code for scripts and a sentence for people.
public struct APIError: Codable, Sendable, Hashable, Error {
    /// `not_found`, `forbidden`, `bad_request`, `invalid_events`, `invalid_config`, …
    public var code: String
    /// What went wrong and what to do.
    public var message: String
    /// Per-item details (a line of a pushed body, a file and field of a config).
    public var details: [String]?

    /// An error.
    public init(code: String, message: String, details: [String]? = nil) {
        self.code = code
        self.message = message
        self.details = details
    }
}

/// One tailed source, as the status shows it.
public struct SourceStatus: Codable, Sendable, Hashable {
    /// The source name of slad.yaml.
    public var name: String
    /// Its path or glob.
    public var path: String
    /// Bytes read, summed over its files.
    public var offsetBytes: Int64
    /// Bytes written to its files and not yet read.
    public var lagBytes: Int64
    /// Lines read, events taken, duplicates ignored, lines quarantined (since the store was created).
    public var lines: Int
    /// Events taken.
    public var events: Int
    /// Duplicate events ignored.
    public var duplicates: Int
    /// Lines quarantined.
    public var quarantined: Int
    /// Events whose id was known with other content (not applied; the first stands).
    public var conflicts: Int
    /// Why some of its files cannot be read now (a folder where a file should be, no permission),
    /// nil when every file is read.
    public var error: String?

    /// A source's status.
    public init(
        name: String, path: String, offsetBytes: Int64 = 0, lagBytes: Int64 = 0, lines: Int = 0, events: Int = 0,
        duplicates: Int = 0, quarantined: Int = 0, conflicts: Int = 0, error: String? = nil
    ) {
        self.conflicts = conflicts
        self.error = error
        self.name = name
        self.path = path
        self.offsetBytes = offsetBytes
        self.lagBytes = lagBytes
        self.lines = lines
        self.events = events
        self.duplicates = duplicates
        self.quarantined = quarantined
    }
}

/// One notification sink (the journal or a webhook), as the status shows it.
public struct SinkStatus: Codable, Sendable, Hashable {
    /// `journal` or the webhook's name.
    public var name: String
    /// Notifications waiting for delivery (the outbox depth of this sink).
    public var pending: Int
    /// Delivered, given up after the maximum age, excluded by the sink's filters.
    public var delivered: Int
    /// Given up after the maximum age.
    public var failed: Int
    /// Excluded by the sink's filters.
    public var skipped: Int

    /// A sink's status.
    public init(name: String, pending: Int = 0, delivered: Int = 0, failed: Int = 0, skipped: Int = 0) {
        self.name = name
        self.pending = pending
        self.delivered = delivered
        self.failed = failed
        self.skipped = skipped
    }
}

/// `GET /v1/status`.
public struct StatusReport: Codable, Sendable, Hashable {
    /// slad's version.
    public var version: String
    /// When the daemon started (UTC).
    public var startedAt: String
    /// Seconds since then.
    public var uptimeSeconds: Int64
    /// Starts at 1; each successful reload adds one.
    public var configGeneration: Int
    /// Events in the ledger.
    public var events: Int
    /// Timers armed in the wheel.
    public var armedTimers: Int
    /// Open incidents by standing.
    public var incidents: IncidentCounts
    /// Per source: offset, lag, counts.
    public var sources: [SourceStatus]
    /// Quarantined lines by reason (all sources), most frequent first.
    public var quarantine: [QuarantineCount]
    /// Per sink: outbox depth and delivery counts.
    public var outbox: [SinkStatus]
    /// Why the store does not take writes now (a full disk, a read-only mount), with when that
    /// began; nil while commits succeed. Nothing is lost meanwhile: the batch is retried.
    public var storeError: String?
    /// `single` (a node with its own SQLite store) or `leader` (the node that holds the lease
    /// of a shared PostgreSQL store, docs/ha.md); nil from a slad older than the field.
    public var role: String?
    /// For a leader: its name in the lease (`host/pid`).
    public var leaseHolder: String?
    /// For a leader: the fencing token its writes carry.
    public var fencingToken: Int64?

    /// A status document.
    public init(
        version: String, startedAt: String, uptimeSeconds: Int64, configGeneration: Int, events: Int,
        armedTimers: Int, incidents: IncidentCounts, sources: [SourceStatus], quarantine: [QuarantineCount],
        outbox: [SinkStatus], storeError: String? = nil, role: String? = nil, leaseHolder: String? = nil,
        fencingToken: Int64? = nil
    ) {
        self.storeError = storeError
        self.role = role
        self.leaseHolder = leaseHolder
        self.fencingToken = fencingToken
        self.version = version
        self.startedAt = startedAt
        self.uptimeSeconds = uptimeSeconds
        self.configGeneration = configGeneration
        self.events = events
        self.armedTimers = armedTimers
        self.incidents = incidents
        self.sources = sources
        self.quarantine = quarantine
        self.outbox = outbox
    }
}

/// How many quarantined lines share a reason.
public struct QuarantineCount: Codable, Sendable, Hashable {
    /// Why the lines were quarantined.
    public var reason: String
    /// How many.
    public var count: Int

    /// A count.
    public init(reason: String, count: Int) {
        self.reason = reason
        self.count = count
    }
}

/// The targets of one priority of a contract.
public struct PriorityView: Codable, Sendable, Hashable {
    /// Name.
    public var name: String
    /// Business seconds, nil when the priority has no such target.
    public var reactionSeconds: Int64?
    /// Resolution target, business seconds.
    public var resolutionSeconds: Int64?
    /// The calendar the clocks count in.
    public var calendar: String
    /// Seconds in a business day of that calendar: what `1d` of a target means.
    public var businessDaySeconds: Int64

    /// A priority's targets.
    public init(
        name: String, reactionSeconds: Int64?, resolutionSeconds: Int64?, calendar: String,
        businessDaySeconds: Int64 = 86_400
    ) {
        self.name = name
        self.reactionSeconds = reactionSeconds
        self.resolutionSeconds = resolutionSeconds
        self.calendar = calendar
        self.businessDaySeconds = businessDaySeconds
    }
}

/// `GET /v1/contracts` (one per contract) and `GET /v1/contracts/ID`.
public struct ContractView: Codable, Sendable, Hashable {
    /// Identifier.
    public var id: String
    /// Customer name.
    public var customer: String
    /// Services covered.
    public var services: [String]
    /// IANA time zone of the contract's calendar.
    public var timeZone: String
    /// Calendar id.
    public var calendar: String
    /// `YYYY-MM-DD`, nil when open-ended.
    public var validFrom: String?
    /// Last day of validity.
    public var validTo: String?
    /// Monthly fee in minor units, and its ISO 4217 currency.
    public var feeMinor: Int64
    /// ISO 4217 currency code.
    public var currency: String
    /// Availability target in percent (`99.9`), nil when the contract has none.
    public var availabilityTarget: String?
    /// Targets per priority.
    public var priorities: [PriorityView]
    /// Warning thresholds in percent of a target.
    public var warnAt: [String]
    /// Webhooks notified of its warnings and breaches.
    public var notify: [String]
    /// Open incidents under it now, by standing.
    public var incidents: IncidentCounts
    /// Its month so far (as of slad's last look, a few seconds old at most); nil while not
    /// computed yet or when the contract is not in force.
    public var monthToDate: MonthToDate?

    /// A contract's view.
    public init(
        id: String, customer: String, services: [String], timeZone: String, calendar: String, validFrom: String?,
        validTo: String?, feeMinor: Int64, currency: String, availabilityTarget: String?, priorities: [PriorityView],
        warnAt: [String], notify: [String], incidents: IncidentCounts, monthToDate: MonthToDate? = nil
    ) {
        self.id = id
        self.customer = customer
        self.services = services
        self.timeZone = timeZone
        self.calendar = calendar
        self.validFrom = validFrom
        self.validTo = validTo
        self.feeMinor = feeMinor
        self.currency = currency
        self.availabilityTarget = availabilityTarget
        self.priorities = priorities
        self.warnAt = warnAt
        self.notify = notify
        self.incidents = incidents
        self.monthToDate = monthToDate
    }
}

/// A contract's month so far: what it costs, the clocks decided, the availability budget.
public struct MonthToDate: Codable, Sendable, Hashable {
    /// The contract id.
    public var contract: String
    /// `YYYY-MM`, in the contract's zone.
    public var month: String
    /// The instant the figures hold for, in the contract's zone.
    public var asOf: String
    /// ISO 4217 code of the amounts.
    public var currency: String
    /// This month's penalties so far (availability credit and breaches, capped), in minor
    /// units; corrections of sealed months are in the report, not here.
    public var penaltiesMinor: Int64
    /// The same as a decimal amount.
    public var penalties: String
    /// Breaches charged this month so far.
    public var breaches: Int
    /// Reaction clocks decided this month.
    public var reaction: ClockTally
    /// Resolution clocks decided this month.
    public var resolution: ClockTally
    /// The availability budget, when the contract promises availability.
    public var availability: BudgetView?

    /// The figures.
    public init(
        contract: String, month: String, asOf: String, currency: String, penaltiesMinor: Int64, penalties: String,
        breaches: Int, reaction: ClockTally, resolution: ClockTally, availability: BudgetView?
    ) {
        self.contract = contract
        self.month = month
        self.asOf = asOf
        self.currency = currency
        self.penaltiesMinor = penaltiesMinor
        self.penalties = penalties
        self.breaches = breaches
        self.reaction = reaction
        self.resolution = resolution
        self.availability = availability
    }
}

/// Clocks of one metric decided in a month: met and breached.
public struct ClockTally: Codable, Sendable, Hashable {
    /// Clocks that met their target.
    public var met: Int
    /// Clocks that breached.
    public var breached: Int

    /// A tally.
    public init(met: Int, breached: Int) {
        self.met = met
        self.breached = breached
    }
}

/// A contract's availability error budget for the month, and how fast it burns.
public struct BudgetView: Codable, Sendable, Hashable {
    /// The target in percent (`99.9`).
    public var target: String
    /// Availability achieved so far this month, in percent.
    public var achieved: String
    /// Seconds of the month that count (calendar time less excluded maintenance known so far).
    public var monthSeconds: Int64
    /// Seconds that counted so far.
    public var elapsedSeconds: Int64
    /// Downtime the target allows in the month.
    public var allowedSeconds: Int64
    /// Downtime counted so far.
    public var spentSeconds: Int64
    /// Allowed minus spent (negative once overspent).
    public var remainingSeconds: Int64
    /// The instant counts for availability (calendar open, no excluded maintenance).
    public var counting: Bool
    /// A service is down and the instant counts.
    public var down: Bool
    /// Downtime and counted time of the trailing windows the burn alerts use.
    public var windows: [BurnWindowView]
    /// The burn alerts firing: both of their windows spend the budget at least their rate.
    public var burning: [BurnAlertView]

    /// A budget.
    public init(
        target: String, achieved: String, monthSeconds: Int64, elapsedSeconds: Int64, allowedSeconds: Int64,
        spentSeconds: Int64, remainingSeconds: Int64, counting: Bool, down: Bool, windows: [BurnWindowView],
        burning: [BurnAlertView]
    ) {
        self.target = target
        self.achieved = achieved
        self.monthSeconds = monthSeconds
        self.elapsedSeconds = elapsedSeconds
        self.allowedSeconds = allowedSeconds
        self.spentSeconds = spentSeconds
        self.remainingSeconds = remainingSeconds
        self.counting = counting
        self.down = down
        self.windows = windows
        self.burning = burning
    }
}

/// Downtime and counted seconds of a trailing window.
public struct BurnWindowView: Codable, Sendable, Hashable {
    /// The window's length, seconds.
    public var lengthSeconds: Int64
    /// Downtime in it.
    public var downSeconds: Int64
    /// Time that counted in it.
    public var countedSeconds: Int64

    /// A window.
    public init(lengthSeconds: Int64, downSeconds: Int64, countedSeconds: Int64) {
        self.lengthSeconds = lengthSeconds
        self.downSeconds = downSeconds
        self.countedSeconds = countedSeconds
    }
}

/// A multiwindow burn-rate alert that fires.
public struct BurnAlertView: Codable, Sendable, Hashable {
    /// The burn rate, `14.4`.
    public var rate: String
    /// The long window, seconds.
    public var longSeconds: Int64
    /// The short window, seconds.
    public var shortSeconds: Int64
    /// `page` or `ticket`.
    public var severity: String
    /// The first second of downtime in the long window (Unix seconds): the alert's identity.
    public var sinceSecond: Int64

    /// An alert.
    public init(rate: String, longSeconds: Int64, shortSeconds: Int64, severity: String, sinceSecond: Int64) {
        self.rate = rate
        self.longSeconds = longSeconds
        self.shortSeconds = shortSeconds
        self.severity = severity
        self.sinceSecond = sinceSecond
    }
}

/// `GET /v1/contracts`.
public struct ContractList: Codable, Sendable, Hashable {
    /// The contracts.
    public var contracts: [ContractView]
    /// The list.
    public init(contracts: [ContractView]) { self.contracts = contracts }
}

/// One SLA clock of an incident.
public struct ClockView: Codable, Sendable, Hashable {
    /// `reaction`, `resolution` or `promise:NAME`.
    public var metric: String
    /// Priority.
    public var priority: String
    /// Business seconds; nil when the priority has no target for this clock.
    public var targetSeconds: Int64?
    /// Business seconds the clock ran.
    public var elapsedSeconds: Int64
    /// Business seconds left before the breach (negative: over by), nil when untracked.
    public var remainingSeconds: Int64?
    /// `running`, `paused`, `met`, `breached`, `untracked`.
    public var outcome: String
    /// Whether the clock is paused now.
    public var paused: Bool
    /// When the target falls due (if it keeps running) or was breached.
    public var deadline: String?
    /// When the target was breached (UTC).
    public var breachedAt: String?
    /// When the clock stopped for good (UTC).
    public var stoppedAt: String?
    /// Seconds in a business day of the clock's calendar: what `1d` of its target means.
    public var businessDaySeconds: Int64?

    /// A clock.
    public init(
        metric: String, priority: String, targetSeconds: Int64?, elapsedSeconds: Int64, remainingSeconds: Int64?,
        outcome: String, paused: Bool, deadline: String?, breachedAt: String?, stoppedAt: String?,
        businessDaySeconds: Int64? = nil
    ) {
        self.metric = metric
        self.priority = priority
        self.targetSeconds = targetSeconds
        self.elapsedSeconds = elapsedSeconds
        self.remainingSeconds = remainingSeconds
        self.outcome = outcome
        self.paused = paused
        self.deadline = deadline
        self.breachedAt = breachedAt
        self.stoppedAt = stoppedAt
        self.businessDaySeconds = businessDaySeconds
    }
}

/// One incident in a list.
public struct IncidentSummary: Codable, Sendable, Hashable {
    /// Identifier.
    public var id: String
    /// Contract id.
    public var contract: String
    /// Priority.
    public var priority: String
    /// `open`, `resolved`, `closed`.
    public var status: String
    /// `fine`, `at_risk`, `breached` (open incidents), else nil.
    public var standing: String?
    /// When the incident opened (UTC).
    public var openedAt: String
    /// The clock closest to (or furthest past) its breach, and when that is.
    public var nextMetric: String?
    /// When that clock breaches or breached (UTC).
    public var nextDeadline: String?
    /// Wall-clock seconds from now to `next_deadline` (negative: overdue).
    public var secondsLeft: Int64?
    /// The IANA zone of the incident's contract, in which slactl shows its times.
    public var timeZone: String?

    /// An incident line.
    public init(
        id: String, contract: String, priority: String, status: String, standing: String?, openedAt: String,
        nextMetric: String?, nextDeadline: String?, secondsLeft: Int64?, timeZone: String? = nil
    ) {
        self.id = id
        self.contract = contract
        self.priority = priority
        self.status = status
        self.standing = standing
        self.openedAt = openedAt
        self.nextMetric = nextMetric
        self.nextDeadline = nextDeadline
        self.secondsLeft = secondsLeft
        self.timeZone = timeZone
    }
}

/// `GET /v1/incidents`: a page, and the cursor of the next one.
public struct IncidentPage: Codable, Sendable, Hashable {
    /// The incidents.
    public var incidents: [IncidentSummary]
    /// Pass as `cursor=` for the next page; nil on the last page.
    public var nextCursor: String?

    /// A page.
    public init(incidents: [IncidentSummary], nextCursor: String?) {
        self.incidents = incidents
        self.nextCursor = nextCursor
    }
}

/// One event of an incident's timeline.
public struct EventView: Codable, Sendable, Hashable {
    /// Identifier.
    public var id: String
    /// Event time (UTC).
    public var time: String
    /// Event type.
    public var type: String
    /// Priority.
    public var priority: String?
    /// Workflow status set by the event.
    public var status: String?
    /// Assignee set by the event.
    public var assignee: String?
    /// Team set by the event.
    public var team: String?
    /// Support level set by the event.
    public var level: String?
    /// Why the engine ignored it, if it did.
    public var rejected: String?

    /// A timeline entry.
    public init(
        id: String, time: String, type: String, priority: String?, status: String?, assignee: String?,
        team: String?, level: String?, rejected: String?
    ) {
        self.id = id
        self.time = time
        self.type = type
        self.priority = priority
        self.status = status
        self.assignee = assignee
        self.team = team
        self.level = level
        self.rejected = rejected
    }
}

/// `GET /v1/incidents/ID`.
public struct IncidentDetail: Codable, Sendable, Hashable {
    /// Incident id.
    public var incident: IncidentSummary
    /// Service, if the event named one.
    public var service: String?
    /// Team or level changes.
    public var handoffs: Int
    /// False when the contract does not cover the incident (validity, service).
    public var covered: Bool
    /// The incident's clocks.
    public var clocks: [ClockView]
    /// Every event, in the engine's order.
    public var events: [EventView]

    /// An incident's detail.
    public init(
        incident: IncidentSummary, service: String?, handoffs: Int, covered: Bool, clocks: [ClockView],
        events: [EventView]
    ) {
        self.incident = incident
        self.service = service
        self.handoffs = handoffs
        self.covered = covered
        self.clocks = clocks
        self.events = events
    }
}

/// One breached clock.
public struct BreachView: Codable, Sendable, Hashable {
    /// Incident id.
    public var incident: String
    /// Contract id.
    public var contract: String
    /// `reaction`, `resolution` or `promise:NAME`.
    public var metric: String
    /// Priority.
    public var priority: String
    /// Target, business seconds.
    public var targetSeconds: Int64?
    /// Business seconds the clock ran.
    public var elapsedSeconds: Int64
    /// When the target was breached (UTC).
    public var breachedAt: String
    /// The IANA zone of the contract.
    public var timeZone: String?
    /// Seconds in a business day of the clock's calendar.
    public var businessDaySeconds: Int64?

    /// A breach.
    public init(
        incident: String, contract: String, metric: String, priority: String, targetSeconds: Int64?,
        elapsedSeconds: Int64, breachedAt: String, timeZone: String? = nil, businessDaySeconds: Int64? = nil
    ) {
        self.incident = incident
        self.contract = contract
        self.metric = metric
        self.priority = priority
        self.targetSeconds = targetSeconds
        self.elapsedSeconds = elapsedSeconds
        self.breachedAt = breachedAt
        self.timeZone = timeZone
        self.businessDaySeconds = businessDaySeconds
    }
}

/// `GET /v1/breaches`.
public struct BreachList: Codable, Sendable, Hashable {
    /// The breaches.
    public var breaches: [BreachView]
    /// True when `limit` cut the list.
    public var truncated: Bool

    /// A list.
    public init(breaches: [BreachView], truncated: Bool) {
        self.breaches = breaches
        self.truncated = truncated
    }
}

/// `POST /v1/events`.
public struct EventsResult: Codable, Sendable, Hashable {
    /// Lines that added a new event.
    public var accepted: Int
    /// Lines whose event identity was already known (idempotent resends).
    public var duplicates: Int
    /// Alerts of an Alertmanager notification that no `alertmanager.services` rule took (nil elsewhere).
    public var unmapped: Int?

    /// A result.
    public init(accepted: Int, duplicates: Int, unmapped: Int? = nil) {
        self.accepted = accepted
        self.duplicates = duplicates
        self.unmapped = unmapped
    }
}

/// `POST /v1/reload`.
public struct ReloadResult: Codable, Sendable, Hashable {
    /// The generation now running.
    public var configGeneration: Int
    /// The contracts.
    public var contracts: Int
    /// sources
    public var sources: Int
    /// Settings that changed and apply only after a restart (webhooks, control socket).
    public var restartRequired: [String]
    /// Past months not sealed yet whose money the new terms change, by contract and month.
    public var moneyChanges: [MoneyChange]

    /// A result.
    public init(
        configGeneration: Int, contracts: Int, sources: Int, restartRequired: [String], moneyChanges: [MoneyChange] = []
    ) {
        self.configGeneration = configGeneration
        self.contracts = contracts
        self.sources = sources
        self.restartRequired = restartRequired
        self.moneyChanges = moneyChanges
    }
}

/// A past month, not sealed yet, whose total a reload changed.
public struct MoneyChange: Codable, Sendable, Hashable {
    /// The contract id.
    public var contract: String
    /// `YYYY-MM`, in the contract's zone.
    public var month: String
    /// ISO 4217 code.
    public var currency: String
    /// The month's total under the terms before the reload (`0.00` for a contract it adds).
    public var oldTotal: String
    /// The month's total under the new terms (`0.00` for a contract it removes).
    public var newTotal: String

    /// A change.
    public init(contract: String, month: String, currency: String, oldTotal: String, newTotal: String) {
        self.contract = contract
        self.month = month
        self.currency = currency
        self.oldTotal = oldTotal
        self.newTotal = newTotal
    }
}

/// The encoder and decoder of the control API (snake_case keys; sorted keys,
/// so that equal documents are equal bytes).
public enum APIJSON {
    /// Encodes a document.
    public static func encode<T: Encodable>(_ value: T, pretty: Bool = false) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting =
            pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        // Our documents hold strings, integers and arrays only: encoding cannot fail.
        var bytes = Array((try? encoder.encode(value)) ?? Data("{}".utf8))
        bytes.append(0x0A)
        return bytes
    }

    /// Decodes a document.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>) throws -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(type, from: Data(bytes))
    }
}
