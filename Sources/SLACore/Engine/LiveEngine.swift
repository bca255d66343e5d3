/// What a notification says.
public enum NotificationKind: String, Sendable, Codable, Hashable {
    case warning, breach, escalation
    /// A breach announced earlier that later events proved did not happen.
    case retraction = "breach.retracted"
    /// A contract's availability error budget burning fast (a multiwindow burn alert started).
    case burn = "availability.burn"

    /// The notification a threshold of that kind gives when crossed.
    public init(_ threshold: ThresholdKind) {
        switch threshold {
        case .warning: self = .warning
        case .breach: self = .breach
        case .escalation: self = .escalation
        }
    }
}

/// Where a team's notifications go (`teams:` in slad.yaml): the team's own webhooks, and the
/// webhooks of its lead, which an escalation reaches by naming the role `@lead`.
public struct TeamRoute: Sendable, Hashable {
    /// Webhooks that hear about the incidents the team holds.
    public var notify: [String]
    /// Webhooks of the team's lead.
    public var lead: [String]

    /// A route.
    public init(notify: [String], lead: [String]) {
        self.notify = notify
        self.lead = lead
    }
}

/// A warning, breach, escalation or retraction, with a stable identity so that
/// receivers (and the outbox) drop duplicates.
public struct SLANotification: Sendable, Hashable {
    /// `INCIDENT/METRIC/KIND/PERCENT`, plus `/retracted` for a retraction.
    public var id: String
    /// What happened.
    public var kind: NotificationKind
    /// The incident.
    public var incident: String
    /// The contract.
    public var contract: String
    /// Which clock.
    public var metric: Metric
    /// The priority in force at the crossing.
    public var priority: String
    /// The share of the target passed.
    public var percent: Percentage
    /// The target in force (business seconds).
    public var target: Int64
    /// When the threshold was passed, in event time (the true due time).
    public var due: Instant
    /// When slad decided it (wall clock, milliseconds since the epoch).
    public var decidedAtMilliseconds: Int64
    /// Decided more than the allowed lateness after it was due (e.g. while slad was down).
    public var late: Bool
    /// Webhook names to notify.
    public var notify: [String]
    /// The contract's customer.
    public var customer: String
    /// Business seconds the clock had run when slad decided (at least the threshold; more when late).
    public var elapsed: Int64
    /// When the target is (or was) breached, if the clock's calendar says so; nil once the clock stopped short of it.
    public var deadline: Instant?

    /// Creates a notification.
    public init(
        id: String, kind: NotificationKind, incident: String, contract: String, metric: Metric, priority: String,
        percent: Percentage, target: Int64, due: Instant, decidedAtMilliseconds: Int64, late: Bool, notify: [String],
        customer: String = "", elapsed: Int64 = 0, deadline: Instant? = nil
    ) {
        self.id = id
        self.kind = kind
        self.incident = incident
        self.contract = contract
        self.metric = metric
        self.priority = priority
        self.percent = percent
        self.target = target
        self.due = due
        self.decidedAtMilliseconds = decidedAtMilliseconds
        self.late = late
        self.notify = notify
        self.customer = customer
        self.elapsed = elapsed
        self.deadline = deadline
    }
}

/// Which open incidents a listing wants.
public enum StandingFilter: String, Sendable, CaseIterable {
    case open
    case atRisk = "at_risk"
    case breached
}

/// Where an open incident stands.
public enum IncidentStanding: String, Sendable {
    case fine
    case atRisk = "at_risk"
    case breached
}

extension IncidentVerdict {
    /// Where the incident stands: nil unless it is open and covered by its contract;
    /// breached when a clock breached, at risk when a clock passed a warning.
    public var standing: IncidentStanding? {
        guard status == .open, covered else { return nil }
        // What the customer was promised: OLAs are internal.
        let kinds = clocks.filter { !$0.metric.isOLA }.flatMap { clock in clock.crossings.map(\.threshold.kind) }
        return kinds.contains(.breach) ? .breached : kinds.contains(.warning) ? .atRisk : .fine
    }

