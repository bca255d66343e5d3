/// Where an incident stands.
public enum IncidentStatus: String, Sendable, Codable {
    case open, resolved, closed
}

/// How a clock ended up, as of the evaluation instant.
public enum ClockOutcome: String, Sendable, Codable {
    /// Still counting, target not yet passed.
    case running
    /// Not counting (paused status), target not yet passed.
    case paused
    /// Stopped within its target.
    case met
    /// Passed its target (whether or not it has stopped since).
    case breached
    /// The priority has no target for this metric.
    case untracked
}

/// The verdict on one clock of one incident.
public struct ClockVerdict: Sendable {
    /// Which clock.
    public var metric: Metric
    /// The priority in force at the end.
    public var priority: String
    /// The target in force at the end (business seconds), nil when untracked.
    public var target: Int64?
    /// Business seconds counted up to the stop, or to the evaluation instant.
    public var elapsed: Int64
    /// How the clock stands.
    public var outcome: ClockOutcome
    /// When the clock stopped for good, if it has.
    public var stoppedAt: Instant?
    /// Every threshold passed, in time order.
    public var crossings: [Crossing]
    /// When each threshold not yet passed falls due if nothing stops the clock.
    public var upcoming: [Crossing]
    /// The calendar the clock counts in at the end.
    public var calendarID: String
    /// Since when time has counted without a change, while it still counts (not stopped,
    /// not paused); the base from which the next thresholds fall due.
    public var runningSince: Instant?

    /// Whether time still counts at the evaluation instant.
    public var isRunning: Bool { runningSince != nil }

    /// Creates a verdict (the evaluator's, or one read back from a store).
    public init(
        metric: Metric, priority: String, target: Int64?, elapsed: Int64, outcome: ClockOutcome, stoppedAt: Instant?,
        crossings: [Crossing], upcoming: [Crossing], calendarID: String, runningSince: Instant?
    ) {
        self.metric = metric
        self.priority = priority
        self.target = target
        self.elapsed = elapsed
        self.outcome = outcome
        self.stoppedAt = stoppedAt
        self.crossings = crossings
        self.upcoming = upcoming
        self.calendarID = calendarID
        self.runningSince = runningSince
    }

    /// The breach, if any.
    public var breach: Crossing? { Self.firstBreach(in: crossings) }
    /// When the target falls due, for a clock still running.
    public var deadline: Instant? { Self.firstBreach(in: upcoming)?.at }

    /// The first breach among `crossings` (a clock's ``crossings`` or ``upcoming``): what
    /// ``breach`` and ``deadline`` read, for a caller that holds the array only (a clock read in
    /// place, where calling a computed property would copy the whole clock).
    public static func firstBreach(in crossings: [Crossing]) -> Crossing? {
        crossings.first { $0.threshold.kind == .breach }
    }
}

/// The verdict on one incident.
public struct IncidentVerdict: Sendable {
    /// The incident id.
    public var incident: String
    /// The contract id.
    public var contract: String
    /// The service named at open.
    public var service: String?
    /// When the incident was opened.
    public var openedAt: Instant
    /// The priority at open and now.
    public var openingPriority: String
    /// The priority at the end.
    public var priority: String
    /// Open, resolved or closed.
    public var status: IncidentStatus
    /// When it was last resolved, while resolved.
    public var resolvedAt: Instant?
    /// When it was closed.
    public var closedAt: Instant?
    /// Changes of assignee, team or level after the first assignment (one per event).
    public var handoffs: Int
    /// Whether the contract was in force when the incident was opened; if not, no clocks run.
    public var covered: Bool
    /// Reaction, resolution and promise clocks (none when not covered).
    public var clocks: [ClockVerdict]
    /// The instant the verdict holds for: running clocks count up to it.
    public var asOf: Instant

    /// Creates a verdict (the evaluator's, or one read back from a store).
    public init(
        incident: String, contract: String, service: String?, openedAt: Instant, openingPriority: String,
        priority: String, status: IncidentStatus, resolvedAt: Instant? = nil, closedAt: Instant? = nil, handoffs: Int,
        covered: Bool, clocks: [ClockVerdict], asOf: Instant
    ) {
        self.incident = incident
        self.contract = contract
        self.service = service
        self.openedAt = openedAt
        self.openingPriority = openingPriority
        self.priority = priority
        self.status = status
        self.resolvedAt = resolvedAt
        self.closedAt = closedAt
        self.handoffs = handoffs
        self.covered = covered
        self.clocks = clocks
        self.asOf = asOf
    }
}

