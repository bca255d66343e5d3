import Foundation
import GRDB
import SLACore
import TestSupport
import Testing

@testable import SLAStore

@Suite("SQLite store: clocks kept in their incident's row")
struct PackedClocksTests {
    typealias Row = PackedClocks.Row

    /// Rows as a store reads them back: a breach's priority and target are kept only with a breach.
    static func randomRows(_ rng: inout SeededRandom, count: Int) -> [Row] {
        let texts = [
            "", "P1", "Prio 1 – Kritisch", "24x7", "office-hours", "ü|\\\n", String(repeating: "x", count: 300),
        ]
        let numbers: [Int64] = [0, 1, -1, 59, 3_600, 1_790_812_800, -1_790_812_800, .max, .min]
        func text() -> String { texts[Int(rng.next() % UInt64(texts.count))] }
        func number() -> Int64 {
            rng.next() % 3 == 0 ? Int64(bitPattern: rng.next()) : numbers[Int(rng.next() % UInt64(numbers.count))]
        }
        func maybe() -> Int64? { rng.next() % 2 == 0 ? nil : number() }
        var metrics = ["reaction", "resolution", "promise:callback", "promise:", "promise:ü"].shuffled(using: &rng)
        return (0..<count).map { _ in
            let breachedAt = maybe()
            let priority = text()
            let target = maybe()
            return Row(
                metric: metrics.removeLast(), priority: priority,
                outcome: ["met", "breached", "running"][Int(rng.next() % 3)],
                target: target, elapsed: number(), stoppedAt: maybe(), breachedAt: breachedAt, deadline: maybe(),
                runningSince: maybe(), calendar: text(),
                breachPriority: breachedAt == nil ? nil : (rng.next() % 2 == 0 ? priority : text()),
                breachTarget: breachedAt == nil ? nil : (rng.next() % 2 == 0 ? target ?? 0 : number()))
        }
    }

    static func encoded(_ rows: [Row]) -> [UInt8] {
        var out: [UInt8] = []
        PackedClocks.encode(rows, into: &out)
        return out
    }

    static func bytes(hex: String) -> [UInt8] {
        let digits = Array(hex.filter(\.isHexDigit))
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
    }

    static func decoded(_ bytes: [UInt8]) throws -> [Row] {
        try bytes.withUnsafeBufferPointer { try PackedClocks.rows($0, incident: "INC-1") }
    }

    @Test("every value reads back as written, in metric order, whatever order the clocks came in")
    func roundTrip() throws {
        var rng = SeededRandom(seed: 7)
        for round in 0..<2_000 {
            let rows = Self.randomRows(&rng, count: round % 6)
            let bytes = Self.encoded(rows)
            #expect(bytes.isEmpty == rows.isEmpty, "no clocks, no bytes")
            let sorted = rows.sorted { $0.metric.utf8.lexicographicallyPrecedes($1.metric.utf8) }
            #expect(try Self.decoded(bytes) == sorted)
            #expect(Self.encoded(rows.shuffled(using: &rng)) == bytes, "same clocks, same bytes")
        }
    }

