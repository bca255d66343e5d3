/// The in-memory side of ingest: every event by incident, each identity once.
///
/// Verdicts are evaluated as of each incident's own last event, so the stored
/// state depends only on the events, never on how they were cut into batches
/// (a crash and restart at any point must give the same store).
public struct IngestEngine: Sendable {
    /// Contracts by id.
    public private(set) var contracts: [String: Contract]
    /// Incidents, numbered in the order they were first seen; `logs` by the same number.
    private var incidents = StringTable()
    private var logs: [Log] = []
    /// The incidents' events, each once, in arrival order; `next[i]` is the index of the next
    /// event of event `i`'s incident (-1: none yet). 32-bit indices: one per event held.
    private var events = EventStore()
    private var next: [Int32] = []
    /// Every event identity seen, by where it is kept: the index of its event in `events`, or,
    /// from ``serviceIdBase`` on, its place in `serviceIds` (a service event, which the engine
    /// does not keep). The id's only copy is its event's: 8 to 16 bytes of slots per id, no
    /// string or number of its own.
    private var ids = HashSlots()
    private var serviceIds: [String] = []
    private static let serviceIdBase = 1 << 31
    /// Positions, in the events of the last ``mark(_:idHashes:)``, of events whose id was known
    /// with other content: not applied (the first event of an id stands).
    public private(set) var lastConflicts: [Int] = []
    /// Counts calls of ``mark(_:)``, from 1: an incident's log notes the last call that touched
    /// it. 32 bits, as in ``Log``: when they run out, every log's note is cleared and counting
    /// starts again.
    private var generation: UInt32 = 0

    /// One incident's events, as a list through `next`, and the last ``mark(_:)`` that added
    /// one: one access per event both appends it and tells whether the batch touched the
    /// incident already. 16 bytes: one per incident held.
    struct Log {
        var first: Int32 = -1
        var last: Int32 = -1
        var count: Int32 = 0
        var touched: UInt32 = 0
    }