    /// The clock whose breach instant (passed, or due if it keeps running) comes first, and that instant.
    public var firstBreach: (clock: ClockVerdict, at: Instant)? {
        clocks.compactMap { clock in
            clock.metric.isOLA ? nil : (clock.breach?.at ?? clock.deadline).map { (clock, $0) }
        }.min { $0.1 < $1.1 }
    }
}

/// A position in an incident listing: the incident's earliest breach instant
/// (ms; `Int64.max` when no clock has one) and its id.
public struct IncidentCursor: Sendable, Hashable {
    /// The earliest breach instant of the incident's clocks, ms since the epoch.
    public var breachMilliseconds: Int64
    /// The incident id (ties broken by id).
    public var incident: String

    /// A cursor.
    public init(breachMilliseconds: Int64, incident: String) {
        self.breachMilliseconds = breachMilliseconds
        self.incident = incident
    }

    /// The opaque text form handed to clients (`ms:id`).
    public var token: String { "\(breachMilliseconds):\(incident)" }

    /// Parses ``token``.
    public init?(token: String) {
        guard let colon = token.firstIndex(of: ":"), let ms = Int64(token[..<colon]) else { return nil }
        breachMilliseconds = ms
        incident = String(token[token.index(after: colon)...])
    }
}

/// Holds a live engine's timer wheel, which cannot be copied, so that the engine can be.
/// Unchecked: the engine changes the wheel only through a box it alone references.
final class WheelBox: @unchecked Sendable {
    var wheel: TimerWheel
    init(_ wheel: consuming TimerWheel) { self.wheel = wheel }
}

/// Arms every open incident's next thresholds in a timer wheel and decides them
/// when they come due. Pure: the caller passes wall-clock time in as values
/// (milliseconds since the epoch).
///
/// SLA clocks count whole seconds and a threshold is passed once elapsed time
/// exceeds it: at wall time `t` (milliseconds) a threshold due at second `t`
/// is reached and every later instant exceeds it, so it is decided at `t`,
/// evaluating as of the next whole second — on the deadline, not a second later.
///
/// A timer only says "look now"; the decision re-evaluates the incident from
/// its events as of that instant (the event-time truth), so a clock stopped by
/// an event that arrived meanwhile fires nothing. Identities make every
/// threshold fire once, across restarts too (`emitted` is loaded from the outbox).
public struct LiveEngine: Sendable {
    /// Events and verdicts.
    public private(set) var engine: IngestEngine
    /// One timer per incident, keyed by its payload index, at the earliest next threshold of
    /// its clocks: a timer only says "look now", and the refresh it causes arms the next one.
    /// The wheel cannot be copied and the engine is a value: it sits in a box copied on write.
    var timers: WheelBox
    /// SLANotification ids already decided.
    public private(set) var emitted: Set<String>
    /// Breaches decided and not retracted, by incident, then notification id
    /// (indexed by incident: a refresh looks at one incident's breaches only).
    private var breaches: [String: [String: SLANotification]] = [:]
    /// How long a breach decision waits for late events (seconds).
    public let allowedLateness: Int64
    /// Routes by team: a notification also goes to the webhooks of the team holding the
    /// incident when it is decided, and `@lead` in an escalation to that team's lead.
    public var teams: [String: TeamRoute] = [:]
    /// Thresholds that came due longer ago than this (seconds) are history, not news:
    /// they are in verdicts and reports but not notified (e.g. when a log is first imported).
    public let catchUpWindow: Int64

    /// Creates the engine at wall-clock time `now` with what the outbox already holds.
    public init(
        engine: IngestEngine, nowMilliseconds: Int64, allowedLateness: Int64 = 5, catchUpWindow: Int64 = 86_400,
        emitted: [SLANotification] = []
    ) {
        self.engine = engine
        self.allowedLateness = allowedLateness
        self.catchUpWindow = catchUpWindow
        timers = WheelBox(TimerWheel(now: nowMilliseconds))
        self.emitted = Set(emitted.map(\.id))
        for n in emitted where n.kind == .breach { breaches[n.incident, default: [:]][n.id] = n }
        for n in emitted where n.kind == .retraction {
            breaches[n.incident]?[String(n.id.dropLast("/retracted".count))] = nil
        }
    }

