import SLACore
import TestSupport
import Testing

@Suite("Verdict projection")
struct ProjectionTests {
    static func contract() -> Contract {
        let office = officeCalendar(Zones.berlin)
        return Contract(
            id: "proj", customer: "Projection", calendar: office,
            fee: Money(parsing: "100.00", currency: Currency(code: "EUR")!)!,
            priorities: [
                PriorityTerms(
                    name: "P1", reaction: 1_800, resolution: 14_400, calendar: .twentyFourSeven(zone: Zones.berlin)),
                PriorityTerms(name: "P2", reaction: 7_200, resolution: 57_600, calendar: office),
            ], pauseOn: ["pending_customer"],
            warnAt: [Percentage(parsing: "50%")!, Percentage(parsing: "80%")!],
            escalations: [Escalation(at: Percentage(parsing: "200%")!, notify: [])], notify: [])
    }

    /// A random incident history: opened, then up to six of the other kinds at random times.
    static func history(_ rng: inout SeededRandom, start: Int64) -> [SLAEvent] {
        var time = start + Int64.random(in: 0..<(14 * 86_400), using: &rng)
        func event(_ n: Int, _ type: EventType) -> SLAEvent {
            SLAEvent(id: "e\(n)", time: Instant(time), type: type, incident: "INC", contract: "proj")
        }
        var opened = event(0, .opened)
        opened.priority = Bool.random(using: &rng) ? "P1" : "P2"
        var events = [opened]
        for n in 1..<Int.random(in: 1...7, using: &rng) {
            time += Int64.random(in: 60...(30 * 3_600), using: &rng)
            switch Int.random(in: 0..<6, using: &rng) {
            case 0: events.append(event(n, .acknowledged))
            case 1:
                var e = event(n, .updated)
                e.status = Bool.random(using: &rng) ? "pending_customer" : "in_progress"
                events.append(e)
            case 2:
                var e = event(n, .updated)
                // P3 has no terms: a stretch without a target.
                e.priority = ["P1", "P2", "P3"].randomElement(using: &rng)
                events.append(e)
            case 3: events.append(event(n, .resolved))
            case 4: events.append(event(n, .reopened))
            default:
                var e = event(n, .promiseMade)
                e.promise = "callback"
                e.due = Instant(time + Int64.random(in: 600...(2 * 86_400), using: &rng))
                events.append(e)
            }
        }
        return events
    }

    @Test(
        "a verdict projected to a later instant equals the verdict evaluated there; with no clock running, it is that verdict (2 000 random histories)"
    )
    func projectionMatchesEvaluation() throws {
        let contract = Self.contract()
        let contracts = ["proj": contract]
        var rng = SeededRandom(seed: 7)
        var projectedBreaches = 0
        var settled = 0
        for _ in 0..<2_000 {
            let events = Self.history(&rng, start: 1_790_000_000)
            let last = events.map(\.time).max()!
            let later = last.adding(seconds: Int64.random(in: 1...(10 * 86_400), using: &rng))
            let early = try #require(
                Replay.evaluate(incident: "INC", events: events, contracts: contracts, asOf: last).verdict)
            let truth = try #require(
                Replay.evaluate(incident: "INC", events: events, contracts: contracts, asOf: later).verdict)
            let projected = early.projected(to: later, in: contract)
            if early.clocks.allSatisfy({ $0.runningSince == nil }) {
                // Nothing runs: the live engine takes the verdict at the last event for any later
                // instant without evaluating again (LiveEngine.add), so all of it must hold there.
                settled += 1
                #expect(truth.status == early.status && truth.priority == early.priority)
                #expect(truth.handoffs == early.handoffs && truth.covered == early.covered)
                #expect(truth.clocks.count == early.clocks.count)
                for (t, e) in zip(truth.clocks, early.clocks) {
                    #expect(t.metric == e.metric && t.priority == e.priority && t.target == e.target)
                    #expect(t.elapsed == e.elapsed && t.outcome == e.outcome && t.stoppedAt == e.stoppedAt)
                    #expect(t.crossings == e.crossings && t.upcoming == e.upcoming, "events \(events)")
                    #expect(t.calendarID == e.calendarID && t.runningSince == nil)
                }
            }
            #expect(projected.asOf == truth.asOf)
            #expect(projected.clocks.count == truth.clocks.count)
            for (p, t) in zip(projected.clocks, truth.clocks) {
                #expect(p.metric == t.metric)
                #expect(p.elapsed == t.elapsed, "\(p.metric) elapsed, events \(events)")
                #expect(p.outcome == t.outcome, "\(p.metric) outcome, events \(events)")
                #expect(p.crossings == t.crossings, "\(p.metric) crossings, events \(events)")
                #expect(p.breach?.at == t.breach?.at)
                if p.breach != nil && early.clocks.first(where: { $0.metric == p.metric })?.breach == nil {
                    projectedBreaches += 1
                }
            }
        }
        // The property is only worth something if projection had breaches to find.
        #expect(projectedBreaches > 200)
        #expect(settled > 200)
    }
}