    @Test("the engine's clocks encode to the same bytes as their rows, and settle at the same instant")
    func verdictsEncodeAsTheirRows() throws {
        var rng = SeededRandom(seed: 13)
        let metrics: [Metric] = [
            .reaction, .resolution, .availability, .promise("callback"), .promise("ü"), .ola("line:L1#1"),
            .ola("line:L1#2"), .ola("team:L1#1"), .ola("line:L10#1"),
        ]
        let outcomes: [ClockOutcome] = [.running, .paused, .met, .breached, .untracked]
        let texts = ["P1", "P2", "24x7", "office"]
        func instant() -> Instant? { rng.next() % 2 == 0 ? nil : Instant(1_784_000_000 + Int64(rng.next() % 900_000)) }
        for round in 0..<2_000 {
            let clocks = metrics.shuffled(using: &rng).prefix(round % 7).map { metric in
                let priority = texts[Int(rng.next() % 2)]
                let breach = instant().map {
                    Crossing(
                        threshold: Threshold(kind: .breach, at: .hundred), at: $0, target: Int64(rng.next() % 9_000),
                        priority: rng.next() % 4 == 0 ? "P3" : priority)
                }
                let due = instant()
                return ClockVerdict(
                    metric: metric, priority: priority, target: rng.next() % 5 == 0 ? nil : Int64(rng.next() % 9_000),
                    elapsed: Int64(rng.next() % 90_000), outcome: outcomes[Int(rng.next() % 5)], stoppedAt: instant(),
                    crossings: breach.map { [$0] } ?? [],
                    upcoming: due.map {
                        [
                            Crossing(
                                threshold: Threshold(kind: .breach, at: .hundred), at: $0, target: 1, priority: priority
                            )
                        ]
                    } ?? [],
                    calendarID: texts[2 + Int(rng.next() % 2)], runningSince: instant())
            }
            var bytes: [UInt8] = []
            PackedClocks.encode(clocks, into: &bytes)
            let rows = clocks.map(Row.init)
            #expect(bytes == Self.encoded(rows), "round \(round), seed 13")
            #expect(PackedClocks.settledAt(clocks) == PackedClocks.settledAt(rows), "round \(round), seed 13")
            let sorted = rows.sorted { $0.metric.utf8.lexicographicallyPrecedes($1.metric.utf8) }
            #expect(try Self.decoded(bytes) == sorted, "round \(round), seed 13")
        }
    }

    @Test("clocks stored in the first encoding (every text and instant written out) still read back")
    func firstEncodingReads() throws {
        // An incident of the OLA benchmark's corpus as the first encoding stored it: a line and
        // a team hold breached, the contract's reaction and resolution met.
        let first = Self.bytes(
            hex: """
                0108071A6F6C613A6C696E653A4C3123310450311062726561636865640832347837D6CE01901C8ACBA6A60DC498A5A6\
                0D00071A6F6C613A7465616D3A4C3123310450311062726561636865640832347837D6CE01901C8ACBA6A60DC498A5A6\
                0D0003107265616374696F6E045031066D657408323478376E880EA2FDA4A60D03147265736F6C7574696F6E04503106\
                6D65740832347837D6CE0180E1018ACBA6A60D
                """)
        func row(_ metric: String, _ outcome: String, elapsed: Int64, target: Int64, stopped: Int64, breached: Int64?)
            -> Row
        {
            Row(
                metric: metric, priority: "P1", outcome: outcome, target: target, elapsed: elapsed, stoppedAt: stopped,
                breachedAt: breached, deadline: nil, runningSince: nil, calendar: "24x7",
                breachPriority: breached.map { _ in "P1" }, breachTarget: breached.map { _ in target })
        }
        let rows = [
            row(
                "ola:line:L1#1", "breached", elapsed: 13_227, target: 1_800, stopped: 1_784_992_453,
                breached: 1_784_981_026),
            row(
                "ola:team:L1#1", "breached", elapsed: 13_227, target: 1_800, stopped: 1_784_992_453,
                breached: 1_784_981_026),
            row("reaction", "met", elapsed: 55, target: 900, stopped: 1_784_979_281, breached: nil),
            row("resolution", "met", elapsed: 13_227, target: 14_400, stopped: 1_784_992_453, breached: nil),
        ]
        #expect(first.count == 163)
        #expect(try Self.decoded(first) == rows)
        let current = Self.encoded(rows)
        #expect(current[0] == PackedClocks.tag)
        #expect(try Self.decoded(current) == rows)
        #expect(current.count == 82, "the current encoding leaves out what the clock before said")
    }