    /// Timers armed: one per incident with a threshold still to come (its earliest).
    public var armedCount: Int { timers.wheel.count }

    /// When `incident`'s timer is armed for (ms): the earliest next threshold of its clocks
    /// (a breach's plus the allowed lateness); nil when nothing is to come.
    public func armedMilliseconds(of incident: String) -> Int64? {
        engine.number(of: incident).flatMap { timers.wheel.deadline(of: UInt32($0)) }
    }

    /// The standing of each incident by payload index (nil once closed or not covered),
    /// kept current by every refresh; arrays, so that a listing scans memory in order.
    var standings: [IncidentStanding?] = []
    /// Per payload index: the earliest breach instant (past or due) of its clocks, ms; `Int64.max` for none.
    var breachMilliseconds: [Int64] = []
    /// Per payload index: its contract, as an index into `contractNames`.
    var contractOf: [Int32] = []
    var contractNames: [String] = []
    private var contractIndex: [String: Int32] = [:]
    /// Per payload index: its (contract, priority) group, as an index into `groups`.
    var groupOf: [Int32] = []
    var groups: [StandingGroup] = []
    private var groupIndex: [StandingGroup: Int32] = [:]
    /// Open, at-risk and breached counts, maintained as incidents are re-decided.
    public private(set) var status = IncidentCounts()
    /// The same counts per group, in the order the groups first appeared.
    private var groupCounts: [IncidentCounts] = []

    /// A contract and a priority: the dimensions of the per-group counts.
    public struct StandingGroup: Hashable, Sendable {
        /// The contract id.
        public var contract: String
        /// The incident's current priority.
        public var priority: String
    }

    /// Open, at-risk and breached counts per contract and current priority, kept as incidents
    /// are re-decided (metrics read them on every scrape; a scan would cost O(incidents)).
    /// Every group an incident ever had is listed, with zeros once it has none.
    public var countsByGroup: [(group: StandingGroup, counts: IncidentCounts)] {
        zip(groups, groupCounts).map { ($0, $1) }
    }

    mutating func setStanding(_ index: Int, _ new: IncidentStanding?, group: Int32) {
        func apply(_ s: IncidentStanding?, _ g: Int32, _ d: Int) {
            guard let s else { return }
            status.add(s, d)
            if g >= 0 { groupCounts[Int(g)].add(s, d) }
        }
        apply(standings[index], groupOf[index], -1)
        standings[index] = new
        // Written only when it changes: a resume takes the column from its snapshot, shared, and
        // a write would copy all of it.
        if groupOf[index] != group { groupOf[index] = group }
        apply(new, group, +1)
    }

    mutating func groupSlot(_ contract: String, _ priority: String) -> Int32 {
        let key = StandingGroup(contract: contract, priority: priority)
        if let known = groupIndex[key] { return known }
        let g = Int32(groups.count)
        groups.append(key)
        groupCounts.append(IncidentCounts())
        groupIndex[key] = g
        return g
    }

