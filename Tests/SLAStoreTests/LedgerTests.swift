import Foundation
import GRDB
import SLACore
import TestSupport
import Testing

@testable import SLAStore

@Suite("SQLite store: the ledger in runs of events")
struct LedgerTests {
    /// Events with every optional value present or not, texts that need care, extreme instants.
    static func randomEvents(_ rng: inout SeededRandom, count: Int) -> [SLAEvent] {
        let texts = ["", "P1", "Prio 1 – Kritisch", "ü|\\\n", String(repeating: "x", count: 300)]
        let instants: [Int64] = [0, 1, -1, 1_790_812_800, -1_790_812_800, .max, .min]
        func text() -> String? {
            rng.next() % 3 == 0 ? nil : texts[Int(rng.next() % UInt64(texts.count))]
        }
        func instant() -> Int64 { instants[Int(rng.next() % UInt64(instants.count))] }
        return (0..<count).map { n in
            SLAEvent(
                id: "e-\(n)-\(rng.next() % 1000)", time: Instant(instant()),
                type: EventType.allCases[Int(rng.next() % UInt64(EventType.allCases.count))], incident: text(),
                contract: text(), service: text(), priority: text(), status: text(), assignee: text(), team: text(),
                level: text(), due: rng.next() % 2 == 0 ? nil : Instant(instant()), promise: text(),
                fractional: rng.next() % 2 == 0)
        }
    }

