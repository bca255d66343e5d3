import Foundation
import SLACore
import Testing

@testable import SLAStore

@Suite("SQLite store: a month read in parts")
struct ReportPartsTests {
    static func verdict(_ id: String, contract: String) -> IncidentVerdict {
        let clock = ClockVerdict(
            metric: .reaction, priority: "P1", target: 600, elapsed: 100, outcome: .running, stoppedAt: nil,
            crossings: [], upcoming: [], calendarID: "24x7", runningSince: Instant(1_000))
        return IncidentVerdict(
            incident: id, contract: contract, service: nil, openedAt: Instant(1_000), openingPriority: "P1",
            priority: "P1", status: .open, handoffs: 0, covered: true, clocks: [clock], asOf: Instant(1_000))
    }

    /// A store with `count` incidents of contract "c" and a few
    /// of contract "d" among them.
    static func store(incidents count: Int) throws -> SLAStore {
        let store = try SLAStore(path: try temporaryStorePath())
        var batch = Batch()
        // Committed out of id order (7 919 is prime and does not divide the counts used).
        batch.incidents = (0..<count).map { verdict("INC-\($0 * 7_919 % count)", contract: "c") }
        batch.incidents += (0..<50).map { verdict("INC-\($0 * 997)-d", contract: "d") }
        try store.commit(batch)
        return store
    }

    static func read(_ store: SLAStore, contract: String = "c", parts: Int) throws -> [[String]] {
        var found = Array(repeating: [String](), count: parts)
        try store.forEachReportVerdict(contract: contract, from: Instant(0), to: Instant(10_000), parts: &found) {
            ids, v in
            ids.append(v.incident)
            #expect(v.clocks.count == 1)
        }
        return found
    }

    @Test("a large month is read in two ranges at once: every incident once, in order within a range")
    func twoRanges() throws {
        let count = 2 * SLAStore.reportPartMinimum + 1_000
        let store = try Self.store(incidents: count)
        let parts = try Self.read(store, parts: 2)
        // Both ranges read something: the parallel path ran, not the one-connection fallback.
        #expect(parts.allSatisfy { $0.count > count / 4 })
        #expect(parts[0].last! < parts[1].first!)
        for part in parts { #expect(part == part.sorted()) }
        var single: [String] = []
        try store.forEachReportVerdict(contract: "c", from: Instant(0), to: Instant(10_000)) {
            single.append($0.incident)
        }
        #expect(parts[0] + parts[1] == single)
        #expect(single.count == count)
    }

    @Test("a small month, or another contract's, is read on one connection into the first part")
    func smallMonth() throws {
        let store = try Self.store(incidents: 2 * SLAStore.reportPartMinimum + 1_000)
        let parts = try Self.read(store, contract: "d", parts: 2)
        #expect(parts[0].count == 50 && parts[1].isEmpty)
        #expect(parts[0].allSatisfy { $0.hasSuffix("-d") })
    }

    @Test(
        "readers begin on one state: a commit while they begin sends the read to one connection, later commits are not seen"
    )
    func oneState() throws {
        let path = try temporaryStorePath()
        let store = try SLAStore(path: path)
        var batch = Batch()
        batch.incidents = [Self.verdict("A", contract: "c")]
        try store.commit(batch)
        func add(_ id: String) throws {
            var more = Batch()
            more.incidents = [Self.verdict(id, contract: "c")]
            try store.commit(more)
        }
        #expect(ConsistentReaders(path: path, count: 2, whileBeginning: { try add("B") }) == nil)
        let readers = try #require(ConsistentReaders(path: path, count: 2))
        try add("C")
        for k in 0..<2 {
            var ids: [String] = []
            try readers.read(
                k, contract: "c", from: Instant(0), to: Instant(10_000), lower: nil, upper: nil, fullScan: k == 1
            ) {
                ids.append($0.incident)
            }
            #expect(ids == ["A", "B"], "reader \(k) sees the state it began on")
        }
        #expect(ConsistentReaders(path: path, count: 2) != nil, "without commits in between, readers begin")
        #expect(ConsistentReaders(path: path + ".missing", count: 2) == nil)
    }
}