    /// Open incidents matching `filter` (and `contract`), ordered by their earliest
    /// breach instant then id — for at-risk incidents that is least time left first —
    /// strictly after `cursor`; at most `limit`, and whether more follow.
    ///
    /// One pass over contiguous per-incident arrays keeping the `limit + 1` smallest
    /// keys, so the first page costs a scan, not a sort of every open incident.
    public func list(
        _ filter: StandingFilter, contract: String? = nil, after cursor: IncidentCursor? = nil, limit: Int
    ) -> (incidents: [IncidentCursor], more: Bool) {
        let wanted: Int32?
        if let contract {
            guard let c = contractIndex[contract] else { return ([], false) }
            wanted = c
        } else {
            wanted = nil
        }
        let pageSize = max(1, limit)
        let keep = pageSize + 1
        var best: [(key: Int64, index: Int)] = []
        best.reserveCapacity(keep)
        let names = engine.incidentIDs
        func less(_ a: (key: Int64, index: Int), _ b: (key: Int64, index: Int)) -> Bool {
            a.key != b.key ? a.key < b.key : names[a.index] < names[b.index]
        }
        let only: IncidentStanding? =
            switch filter {
            case .open: nil
            case .atRisk: .atRisk
            case .breached: .breached
            }
        // While the page is full, any key above its last is out: one integer compare rejects most.
        var bound = Int64.max
        standings.withUnsafeBufferPointer { st in
            breachMilliseconds.withUnsafeBufferPointer { bm in
                contractOf.withUnsafeBufferPointer { co in
                    for i in 0..<st.count {
                        let key = bm[i]
                        if key > bound { continue }
                        let s = st[i]
                        if let only { if s != only { continue } } else if s == nil { continue }
                        if let wanted, co[i] != wanted { continue }
                        if let cursor {
                            if key < cursor.breachMilliseconds { continue }
                            if key == cursor.breachMilliseconds && names[i] <= cursor.incident { continue }
                        }
                        let item = (key: key, index: i)
                        if best.count == keep {
                            guard less(item, best[keep - 1]) else { continue }
                            best.removeLast()
                        }
                        var lo = 0
                        var hi = best.count
                        while lo < hi {
                            let mid = (lo + hi) / 2
                            if less(best[mid], item) { lo = mid + 1 } else { hi = mid }
                        }
                        best.insert(item, at: lo)
                        if best.count == keep { bound = best[keep - 1].key }
                    }
                }
            }
        }
        let more = best.count > pageSize
        let page = best.prefix(pageSize).map {
            IncidentCursor(breachMilliseconds: $0.key, incident: names[$0.index])
        }
        return (Array(page), more)
    }

    /// The open incidents of `contract`, in the order they were first seen.
    public func openIncidents(contract: String) -> [String] {
        guard let c = contractIndex[contract] else { return [] }
        let names = engine.incidentIDs
        return standings.indices.filter { standings[$0] != nil && contractOf[$0] == c }.map { names[$0] }
    }

    /// Open, at-risk and breached counts of one contract's incidents.
    public func counts(contract: String) -> IncidentCounts {
        var out = IncidentCounts()
        for (group, counts) in zip(groups, groupCounts) where group.contract == contract {
            out.open += counts.open
            out.atRisk += counts.atRisk
            out.breached += counts.breached
        }
        return out
    }

    /// The next wall-clock instant (ms) at which ``advance(to:)`` has work, nil when none.
    public var nextWakeupMilliseconds: Int64? { timers.wheel.nextWakeup() }

    /// Adds events (from ingest) and re-decides the incidents they touch as of `now`:
    /// thresholds already past are decided (late if long past), breaches no longer
    /// true are retracted, and the remaining thresholds are armed.
    public mutating func ingest(_ events: [SLAEvent], nowMilliseconds now: Int64) -> [SLANotification] {
        add(events, nowMilliseconds: now).notifications
    }

    /// ``ingest(_:nowMilliseconds:)`` that also reports which events were new and which incidents they touched.
    ///
    /// ``mark(_:)``, evaluating each touched incident, ``decide(_:nowMilliseconds:)``; the
    /// evaluation is pure, and the daemon spreads it over the cores between the two.
    public mutating func add(_ events: [SLAEvent], nowMilliseconds now: Int64)
        -> (fresh: [SLAEvent], touched: Set<String>, notifications: [SLANotification])
    {
        let (fresh, numbers) = mark(events.map { (event: $0, source: "") })
        let touched = numbers.map { number in
            let (verdict, rejections) = engine.evaluate(number: number)
            return (number, verdict, rejections)
        }
        return (
            zip(events, fresh).filter(\.1).map(\.0), Set(numbers.map(engine.name(of:))),
            decide(touched, nowMilliseconds: now)
        )
    }

