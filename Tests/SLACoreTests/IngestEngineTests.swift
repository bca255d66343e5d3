import TestSupport
import Testing

@testable import SLACore

@Suite("ingest engine: events kept once, by incident")
struct IngestEngineTests {
    /// `ev` for incident `incident`.
    func event(_ id: String, _ incident: String, _ at: Int64, _ type: EventType, priority: String? = nil) -> SLAEvent {
        var e = ev(id, at, type, priority: priority)
        e.incident = incident
        return e
    }

    @Test("events of interleaved incidents, added in batches, come back per incident in arrival order")
    func interleaved() {
        var engine = IngestEngine(contracts: [liveContract()])
        let seed = testSeed()
        var rng = SeededRandom(seed: seed)
        var expected: [String: [String]] = [:]
        var all: [SLAEvent] = []
        for n in 0..<3_000 {
            let incident = "INC-\(Int.random(in: 0..<60, using: &rng))"
            let type: EventType = expected[incident] == nil ? .opened : .updated
            all.append(event("e\(n)", incident, Int64(n), type, priority: "P1"))
            expected[incident, default: []].append("e\(n)")
        }
        var start = 0
        while start < all.count {
            let end = min(all.count, start + Int.random(in: 1...400, using: &rng))
            // Some events come again in a later batch: they are not added twice.
            let again = start > 0 ? [all[Int.random(in: 0..<start, using: &rng)]] : []
            let (fresh, touched) = engine.mark(Array(all[start..<end]) + again)
            #expect(
                fresh == Array(repeating: true, count: end - start) + again.map { _ in false }, "SLAD_TEST_SEED=\(seed)"
            )
            #expect(Set(touched) == Set(all[start..<end].compactMap(\.incident)), "SLAD_TEST_SEED=\(seed)")
            start = end
        }
        #expect(engine.eventCount == all.count, "SLAD_TEST_SEED=\(seed)")
        #expect(Set(engine.incidentIDs) == Set(expected.keys), "SLAD_TEST_SEED=\(seed)")
        for (incident, ids) in expected {
            #expect(engine.events(of: incident).map(\.id) == ids, "SLAD_TEST_SEED=\(seed)")
            let number = engine.number(of: incident)!
            #expect(engine.name(of: number) == incident)
            let verdict = engine.evaluate(number: number).verdict
            #expect(verdict?.incident == incident)
            #expect(verdict?.asOf == Instant(t0 + Int64(ids.last!.dropFirst())!))
        }
        #expect(engine.events(of: "INC-none").isEmpty)
        #expect(engine.evaluate(incident: "INC-none").verdict == nil)
    }

    @Test("an engine copied and then added to, on either side, keeps its own events")
    func copies() {
        var a = IngestEngine(contracts: [liveContract()])
        _ = a.add([event("o", "INC", 0, .opened, priority: "P1")])
        var b = a
        _ = b.add([event("r", "INC", 600, .resolved)])
        _ = a.add([event("k", "INC", 300, .acknowledged), event("o2", "INC-2", 10, .opened, priority: "P1")])
        #expect(a.events(of: "INC").map(\.id) == ["o", "k"])
        #expect(b.events(of: "INC").map(\.id) == ["o", "r"])
        #expect(b.events(of: "INC-2").isEmpty)
        #expect(a.evaluate(incident: "INC").verdict?.status == .open)
        #expect(b.evaluate(incident: "INC").verdict?.status == .resolved)
        #expect(a.eventCount == 3 && b.eventCount == 2)
    }

    /// A random event with any mix of fields: short texts, texts longer than 15 bytes (held
    /// on the heap), non-ASCII texts, a due time or none, a dropped fraction or none.
    func anyEvent(_ n: Int, _ rng: inout SeededRandom) -> SLAEvent {
        let texts = ["P1", "L1", "waiting for the customer's answer", "Ærøskøbing Süd", "", "team-\(n % 7)"]
        func text() -> String? {
            Int.random(in: 0..<3, using: &rng) == 0 ? nil : texts[Int.random(in: 0..<texts.count, using: &rng)]
        }
        let types: [EventType] = [.opened, .updated, .acknowledged, .promiseMade, .resolved, .reopened, .closed]
        let id = Bool.random(using: &rng) ? "e\(n)" : "3f2b8c1e-5d4a-4e7b-9c0d-\(String(n, radix: 16))-long"
        return SLAEvent(
            id: id, time: Instant(t0 + Int64.random(in: 0..<86_400, using: &rng)),
            type: types[Int.random(in: 0..<types.count, using: &rng)],
            incident: "INC-\(Int.random(in: 0..<40, using: &rng))\(Bool.random(using: &rng) ? "" : "-Überprüfung")",
            contract: text(), service: text(), priority: text(), status: text(), assignee: text(), team: text(),
            level: text(), due: Bool.random(using: &rng) ? nil : Instant(t0 + Int64(n)), promise: text(),
            fractional: Bool.random(using: &rng))
    }

    @Test(
        "ids of kept events and of service events (not kept) are each new once, across batches and inside one, as a Set says; a known id with other content is a conflict only where its event is kept"
    )
    func idsOfEveryKind() {
        let seed = testSeed()
        var rng = SeededRandom(seed: seed)
        var engine = IngestEngine(contracts: [liveContract()])
        var model: [String: SLAEvent] = [:]
        for round in 0..<60 {
            // Ids from a small pool, so that they repeat inside a batch and across batches, on
            // events of either kind; a repeat may change the content.
            let batch = (0..<Int(1 + rng.next() % 400)).map { k -> SLAEvent in
                let id = "id-\(rng.next() % 3_000)"
                let time = Instant(t0 + Int64(rng.next() % 50))
                return rng.next() % 3 == 0
                    ? SLAEvent(id: id, time: time, type: .serviceDown, service: "s-\(k % 3)")
                    : SLAEvent(id: id, time: time, type: .updated, incident: "INC-\(rng.next() % 90)")
            }
            var expectedFresh: [Bool] = []
            var expectedConflicts: [Int] = []
            for (k, e) in batch.enumerated() {
                if let first = model[e.id] {
                    expectedFresh.append(false)
                    if first.type.isIncidentEvent && first != e { expectedConflicts.append(k) }
                } else {
                    expectedFresh.append(true)
                    model[e.id] = e
                }
            }
            let (fresh, _) = engine.mark(batch)
            #expect(fresh == expectedFresh, "round \(round), SLAD_TEST_SEED=\(seed)")
            #expect(engine.lastConflicts == expectedConflicts, "round \(round), SLAD_TEST_SEED=\(seed)")
            #expect(engine.eventCount == model.count)
        }
        // Every kept event is in its incident's log, once, as it first came.
        for incident in Set(model.values.compactMap(\.incident)) {
            let kept = engine.events(of: incident)
            #expect(kept.allSatisfy { model[$0.id] == $0 }, "SLAD_TEST_SEED=\(seed)")
            #expect(kept.count == model.values.filter { $0.incident == incident }.count)
        }
        #expect(model.values.contains { !$0.type.isIncidentEvent } && model.count > 2_000)
    }

    @Test("an event held is 64 bytes")
    func packedSize() {
        // What docs/benchmarks.md counts for a million open incidents: a field added to the
        // packed event costs 8 bytes per event of history.
        #expect(MemoryLayout<EventStore.Packed>.stride == 64)
    }

    @Test("every field of every event comes back as it went in, from the engine and from a copy added to")
    func fieldsKept() {
        let seed = testSeed()
        var rng = SeededRandom(seed: seed)
        let all = (0..<2_000).map { anyEvent($0, &rng) }
        var engine = IngestEngine(contracts: [liveContract()])
        _ = engine.mark(Array(all[..<1_000]))
        var copy = engine
        _ = copy.mark(Array(all[1_000...]))
        _ = engine.mark(Array(all[1_000...]).reversed())
        // Per incident, in arrival order: the copy got the rest as it is, the engine reversed.
        let incidents = Set(all.map { $0.incident! })
        for incident in incidents {
            let first = all[..<1_000].filter { $0.incident == incident }
            let rest = all[1_000...].filter { $0.incident == incident }
            #expect(copy.events(of: incident) == first + rest, "SLAD_TEST_SEED=\(seed)")
            #expect(engine.events(of: incident) == first + rest.reversed(), "SLAD_TEST_SEED=\(seed)")
        }
        #expect(incidents.count > 40 && engine.eventCount == 2_000 && copy.eventCount == 2_000)
        // Each event again is a duplicate; changed in any field, a conflict.
        _ = engine.mark(all)
        #expect(engine.lastConflicts.isEmpty, "SLAD_TEST_SEED=\(seed)")
        var changed = all[17]
        changed.team = (changed.team ?? "") + "x"
        var moved = all[1_500]
        moved.time = moved.time.adding(seconds: 1)
        let (fresh, _) = engine.mark([all[3], changed, moved])
        #expect(fresh == [false, false, false])
        #expect(engine.lastConflicts == [1, 2], "SLAD_TEST_SEED=\(seed)")
    }
}