/// An event that was not applied, and why.
public struct Rejection: Sendable, Hashable {
    /// The event left out.
    public var event: SLAEvent
    /// The reason, for counting.
    public var reason: RejectionReason
    /// The reason, for people.
    public var detail: String

    /// Creates a rejection.
    public init(event: SLAEvent, reason: RejectionReason, detail: String) {
        self.event = event
        self.reason = reason
        self.detail = detail
    }
}

/// Why events are quarantined; stable names for counting.
public enum RejectionReason: String, Sendable, Codable, CaseIterable {
    case missingIncident = "missing_incident"
    case missingService = "missing_service"
    case unknownContract = "unknown_contract"
    case missingPriority = "missing_priority"
    case neverOpened = "never_opened"
    case beforeOpen = "before_open"
    case duplicateOpen = "duplicate_open"
    case afterClose = "after_close"
    case missingDue = "missing_due"
    case unmatchedEnd = "unmatched_end"
    case outOfRange = "time_out_of_range"
    case duplicateID = "duplicate_id"
    case notCovered = "no_contract_for_service"
}

/// Folds one incident's events into its verdict. Pure: time comes in as `asOf`.
public enum IncidentEvaluator {
    /// Evaluates `events` (any order; they are put in canonical order) of one
    /// incident under `contract`, as of `asOf`.
    public static func evaluate(
        incident: String, events: [SLAEvent], contract: Contract, asOf: Instant
    ) -> (verdict: IncidentVerdict?, rejections: [Rejection]) {
        EventRefs.with(events) { evaluate(incident: incident, events: $0, contract: contract, asOf: asOf) }
    }

    /// ``evaluate(incident:events:contract:asOf:)`` of events read where they are: the ingest
    /// engine keeps each event once, and an evaluation copied none of them.
    static func evaluate(
        incident: String, events: EventRefs, contract: Contract, asOf: Instant
    ) -> (verdict: IncidentVerdict?, rejections: [Rejection]) {
        // The canonical order as indices: sorting the events themselves would copy every one
        // (a dozen reference-counted fields each) and move 190-byte values around, and most
        // logs arrive in that order already, which one pass confirms.
        var order = Array(events.indices)
        if events.count > 1, (1..<events.count).contains(where: { SLAEvent.canonicalOrder(events[$0], events[$0 - 1]) })
        {
            order.sort { SLAEvent.canonicalOrder(events[$0], events[$1]) }
        }
        var rejections: [Rejection] = []
        guard let openIndex = order.firstIndex(where: { events[$0].pointee.type == .opened }) else {
            return (
                nil,
                order.map {
                    Rejection(
                        event: events[$0].pointee, reason: .neverOpened, detail: "no incident.opened for \(incident)")
                }
            )
        }
        let open = events[order[openIndex]]
        for k in order[..<openIndex] {
            let e = events[k]
            rejections.append(
                Rejection(
                    event: e.pointee, reason: .beforeOpen,
                    detail:
                        "\(e.pointee.type.rawValue) at \(ISO8601.format(e.pointee.time, in: .utc)) is before incident.opened at \(ISO8601.format(open.pointee.time, in: .utc))"
                ))
        }
        guard let openingPriority = open.pointee.priority else {
            return (
                nil,
                order.map {
                    Rejection(
                        event: events[$0].pointee, reason: .missingPriority, detail: "incident.opened without priority")
                }
            )
        }

        var state = IncidentState(open: open.pointee, priority: openingPriority, contract: contract)
        for k in order[(openIndex + 1)...] {
            state.takeOver(until: events[k].pointee.time)
            if let rejection = state.apply(events[k]) { rejections.append(rejection) }
        }
        let end = max(asOf, order.last.map { events[$0].pointee.time } ?? asOf)
        state.takeOver(until: end)
        return (state.verdict(asOf: end), rejections)
    }
}

/// One incident's events, read where they are: a pointer to each, in arrival order. Valid
/// only inside the call that hands them out.
typealias EventRefs = UnsafeBufferPointer<UnsafePointer<SLAEvent>>

extension EventRefs {
    /// Calls `body` with references to the events of `events`, in their order.
    static func with<R>(_ events: [SLAEvent], _ body: (EventRefs) -> R) -> R {
        events.withUnsafeBufferPointer { all in
            withUnsafeTemporaryAllocation(of: UnsafePointer<SLAEvent>.self, capacity: all.count) { refs in
                for k in all.indices { (refs.baseAddress! + k).initialize(to: all.baseAddress! + k) }
                return body(EventRefs(refs))
            }
        }
    }
}

