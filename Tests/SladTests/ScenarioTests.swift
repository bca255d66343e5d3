import Foundation
import SLAConfig
import SLACore
import SLAReport
import TestSupport
import Testing

private let document = Result { try SemanticsDocument.load() }

@Suite("docs/semantics.md scenarios")
struct ScenarioTests {
    static let scenarios: [Scenario] = (try? document.get().scenarios) ?? []
    static let configuration = Result { try document.get().configuration() }

    @Test("the document holds at least 30 scenarios, each with expectations")
    func documentIsComplete() throws {
        let doc = try document.get()
        #expect(doc.scenarios.count >= 30)
        for s in doc.scenarios {
            #expect(!s.expect.isEmpty, "\(s.id) asserts nothing")
            #expect(!s.events.isEmpty, "\(s.id) has no events")
        }
        #expect(Set(doc.scenarios.map(\.id)).count == doc.scenarios.count, "scenario ids are unique")
    }

    @Test("scenario", arguments: scenarios)
    func scenario(_ s: Scenario) throws {
        let config = try Self.configuration.get()
        let contract = try #require(
            config.contracts.first { $0.id == s.contract }, "\(s.id): unknown contract \(s.contract)")
        let events = try scenarioEvents(s.events, contract: contract, scenario: s.id)
        let asOf = try s.asOf.map { text in
            try #require(ISO8601.parse(text)?.instant(in: contract.zone), "\(s.id): bad as-of")
        }
        let result = Replay.run(contracts: config.contracts, events: events, asOf: asOf)
        let output = ReplayRenderer.lines(result, contracts: config.contracts)
        let lines = output.split(separator: "\n").map(String.init)
        #expect(lines == s.expect, "\(s.id): the output is not the expected one\n\(lineDiff(s.expect, lines))")
    }
}

@Suite("Determinism")
struct DeterminismTests {
    /// `events` in a random order, except that events sharing an id keep their relative order:
    /// an id's first arrival is the one that counts, so only their order carries meaning.
    static func shuffled(_ events: [SLAEvent], using rng: inout SeededRandom) -> [SLAEvent] {
        var order = events.indices.shuffled(using: &rng)
        var positions: [String: [Int]] = [:]
        for (slot, index) in order.enumerated() { positions[events[index].id, default: []].append(slot) }
        for (id, slots) in positions where slots.count > 1 {
            let originals = events.indices.filter { events[$0].id == id }
            for (slot, original) in zip(slots, originals) { order[slot] = original }
        }
        return order.map { events[$0] }
    }

    @Test("any arrival order of a scenario's events gives the same output", arguments: ScenarioTests.scenarios)
    func shuffled(_ s: Scenario) throws {
        let config = try ScenarioTests.configuration.get()
        let contract = try #require(config.contracts.first { $0.id == s.contract })
        let events = try scenarioEvents(s.events, contract: contract, scenario: s.id)
        let asOf = s.asOf.flatMap { ISO8601.parse($0)?.instant(in: contract.zone) }
        let reference = ReplayRenderer.lines(
            Replay.run(contracts: config.contracts, events: events, asOf: asOf), contracts: config.contracts)
        let seed = testSeed()
        var rng = SeededRandom(seed: seed)
        for _ in 0..<20 {
            let order = Self.shuffled(events, using: &rng)
            let output = ReplayRenderer.lines(
                Replay.run(contracts: config.contracts, events: order, asOf: asOf), contracts: config.contracts)
            #expect(output == reference, "\(s.id): order \(order.map(\.id)) (SLAD_TEST_SEED=\(seed))")
        }
    }

    @Test("replay on several threads, or of one month, gives what one thread gives for every month")
    func threadsAndMonths() throws {
        // Every scenario's events in one history: many contracts, zones and months, rejections
        // of every kind (ids that recur across scenarios among them).
        let config = try ScenarioTests.configuration.get()
        var events: [SLAEvent] = []
        for s in ScenarioTests.scenarios {
            let contract = try #require(config.contracts.first { $0.id == s.contract })
            events += try scenarioEvents(s.events, contract: contract, scenario: s.id)
        }
        let contracts = config.contracts
        let one = Replay.run(contracts: contracts, events: events)
        #expect(one.incidents.count > 30 && !one.rejections.isEmpty && Set(one.statements.map(\.month)).count > 2)
        // The orders ReplayResult promises: verdicts by contract, then incident; rejections in
        // input order (by the first arrival of their id).
        let keys = one.incidents.map { ($0.contract, $0.incident) }
        #expect(zip(keys, keys.dropFirst()).allSatisfy { $0 < $1 })
        var arrival: [String: Int] = [:]
        for (i, e) in events.enumerated() where arrival[e.id] == nil { arrival[e.id] = i }
        let order = one.rejections.map { arrival[$0.event.id]! }
        #expect(zip(order, order.dropFirst()).allSatisfy { $0 <= $1 })
        for parts in [2, 3, 8] {
            let many = Replay.run(contracts: contracts, events: events, parts: parts)
            #expect(
                try ReplayRenderer.json(many, contracts: contracts) == ReplayRenderer.json(one, contracts: contracts),
                "\(parts) threads")
            #expect(
                ReplayRenderer.lines(many, contracts: contracts) == ReplayRenderer.lines(one, contracts: contracts),
                "\(parts) threads")
        }
        for month in Set(one.statements.map(\.month)).sorted() {
            let alone = Replay.run(contracts: contracts, events: events, months: [month], parts: 2)
            #expect(alone.statements.allSatisfy { $0.month == month }, "\(month)")
            for format in [ReportFormat.csv, .json] {
                #expect(
                    ReportRenderer.render(ReportDocument(alone, contracts: contracts, month: month), as: format)
                        == ReportRenderer.render(ReportDocument(one, contracts: contracts, month: month), as: format),
                    "\(month) as \(format)")
            }
        }
    }
}