    /// Adds events (with their source, ``IngestEngine/mark(_:idHashes:)``) to the engine: per
    /// event whether it was new, and the numbers of the incidents the new ones touched, in
    /// name order (the order ``decide(_:nowMilliseconds:)`` wants them in).
    public mutating func mark(_ events: [(event: SLAEvent, source: String)], idHashes: [UInt64]? = nil) -> (
        fresh: [Bool], touched: [Int]
    ) {
        let (fresh, touched) = engine.mark(events, idHashes: idHashes)
        let names = engine.incidentIDs
        return (fresh, touched.sorted { names[$0] < names[$1] })
    }

    /// Re-decides touched incidents (by number) as of `now`, given each one's evaluation as of
    /// its own last event (`engine.evaluate(number:)`), in name order.
    ///
    /// An incident is evaluated once for both when none of its clocks runs at its last event
    /// (an imported history, a closed incident): nothing changes after that, so the verdict
    /// holds at `now` too (tested: ProjectionTests). Otherwise it is evaluated at `now` as well.
    public mutating func decide(
        _ touched: [(number: Int, verdict: IncidentVerdict?, rejections: [Rejection])],
        nowMilliseconds now: Int64
    ) -> [SLANotification] {
        var out: [SLANotification] = []
        let names = engine.incidentIDs
        // Read in place: iterating copies each entry, its rejections included.
        touched.withUnsafeBufferPointer { all in
            for k in all.indices {
                let t = all.baseAddress! + k
                let settled = t.pointee.verdict.map { $0.clocks.allSatisfy { $0.runningSince == nil } } ?? true
                let index = t.pointee.number
                makeRoom(for: index)
                out += refresh(names[index], index: index, now: now, settled: settled ? t.pointee.verdict : nil)
            }
        }
        return out
    }

    /// After the wall clock stepped back, timers armed for the old time would come due
    /// at once and find nothing: rebuild the wheel at `now` and re-arm every incident.
    public mutating func resetClock(nowMilliseconds now: Int64) -> [SLANotification] {
        timers = WheelBox(TimerWheel(now: now))
        return catchUp(nowMilliseconds: now)
    }

    /// Swaps the contracts (a reload) and re-decides every incident under them as of `now`.
    /// Ids are stable, so a threshold already announced is not announced again; a breach
    /// the new terms no longer support is retracted.
    public mutating func replaceContracts(_ contracts: [Contract], nowMilliseconds now: Int64) -> [SLANotification] {
        engine.replaceContracts(contracts)
        return resetClock(nowMilliseconds: now)
    }

    /// Decides every incident as of `now`, in name order: the restart catch-up. By number, so
    /// that no incident's name is looked up (two lookups each were 8 % of a restart's samples
    /// at 1 M incidents, each a cache miss).
    public mutating func catchUp(nowMilliseconds now: Int64) -> [SLANotification] {
        makeRoom(for: engine.incidentCount - 1)
        return refreshInNameOrder(0..<engine.incidentCount, now: now)
    }

    /// Refreshes the incidents numbered `indices` as of `now`, in name order, so that the same
    /// incidents give the same output whatever order they came in.
    mutating func refreshInNameOrder(_ indices: some Sequence<Int>, now: Int64) -> [SLANotification] {
        let names = engine.incidentIDs
        var out: [SLANotification] = []
        for index in indices.sorted(by: { names[$0] < names[$1] }) {
            out += refresh(names[index], index: index, now: now)
        }
        return out
    }

    /// Moves wall-clock time to `now` and decides every timer that came due.
    public mutating func advance(toMilliseconds now: Int64) -> [SLANotification] {
        var due = Set<UInt32>()
        withWheel { $0.advance(to: now) { payload, _ in due.insert(payload) } }
        return refreshInNameOrder(due.lazy.map { Int($0) }, now: now)
    }