/// The mutable state of one incident while its events are folded.
struct IncidentState {
    /// The version judging the incident now (``Contract/judging(openedAt:at:)``).
    private(set) var contract: Contract
    /// Later versions that take the incident over when they take effect, in order.
    private var takeovers: ArraySlice<Contract>
    let open: SLAEvent
    private(set) var thresholds: [Threshold]
    let openingPriority: String
    var priority: String
    var status: IncidentStatus = .open
    var workflowStatus: String?
    var resolvedAt: Instant?
    var closedAt: Instant?
    var handoffs = 0
    var assignment: (assignee: String?, team: String?, level: String?)
    let covered: Bool
    var reaction = ClockTrack()
    var resolution = ClockTrack()
    var promises: [String: PromiseTrack] = [:]
    /// Periods started so far of each recurring promise kind.
    var periods: [String: Int] = [:]
    /// OLA holds, one clock per stretch a support line or team holds the incident, in the order
    /// they began (``OLATerms``).
    var holds: [Hold] = []
    /// The holds running now: the line's and the team's, as indices into `holds`.
    var lineHold: Int?
    var teamHold: Int?

    struct Hold {
        var name: String
        var terms: OLATerms
        var track = ClockTrack()
    }

    struct PromiseTrack {
        var made: Instant
        var due: Instant
        var keptAt: Instant?
        var priority: String
    }

    /// `contract` is the contract's first version: the incident is judged by the version in
    /// force at its opening.
    init(open: SLAEvent, priority: String, contract first: Contract) {
        let contract = first.version(at: open.time)
        self.contract = contract
        takeovers = first.laterVersions.isEmpty ? [] : first.takeovers(openedAt: open.time)
        self.open = open
        self.priority = priority
        openingPriority = priority
        thresholds = contract.thresholds
        assignment = (open.assignee, open.team, open.level)
        workflowStatus = open.status
        covered = first.isValid(at: open.time)
        guard covered else { return }
        let terms = contract.terms(for: priority)
        let calendar = terms?.calendar ?? contract.calendar
        reaction.start(at: open.runsFrom, target: terms?.reaction, calendar: calendar, priority: priority)
        resolution.start(at: open.runsFrom, target: terms?.resolution, calendar: calendar, priority: priority)
        if let s = open.status, contract.pauseOn.contains(s) { resolution.setRunning(false, at: open.time) }
        if let s = open.status, contract.reactionPauseOn.contains(s) { reaction.setRunning(false, at: open.time) }
        for (kind, every) in contract.recurringPromises { startPeriod(kind, every: every, at: open.time) }
        if !first.olas.isEmpty { startHolds(at: open.runsFrom) }
    }

    /// Begins a hold of the line or team (`kind`) named `name` at `t`, when it
    /// has OLA terms; its index in `holds`.
    mutating func startHold(_ kind: OLATerms.Kind, _ name: String?, at t: Instant) -> Int? {
        guard let name, let terms = kind == .line ? contract.olas.lines[name] : contract.olas.teams[name] else {
            return nil
        }
        // Numbered by the unit's holds so far: an incident has a few, counted where they are.
        var n = 1
        for h in holds where h.terms === terms { n += 1 }
        if holds.isEmpty { holds.reserveCapacity(4) }
        var hold = Hold(name: terms.holdName(n), terms: terms)
        hold.track.start(at: t, target: terms.targets[priority], calendar: terms.calendar, priority: priority)
        if let s = workflowStatus, terms.pauseOn.contains(s) { hold.track.setRunning(false, at: t) }
        holds.append(hold)
        return holds.count - 1
    }

    /// Begins the holds of the line and team the incident is assigned to, where none runs.
    mutating func startHolds(at t: Instant) {
        if lineHold == nil { lineHold = startHold(.line, assignment.level, at: t) }
        if teamHold == nil { teamHold = startHold(.team, assignment.team, at: t) }
    }

    /// Ends the running holds at `t` (resolved, closed).
    mutating func stopHolds(at t: Instant) {
        forRunningHolds { $0.track.stop(at: t) }
        lineHold = nil
        teamHold = nil
    }