@Suite("Contract versions in reports")
struct VersionReportTests {
    @Test(
        "S45's November and December reports name every version with its hash, and each line the version that priced it"
    )
    func reportNamesVersions() throws {
        let doc = try document.get()
        let config = try ScenarioTests.configuration.get()
        let s = try #require(doc.scenarios.first { $0.id == "S45" })
        let contract = try #require(config.contracts.first { $0.id == "scn-renewal" })
        let events = try scenarioEvents(s.events, contract: contract, scenario: s.id)
        let asOf = try #require(ISO8601.parse("2026-12-02T00:00")?.instant(in: contract.zone))
        let result = Replay.run(contracts: config.contracts, events: events, asOf: asOf)
        let hashes = contract.versions.map(\.versionHash)
        #expect(hashes.count == 3 && hashes.allSatisfy { $0.count == 64 })
        let h = hashes.map { String($0.prefix(16)) }
        let table = ReportRenderer.table(ReportDocument(result, contracts: config.contracts))
        #expect(
            table == """
                scn-renewal (Scenario renewal) 2026-11 [FINAL (not sealed)]
                period 2026-11-01T00:00:00+01:00 – 2026-12-01T00:00:00+01:00 (Europe/Berlin), as of 2026-12-02T00:00:00+01:00
                fee 1000.00 EUR
                terms: version 2026 sha256 \(h[0])…; version 2026b from 2026-11-16T00:00:00+01:00 sha256 \(h[1])…
                incidents opened: P1 3
                reaction: 2 met, 1 breached (66.67%)
                resolution: 1 met, 1 breached (50.00%)
                handoffs: 0 (0.00 per incident), 0 bounced more than twice

                INCIDENT  METRIC      PRIO  BREACHED AT                TARGET  ACTUAL  OVER BY  AMOUNT  RULE
                INC-45A   resolution  P1    2026-11-16T04:00:00+01:00  8h      9h      1h       210.00  200.00 + 1 h × 10.00 (version 2026)
                INC-45B   reaction    P1    2026-11-16T09:30:00+01:00  30m     45m     15m      150.00  150.00 (version 2026b)

                breach penalties  360.00
                subtotal          360.00
                TOTAL EUR         360.00
                rounding: money: integer minor units; each line rounded half-even to the currency's minor unit (only shares of the fee need rounding); percentages shown half-even, compared exactly

                scn-renewal (Scenario renewal) 2026-12 [PROVISIONAL: figures may still change]
                period 2026-12-01T00:00:00+01:00 – 2026-12-02T00:00:00+01:00 (Europe/Berlin), as of 2026-12-02T00:00:00+01:00
                fee 1200.00 EUR
                terms: version 2026 sha256 \(h[0])…; version 2026b from 2026-11-16T00:00:00+01:00 sha256 \(h[1])…; version 2027 from 2026-12-01T00:00:00+01:00 sha256 \(h[2])…
                incidents opened: P1 1
                reaction: 0 met, 1 breached (0.00%)
                resolution: 1 met, 1 breached (50.00%)
                handoffs: 0 (0.00 per incident), 0 bounced more than twice

                INCIDENT  METRIC      PRIO  BREACHED AT                TARGET  ACTUAL  OVER BY  AMOUNT  RULE
                INC-45C   resolution  P1    2026-12-01T03:00:00+01:00  4h      5h      1h       310.00  300.00 + 1 h × 10.00 (version 2026b)
                INC-45D   reaction    P1    2026-12-01T10:15:00+01:00  15m     20m     5m       150.00  150.00 (version 2027)

                breach penalties  460.00
                subtotal          460.00
                TOTAL EUR         460.00
                rounding: money: integer minor units; each line rounded half-even to the currency's minor unit (only shares of the fee need rounding); percentages shown half-even, compared exactly

                """, "\(table)")
    }
}