    /// Creates an engine with no events.
    public init(contracts: [Contract]) {
        self.contracts = Dictionary(contracts.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// Events known.
    public var eventCount: Int { ids.count }

    /// Adds events; returns those not seen before and the incidents they touch.
    public mutating func add(_ events: [SLAEvent]) -> (fresh: [SLAEvent], touched: Set<String>) {
        let (isFresh, touched) = mark(events)
        return (zip(events, isFresh).filter(\.1).map(\.0), Set(touched))
    }

    /// Adds events; returns, per event, whether it was new (its identity not seen before, nor
    /// earlier in `events`), and the incidents the new ones touch, each once, in first-touch order.
    public mutating func mark(_ events: [SLAEvent]) -> (fresh: [Bool], touched: [String]) {
        let (fresh, touched) = mark(events.map { (event: $0, source: "") })
        return (fresh, touched.map { incidents.strings[$0] })
    }

    /// ``mark(_:)`` for events with their source, as ingest reads them (the batch keeps that
    /// array for the store). Each event is read where it is (``EventPairs``) and packed once,
    /// into the engine's ``EventStore``, at the end of its incident's log.
    ///
    /// `idHashes`, when given, holds ``identityHash(_:)`` of each event's id, in order. The
    /// touched incidents come as their numbers (``number(of:)``): whoever evaluates and decides
    /// them then finds each one without looking its name up again.
    public mutating func mark(_ events: [(event: SLAEvent, source: String)], idHashes: [UInt64]? = nil) -> (
        fresh: [Bool], touched: [Int]
    ) {
        events.withUnsafeBufferPointer { all in
            guard let pairs = EventPairs(all) else { return mark(nil, idHashes: idHashes) }
            return mark(
                Run(base: UnsafeRawPointer(pairs.event(0)), stride: EventPairs.stride, count: pairs.count),
                idHashes: idHashes)
        }
    }

    /// ``mark(_:idHashes:)`` for events without their source: a ledger run, which is one
    /// source's, read back at a restart (pairing each event with its source copied every event).
    public mutating func mark(events: [SLAEvent], idHashes: [UInt64]? = nil) -> (fresh: [Bool], touched: [Int]) {
        events.withUnsafeBufferPointer { all in
            mark(
                all.baseAddress.map {
                    Run(base: UnsafeRawPointer($0), stride: MemoryLayout<SLAEvent>.stride, count: all.count)
                },
                idHashes: idHashes)
        }
    }

    /// Events read where they lie: `count` of them, `stride` bytes apart from `base` (each an
    /// ``SLAEvent`` alone, or one in a pair with its source).
    private struct Run {
        let base: UnsafeRawPointer
        let stride: Int
        let count: Int

        @inline(__always) func event(_ k: Int) -> UnsafePointer<SLAEvent> {
            (base + k * stride).assumingMemoryBound(to: SLAEvent.self)
        }
    }

    /// ``mark(_:idHashes:)`` on events read where they lie; `nil`: none.
    private mutating func mark(_ run: Run?, idHashes: [UInt64]?) -> (fresh: [Bool], touched: [Int]) {
        if generation == .max {
            for i in logs.indices { logs[i].touched = 0 }
            generation = 0
        }
        generation += 1
        let now = generation
        var fresh: [Bool] = []
        var touched: [Int] = []
        lastConflicts = []
        // Shared with a copy of this engine: the copy keeps the events it has.
        if !isKnownUniquelyReferenced(&self.events) { self.events = self.events.copy() }
        if let run {
            let found = findOrAddIds(run, idHashes)
            fresh = found.map(\.inserted)
            // The incidents of the new incident events, numbered as a batch (a cache miss each
            // in a large table, overlapped): -1 for an event that adds to no incident.
            let adds = (0..<run.count).filter { found[$0].inserted && found[$0].value < Self.serviceIdBase }
            var incidentOf = [Int32](repeating: -1, count: run.count)
            let numbers = incidents.insertNumbered(count: adds.count, hashes: nil) {
                run.event(adds[$0]).pointee.incident!
            }
            for (j, k) in adds.enumerated() { incidentOf[k] = Int32(numbers[j].value) }
            if logs.count < incidents.count { logs += repeatElement(Log(), count: incidents.count - logs.count) }
            // New events are appended in order, at the indices their ids were given; a known id
            // is compared with the event kept for it (an earlier one of this batch included).
            for k in 0..<run.count {
                let e = run.event(k)
                let at = found[k].value
                guard fresh[k] else {
                    if at < Self.serviceIdBase, !holds(at, e) { lastConflicts.append(k) }
                    continue
                }
                guard incidentOf[k] >= 0 else {
                    serviceIds.append(e.pointee.id)
                    continue
                }
                let number = Int(incidentOf[k])
                precondition(at == self.events.count, "IngestEngine: an event's place and its id's disagree")
                if append(e, to: number, generation: now) { touched.append(number) }
            }
        }
        return (fresh, touched)
    }

    /// Whether the engine keeps `e` (an incident's event), not only its id.
    private static func isKept(_ e: UnsafePointer<SLAEvent>) -> Bool {
        guard e.pointee.type.isIncidentEvent, let incident = e.pointee.incident else { return false }
        return !incident.isEmpty
    }

    /// Looks every id of `run` up, adding the new ones: per event, where its id is kept (an
    /// event index, or from ``serviceIdBase`` a place in `serviceIds`) and whether it is new.
    /// A new id's place is where its event will go: after the events and service ids held,
    /// in the run's order. Until the run is applied, an id of it is compared through the run.
    private mutating func findOrAddIds(_ run: Run, _ idHashes: [UInt64]?) -> [(value: Int, inserted: Bool)] {
        let keyed = HashSlots.hashes(idHashes, count: run.count) { run.event($0).pointee.id }
        let events = self.events
        let serviceIds = self.serviceIds
        let (eventBase, serviceBase) = (events.count, serviceIds.count)
        // The run's positions of its new ids so far, kept and service.
        var newEvents: [Int] = []
        var newServices: [Int] = []
        var ids = self.ids
        self.ids = HashSlots.placeholder
        defer { self.ids = ids }
        return ids.insert(
            count: run.count, hashes: keyed,
            holds: { at, k in
                let id = run.event(k).pointee.id
                if at >= Self.serviceIdBase {
                    let s = at - Self.serviceIdBase
                    return s < serviceBase
                        ? serviceIds[s] == id : run.event(newServices[s - serviceBase]).pointee.id == id
                }
                return at < eventBase
                    ? events.id(at: at, is: id) : run.event(newEvents[at - eventBase]).pointee.id == id
            },
            value: { k in
                if Self.isKept(run.event(k)) {
                    newEvents.append(k)
                    return eventBase + newEvents.count - 1
                }
                newServices.append(k)
                return Self.serviceIdBase + serviceBase + newServices.count - 1
            })
    }

    /// The hash under which the engine keeps an event id, for ``mark(_:idHashes:)``: whoever
    /// decodes events can make it on their own thread.
    public static func identityHash(_ id: String) -> UInt64 { StringTable.hash(id) }

    /// The incident's number: dense, in the order incidents were first seen, stable for the
    /// engine's life (the live engine keys its timers and listings by it). Nil when unknown.
    public func number(of incident: String) -> Int? { incidents.number(of: incident) }

    /// Incidents with events, that is, one past the highest incident number.
    public var incidentCount: Int { incidents.count }

    /// Appends `e` to the log of incident `number`; true when this is the first event
    /// `generation` adds to it.
    private mutating func append(_ e: UnsafePointer<SLAEvent>, to number: Int, generation: UInt32) -> Bool {
        let index = Int32(events.count)
        events.append(e, incident: number)
        next.append(-1)
        if logs[number].last >= 0 { next[Int(logs[number].last)] = index } else { logs[number].first = index }
        logs[number].last = index
        logs[number].count += 1
        defer { logs[number].touched = generation }
        return logs[number].touched != generation
    }

    /// Whether the event kept at `index` is the one `e` points at, field for field.
    private func holds(_ index: Int, _ e: UnsafePointer<SLAEvent>) -> Bool {
        let incident = incidents.strings[Int(events[index].incident)]
        return events.withUnpacker(incident: incident) { unpack in
            withUnsafeTemporaryAllocation(of: SLAEvent.self, capacity: 1) { one in
                unpack(index, one.baseAddress!)
                return one[0] == e.pointee
            }
        }
    }

    /// Calls `body` with the events of incident `number`, in arrival order, unpacked
    /// (``EventStore/withUnpacker(incident:_:)``: valid only inside the call).
    ///
    /// What the closures use is taken out first: a closure reading `self` copied the whole
    /// engine, a retain and a release of each of its tables, for every evaluation (perf).
    private func withEvents<R>(of number: Int, _ body: (EventRefs) -> R) -> R {
        let log = logs[number]
        let count = Int(log.count)
        return events.withUnpacker(incident: incidents.strings[number]) { unpack in
            next.withUnsafeBufferPointer { next in
                withUnsafeTemporaryAllocation(of: SLAEvent.self, capacity: count) { values in
                    withUnsafeTemporaryAllocation(of: UnsafePointer<SLAEvent>.self, capacity: count) { refs in
                        let base = values.baseAddress!
                        var i = Int(log.first)
                        for k in 0..<count {
                            unpack(i, base + k)
                            (refs.baseAddress! + k).initialize(to: base + k)
                            i = Int(next[i])
                        }
                        return body(EventRefs(refs))
                    }
                }
            }
        }
    }

    /// The verdict of `incident` as of its last event (or `asOf`), and the events it rejects.
    public func evaluate(incident: String, asOf: Instant? = nil) -> (verdict: IncidentVerdict?, rejections: [Rejection])
    {
        guard let number = incidents.number(of: incident) else { return (nil, []) }
        return evaluate(number: number, asOf: asOf)
    }

    /// ``evaluate(incident:asOf:)`` for the incident numbered `number`.
    public func evaluate(number: Int, asOf: Instant? = nil) -> (verdict: IncidentVerdict?, rejections: [Rejection]) {
        let incident = incidents.strings[number]
        let contracts = contracts
        return withEvents(of: number) { events in
            let last = asOf ?? events.lazy.map(\.pointee.time).max() ?? Instant(0)
            return Replay.evaluate(incident: incident, events: events, contracts: contracts, asOf: last)
        }
    }

    /// The events of `incident`, in arrival order.
    public func events(of incident: String) -> [SLAEvent] {
        guard let number = incidents.number(of: incident) else { return [] }
        return withEvents(of: number) { $0.map(\.pointee) }
    }

    /// The name of the incident numbered `number` (``number(of:)``).
    public func name(of number: Int) -> String { incidents.strings[number] }

    /// Whether `incident` has events.
    public func knows(incident: String) -> Bool { incidents.number(of: incident) != nil }

    /// Swaps the contracts (a reload); verdicts change on the next evaluation.
    public mutating func replaceContracts(_ contracts: [Contract]) {
        self.contracts = Dictionary(contracts.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// Every incident with events, in the order they were first seen.
    public var incidentIDs: [String] { incidents.strings }
}