    /// A handoff to `name` of `kind` while the incident is open: the running hold (`current`)
    /// ends, the new unit's begins; the new running hold's index.
    mutating func handOver(from current: Int?, _ kind: OLATerms.Kind, _ name: String, _ e: UnsafePointer<SLAEvent>)
        -> Int?
    {
        guard status == .open && covered else { return current }
        if let i = current { holds[i].track.stop(at: e.pointee.time) }
        return startHold(kind, name, at: e.pointee.runsFrom)
    }

    /// Calls `body` with each running hold, the line's then the team's.
    mutating func forRunningHolds(_ body: (inout Hold) -> Void) {
        if let i = lineHold { body(&holds[i]) }
        if let i = teamHold { body(&holds[i]) }
    }

    /// Hands the incident to each later version that takes open incidents over and has taken
    /// effect by `t`: from its effective instant the clocks keep their elapsed time and take
    /// that version's target, calendar and pauses (the incident's workflow status read against
    /// its `pause_on`). A closed incident stays with its version.
    mutating func takeOver(until t: Instant) {
        while let next = takeovers.first, let at = next.effective, at <= t {
            takeovers.removeFirst()
            guard covered, status != .closed else { continue }
            contract = next
            thresholds = next.thresholds
            let terms = next.terms(for: priority)
            let calendar = terms?.calendar ?? next.calendar
            reaction.retarget(terms?.reaction, calendar: calendar, priority: priority, at: at)
            resolution.retarget(terms?.resolution, calendar: calendar, priority: priority, at: at)
            if status == .open {
                let s = workflowStatus
                resolution.setRunning(!(s.map(next.pauseOn.contains) ?? false), at: at)
                reaction.setRunning(!(s.map(next.reactionPauseOn.contains) ?? false), at: at)
            }
        }
    }

    /// Starts the next period of a recurring promise at `t`: due `every` seconds later.
    mutating func startPeriod(_ kind: String, every: Int64, at t: Instant) {
        let n = (periods[kind] ?? 0) + 1
        periods[kind] = n
        promises["\(kind)#\(n)"] = PromiseTrack(
            made: t, due: Instant(t.seconds + every), keptAt: nil, priority: priority)
    }

    /// `e` is read where it is, in the incident's log: handing the event over as a value
    /// copied it (a retain and release per text) for every event of every evaluation.
    mutating func apply(_ e: UnsafePointer<SLAEvent>) -> Rejection? {
        if status == .closed {
            return Rejection(
                event: e.pointee, reason: .afterClose, detail: "\(e.pointee.type.rawValue) after incident.closed")
        }
        switch e.pointee.type {
        case .opened:
            return Rejection(event: e.pointee, reason: .duplicateOpen, detail: "incident already opened by \(open.id)")
        case .acknowledged:
            reaction.stop(at: e.pointee.time)
        case .updated:
            if let p = e.pointee.priority, p != priority {
                priority = p
                let terms = contract.terms(for: p)
                let calendar = terms?.calendar ?? contract.calendar
                reaction.retarget(terms?.reaction, calendar: calendar, priority: p, at: e.pointee.time)
                resolution.retarget(terms?.resolution, calendar: calendar, priority: p, at: e.pointee.time)
                let at = e.pointee.time
                forRunningHolds {
                    $0.track.retarget($0.terms.targets[p], calendar: $0.terms.calendar, priority: p, at: at)
                }
            }
            if let s = e.pointee.status {
                workflowStatus = s
                let running = !contract.pauseOn.contains(s)
                if status == .open { resolution.setRunning(running, at: running ? e.pointee.runsFrom : e.pointee.time) }
                // A stopped reaction clock (acknowledged) ignores it.
                let reacting = !contract.reactionPauseOn.contains(s)
                if status == .open { reaction.setRunning(reacting, at: reacting ? e.pointee.runsFrom : e.pointee.time) }
                let (runsFrom, at) = (e.pointee.runsFrom, e.pointee.time)
                forRunningHolds {
                    let held = !$0.terms.pauseOn.contains(s)
                    $0.track.setRunning(held, at: held ? runsFrom : at)
                }
            }
            noteAssignment(e)
        case .resolved:
            guard status == .open else { return nil }
            status = .resolved
            resolvedAt = e.pointee.time
            reaction.stop(at: e.pointee.time)
            resolution.stop(at: e.pointee.time)
            dischargePromises(at: e.pointee.time)
            stopHolds(at: e.pointee.time)
            // A workflow status belongs to one open stretch: one set before the resolution
            // does not pause the clock after a reopen; one set while resolved does (an update
            // in the reopen's own second sorts before it).
            workflowStatus = nil
        case .reopened:
            guard status == .resolved else { return nil }
            status = .open
            resolvedAt = nil
            if let s = e.pointee.status { workflowStatus = s }
            for (kind, every) in contract.recurringPromises { startPeriod(kind, every: every, at: e.pointee.time) }
            let running = !(workflowStatus.map(contract.pauseOn.contains) ?? false)
            resolution.resume(at: running ? e.pointee.runsFrom : e.pointee.time, running: running)
            // The target follows the current priority and version, also those changed while
            // resolved.
            let terms = contract.terms(for: priority)
            let calendar = terms?.calendar ?? contract.calendar
            if let last = resolution.phases.last,
                last.priority != priority || last.target != terms?.resolution || last.calendar.id != calendar.id
            {
                resolution.retarget(terms?.resolution, calendar: calendar, priority: priority, at: e.pointee.time)
            }
            noteAssignment(e)
            // The line and team holding it now begin a new hold each.
            if !contract.olas.isEmpty { startHolds(at: e.pointee.runsFrom) }
        case .closed:
            if status == .open {
                resolvedAt = e.pointee.time
                reaction.stop(at: e.pointee.time)
                resolution.stop(at: e.pointee.time)
                dischargePromises(at: e.pointee.time)
                stopHolds(at: e.pointee.time)
            }
            status = .closed
            closedAt = e.pointee.time
        case .promiseMade:
            guard let due = e.pointee.due else {
                return Rejection(event: e.pointee, reason: .missingDue, detail: "promise.made without due")
            }
            promises[e.pointee.promise ?? "promise"] = PromiseTrack(
                made: e.pointee.time, due: due, keptAt: nil, priority: priority)
        case .promiseKept:
            let name = e.pointee.promise ?? "promise"
            // A recurring kind: the update keeps the current period and starts the next.
            if let every = contract.promises[name]?.every, let n = periods[name] {
                let current = "\(name)#\(n)"
                if status == .open, promises[current]?.keptAt == nil {
                    promises[current]?.keptAt = e.pointee.time
                    startPeriod(name, every: every, at: e.pointee.time)
                }
            } else if promises[name]?.keptAt == nil {
                promises[name]?.keptAt = e.pointee.time
            }
        case .serviceDown, .serviceUp, .maintenanceStarted, .maintenanceEnded:
            return nil
        }
        return nil
    }

