/// The kinds of event slad understands (DESIGN.md §4).
public enum EventType: String, Sendable, Codable, CaseIterable {
    case opened = "incident.opened"
    case acknowledged = "incident.acknowledged"
    case updated = "incident.updated"
    case resolved = "incident.resolved"
    case reopened = "incident.reopened"
    case closed = "incident.closed"
    case promiseMade = "promise.made"
    case promiseKept = "promise.kept"
    case serviceDown = "service.down"
    case serviceUp = "service.up"
    case maintenanceStarted = "maintenance.started"
    case maintenanceEnded = "maintenance.ended"

    /// Order of events that share one second, so that any arrival order gives the same result.
    public var rank: Int {
        switch self {
        case .opened: 0
        case .updated: 1
        case .acknowledged: 2
        case .promiseMade: 3
        case .promiseKept: 4
        case .resolved: 5
        case .reopened: 6
        case .closed: 7
        case .serviceDown, .maintenanceStarted: 8
        case .serviceUp, .maintenanceEnded: 9
        }
    }

    /// Whether the event belongs to an incident (as opposed to a service).
    public var isIncidentEvent: Bool { rank <= 7 }
}

/// One event, decoded and validated for shape (not yet for meaning).
public struct SLAEvent: Sendable, Hashable {
    /// Identity for idempotency: the source's id, or a hash of source and content.
    public var id: String
    /// When it happened (event time drives the SLA clocks).
    public var time: Instant
    /// What happened.
    public var type: EventType
    /// `time` dropped a fraction of a second (the event happened during that second, after its
    /// start): a clock it starts or resumes starts at the next whole second (docs/semantics.md §1).
    public var fractional: Bool
    /// The incident, for incident and promise events.
    public var incident: String?
    /// The contract; read from the opening event of an incident.
    public var contract: String?
    /// The service, for availability events (and informational on incidents).
    public var service: String?
    /// The priority at open, or a new one on `incident.updated` (re-targets).
    public var priority: String?
    /// A workflow status; statuses in the contract's `pause_on` pause the resolution clock.
    public var status: String?
    /// Who works on it; a change after the first is a handoff.
    public var assignee: String?
    /// The team working on it; a change after the first is a handoff.
    public var team: String?
    /// The support level (L1, L2, …); a change after the first is a handoff.
    public var level: String?
    /// For `promise.made`: when the promise falls due.
    public var due: Instant?
    /// For promises: which promise (several can be open at once); "promise" when absent.
    public var promise: String?

    /// Creates an event; only id, time and type are always required.
    ///
    /// Inlinable: called across modules (the decoders), it built the event on the stack and
    /// copied it out, retaining and releasing every text (seen in perf).
    @inlinable public init(
        id: String, time: Instant, type: EventType, incident: String? = nil, contract: String? = nil,
        service: String? = nil, priority: String? = nil, status: String? = nil, assignee: String? = nil,
        team: String? = nil, level: String? = nil, due: Instant? = nil, promise: String? = nil,
        fractional: Bool = false
    ) {
        self.id = id
        self.time = time
        self.type = type
        self.incident = incident
        self.contract = contract
        self.service = service
        self.priority = priority
        self.status = status
        self.assignee = assignee
        self.team = team
        self.level = level
        self.due = due
        self.promise = promise
        self.fractional = fractional
    }

    /// The deterministic order of events: time, then kind, then id.
    public static func canonicalOrder(_ a: SLAEvent, _ b: SLAEvent) -> Bool {
        withUnsafePointer(to: a) { a in withUnsafePointer(to: b) { b in canonicalOrder(a, b) } }
    }

    /// ``canonicalOrder(_:_:)`` of two events read where they are (the one definition of the
    /// order): comparing array elements copies both (every text retained and released)
    /// unless the optimizer sees it need not.
    static func canonicalOrder(_ a: UnsafePointer<SLAEvent>, _ b: UnsafePointer<SLAEvent>) -> Bool {
        if a.pointee.time != b.pointee.time { return a.pointee.time < b.pointee.time }
        if a.pointee.type.rank != b.pointee.type.rank { return a.pointee.type.rank < b.pointee.type.rank }
        return a.pointee.id < b.pointee.id
    }
}

extension SLAEvent {
    /// When a clock this event starts or resumes begins to run: `time`, or the next whole
    /// second when `time` dropped a fraction. A clock counts only seconds it surely ran, so it
    /// never runs out before it would on the exact times (a clock it stops or pauses stops at
    /// `time`).
    @inlinable public var runsFrom: Instant { fractional ? time.adding(seconds: 1) : time }

    /// Why the daemon keeps this event out of the engine (the line is quarantined), as replay
    /// does: a time outside the range every calendar covers, or an incident event without its
    /// incident. Nil when the event may go in.
    public var refusal: (field: String, reason: String)? {
        if !BusinessCalendar.supportedRange.contains(time) {
            return ("time", "time_out_of_range: outside 1990–2099")
        }
        if type.isIncidentEvent, incident?.isEmpty ?? true {
            return ("incident", "missing_incident: an incident event without incident")
        }
        return nil
    }
}

extension EventType {
    /// The type whose name is exactly `bytes`, nil for any other text: what decoders read,
    /// without making a `String` of the name first.
    public init?(utf8 bytes: UnsafeRawBufferPointer) {
        // Names are compared from their last byte: they share their first nine ("incident.").
        for (name, type) in Self.utf8Names where name.count == bytes.count {
            var k = name.count - 1
            while k >= 0, name[k] == bytes[k] { k -= 1 }
            if k < 0 {
                self = type
                return
            }
        }
        return nil
    }

    private static let utf8Names: [([UInt8], EventType)] = allCases.map { (Array($0.rawValue.utf8), $0) }
}