    @Test(
        "packed events read back as written, every field, in order; damaged bytes are an error, never a read outside them"
    )
    func roundTrip() throws {
        var rng = SeededRandom(seed: 41)
        let events = Self.randomEvents(&rng, count: 2_000)
        var bytes: [UInt8] = []
        PackedEvents.encode(events, into: &bytes)
        let back = try bytes.withUnsafeBufferPointer { try PackedEvents.decode($0) }
        #expect(back == events)
        // Cut short anywhere, or with a byte too many, the bytes are not an encoding.
        for cut in [0, 1, 2, bytes.count / 2, bytes.count - 1] {
            #expect(throws: PackedEvents.Malformed.self) {
                try Array(bytes.prefix(cut)).withUnsafeBufferPointer { try PackedEvents.decode($0) }
            }
        }
        #expect(throws: PackedEvents.Malformed.self) {
            try (bytes + [0]).withUnsafeBufferPointer { try PackedEvents.decode($0) }
        }
    }

    @Test(
        "a flipped byte anywhere in a ledger row is an error on read, not another ledger; rows without a checksum still read"
    )
    func checksum() throws {
        let seed = testSeed()
        var rng = SeededRandom(seed: seed)
        let events = Self.randomEvents(&rng, count: 300)
        var bytes: [UInt8] = []
        PackedEvents.encode(events, into: &bytes)
        for _ in 0..<200 {
            var damaged = bytes
            let at = 1 + Int(rng.next() % UInt64(bytes.count - 1))
            damaged[at] ^= UInt8(1 << (rng.next() % 8))
            #expect(throws: PackedEvents.Malformed.self, "byte \(at) flipped (SLAD_TEST_SEED=\(seed))") {
                try damaged.withUnsafeBufferPointer { try PackedEvents.decode($0) }
            }
        }
        // The encoding without its checksum, under the tag of rows written before checksums.
        let unchecked = [PackedEvents.uncheckedTag] + bytes.dropFirst(9)
        #expect(try unchecked.withUnsafeBufferPointer { try PackedEvents.decode($0) } == events)
    }

    @Test("a priority changed on disk inside a ledger row stops the store's reader with the row named")
    func damagedStore() throws {
        let path = try temporaryStorePath()
        let store = try SLAStore(path: path)
        var batch = Batch()
        batch.events = [
            (SLAEvent(id: "o", time: Instant(1_000), type: .opened, incident: "INC-1", priority: "P3"), "src")
        ]
        try store.commit(batch)
        // Rewrite the row's bytes as a disk would damage them: P3 becomes P1.
        let raw = try GRDB.DatabaseQueue(path: path)
        try raw.write { db in
            let blob = try Data.fetchOne(db, sql: "SELECT events FROM ledger")!
            var bytes = [UInt8](blob)
            let i = try #require(
                bytes.indices.first { bytes[$0] == UInt8(ascii: "P") && bytes[$0 + 1] == UInt8(ascii: "3") })
            bytes[i + 1] = UInt8(ascii: "1")
            try db.execute(sql: "UPDATE ledger SET events = ?", arguments: [Data(bytes)])
        }
        let error = try #require(throws: PackedEvents.Malformed.self) {
            try SLAStore(path: path, readOnly: true).events()
        }
        #expect(
            error.description
                == "ledger row 1: its events are damaged (its checksum does not match: a byte of the store changed on disk)"
        )
    }

    @Test("a batch's events are one row per run of a source; they read back in arrival order, service events apart")
    func runsPerSource() throws {
        let store = try SLAStore(path: try temporaryStorePath())
        func event(_ id: String, _ type: EventType, incident: String? = "INC-1") -> SLAEvent {
            SLAEvent(id: id, time: Instant(1_000), type: type, incident: incident, service: "web")
        }
        var batch = Batch()
        batch.events = [
            (event("a1", .opened), "a"), (event("a2", .acknowledged), "a"), (event("b1", .updated), "b"),
            (event("s1", .serviceDown, incident: nil), "b"), (event("a3", .resolved), "a"),
        ]
        try store.commit(batch)
        var second = Batch()
        second.events = [(event("s2", .serviceUp, incident: nil), "a")]
        try store.commit(second)
        #expect(try store.events().map(\.event.id) == ["a1", "a2", "b1", "s1", "a3", "s2"])
        #expect(try store.events().map(\.source) == ["a", "a", "b", "b", "a", "a"])
        let rows = try store.queue.read { db in
            var rows: [String] = []
            try SLAStore.forEachLedgerRun(db) { _, source, events in rows.append("\(source)×\(events.count)") }
            return rows
        }
        #expect(rows == ["a×2", "b×2", "a×1", "a×1"])
        #expect(try store.serviceEvents().map(\.id) == ["s1", "s2"])
    }

    @Test(
        "the store remembers from which ledger row the incidents' state was left unwritten, until a batch writes it all"
    )
    func stateBehind() throws {
        let store = try SLAStore(path: try temporaryStorePath())
        func batch(_ incidents: [String], _ mark: Batch.StateMark) -> Batch {
            var b = Batch()
            b.events = incidents.enumerated().map {
                (
                    SLAEvent(
                        id: "\($0.element)-\($0.offset)", time: Instant(1_000), type: .updated, incident: $0.element),
                    "s"
                )
            }
            b.stateMark = mark
            return b
        }
        try store.commit(batch(["A"], .unchanged))
        #expect(try store.stateBehind() == nil)
        // Row 1 is current; rows 2 and 3 wait.
        try store.commit(batch(["B", "C"], .behindFromHere))
        try store.commit(batch(["C", "D"], .unchanged))
        #expect(try store.stateBehind() == 1)
        #expect(try store.incidents(inLedgerAfter: 1) == ["B", "C", "D"])
        // A second start of a wait while one is recorded keeps the first.
        try store.commit(batch(["E"], .behindFromHere))
        #expect(try store.stateBehind() == 1)
        try store.commit(batch([], .current))
        #expect(try store.stateBehind() == nil)
        try store.commit(batch(["F"], .behindFromHere))
        #expect(try store.stateBehind() == 4)
        #expect(try store.incidents(inLedgerAfter: 4) == ["F"])
    }

    @Test(
        "a store of the previous schema (a row per event) migrates: same events in arrival order, same dump, service events kept"
    )
    func migratesFromEventRows() throws {
        let path = try temporaryStorePath()
        let old = try DatabaseQueue(path: path)
        try Migrations.migrator.migrate(old, upTo: "v5-clocks-in-row")
        var rng = SeededRandom(seed: 43)
        // Enough rows for several runs of one source, and two sources interleaved.
        var events = Self.randomEvents(&rng, count: 45_000).enumerated().map { n, e in
            var e = e
            e.id = "id-\(n)"
            // A row per event had no place for a dropped fraction.
            e.fractional = false
            return (event: e, source: n % 9_000 < 4_500 ? "one" : "two")
        }
        events.append((SLAEvent(id: "svc", time: Instant(5), type: .serviceDown, service: "web"), "one"))
        try old.write { db in
            for (seq, (e, source)) in events.enumerated() {
                try db.execute(
                    sql: """
                        INSERT INTO events (id, seq, source, time, type, incident, contract, service, priority, status,
                            assignee, team, level, due, promise)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        e.id, seq + 1, source, e.time.seconds, e.type.rawValue, e.incident, e.contract, e.service,
                        e.priority, e.status, e.assignee, e.team, e.level, e.due?.seconds, e.promise,
                    ])
            }
        }
        let before = try old.read { db in
            try GRDB.Row.fetchAll(
                db,
                sql: """
                    SELECT id, source, time, type, incident, contract, service, priority, status, assignee, team, level,
                        due, promise
                    FROM events ORDER BY id
                    """
            ).map { $0.databaseValues.map(SLAStore.dumpText).joined(separator: "|") + "\n" }.joined()
        }
        try old.close()

        let store = try SLAStore(path: path)
        let read = try store.events()
        #expect(read.map(\.event) == events.map(\.event))
        #expect(read.map(\.source) == events.map(\.source))
        let dump = try store.canonicalDump()
        #expect(dump.components(separatedBy: "# events\n")[1].components(separatedBy: "# incidents\n")[0] == before)
        // Reports read them in (time, id) order, ids compared as bytes (SQLite's text order).
        func inReportOrder(_ a: SLAEvent, _ b: SLAEvent) -> Bool {
            a.time != b.time ? a.time < b.time : a.id.utf8.lexicographicallyPrecedes(b.id.utf8)
        }
        let services: [SLAEvent] = events.map(\.event).filter { $0.incident == nil }.sorted(by: inReportOrder)
        #expect(services.count > 1_000)
        let stored: [SLAEvent] = try store.serviceEvents()
        #expect(stored.map(\.id) == services.map(\.id))
        let runs = try store.queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM ledger") ?? 0 }
        #expect(runs == 10 + 1, "runs of 4 500 of one source (the last also holds the service event's run)")
    }
}
