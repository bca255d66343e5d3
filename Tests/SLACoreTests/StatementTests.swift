import Foundation
import SLACore
import TestSupport
import Testing

@Suite("Monthly statement: line order and prices")
struct StatementTests {
    static let eur = Currency(code: "EUR")!
    static func money(_ text: String) -> Money { Money(parsing: text, currency: eur)! }

    static func contract() -> Contract {
        Contract(
            id: "s", customer: "Statement", calendar: .twentyFourSeven(zone: .utc), fee: money("1000.00"),
            priorities: [
                PriorityTerms(name: "P1", reaction: 900, resolution: 14_400, calendar: .twentyFourSeven(zone: .utc)),
                PriorityTerms(name: "P2", reaction: 3_600, resolution: 28_800, calendar: .twentyFourSeven(zone: .utc)),
            ],
            penalties: PenaltyRules(
                reaction: ["P1": BreachPenalty(fixed: money("100.00"))],
                resolution: [
                    "P1": BreachPenalty(fixed: money("500.00"), perHourLate: money("50.00")),
                    "P2": BreachPenalty(fixed: money("0.00"), perHourLate: money("20.00")),
                ]))
    }

    /// A covered incident opened at `opened` whose clocks breached at the given instants.
    static func verdict(_ id: String, opened: Int64, breaches: [(Metric, String, Int64, elapsed: Int64)])
        -> IncidentVerdict
    {
        let clocks = breaches.map { metric, priority, at, elapsed in
            let target: Int64 = metric == .reaction ? 900 : 14_400
            return ClockVerdict(
                metric: metric, priority: priority, target: target, elapsed: elapsed, outcome: .breached,
                stoppedAt: nil,
                crossings: [
                    Crossing(
                        threshold: Threshold(kind: .breach, at: .hundred), at: Instant(at), target: target,
                        priority: priority)
                ], upcoming: [], calendarID: "24x7", runningSince: nil)
        }
        return IncidentVerdict(
            incident: id, contract: "s", service: nil, openedAt: Instant(opened), openingPriority: "P1",
            priority: "P1", status: .resolved, handoffs: 0, covered: true, clocks: clocks, asOf: Instant(opened))
    }

    static let start = Int64(1_790_812_800)  // 2026-10-01T00:00:00Z

    /// `count` incidents breaching at few distinct instants of October 2026, so that most lines
    /// share their time with others; ids in random order, so input order says nothing about
    /// the expected order.
    static func randomMonth(_ count: Int, seed: UInt64) -> [IncidentVerdict] {
        var rng = SeededRandom(seed: seed)
        var verdicts: [IncidentVerdict] = []
        for n in 0..<count {
            let at = start + 60 * Int64.random(in: 0..<50, using: &rng)
            var breaches: [(Metric, String, Int64, elapsed: Int64)] = []
            if Bool.random(using: &rng) { breaches.append((.reaction, "P1", at, elapsed: 900 + 1)) }
            if Bool.random(using: &rng) {
                let priority = Bool.random(using: &rng) ? "P1" : "P2"
                breaches.append(
                    (.resolution, priority, at, elapsed: 14_400 + Int64.random(in: 0..<40_000, using: &rng)))
            }
            verdicts.append(
                verdict("INC-\(Int.random(in: 0..<1_000_000, using: &rng))-\(n)", opened: start, breaches: breaches))
        }
        return verdicts
    }

    @Test("breach lines come in (time, incident, metric) order, ties included, and each is priced by its own rule")
    func orderAndPrices() {
        let start = Self.start
        let verdicts = Self.randomMonth(3_000, seed: 23)
        let statement = StatementBuilder.statement(
            contract: Self.contract(), month: YearMonth(year: 2026, month: 10), verdicts: verdicts,
            services: ServiceTimeline.build(from: [], asOf: Instant(start)).0, asOf: Instant(start + 40 * 86_400))
        let expected = verdicts.flatMap { v in v.clocks.map { (v.incident, $0) } }
        #expect(statement.breaches.count == expected.count)
        #expect(statement.breaches.count > 2_000)
        for (a, b) in zip(statement.breaches, statement.breaches.dropFirst()) {
            #expect((a.at, a.incident, a.metric) < (b.at, b.incident, b.metric))
        }
        var total = Money.zero(Self.eur)
        for line in statement.breaches {
            let hours = (max(0, line.actual - line.target) + 3_599) / 3_600
            let (amount, rule): (Money, String) =
                switch (line.metric, line.priority) {
                case (.reaction, _): (Self.money("100.00"), "100.00")
                case (_, "P1"): (Self.money("500.00") + Self.money("50.00").times(hours), "500.00 + \(hours) h × 50.00")
                default: (Self.money("20.00").times(hours), "\(hours) h × 20.00")
                }
            #expect(line.amount == amount)
            #expect(line.rule == rule)
            total = total + amount
        }
        #expect(statement.subtotal == total)
    }

    @Test("a month tallied in parts, each ordered and merged in any order, gives the statement of one tally")
    func partsMerge() {
        let start = Self.start
        let verdicts = Self.randomMonth(2_000, seed: 29)
        var rng = SeededRandom(seed: 31)
        let contract = Self.contract()
        let month = YearMonth(year: 2026, month: 10)
        let services = ServiceTimeline.build(from: [], asOf: Instant(start)).0
        let asOf = Instant(start + 40 * 86_400)
        var one = StatementTally(contract: contract, month: month)
        for v in verdicts { one.add(v) }
        let expected = one.statement(services: services, asOf: asOf)
        // Three parts of random sizes; ordered or not, merged in either direction.
        var parts = Array(repeating: StatementTally(contract: contract, month: month), count: 3)
        for v in verdicts { parts[Int.random(in: 0..<3, using: &rng)].add(v) }
        for orderFirst in [true, false] {
            var ps = parts
            if orderFirst { for k in ps.indices { ps[k].orderLines() } }
            var forward = ps[0]
            for p in ps.dropFirst() { forward.merge(p) }
            var backward = ps[2]
            for p in ps.dropLast().reversed() { backward.merge(p) }
            for merged in [forward, backward] {
                let statement = merged.statement(services: services, asOf: asOf)
                #expect(statement.breaches == expected.breaches)
                #expect(statement.breaches.count > 1_000)
                #expect(statement.subtotal == expected.subtotal && statement.total == expected.total)
                #expect(statement.reaction == expected.reaction && statement.resolution == expected.resolution)
                #expect(statement.incidentsByPriority == expected.incidentsByPriority)
                #expect(statement.handoffs == expected.handoffs)
            }
        }
    }
}
