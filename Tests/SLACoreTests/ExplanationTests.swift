import SLACore
import TestSupport
import Testing

@Suite("Explaining a verdict")
struct ExplanationTests {
    /// P1 counts round the clock, P2 in office hours (Berlin, with a holiday); a pause status.
    static let contract: Contract = {
        let office = officeCalendar(Zones.berlin, holidays: [LocalDate(year: 2026, month: 10, day: 3)])
        return Contract(
            id: "c", customer: "C", calendar: office, fee: Money(parsing: "100.00", currency: Currency(code: "EUR")!)!,
            priorities: [
                PriorityTerms(name: "P1", reaction: 900, resolution: 14_400, calendar: .twentyFourSeven()),
                PriorityTerms(name: "P2", reaction: 7_200, resolution: 57_600, calendar: office),
            ], pauseOn: ["pending_customer"], warnAt: [Percentage(parsing: "50%")!], escalations: [], notify: [])
    }()

    /// ``contract`` with a second version from 2 October noon that takes open incidents over:
    /// other targets, P2 round the clock, and `work` pauses too.
    static let versioned: Contract = {
        let c = contract
        let second = Contract(
            id: "c", customer: "C", calendar: c.calendar, fee: c.fee,
            priorities: [
                PriorityTerms(name: "P1", reaction: 600, resolution: 10_800, calendar: .twentyFourSeven()),
                PriorityTerms(name: "P2", reaction: 3_600, resolution: 28_800, calendar: .twentyFourSeven()),
            ], pauseOn: ["pending_customer", "work"], warnAt: [Percentage(parsing: "50%")!], version: "2",
            versionHash: "h2", effective: t("2026-10-02T12:00:00+02:00"), appliesToOpen: true)
        return c.with(laterVersions: [second])
    }()

    @Test(
        "a version that takes an open incident over begins a stretch of its own, and its penalties price the breach after it"
    )
    func takeover() throws {
        let events = [
            SLAEvent(
                id: "o", time: t("2026-10-02T09:00:00+02:00"), type: .opened, incident: "I", contract: "c",
                priority: "P1"),
            SLAEvent(id: "a", time: t("2026-10-02T09:05:00+02:00"), type: .acknowledged, incident: "I"),
            SLAEvent(id: "w", time: t("2026-10-02T10:00:00+02:00"), type: .updated, incident: "I", status: "work"),
            SLAEvent(id: "x", time: t("2026-10-02T13:00:00+02:00"), type: .updated, incident: "I", status: "active"),
            SLAEvent(id: "r", time: t("2026-10-02T16:00:00+02:00"), type: .resolved, incident: "I"),
        ]
        let e = try #require(
            IncidentEvaluator.explain(
                incident: "I", events: events, contract: Self.versioned, asOf: t("2026-10-02T16:00:00+02:00")))
        let resolution = try #require(e.clocks.first { $0.metric == .resolution })
        // 09:00–12:00 under version 1 (`work` does not pause it): 3 h, exactly version 2's
        // target, which is not yet past it. Version 2 pauses on `work` until 13:00; the first
        // second counted after that passes the target, so the breach is dated 13:00.
        #expect(
            resolution.stretches.map { "\($0.state) \($0.version) \($0.target ?? 0) \($0.counted) \($0.cause)" } == [
                "running 1 14400 10800 incident.opened o", "paused 2 10800 0 contract version 2 took effect",
                "running 2 10800 10800 incident.updated x status=active", "stopped 2 10800 0 incident.resolved r",
            ])
        #expect(resolution.verdict.breach?.at == t("2026-10-02T13:00:00+02:00"))
        #expect(resolution.penalty?.version == "2")
        #expect(resolution.penalty?.versionHash == "h2")
    }

    @Test(
        "for 500 random histories, half under a contract with two versions, the stretches of each clock add up to its elapsed time, their intervals to each stretch, and the thresholds are the verdict's"
    )
    func stretchesAddUp() {
        let seed = testSeed()
        var rng = SeededRandom(seed: seed)
        let start = t("2026-09-28T07:00:00+02:00").seconds
        for history in 0..<500 {
            var time = start + Int64(rng.next() % (10 * 86_400))
            var events = [
                SLAEvent(
                    id: "o", time: Instant(time), type: .opened, incident: "I", contract: "c",
                    priority: rng.next() % 2 == 0 ? "P1" : "P2")
            ]
            var resolved = false
            for k in 0..<(rng.next() % 9) {
                time += rng.next() % 6 == 0 ? 0 : Int64(rng.next() % (30 * 3_600))
                var e = SLAEvent(id: "e\(k)", time: Instant(time), type: .updated, incident: "I")
                switch rng.next() % 6 {
                case 0: e.type = .acknowledged
                case 1: e.status = rng.next() % 2 == 0 ? "pending_customer" : "work"
                case 2: e.priority = rng.next() % 2 == 0 ? "P1" : "P2"
                case 3, 4:
                    e.type = resolved ? .reopened : .resolved
                    resolved.toggle()
                default: e.type = .closed
                }
                events.append(e)
            }
            let asOf = Instant(time + Int64(rng.next() % (5 * 86_400)))
            // Every other history under a contract whose second version takes open incidents over.
            let contract = history % 2 == 0 ? Self.contract : Self.versioned
            let verdict = IncidentEvaluator.evaluate(incident: "I", events: events, contract: contract, asOf: asOf)
                .verdict
            guard
                let explained = IncidentEvaluator.explain(
                    incident: "I", events: events, contract: contract, asOf: asOf),
                let verdict
            else {
                Issue.record("seed \(seed), history \(history): no explanation")
                continue
            }
            for clock in explained.clocks {
                let counted = clock.stretches.reduce(0) { $0 + $1.counted }
                #expect(counted == clock.verdict.elapsed, "seed \(seed), history \(history), \(clock.metric)")
                for (k, s) in clock.stretches.enumerated() {
                    #expect(s.intervals.reduce(0) { $0 + $1.to.seconds - $1.from.seconds } == s.counted)
                    if k + 1 < clock.stretches.count {
                        #expect(s.to == clock.stretches[k + 1].from, "seed \(seed), history \(history): contiguous")
                    } else {
                        #expect(s.to == nil)
                    }
                }
                let passed = clock.thresholds.filter(\.passed).map { "\($0.kind) \($0.percent) \($0.at.seconds)" }
                #expect(
                    passed
                        == clock.verdict.crossings.map {
                            "\($0.threshold.kind.rawValue) \($0.threshold.at) \($0.at.seconds)"
                        },
                    "seed \(seed), history \(history)")
                #expect((clock.penalty != nil) == (clock.verdict.breach != nil && !clock.metric.isOLA))
            }
            #expect(explained.clocks.map(\.metric) == verdict.clocks.map(\.metric))
        }
    }
}