    /// Resolving or closing an incident ends what was promised about it.
    mutating func dischargePromises(at t: Instant) {
        for name in promises.keys where promises[name]?.keptAt == nil { promises[name]?.keptAt = t }
    }

    mutating func noteAssignment(_ e: UnsafePointer<SLAEvent>) {
        var changed = false
        if let a = e.pointee.assignee, a != assignment.assignee {
            if assignment.assignee != nil { changed = true }
            assignment.assignee = a
        }
        if let t = e.pointee.team, t != assignment.team {
            if assignment.team != nil { changed = true }
            assignment.team = t
            teamHold = handOver(from: teamHold, .team, t, e)
        }
        if let l = e.pointee.level, l != assignment.level {
            if assignment.level != nil { changed = true }
            assignment.level = l
            lineHold = handOver(from: lineHold, .line, l, e)
        }
        if changed { handoffs += 1 }
    }

    func verdict(asOf: Instant) -> IncidentVerdict {
        var clocks: [ClockVerdict] = []
        if covered {
            // Growing the array one clock at a time allocated it twice per evaluation.
            clocks.reserveCapacity(2 + promises.count + holds.count)
            clocks.append(clockVerdict(.reaction, reaction, asOf: asOf))
            clocks.append(clockVerdict(.resolution, resolution, asOf: asOf))
            // In the order they were made (a recurring kind's periods in turn), then by name.
            for (name, track) in promises.sorted(by: { ($0.value.made, $0.key) < ($1.value.made, $1.key) }) {
                clocks.append(promiseVerdict(name, track, asOf: asOf))
            }
            for hold in holds {
                clocks.append(clockVerdict(.ola(hold.name), hold.track, thresholds: hold.terms.thresholds, asOf: asOf))
            }
        }
        return IncidentVerdict(
            incident: open.incident ?? "", contract: contract.id, service: open.service, openedAt: open.time,
            openingPriority: openingPriority, priority: priority, status: status, resolvedAt: resolvedAt,
            closedAt: closedAt, handoffs: handoffs, covered: covered, clocks: clocks, asOf: asOf)
    }

