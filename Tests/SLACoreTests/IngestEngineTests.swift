import SLACore
import TestSupport
import Testing

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
}