    @Test("damaged bytes end with an error naming the incident, never a read outside them")
    func damaged() throws {
        var rng = SeededRandom(seed: 11)
        var failures = 0
        for _ in 0..<300 {
            let bytes = Self.encoded(Self.randomRows(&rng, count: 1 + Int(rng.next() % 4)))
            // Every strict prefix is damaged (the last clock is cut short); a wrong tag too.
            for cut in 1..<bytes.count {
                #expect(throws: PackedClocks.Malformed.self) { try Self.decoded(Array(bytes[..<cut])) }
                failures += 1
            }
            var retagged = bytes
            retagged[0] = 3
            #expect(throws: PackedClocks.Malformed.self) { try Self.decoded(retagged) }
            // Random bytes after the tag either decode to something or fail; they never trap.
            let junk =
                [PackedClocks.tag] + (0..<Int(rng.next() % 40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            _ = try? Self.decoded(junk)
        }
        #expect(failures > 1_000)
        let error = PackedClocks.Malformed(incident: "INC-9")
        #expect(error.description.contains("INC-9"))
    }

    @Test("a report over a damaged row fails naming the incident, not with a trap or a wrong figure")
    func damagedRowInAReport() throws {
        let path = try temporaryStorePath()
        let store = try SLAStore(path: path)
        var batch = Batch()
        batch.incidents = [
            IncidentVerdict(
                incident: "INC-7", contract: "c", service: nil, openedAt: Instant(1_000), openingPriority: "P1",
                priority: "P1", status: .open, handoffs: 0, covered: true,
                clocks: [
                    ClockVerdict(
                        metric: .reaction, priority: "P1", target: 600, elapsed: 100, outcome: .running, stoppedAt: nil,
                        crossings: [], upcoming: [], calendarID: "24x7", runningSince: Instant(1_000))
                ], asOf: Instant(1_100))
        ]
        try store.commit(batch)
        let other = try DatabaseQueue(path: path)
        try other.write { db in
            try db.execute(sql: "UPDATE incidents SET clocks = substr(clocks, 1, length(clocks) - 2)")
        }
        try other.close()
        #expect {
            try store.forEachReportVerdict(contract: "c", from: Instant(0), to: Instant(10_000)) { _ in }
        } throws: { ($0 as? PackedClocks.Malformed)?.incident == "INC-7" }
    }

    @Test("a store of the previous schema (a row per clock) migrates: same verdicts, same breach list, same dump")
    func migratesFromClockRows() throws {
        let path = try temporaryStorePath()
        let old = try DatabaseQueue(path: path)
        try Migrations.migrator.migrate(old, upTo: "v4-reports")
        try old.write { db in
            try db.execute(
                sql: """
                    INSERT INTO incidents VALUES
                        ('A', 'c', 'web', 1000, 'P1', 'P2', 'open', 1, 1, 1500),
                        ('B', 'c', NULL, 1100, 'P2', 'P2', 'resolved', 0, 1, 9000),
                        ('C', 'c', NULL, 1200, 'P3', 'P3', 'new', 0, 0, 1200),
                        ('D', 'other', NULL, 1300, 'P1', 'P1', 'open', 0, 1, 1300);
                    INSERT INTO clocks (incident, metric, priority, outcome, target, elapsed, stopped_at, breached_at,
                        deadline, running_since, calendar, breach_priority, breach_target) VALUES
                        ('A', 'reaction', 'P2', 'breached', 1200, 1300, 2300, 1600, NULL, NULL, '24x7', 'P1', 600),
                        ('A', 'resolution', 'P2', 'running', 7200, 500, NULL, NULL, 7700, 1000, '24x7', NULL, NULL),
                        ('A', 'promise:callback', 'P2', 'met', 900, 100, 1100, NULL, NULL, NULL, '24x7', NULL, NULL),
                        ('B', 'reaction', 'P2', 'met', 1200, 200, 1300, NULL, NULL, NULL, 'office', NULL, NULL),
                        ('B', 'resolution', 'P2', 'breached', 7200, 7900, 9000, 8300, NULL, NULL, 'office', 'P2', 7200),
                        ('D', 'reaction', 'P1', 'breached', 600, 700, NULL, 1900, NULL, 1300, '24x7', 'P1', 600);
                    """)
        }
        let before = try old.read { db in
            try GRDB.Row.fetchAll(db, sql: "SELECT * FROM clocks ORDER BY incident, metric").map {
                $0.databaseValues.map(SLAStore.dumpText).joined(separator: "|")
            }
        }
        try old.close()

        let store = try SLAStore(path: path)
        let dump = try store.canonicalDump()
        let clocks = dump.components(separatedBy: "# clocks\n")[1].components(separatedBy: "# breaches\n")[0]
        #expect(clocks == before.map { $0 + "\n" }.joined(), "every clock as it was, one line each")
        #expect(
            dump.contains("# incidents\nA|c|web|1000|P1|P2|open|1|1|1500|∅\nB|c|∅|1100|P2|P2|resolved|0|1|9000|9000\n"))

        var seen: [IncidentVerdict] = []
        try store.forEachReportVerdict(contract: "c", from: Instant(0), to: Instant(10_000)) { seen.append($0) }
        #expect(seen.map(\.incident) == ["A", "B", "C"])
        #expect(seen[0].clocks.map(\.metric) == [.promise("callback"), .reaction, .resolution])
        let breach = try #require(seen[0].clocks[1].breach)
        #expect(breach.at == Instant(1_600) && breach.priority == "P1" && breach.target == 600)
        #expect(seen[0].clocks[2].deadline == Instant(7_700) && seen[0].clocks[2].runningSince == Instant(1_000))
        let bBreach = try #require(seen[1].clocks[1].breach)
        #expect(
            bBreach.priority == "P2" && bBreach.target == 7_200, "a breach under the clock's own priority and target")
        #expect(seen[2].clocks.isEmpty)