    func clockVerdict(_ metric: Metric, _ track: ClockTrack, thresholds: [Threshold]? = nil, asOf: Instant)
        -> ClockVerdict
    {
        let last = track.phases.last!
        let evaluation = track.evaluate(thresholds: thresholds ?? self.thresholds, asOf: asOf)
        let outcome: ClockOutcome
        if last.target == nil && !track.phases.contains(where: { $0.target != nil }) {
            outcome = .untracked
        } else if evaluation.crossings.contains(where: { $0.threshold.kind == .breach }) {
            outcome = .breached
        } else if track.isStopped {
            outcome = .met
        } else {
            outcome = last.running ? .running : .paused
        }
        return ClockVerdict(
            metric: metric, priority: last.priority, target: last.target, elapsed: evaluation.elapsed, outcome: outcome,
            stoppedAt: track.stoppedAt, crossings: evaluation.crossings, upcoming: evaluation.upcoming,
            calendarID: last.calendar.id, runningSince: track.isRunning && !track.isStopped ? last.start : nil)
    }

    /// Promises are wall-clock commitments: due is an instant, not a business duration. A
    /// threshold of share s passes at made + ⌈s × (due − made)⌉ (the breach at due itself), and
    /// is crossed once the promise is still not kept after that instant, as a clock's.
    func promiseVerdict(_ name: String, _ p: PromiseTrack, asOf: Instant) -> ClockVerdict {
        let target = p.due.seconds - p.made.seconds
        let end = p.keptAt ?? asOf
        var crossings: [Crossing] = []
        var upcoming: [Crossing] = []
        for threshold in contract.promiseThresholds(name) {
            let at =
                threshold.kind == .breach ? p.due : Instant(p.made.seconds + threshold.at.ceilingOf(max(0, target)))
            let crossing = Crossing(threshold: threshold, at: at, target: target, priority: p.priority)
            if end > at {
                crossings.append(crossing)
            } else if p.keptAt == nil {
                upcoming.append(crossing)
            }
        }
        crossings.sort { $0.at < $1.at }
        return ClockVerdict(
            metric: .promise(name), priority: p.priority, target: target, elapsed: max(0, end.seconds - p.made.seconds),
            outcome: end > p.due ? .breached : (p.keptAt != nil ? .met : .running), stoppedAt: p.keptAt,
            crossings: crossings, upcoming: upcoming, calendarID: "24x7", runningSince: p.keptAt == nil ? p.made : nil)
    }
}

extension IncidentVerdict {
    /// The verdict at a later `instant` when no event arrived after ``asOf``.
    ///
    /// Between the last event and `instant` nothing changes but the clocks that run,
    /// so their elapsed time grows in their calendar and the thresholds they pass are
    /// crossed at the instants already computed as upcoming. This is what lets a report
    /// use stored verdicts without re-reading every incident's events.
    public func projected(to instant: Instant, in contract: Contract) -> IncidentVerdict {
        var v = self
        v.project(to: instant, in: contract)
        return v
    }

    /// Advances this verdict to `instant` in place, as ``projected(to:in:)`` does; a clock
    /// that no longer runs is left untouched, so a stored verdict costs nothing to advance.
    public mutating func project(to instant: Instant, in contract: Contract) {
        guard instant > asOf else { return }
        let from = asOf
        asOf = instant
        for i in clocks.indices {
            // A stretch without a target (a priority without terms) counts no time.
            guard let since = clocks[i].runningSince, let target = clocks[i].target,
                let calendar = contract.calendar(id: clocks[i].calendarID)
            else { continue }
            var c = clocks[i]
            // A threshold is dated when elapsed time reached it, counted from the start of the
            // running stretch, as the evaluator does; that can lie before `asOf` when the target
            // was reached exactly and nothing has counted since (a business day's end).
            let atStart = c.elapsed - calendar.elapsed(from: since, to: from)
            c.elapsed += calendar.elapsed(from: from, to: instant)
            let elapsed = c.elapsed
            let passes = { (x: Crossing) in elapsed > x.threshold.at.ceilingOf(target) }
            var passed = c.upcoming.filter(passes)
            for k in passed.indices {
                let limit = passed[k].threshold.at.ceilingOf(target)
                passed[k].at = calendar.adding(business: max(0, limit - atStart), to: since) ?? passed[k].at
            }
            c.crossings += passed.sorted { $0.at < $1.at }
            c.upcoming.removeAll(where: passes)
            if c.breach != nil { c.outcome = .breached }
            clocks[i] = c
        }
    }
}
