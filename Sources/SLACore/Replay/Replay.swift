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
    ///
    /// - Parameters:
    ///   - months: the months to make statements of; nil: every month with activity.
    ///   - parts: how many threads share the work (ids hashed, incidents evaluated, statements).
    public static func run(
        contracts: [Contract], events: [SLAEvent], asOf: Instant? = nil, months: Set<YearMonth>? = nil,
        parts: Int = 1
    ) -> ReplayResult {
        let byID = Dictionary(contracts.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        return events.withUnsafeBufferPointer { all -> ReplayResult in
            // Every id, each to the index of its first event: a rejection is ordered by that index.
            var ids = HashSlots()
            let first = ids.insert(
                count: all.count, hashes: Parallel.map(all.count, parts: parts) { HashSlots.hash(all[$0].id) },
                holds: { at, k in all[at].id == all[k].id }, value: { $0 })
            var (kept, serviceEvents, rejections, lastTime) = sorted(all, isNew: { first[$0].inserted })
            let end = asOf ?? lastTime

            let (names, start, grouped) = byIncident(all, kept, parts: parts)
            // Evaluated in name order, so that the verdicts come out in the order they are listed
            // in (within a contract) and each is moved once: a verdict is large, and moving them in
            // a sort, or copying them into groups, would cost a third of a replay.
            let byName = (0..<names.count).sorted { names[$0] < names[$1] }
            var evaluated = grouped.withUnsafeBufferPointer { grouped in
                Parallel.map(byName.count, parts: parts) { k in
                    let range = start[byName[k]]..<start[byName[k] + 1]
                    return withUnsafeTemporaryAllocation(of: UnsafePointer<SLAEvent>.self, capacity: range.count) {
                        refs in
                        for (i, j) in range.enumerated() {
                            (refs.baseAddress! + i).initialize(to: all.baseAddress! + Int(grouped[j]))
                        }
                        return evaluate(incident: names[byName[k]], events: EventRefs(refs), contracts: byID, asOf: end)
                    }
                }
            }
            for i in evaluated.indices where !evaluated[i].rejections.isEmpty { rejections += evaluated[i].rejections }
            let (verdicts, runs) = byContract(&evaluated)

            let (timeline, serviceRejections) = ServiceTimeline.build(from: serviceEvents, asOf: end)
            rejections += serviceRejections
            let known = Set(contracts.flatMap(\.services))
            for e in serviceEvents where e.service.map({ !known.contains($0) }) ?? false {
                rejections.append(
                    Rejection(event: e, reason: .notCovered, detail: "service '\(e.service!)' is in no contract"))
            }
            let statements = Self.statements(
                contracts: contracts, verdicts: verdicts, runs: runs,
                services: (events: serviceEvents, timeline: timeline), months: months, asOf: end, parts: parts)

            // Input order: by the first event of each rejected event's id (a stable sort).
            func firstIndex(_ id: String) -> Int { ids.value(HashSlots.hash(id)) { all[$0].id == id } ?? 0 }
            let keyed = rejections.map { (first: firstIndex($0.event.id), rejection: $0) }
            rejections = keyed.sorted {
                ($0.first, $0.rejection.event.type.rank, $0.rejection.detail)
                    < ($1.first, $1.rejection.event.type.rank, $1.rejection.detail)
            }.map(\.rejection)
            return ReplayResult(
                asOf: end, incidents: verdicts, statements: statements, rejections: rejections, eventCount: all.count)
        }
    }

    /// The events of `all` sorted out, in input order: the incident events to apply (by index),
    /// the service events, and the rejections of the others (an id seen before, a time out of
    /// range, an incident event without an incident); and the last time of an event applied.
    private static func sorted(_ all: UnsafeBufferPointer<SLAEvent>, isNew: (Int) -> Bool) -> (
        kept: [Int32], serviceEvents: [SLAEvent], rejections: [Rejection], lastTime: Instant
    ) {
        let supported = BusinessCalendar.supportedRange
        var rejections: [Rejection] = []
        var kept: [Int32] = []
        var serviceEvents: [SLAEvent] = []
        var lastTime = Instant(0)
        for k in all.indices {
            let e = all.baseAddress! + k
            guard isNew(k) else {
                rejections.append(
                    Rejection(event: e.pointee, reason: .duplicateID, detail: "event id \(e.pointee.id) seen before"))
                continue
            }
            guard supported.contains(e.pointee.time) else {
                rejections.append(Rejection(event: e.pointee, reason: .outOfRange, detail: "time outside 1990–2099"))
                continue
            }
            lastTime = max(lastTime, e.pointee.time)
            guard e.pointee.type.isIncidentEvent else {
                serviceEvents.append(e.pointee)
                continue
            }
            guard let incident = e.pointee.incident, !incident.isEmpty else {
                rejections.append(
                    Rejection(
                        event: e.pointee, reason: .missingIncident,
                        detail: "\(e.pointee.type.rawValue) without incident"))
                continue
            }
            kept.append(Int32(k))
        }
        return (kept, serviceEvents, rejections, lastTime)
    }

    /// The incidents of the events `kept` (indices into `all`), numbered in first-seen order, and
    /// each one's events: `grouped[start[i]..<start[i + 1]]` are incident `i`'s, in input order.
    /// A counting sort on the incident's number, into one list of indices: no event is copied.
    private static func byIncident(_ all: UnsafeBufferPointer<SLAEvent>, _ kept: [Int32], parts: Int) -> (
        names: [String], start: [Int], grouped: [Int32]
    ) {
        var incidents = StringTable()
        let numbers = incidents.insertNumbered(
            count: kept.count,
            hashes: Parallel.map(kept.count, parts: parts) { HashSlots.hash(all[Int(kept[$0])].incident!) }
        ) { all[Int(kept[$0])].incident! }
        var start = [Int](repeating: 0, count: incidents.count + 1)
        for found in numbers { start[found.value + 1] += 1 }
        for i in 0..<incidents.count { start[i + 1] += start[i] }
        var grouped = [Int32](repeating: 0, count: kept.count)
        var fill = start
        for (j, found) in numbers.enumerated() {
            grouped[fill[found.value]] = kept[j]
            fill[found.value] += 1
        }
        return (incidents.strings, start, grouped)
    }

    /// The verdicts of `evaluated` (in incident order), ordered by contract by a stable counting
    /// sort, each moved out once; and where each contract's run of them is.
    private static func byContract(_ evaluated: inout [(verdict: IncidentVerdict?, rejections: [Rejection])]) -> (
        verdicts: [IncidentVerdict], runs: [String: Range<Int>]
    ) {
        let contractOf = evaluated.map { $0.verdict?.contract }
        let contractIDs = Set(contractOf.compactMap { $0 }).sorted()
        let rank = Dictionary(uniqueKeysWithValues: contractIDs.enumerated().map { ($1, $0) })
        let rankOf = contractOf.map { $0.map { rank[$0]! } ?? -1 }
        var counts = [Int](repeating: 0, count: contractIDs.count)
        for r in rankOf where r >= 0 { counts[r] += 1 }
        var runs: [String: Range<Int>] = [:]
        var place: [Int] = []
        var total = 0
        for (r, id) in contractIDs.enumerated() {
            place.append(total)
            runs[id] = total..<(total + counts[r])
            total += counts[r]
        }
        let verdicts = [IncidentVerdict](unsafeUninitializedCapacity: total) { buffer, initialized in
            for i in evaluated.indices where rankOf[i] >= 0 {
                (buffer.baseAddress! + place[rankOf[i]]).initialize(to: evaluated[i].verdict.take()!)
                place[rankOf[i]] += 1
            }
            initialized = total
        }
        evaluated = []
        return (verdicts, runs)
    }

    /// Every contract's statements of the months with activity (of `months`, when given), by
    /// contract, then month. Each is a pass over the contract's verdicts (`runs`), side by side;
    /// with fewer statements than threads, each is tallied in parts and merged.
    private static func statements(
        contracts: [Contract], verdicts: [IncidentVerdict], runs: [String: Range<Int>],
        services: (events: [SLAEvent], timeline: ServiceTimeline), months: Set<YearMonth>?, asOf end: Instant,
        parts: Int
    ) -> [MonthlyStatement] {
        var wanted: [(contract: Contract, month: YearMonth)] = []
        for contract in contracts.sorted(by: { $0.id < $1.id }) {
            let mine = runs[contract.id] ?? 0..<0
            var active = MonthsSeen(zone: contract.zone)
            let found = Parallel.map(parts, parts: parts) { p in
                var seen = MonthsSeen(zone: contract.zone)
                for i in Parallel.part(p, of: parts, mine) where verdicts[i].covered {
                    seen.add(verdicts[i].openedAt)
                    for c in verdicts[i].clocks { if let b = c.breach { seen.add(b.at) } }
                }
                return seen.months
            }
            for months in found { active.months.formUnion(months) }
            for e in services.events
            where e.service.map(contract.services.contains) ?? false && contract.isValid(at: e.time) {
                active.add(e.time)
            }
            for month in active.months.sorted() where months?.contains(month) ?? true {
                wanted.append((contract, month))
            }
        }
        let each = wanted.count >= parts ? 1 : parts
        return Parallel.map(wanted.count, parts: min(parts, wanted.count)) { k in
            let mine = runs[wanted[k].contract.id] ?? 0..<0
            let tallies = Parallel.map(each, parts: each) { p in
                var tally = StatementTally(contract: wanted[k].contract, month: wanted[k].month)
                for i in Parallel.part(p, of: each, mine) { tally.add(verdicts[i]) }
                tally.orderLines()
                return tally
            }
            var tally = tallies[0]
            for other in tallies.dropFirst() { tally.merge(other) }
            return tally.statement(services: services.timeline, asOf: end)
        }
    }
}

/// The months, in a zone, that instants fall in. The month last found is kept as a range of
/// instants: instants come in runs of one month, and finding the month of each is a zone lookup.
private struct MonthsSeen {
    let zone: ZoneRules
    var months = Set<YearMonth>()
    private var last = Instant(0)..<Instant(0)

    init(zone: ZoneRules) { self.zone = zone }

    mutating func add(_ t: Instant) {
        guard !last.contains(t) else { return }
        let month = zone.month(of: t)
        months.insert(month)
        last = zone.startOfDay(month.firstDay)..<zone.startOfDay(month.next.firstDay)
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
