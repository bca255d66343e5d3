import Foundation
import SLACore
import SLAStore
import Testing

func temporaryStorePath() throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("slad-store-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent("slad.sqlite").path
}

func event(_ id: String, _ seconds: Int64, _ type: EventType, incident: String? = "INC-1") -> SLAEvent {
    SLAEvent(
        id: id, time: Instant(seconds), type: type, incident: incident, contract: "c", priority: "P1", status: "new")
}

@Suite("SQLite store")
struct StoreTests {
    @Test(
        "a batch commits atomically; offsets and quarantine are idempotent, the ledger appends what it is given (identity is the engine's)"
    )
    func batchCommit() throws {
        let store = try SLAStore(path: try temporaryStorePath())
        var batch = Batch()
        batch.events = [(event("a", 100, .opened), "s"), (event("b", 200, .acknowledged), "s")]
        batch.offsets = [SourceOffset(source: "s", fingerprint: "f", path: "/x", inode: 7, offset: 120, line: 2)]
        batch.quarantine = [
            QuarantineRecord(
                source: "s", fingerprint: "f", offset: 60, line: 2, field: "time", reason: "bad", raw: "{}")
        ]
        try store.commit(batch)
        let events = try store.events()
        #expect(events.map(\.event.id) == ["a", "b"])
        #expect(events[0].event == event("a", 100, .opened))
        // The same batch again: offsets and quarantine stay as they were. The ledger does not
        // look events up by id (the engine, which holds every id, passes new events only:
        // DaemonTests' reread and crash tests check that end to end).
        batch.events = [(event("c", 300, .resolved), "s")]
        try store.commit(batch)
        #expect(try store.events().map(\.event.id) == ["a", "b", "c"])
        #expect(
            try store.offsets() == [
                SourceOffset(source: "s", fingerprint: "f", path: "/x", inode: 7, offset: 120, line: 2)
            ])
        #expect(try store.quarantineCounts() == ["bad": 1])
    }

    @Test("offsets move forward by upsert; the store reopens with its data (WAL)")
    func reopen() throws {
        let path = try temporaryStorePath()
        do {
            let store = try SLAStore(path: path)
            var batch = Batch()
            batch.offsets = [SourceOffset(source: "s", fingerprint: "f", path: "/x", inode: 7, offset: 10, line: 1)]
            try store.commit(batch)
            batch.offsets[0].offset = 20
            batch.offsets[0].line = 2
            try store.commit(batch)
        }
        let again = try SLAStore(path: path)
        #expect(try again.offsets().map(\.offset) == [20])
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
    }

    @Test("decisions commit without SQLite's in-commit checkpoint; an explicit checkpoint copies them")
    func explicitCheckpoint() throws {
        let path = try temporaryStorePath()
        let store = try SLAStore(path: path)
        func size(_ p: String) -> Int { (try? FileManager.default.attributesOfItem(atPath: p)[.size] as? Int) ?? 0 }
        let before = size(path)
        // Decisions only: well past SQLite's 1000-page automatic checkpoint, which they must not run.
        for b in 0..<20 {
            var batch = Batch()
            batch.notifications = (0..<500).map { i in
                SLANotification(
                    id: "INC-\(b)-\(i)/reaction/warning/50%", kind: .warning, incident: "INC-\(b)-\(i)",
                    contract: "c", metric: .reaction, priority: "P1", percent: Percentage(millionths: 500_000),
                    target: 3_600, due: Instant(1_800_000_000), decidedAtMilliseconds: 1_800_000_000_000, late: false,
                    notify: ["ops"], customer: String(repeating: "x", count: 200))
            }
            try store.commit(batch)
        }
        #expect(size(path + "-wal") > 4_096 * 1_000, "the decisions sit in the WAL")
        #expect(size(path) == before, "no checkpoint ran inside a decision commit")
        store.checkpoint()
        #expect(size(path) > before + 4_096 * 500, "the checkpoint copied the decisions into the database file")
        #expect(try store.outbox().count == 10_000)
    }

    @Test("a checkpoint right after an ingest commit leaves the copying to that commit's own checkpoints")
    func checkpointSkipsAfterIngest() throws {
        let path = try temporaryStorePath()
        let store = try SLAStore(path: path)
        func bytes() -> Data { FileManager.default.contents(atPath: path) ?? Data() }
        store.checkpoint()
        let before = bytes()
        var batch = Batch()
        batch.offsets = [SourceOffset(source: "s", fingerprint: "f", path: "/x", inode: 1, offset: 10, line: 1)]
        try store.commit(batch)
        store.checkpoint()
        #expect(bytes() == before, "the tick right after an ingest commit did not checkpoint")
        store.checkpoint()
        #expect(bytes() != before, "the next tick, with no ingest commit in between, did")
    }

    @Test("incident state is replaced per touched incident")
    func stateReplaced() throws {
        let store = try SLAStore(path: try temporaryStorePath())
        let contract = Contract(
            id: "c", customer: "C", calendar: .twentyFourSeven(),
            fee: Money(parsing: "10.00", currency: Currency(code: "EUR")!)!,
            priorities: [PriorityTerms(name: "P1", reaction: 60, resolution: 600, calendar: .twentyFourSeven())])
        var engine = IngestEngine(contracts: [contract])
        _ = engine.add([event("a", 0, .opened)])
        var batch = Batch()
        batch.incidents = [engine.evaluate(incident: "INC-1").verdict!]
        try store.commit(batch)
        #expect(try store.canonicalDump().contains("INC-1|reaction|P1|running|60|"))
        _ = engine.add([event("b", 30, .acknowledged)])
        batch.incidents = [engine.evaluate(incident: "INC-1").verdict!]
        try store.commit(batch)
        let dump = try store.canonicalDump()
        #expect(dump.contains("INC-1|reaction|P1|met|60|30|30|"))
        #expect(!dump.contains("INC-1|reaction|P1|running"), "the old verdict is gone")
    }

    @Test(
        "a touched incident's breach and rejection rows are replaced: gone when its new state has none, also after the store is reopened"
    )
    func sideRowsReplaced() throws {
        let path = try temporaryStorePath()
        let contract = Contract(
            id: "c", customer: "C", calendar: .twentyFourSeven(),
            fee: Money(parsing: "10.00", currency: Currency(code: "EUR")!)!,
            priorities: [PriorityTerms(name: "P1", reaction: 60, resolution: 100_000, calendar: .twentyFourSeven())])
        var engine = IngestEngine(contracts: [contract])
        func state(_ incidents: [String]) -> Batch {
            var batch = Batch()
            for incident in incidents {
                let (verdict, rejections) = engine.evaluate(incident: incident, asOf: Instant(1_000))
                batch.incidents.append(verdict!)
                batch.rejections += rejections
            }
            return batch
        }
        // INC-1 breaches its reaction (no acknowledgement in 60 s) and has an event before its
        // opening; INC-2 has neither.
        _ = engine.add([
            event("a", 100, .opened), event("early", 50, .updated), event("b", 0, .opened, incident: "INC-2"),
            event("c", 10, .acknowledged, incident: "INC-2"),
        ])
        do {
            let store = try SLAStore(path: path)
            try store.commit(state(["INC-1", "INC-2"]))
            let dump = try store.canonicalDump()
            #expect(dump.contains("# breaches\nINC-1|reaction|"))
            #expect(dump.contains("# rejections\nearly|INC-1|before_open|"))
            // A touch of INC-2 alone leaves INC-1's rows as they are.
            try store.commit(state(["INC-2"]))
            #expect(try store.canonicalDump() == dump)
        }
        // Reopened (the writer learns again which incidents have such rows): an earlier opening
        // and an acknowledgement in time take INC-1's breach and its "before open" rejection
        // away; the later opening is now the one rejected.
        let store = try SLAStore(path: path)
        _ = engine.add([event("a0", 40, .opened), event("ack", 90, .acknowledged)])
        try store.commit(state(["INC-1"]))
        let dump = try store.canonicalDump()
        #expect(dump.contains("# breaches\n# rejections\na|INC-1|duplicate_open|"), "no breach, one new rejection")
        #expect(!dump.contains("early|INC-1|before_open"))
        #expect(dump.contains("INC-1|reaction|P1|met|"))
    }

    @Test("report verdicts are read one at a time; a verdict kept by the caller is not changed by the next")
    func reportVerdictsOneAtATime() throws {
        let store = try SLAStore(path: try temporaryStorePath())
        let breach = Threshold(kind: .breach, at: .hundred)
        func clock(_ metric: Metric, breachedAt: Int64?, due: Int64?) -> ClockVerdict {
            ClockVerdict(
                metric: metric, priority: "P1", target: 600, elapsed: breachedAt == nil ? 100 : 900,
                outcome: breachedAt == nil ? .running : .breached, stoppedAt: nil,
                crossings: breachedAt.map {
                    [Crossing(threshold: breach, at: Instant($0), target: 600, priority: "P1")]
                }
                    ?? [],
                upcoming: due.map { [Crossing(threshold: breach, at: Instant($0), target: 600, priority: "P1")] } ?? [],
                calendarID: "24x7", runningSince: due.map { Instant($0 - 500) })
        }
        func verdict(_ id: String, _ clocks: [ClockVerdict]) -> IncidentVerdict {
            IncidentVerdict(
                incident: id, contract: "c", service: "web", openedAt: Instant(1_000), openingPriority: "P1",
                priority: "P1", status: .open, handoffs: 3, covered: true, clocks: clocks, asOf: Instant(1_500))
        }
        var batch = Batch()
        batch.incidents = [
            verdict(
                "A", [clock(.reaction, breachedAt: 1_600, due: nil), clock(.resolution, breachedAt: nil, due: 4_000)]),
            verdict("B", [clock(.reaction, breachedAt: nil, due: 1_700)]),
            verdict("C", []),
        ]
        try store.commit(batch)
        var seen: [IncidentVerdict] = []
        try store.forEachReportVerdict(contract: "c", from: Instant(0), to: Instant(10_000)) { seen.append($0) }
        #expect(seen.map(\.incident) == ["A", "B", "C"])
        #expect(seen.map(\.clocks.count) == [2, 1, 0])
        #expect(seen.allSatisfy { $0.handoffs == 3 && $0.service == "web" && $0.asOf == Instant(1_500) })
        #expect(seen[0].clocks[0].breach?.at == Instant(1_600) && seen[0].clocks[0].upcoming.isEmpty)
        #expect(seen[0].clocks[1].breach == nil && seen[0].clocks[1].deadline == Instant(4_000))
        #expect(seen[1].clocks[0].metric == .reaction && seen[1].clocks[0].deadline == Instant(1_700))
        #expect(seen[1].clocks[0].crossings.isEmpty && seen[1].clocks[0].runningSince == Instant(1_200))
        var none = 0
        try store.forEachReportVerdict(contract: "other", from: Instant(0), to: Instant(10_000)) { _ in none += 1 }
        #expect(none == 0)
    }
}