    /// Re-evaluates one incident as of `now`, decides what is due, retracts what is no longer true, re-arms.
    /// `index` is the incident's payload index; `settled` is its verdict at its last event when
    /// no clock runs there, which then stands for the evaluation at `now`.
    private mutating func refresh(
        _ incident: String, index: Int, now: Int64, settled: IncidentVerdict? = nil
    ) -> [SLANotification] {
        var next = Int64.max
        // Clocks count whole seconds and a threshold is passed when elapsed time exceeds it: at
        // wall time t (to the millisecond) a threshold due at second t is reached, and every later
        // instant exceeds it, so the decision is taken at t, evaluating as of the next whole second.
        let asOf = Instant(now / 1000 + 1)
        var verdict = settled ?? engine.evaluate(number: index, asOf: asOf).verdict
        if settled != nil, asOf > verdict!.asOf { verdict!.asOf = asOf }
        var out: [SLANotification] = []
        var stillTrue = Set<String>()
        if let verdict {
            let announced = breaches[incident] != nil
            for clock in verdict.clocks {
                for crossing in clock.crossings {
                    // Most crossings were announced at an earlier refresh: only the id is made for
                    // them, the notification itself only for news.
                    let kind = NotificationKind(crossing.threshold.kind)
                    // History (a first import, a long outage) is recorded, not announced: its id
                    // is not even made, unless a breach of this incident was announced, which an
                    // old crossing may still confirm or move.
                    if !announced && now - crossing.at.seconds * 1000 > catchUpWindow * 1000
                        && now >= (crossing.at.seconds + allowedLateness) * 1000
                    {
                        continue
                    }
                    let base = Self.notificationID(incident, clock.metric, kind, crossing.threshold.at)
                    var id = kind == .breach ? breachID(base) : base
                    // A breach announced at another instant (a late pause or priority change moved
                    // it) was announced wrong: its instant dates the penalty. It is retracted, and the
                    // breach at its true instant is news under the next id, however old.
                    var moved = false
                    if kind == .breach, let announced = breaches[incident]?[id], announced.due != crossing.at {
                        if let retraction = retract(announced, now: now) { out.append(retraction) }
                        id = breachID(base)
                        moved = true
                    }
                    if kind == .breach { stillTrue.insert(id) }
                    // A breach waits `allowedLateness` for events that could still stop the clock in time.
                    if kind == .breach && now < (crossing.at.seconds + allowedLateness) * 1000 {
                        next = min(next, (crossing.at.seconds + allowedLateness) * 1000)
                        continue
                    }
                    // Old history (a first import, a long outage) is recorded in verdicts, not announced.
                    if !moved && now - crossing.at.seconds * 1000 > catchUpWindow * 1000 { continue }
                    guard emitted.insert(id).inserted else { continue }
                    let n = notification(verdict, clock, crossing, id: id, kind: kind, now: now)
                    if kind == .breach { breaches[incident, default: [:]][id] = n }
                    out.append(n)
                }
                // Only the next threshold of each clock counts: when it fires, the refresh arms the one after.
                if let upcoming = clock.upcoming.min(by: { $0.at < $1.at }) {
                    let delay = upcoming.threshold.kind == .breach ? allowedLateness : 0
                    next = min(next, (upcoming.at.seconds + delay) * 1000)
                }
            }
        }
        withWheel { wheel in
            if next < .max { wheel.schedule(UInt32(index), at: next) } else { wheel.cancel(UInt32(index)) }
        }
        setStanding(
            index, verdict?.standing, group: verdict.map { groupSlot($0.contract, $0.priority) } ?? groupOf[index])
        breachMilliseconds[index] = verdict?.firstBreach.map { $0.at.seconds * 1000 } ?? .max
        if let verdict { contractOf[index] = contractSlot(verdict.contract) }
        // Breaches announced for this incident that the events no longer support.
        for (id, breach) in breaches[incident] ?? [:] where !stillTrue.contains(id) {
            if let retraction = retract(breach, now: now) { out.append(retraction) }
        }
        return out.sorted { ($0.due, $0.percent, $0.id) < ($1.due, $1.percent, $1.id) }
    }

