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
}