        let listed = try store.breaches(since: nil, contract: nil, limit: 10, asOf: Instant(10_000), contracts: [:])
            .breaches
        #expect(listed.map(\.incident) == ["A", "D", "B"])
        #expect(listed.map(\.metric) == ["reaction", "reaction", "resolution"])
    }

    @Test("a month after an incident's clocks were all decided skips it; a clock decided before the month is left out")
    func decidedBeforeThePeriod() throws {
        let store = try SLAStore(path: try temporaryStorePath())
        let breach = Threshold(kind: .breach, at: .hundred)
        func clock(_ metric: Metric, stoppedAt: Int64?, breachedAt: Int64?) -> ClockVerdict {
            ClockVerdict(
                metric: metric, priority: "P1", target: 600, elapsed: 700,
                outcome: breachedAt == nil ? (stoppedAt == nil ? .running : .met) : .breached,
                stoppedAt: stoppedAt.map(Instant.init),
                crossings: breachedAt.map {
                    [Crossing(threshold: breach, at: Instant($0), target: 600, priority: "P1")]
                }
                    ?? [],
                upcoming: [], calendarID: "24x7", runningSince: stoppedAt == nil ? Instant(1_000) : nil)
        }
        func verdict(_ id: String, opened: Int64, _ clocks: [ClockVerdict]) -> IncidentVerdict {
            IncidentVerdict(
                incident: id, contract: "c", service: nil, openedAt: Instant(opened), openingPriority: "P1",
                priority: "P1", status: .open, handoffs: 0, covered: true, clocks: clocks, asOf: Instant(opened))
        }
        var batch = Batch()
        batch.incidents = [
            // Settled before 10 000: not in a month from 10 000 on.
            verdict("A", opened: 1_000, [clock(.reaction, stoppedAt: 1_500, breachedAt: nil)]),
            // Reaction decided before, resolution breached in the month: only resolution.
            verdict(
                "B", opened: 1_000,
                [
                    clock(.reaction, stoppedAt: 1_500, breachedAt: nil),
                    clock(.resolution, stoppedAt: 9_000, breachedAt: 10_500),
                ]),
            // Still running: read with every clock.
            verdict(
                "C", opened: 1_000,
                [
                    clock(.reaction, stoppedAt: 1_500, breachedAt: nil),
                    clock(.resolution, stoppedAt: nil, breachedAt: nil),
                ]),
            // Opened in the month: every clock, decided or not.
            verdict("D", opened: 10_100, [clock(.reaction, stoppedAt: 10_200, breachedAt: nil)]),
            // No clocks (no terms for its priority), opened before: read, as with the join before.
            verdict("E", opened: 1_000, []),
        ]
        try store.commit(batch)
        var seen: [String: [Metric]] = [:]
        try store.forEachReportVerdict(contract: "c", from: Instant(10_000), to: Instant(20_000)) {
            seen[$0.incident] = $0.clocks.map(\.metric)
        }
        #expect(seen == ["B": [.resolution], "C": [.resolution], "D": [.reaction], "E": []])
    }
}