    /// Takes back an announced breach: the retraction to announce, nil when it was already.
    private mutating func retract(_ breach: SLANotification, now: Int64) -> SLANotification? {
        breaches[breach.incident]?[breach.id] = nil
        var retraction = breach
        retraction.id = breach.id + "/retracted"
        retraction.kind = .retraction
        retraction.decidedAtMilliseconds = now
        retraction.late = false
        return emitted.insert(retraction.id).inserted ? retraction : nil
    }

    /// The wheel, for changing: copied first when another engine value shares it.
    mutating func withWheel<R>(_ body: (inout TimerWheel) -> R) -> R {
        if !isKnownUniquelyReferenced(&timers) { timers = WheelBox(timers.wheel.copy()) }
        return body(&timers.wheel)
    }

    /// Makes the listing arrays reach every incident the engine has numbered, `index` included.
    mutating func makeRoom(for index: Int) {
        guard index >= standings.count else { return }
        let missing = engine.incidentCount - standings.count
        standings += repeatElement(nil, count: missing)
        breachMilliseconds += repeatElement(.max, count: missing)
        contractOf += repeatElement(-1, count: missing)
        groupOf += repeatElement(-1, count: missing)
    }

    mutating func contractSlot(_ contract: String) -> Int32 {
        if let known = contractIndex[contract] { return known }
        let c = Int32(contractNames.count)
        contractNames.append(contract)
        contractIndex[contract] = c
        return c
    }

    /// The team holding `incident`: the last team its events name, in their order.
    private func team(of incident: String) -> String? {
        engine.events(of: incident).sorted(by: SLAEvent.canonicalOrder).last { $0.team != nil }?.team
    }

    /// The id of a breach whose plain id is `base`: a breach that comes back after its
    /// retraction (a late event stopped the clock in time, a reopen let it run out again) is
    /// news, so it takes `base/2`, `base/3`, … and is announced again.
    private func breachID(_ base: String) -> String {
        guard emitted.contains(base + "/retracted") else { return base }
        var generation = 2
        while emitted.contains("\(base)/\(generation)/retracted") { generation += 1 }
        return "\(base)/\(generation)"
    }

    /// A notification's stable id (also the webhook id): incident, metric, kind and threshold.
    static func notificationID(_ incident: String, _ metric: Metric, _ kind: NotificationKind, _ at: Percentage)
        -> String
    {
        "\(incident)/\(metric)/\(kind.rawValue)/\(at)"
    }

    private func notification(
        _ v: IncidentVerdict, _ clock: ClockVerdict, _ crossing: Crossing, id: String, kind: NotificationKind,
        now: Int64
    ) -> SLANotification {
        let contract = engine.contracts[v.contract]
        let route = teams.isEmpty ? nil : team(of: v.incident).flatMap { teams[$0] }
        var notify: [String] = []
        // An OLA's warnings and breach go to its line or team, not to the contract's endpoints.
        var own = contract?.notify ?? []
        if case .ola(let hold) = clock.metric { own = contract?.olas.terms(ofHold: hold)?.notify ?? [] }
        for name in crossing.threshold.kind == .escalation ? crossing.threshold.notify : own {
            notify += name == "@lead" ? route?.lead ?? [] : [name]
        }
        for name in route?.notify ?? [] where !notify.contains(name) { notify.append(name) }
        let late = now - crossing.at.seconds * 1000 > (allowedLateness + 1) * 1000
        return SLANotification(
            id: id, kind: kind,
            incident: v.incident, contract: v.contract, metric: clock.metric, priority: crossing.priority,
            percent: crossing.threshold.at, target: crossing.target, due: crossing.at, decidedAtMilliseconds: now,
            late: late, notify: notify,
            customer: contract?.customer ?? "",
            // Decided on time, the clock has run the threshold (the whole-second evaluation
            // reads a second more); decided late, what it had run by then.
            elapsed: late ? clock.elapsed : min(clock.elapsed, crossing.threshold.at.ceilingOf(crossing.target)),
            deadline: clock.breach?.at ?? clock.deadline)
    }
}
