/// The result of evaluating a whole event history.
public struct ReplayResult: Sendable {
    /// The instant the evaluation is "as of": running clocks count up to it.
    public var asOf: Instant
    /// One verdict per incident, ordered by contract then incident id.
    public var incidents: [IncidentVerdict]
    /// One statement per contract and month with activity, ordered by contract then month.
    public var statements: [MonthlyStatement]
    /// Events not applied, in input order.
    public var rejections: [Rejection]
    /// Events read.
    public var eventCount: Int

    /// Rejection counts by reason name, sorted by name.
    public var rejectionCounts: [(reason: String, count: Int)] {
        Dictionary(grouping: rejections, by: \.reason.rawValue).map { ($0.key, $0.value.count) }.sorted { $0.0 < $1.0 }
    }
}

/// Evaluates an event history against contracts, the oracle every later part is checked against.
public enum Replay {
    /// Runs `events` against `contracts` as of `asOf` (default: the last event's time).
    public static func run(contracts: [Contract], events: [SLAEvent], asOf: Instant? = nil) -> ReplayResult {
        let byID = Dictionary(contracts.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var rejections: [Rejection] = []
        var seen = Set<String>()
        var incidentEvents: [String: [SLAEvent]] = [:]
        var serviceEvents: [SLAEvent] = []
        var lastTime = Instant(0)
        let supported = BusinessCalendar.supportedRange
        for e in events {
            guard seen.insert(e.id).inserted else {
                rejections.append(Rejection(event: e, reason: .duplicateID, detail: "event id \(e.id) seen before"))
                continue
            }
            guard supported.contains(e.time) else {
                rejections.append(Rejection(event: e, reason: .outOfRange, detail: "time outside 1990–2099"))
                continue
            }
            lastTime = max(lastTime, e.time)
            if e.type.isIncidentEvent {
                guard let incident = e.incident, !incident.isEmpty else {
                    rejections.append(
                        Rejection(event: e, reason: .missingIncident, detail: "\(e.type.rawValue) without incident"))
                    continue
                }
                incidentEvents[incident, default: []].append(e)
            } else {
                serviceEvents.append(e)
            }
        }
        let end = asOf ?? lastTime

        var verdicts: [IncidentVerdict] = []
        for incident in incidentEvents.keys.sorted() {
            let (verdict, rejected) = evaluate(
                incident: incident, events: incidentEvents[incident]!, contracts: byID, asOf: end)
            rejections += rejected
            if let verdict { verdicts.append(verdict) }
        }
        verdicts.sort { ($0.contract, $0.incident) < ($1.contract, $1.incident) }

        let (timeline, serviceRejections) = ServiceTimeline.build(from: serviceEvents, asOf: end)
        rejections += serviceRejections
        let known = Set(contracts.flatMap(\.services))
        for e in serviceEvents where e.service.map({ !known.contains($0) }) ?? false {
            rejections.append(
                Rejection(event: e, reason: .notCovered, detail: "service '\(e.service!)' is in no contract"))
        }

        var statements: [MonthlyStatement] = []
        let byContract = Dictionary(grouping: verdicts, by: \.contract)
        for contract in contracts.sorted(by: { $0.id < $1.id }) {
            let mine = byContract[contract.id] ?? []
            var months = Set<YearMonth>()
            func add(_ t: Instant) { months.insert(contract.month(of: t)) }
            for v in mine where v.covered {
                add(v.openedAt)
                for c in v.clocks { if let b = c.breach { add(b.at) } }
            }
            for e in serviceEvents
            where e.service.map(contract.services.contains) ?? false && contract.isValid(at: e.time) {
                add(e.time)
            }
            for month in months.sorted() {
                statements.append(
                    StatementBuilder.statement(
                        contract: contract, month: month, verdicts: mine, services: timeline, asOf: end))
            }
        }
        var firstIndex: [String: Int] = [:]
        for (i, e) in events.enumerated() where firstIndex[e.id] == nil { firstIndex[e.id] = i }
        rejections.sort {
            (firstIndex[$0.event.id] ?? 0, $0.event.type.rank, $0.detail)
                < (firstIndex[$1.event.id] ?? 0, $1.event.type.rank, $1.detail)
        }
        return ReplayResult(
            asOf: end, incidents: verdicts, statements: statements, rejections: rejections, eventCount: events.count)
    }
}

extension Replay {
    /// Evaluates one incident's events: finds its opening event and contract,
    /// then folds the events. Events of an incident never opened, or opened
    /// under an unknown contract, are all rejected with that reason.
    public static func evaluate(
        incident: String, events: [SLAEvent], contracts: [String: Contract], asOf: Instant
    ) -> (verdict: IncidentVerdict?, rejections: [Rejection]) {
        EventRefs.with(events) { evaluate(incident: incident, events: $0, contracts: contracts, asOf: asOf) }
    }

    /// ``evaluate(incident:events:contracts:asOf:)`` of events read where they are.
    static func evaluate(
        incident: String, events: EventRefs, contracts: [String: Contract], asOf: Instant
    ) -> (verdict: IncidentVerdict?, rejections: [Rejection]) {
        var first: UnsafePointer<SLAEvent>?
        for e in events where e.pointee.type == .opened {
            if let f = first, !SLAEvent.canonicalOrder(e, f) { continue }
            first = e
        }
        guard let opener = first else {
            return (
                nil,
                events.map {
                    Rejection(event: $0.pointee, reason: .neverOpened, detail: "no incident.opened for \(incident)")
                }
            )
        }
        guard let contractID = opener.pointee.contract, let contract = contracts[contractID] else {
            let detail = "contract \(opener.pointee.contract.map { "'\($0)'" } ?? "(none)") is not configured"
            return (nil, events.map { Rejection(event: $0.pointee, reason: .unknownContract, detail: detail) })
        }
        return IncidentEvaluator.evaluate(incident: incident, events: events, contract: contract, asOf: asOf)
    }
}

extension BusinessCalendar {
    /// Instants every calendar table covers (1990-01-01 to 2099-12-31, with a day of margin for zones).
    public static let supportedRange = Instant(631_152_000 + 86_400)...Instant(4_102_444_800 - 86_400 - 1)
}
