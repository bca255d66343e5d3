import Foundation
import SLAConfig
import SLACore
import SLAReport
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
        let lines = Set(output.split(separator: "\n").map(String.init))
        for expected in s.expect {
            #expect(lines.contains(expected), "\(s.id): missing line\n  \(expected)\nin output:\n\(output)")
        }
    }
}

@Suite("Determinism")
struct DeterminismTests {
    @Test("any arrival order of a scenario's events gives the same output", arguments: ScenarioTests.scenarios)
    func shuffled(_ s: Scenario) throws {
        let config = try ScenarioTests.configuration.get()
        let contract = try #require(config.contracts.first { $0.id == s.contract })
        let events = try scenarioEvents(s.events, contract: contract, scenario: s.id)
        let asOf = s.asOf.flatMap { ISO8601.parse($0)?.instant(in: contract.zone) }
        let reference = ReplayRenderer.lines(
            Replay.run(contracts: config.contracts, events: events, asOf: asOf), contracts: config.contracts)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            let shuffled = events.shuffled(using: &rng)
            // Duplicate ids keep their first-seen meaning only in arrival order; skip reordering those.
            guard Set(events.map(\.id)).count == events.count else { break }
            let output = ReplayRenderer.lines(
                Replay.run(contracts: config.contracts, events: shuffled, asOf: asOf), contracts: config.contracts)
            #expect(output == reference, "\(s.id): order \(shuffled.map(\.id))")
        }
    }
}
