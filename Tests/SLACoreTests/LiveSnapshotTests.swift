import SLACore
import TestSupport
import Testing

@Suite("live engine: resuming from a snapshot")
struct LiveSnapshotTests {
    /// Random incidents of two priorities: opened, acknowledged, paused, resumed, resolved,
    /// reopened at random seconds, each batch ingested at its time on a manual clock.
    static func history(_ random: inout SeededRandom, incidents: Int) -> [(at: Int64, events: [SLAEvent])] {
        var batches: [(at: Int64, events: [SLAEvent])] = []
        for i in 0..<incidents {
            var at = Int64(random.next() % 40_000)
            let name = "INC-\(i)"
            func event(_ type: EventType, priority: String? = nil, status: String? = nil) {
                var e = ev("\(name)/\(batches.count)", at, type, priority: priority, status: status)
                e.incident = name
                batches.append((t0 + at, [e]))
                at += 1 + Int64(random.next() % 20_000)
            }
            event(.opened, priority: random.next() % 2 == 0 ? "P1" : "P3")
            if random.next() % 2 == 0 { event(.acknowledged) }
            if random.next() % 3 == 0 {
                event(.updated, status: "pending_customer")
                event(.updated, status: "in_progress")
            }
            if random.next() % 4 == 0 { event(.updated, priority: "P1") }
            if random.next() % 2 == 0 { event(.resolved) }
            if random.next() % 5 == 0 { event(.reopened) }
        }
        return batches.sorted { $0.at < $1.at }
    }

    /// What a restarted engine shows: every listing, the counts, the next wakeup.
    static func view(_ live: LiveEngine) -> String {
        var out: [String] = []
        for filter in [StandingFilter.open, .atRisk, .breached] {
            out.append(
                "\(filter): "
                    + live.list(filter, limit: 100_000).incidents.map { "\($0.incident)@\($0.breachMilliseconds)" }
                    .joined(separator: " "))
        }
        out.append("status \(live.status)")
        out.append(
            "groups "
                + live.countsByGroup.filter { $0.counts != IncidentCounts() }
                .map { "\($0.group.contract)/\($0.group.priority)=\($0.counts)" }.sorted().joined(separator: " "))
        out.append("armed \(live.armedCount) next \(live.nextWakeupMilliseconds.map(String.init) ?? "none")")
        return out.joined(separator: "\n")
    }

    @Test(
        "a restart resumed from the snapshot decides, lists and arms exactly what the full catch-up does, now and later"
    )
    func resumeEqualsCatchUp() throws {
        let seed = testSeed()
        var random = SeededRandom(seed: seed)
        for round in 0..<20 {
            let batches = Self.history(&random, incidents: 60)
            // Stopped at a random moment of the history, restarted up to two days later.
            let stop = t0 * 1000 + Int64(random.next() % 60_000) * 1000 + Int64(random.next() % 1000)
            let restart = stop + Int64(random.next() % 172_800_000)
            var d = driver(at: t0 * 1000 - 1000)
            for batch in batches where batch.at * 1000 <= stop { d.ingest(batch.events, at: batch.at * 1000) }
            d.run(until: stop)
            let bytes = d.live.snapshot(nowMilliseconds: stop, fingerprint: "f").encoded()
            let snapshot = try #require(LiveSnapshot(decoding: bytes), "seed \(seed) round \(round)")
            #expect(snapshot.encoded() == bytes)
            // The pieces the store writes, one after the other, are those bytes.
            var pieces: [UInt8] = []
            snapshot.encode { pieces += $0 }
            #expect(pieces == bytes && snapshot.encodedCount == bytes.count, "seed \(seed) round \(round)")

            var full = ManualDriver(
                live: LiveEngine(engine: d.live.engine, nowMilliseconds: restart, emitted: d.log), now: restart)
            full.log = full.live.catchUp(nowMilliseconds: restart)
            var resumed = ManualDriver(
                live: LiveEngine(engine: d.live.engine, nowMilliseconds: restart, emitted: d.log), now: restart)
            let due = resumed.live.resume(from: snapshot, nowMilliseconds: restart)
            resumed.log = try #require(due, "seed \(seed) round \(round): the snapshot is refused")
            #expect(resumed.log == full.log, "seed \(seed) round \(round): the restart's decisions")
            #expect(Self.view(resumed.live) == Self.view(full.live), "seed \(seed) round \(round)")
            // Both go on alike: the rest of the history, then two more days.
            for batch in batches where batch.at * 1000 > restart {
                full.ingest(batch.events, at: batch.at * 1000)
                resumed.ingest(batch.events, at: batch.at * 1000)
            }
            full.run(until: restart + 172_800_000)
            resumed.run(until: restart + 172_800_000)
            #expect(resumed.log == full.log, "seed \(seed) round \(round): the decisions after the restart")
            #expect(Self.view(resumed.live) == Self.view(full.live), "seed \(seed) round \(round): after")
        }
    }

    @Test("a snapshot of other incidents, or taken after now, or damaged, is refused and changes nothing")
    func refused() throws {
        var d = driver()
        d.ingest([ev("o", 0, .opened, priority: "P1")], at: t0 * 1000)
        let snapshot = d.live.snapshot(nowMilliseconds: (t0 + 10) * 1000, fingerprint: "f")
        let bytes = snapshot.encoded()
        // Another engine: other incident names.
        var other = IngestEngine(contracts: [liveContract()])
        var e = ev("o", 0, .opened, priority: "P1")
        e.incident = "OTHER"
        _ = other.add([e])
        var live = LiveEngine(engine: other, nowMilliseconds: (t0 + 20) * 1000)
        #expect(live.resume(from: snapshot, nowMilliseconds: (t0 + 20) * 1000) == nil)
        #expect(live.armedCount == 0 && live.status == IncidentCounts())
        // Taken after now: the wall clock went back.
        live = LiveEngine(engine: d.live.engine, nowMilliseconds: t0 * 1000)
        #expect(live.resume(from: snapshot, nowMilliseconds: (t0 + 5) * 1000) == nil)
        #expect(live.armedCount == 0 && live.status == IncidentCounts())
        // Cut short, one byte more, another version.
        #expect(LiveSnapshot(decoding: Array(bytes.dropLast())) == nil)
        #expect(LiveSnapshot(decoding: bytes + [0]) == nil)
        #expect(LiveSnapshot(decoding: [0] + bytes.dropFirst()) == nil)
        #expect(LiveSnapshot(decoding: []) == nil)
        // The same engine, later: taken.
        live = LiveEngine(engine: d.live.engine, nowMilliseconds: (t0 + 20) * 1000)
        #expect(live.resume(from: snapshot, nowMilliseconds: (t0 + 20) * 1000) == [])
        #expect(live.armedCount == 1 && live.status == IncidentCounts(open: 1))
    }
}
