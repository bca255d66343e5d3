import SLACore
import TestSupport
import Testing

/// Drives a live engine with a manual wall clock: no sleeps.
struct ManualDriver {
    var live: LiveEngine
    var now: Int64
    var log: [SLANotification] = []

    /// Advances wall time to `until` (ms), stopping at every wakeup the engine asks for.
    mutating func run(until: Int64) {
        while let wake = live.nextWakeupMilliseconds, wake <= until {
            now = max(now, wake)
            log += live.advance(toMilliseconds: now)
        }
        now = until
        log += live.advance(toMilliseconds: until)
    }

    mutating func ingest(_ events: [SLAEvent], at ms: Int64) {
        run(until: ms)
        log += live.ingest(events, nowMilliseconds: ms)
    }

    /// `KIND METRIC PERCENT due=+S decided=+MS` lines relative to `t0`.
    func lines(_ t0: Int64) -> [String] {
        log.map {
            "\($0.kind.rawValue) \($0.metric) \($0.percent) due=+\($0.due.seconds - t0) decided=+\($0.decidedAtMilliseconds - t0 * 1000)ms\($0.late ? " late" : "")"
        }
    }
}

let t0: Int64 = 1_800_000_000

func liveContract() -> Contract {
    let cal = BusinessCalendar.twentyFourSeven()
    return Contract(
        id: "live", customer: "Live", calendar: cal, fee: Money(parsing: "100.00", currency: Currency(code: "EUR")!)!,
        priorities: [
            PriorityTerms(name: "P1", reaction: 900, resolution: 14_400, calendar: cal),
            PriorityTerms(name: "P3", reaction: 14_400, resolution: 86_400, calendar: cal),
        ], pauseOn: ["pending_customer"],
        warnAt: [Percentage(parsing: "50%")!, Percentage(parsing: "80%")!],
        escalations: [Escalation(at: Percentage(parsing: "200%")!, notify: ["management"])], notify: ["ops"])
}

func ev(_ id: String, _ at: Int64, _ type: EventType, priority: String? = nil, status: String? = nil, due: Int64? = nil)
    -> SLAEvent
{
    SLAEvent(
        id: id, time: Instant(t0 + at), type: type, incident: "INC", contract: "live", priority: priority,
        status: status,
        due: due.map { Instant(t0 + $0) }, promise: due == nil ? nil : "callback")
}

func driver(at ms: Int64 = t0 * 1000) -> ManualDriver {
    ManualDriver(live: LiveEngine(engine: IngestEngine(contracts: [liveContract()]), nowMilliseconds: ms), now: ms)
}

@Suite("Live engine (manual clock)")
struct LiveEngineTests {
    @Test("one timer per incident, at the earliest next threshold of its clocks; never a second copy")
    func oneTimerPerIncident() {
        var d = driver()
        d.ingest([ev("o", 0, .opened, priority: "P1")], at: t0 * 1000)
        // Reaction (900 s) and resolution (14 400 s) run: the earliest next threshold is reaction's 50 %.
        #expect(d.live.armedCount == 1)
        #expect(d.live.armedMilliseconds(of: "INC") == (t0 + 450) * 1000)
        // After each refresh: the next threshold of either clock (a breach waits the 5 s lateness).
        for (until, next) in [(450, 720), (720, 905), (905, 1_800), (1_800, 7_200), (7_200, 11_520)] {
            d.run(until: (t0 + Int64(until)) * 1000)
            #expect(d.live.armedCount == 1, "after +\(until) s")
            #expect(d.live.armedMilliseconds(of: "INC") == (t0 + Int64(next)) * 1000, "after +\(until) s")
        }
        #expect(d.log.count == 5)
    }

    @Test("a copy of the engine has its own timers: advancing one does not fire or move the other's")
    func copiesAreIndependent() {
        var d = driver()
        d.ingest([ev("o", 0, .opened, priority: "P1")], at: t0 * 1000)
        var copy = d
        copy.run(until: (t0 + 1_000) * 1000)
        #expect(copy.lines(t0).count == 3, "warnings at 50 % and 80 %, the breach")
        #expect(copy.live.armedMilliseconds(of: "INC") == (t0 + 1_800) * 1000)
        // The original still waits for its first threshold, and decides it itself.
        #expect(d.live.armedMilliseconds(of: "INC") == (t0 + 450) * 1000)
        #expect(d.log.isEmpty)
        d.run(until: (t0 + 1_000) * 1000)
        #expect(d.lines(t0) == copy.lines(t0))
    }

    @Test(
        "warnings at 50 % and 80 %, breach at 100 % after the allowed lateness, escalation at 200 %: each once, on time"
    )
    func thresholds() {
        var d = driver()
        d.ingest([ev("o", 0, .opened, priority: "P1")], at: t0 * 1000)
        d.run(until: (t0 + 40_000) * 1000)
        #expect(
            d.lines(t0) == [
                "warning reaction 50% due=+450 decided=+450000ms",
                "warning reaction 80% due=+720 decided=+720000ms",
                "breach reaction 100% due=+900 decided=+905000ms",
                "escalation reaction 200% due=+1800 decided=+1800000ms",
                "warning resolution 50% due=+7200 decided=+7200000ms",
                "warning resolution 80% due=+11520 decided=+11520000ms",
                "breach resolution 100% due=+14400 decided=+14405000ms",
                "escalation resolution 200% due=+28800 decided=+28800000ms",
            ])
        #expect(d.log.first { $0.kind == .escalation }?.notify == ["management"])
        #expect(d.log.first { $0.kind == .breach }?.notify == ["ops"])
        #expect(d.live.armedCount == 0, "nothing left to arm")
    }

    @Test("a pause across a threshold moves it; an acknowledgement before the deadline cancels the breach")
    func pauses() {
        var d = driver()
        d.ingest([ev("o", 0, .opened, priority: "P1")], at: t0 * 1000)
        d.ingest([ev("a", 600, .acknowledged)], at: (t0 + 600) * 1000)
        d.ingest([ev("p", 3_600, .updated, status: "pending_customer")], at: (t0 + 3_600) * 1000)
        d.ingest([ev("r", 10_800, .updated, status: "in_progress")], at: (t0 + 10_800) * 1000)
        d.run(until: (t0 + 14_000) * 1000)
        // Acknowledged at +600: no reaction breach. The resolution clock ran 3,600 s, paused
        // 7,200 s, so its 50 % (7,200 s) is due at +14,400, not +7,200.
        #expect(d.lines(t0) == ["warning reaction 50% due=+450 decided=+450000ms"])
        d.run(until: (t0 + 14_401) * 1000)
        #expect(d.lines(t0).last == "warning resolution 50% due=+14400 decided=+14400000ms")
    }

    @Test("a priority raised after a warning re-targets: the rest comes at the new target, the warning stays")
    func priorityChange() {
        var d = driver()
        d.ingest([ev("o", 0, .opened, priority: "P3")], at: t0 * 1000)
        d.ingest([ev("a", 60, .acknowledged)], at: (t0 + 60) * 1000)
        d.run(until: (t0 + 44_000) * 1000)
        #expect(d.lines(t0) == ["warning resolution 50% due=+43200 decided=+43200000ms"])
        d.ingest([ev("u", 44_000, .updated, priority: "P1")], at: (t0 + 44_000) * 1000)
        // 44,000 s elapsed is far past every P1 resolution threshold: all of them now, none twice.
        #expect(
            d.lines(t0).dropFirst() == [
                "warning resolution 80% due=+44000 decided=+44000000ms",
                "escalation resolution 200% due=+44000 decided=+44000000ms",
            ])
        d.run(until: (t0 + 44_006) * 1000)
        #expect(d.lines(t0).last == "breach resolution 100% due=+44000 decided=+44005000ms")
        #expect(d.log.count == 4)
    }

    @Test("reopen after a breach does not breach again; a promise falls due at its instant")
    func reopenAndPromise() {
        var d = driver()
        d.ingest([ev("o", 0, .opened, priority: "P1"), ev("a", 0, .acknowledged)], at: t0 * 1000)
        d.ingest([ev("m", 10, .promiseMade, due: 600)], at: (t0 + 10) * 1000)
        d.run(until: (t0 + 15_000) * 1000)
        d.ingest([ev("r", 15_000, .resolved)], at: (t0 + 15_000) * 1000)
        d.ingest([ev("x", 16_000, .reopened)], at: (t0 + 16_000) * 1000)
        d.run(until: (t0 + 30_000) * 1000)
        let lines = d.lines(t0)
        #expect(lines.contains("breach promise:callback 100% due=+600 decided=+605000ms"))
        #expect(
            lines.filter { $0.hasPrefix("breach resolution") } == [
                "breach resolution 100% due=+14400 decided=+14405000ms"
            ])
        #expect(Set(d.log.map(\.id)).count == d.log.count, "every notification once")
    }

    @Test("restart catch-up decides what came due while down, once, late, with its true due time")
    func catchUp() {
        var engine = IngestEngine(contracts: [liveContract()])
        _ = engine.add([ev("o", 0, .opened, priority: "P1")])
        var first = LiveEngine(engine: engine, nowMilliseconds: (t0 + 1_000) * 1000)
        let missed = first.catchUp(nowMilliseconds: (t0 + 1_000) * 1000)
        #expect(
            missed.map(\.id) == ["INC/reaction/warning/50%", "INC/reaction/warning/80%", "INC/reaction/breach/100%"])
        #expect(missed.map(\.due.seconds) == [t0 + 450, t0 + 720, t0 + 900])
        #expect(missed.allSatisfy { $0.late })
        // A second restart with the outbox holding those: nothing again.
        var second = LiveEngine(engine: engine, nowMilliseconds: (t0 + 1_000) * 1000, emitted: missed)
        let again = second.catchUp(nowMilliseconds: (t0 + 1_000) * 1000)
        #expect(again.isEmpty)
    }

    @Test("status counts follow the incident: open, at risk after a warning, breached, gone when resolved")
    func statusCounts() {
        var d = driver()
        d.ingest([ev("o", 0, .opened, priority: "P1"), ev("a", 0, .acknowledged)], at: t0 * 1000)
        #expect(d.live.status.open == 1 && d.live.status.atRisk == 0 && d.live.status.breached == 0)
        d.run(until: (t0 + 7_300) * 1000)
        #expect(d.live.status.atRisk == 1)
        d.run(until: (t0 + 14_500) * 1000)
        #expect(d.live.status.atRisk == 0 && d.live.status.breached == 1)
        d.ingest([ev("r", 14_500, .resolved)], at: (t0 + 14_500) * 1000)
        #expect(d.live.status == IncidentCounts())
    }

    @Test("counts by contract and priority move with a priority change and leave zeros behind")
    func groupCounts() {
        func groups(_ d: ManualDriver) -> [String] {
            d.live.countsByGroup.map {
                "\($0.group.contract)/\($0.group.priority) \($0.counts.open) \($0.counts.atRisk) \($0.counts.breached)"
            }
        }
        var d = driver()
        d.ingest([ev("o", 0, .opened, priority: "P3")], at: t0 * 1000)
        #expect(groups(d) == ["live/P3 1 0 0"])
        d.run(until: (t0 + 7_300) * 1000)
        #expect(groups(d) == ["live/P3 1 1 0"])
        d.ingest([ev("u", 7_300, .updated, priority: "P1")], at: (t0 + 7_300) * 1000)
        #expect(groups(d) == ["live/P3 0 0 0", "live/P1 1 0 1"])
        #expect(d.live.counts(contract: "live") == d.live.status)
        d.ingest([ev("r", 7_400, .resolved)], at: (t0 + 7_400) * 1000)
        #expect(groups(d) == ["live/P3 0 0 0", "live/P1 0 0 0"])
    }

    @Test("after the wall clock steps back, nothing armed for the old time fires early")
    func clockStepBack() {
        var d = driver()
        d.ingest([ev("o", 0, .opened, priority: "P1")], at: t0 * 1000)
        d.run(until: (t0 + 100) * 1000)
        // The clock jumps forward an hour, then back to where it was.
        d.log += d.live.advance(toMilliseconds: (t0 + 3_700) * 1000)
        #expect(d.log.contains { $0.id == "INC/reaction/breach/100%" }, "a forward step makes what is due fire")
        var e = driver()
        e.ingest([ev("o", 0, .opened, priority: "P1")], at: t0 * 1000)
        e.run(until: (t0 + 100) * 1000)
        e.log += e.live.resetClock(nowMilliseconds: (t0 + 50) * 1000)
        e.now = (t0 + 50) * 1000
        e.run(until: (t0 + 449) * 1000)
        #expect(e.log.isEmpty, "nothing before the 50 % warning at +450")
        e.run(until: (t0 + 451) * 1000)
        #expect(e.lines(t0) == ["warning reaction 50% due=+450 decided=+450000ms"])
    }

    @Test("late events: within the allowed lateness there is no breach; after it, the breach is retracted")
    func lateEvents() {
        var d = driver()
        d.ingest([ev("o", 0, .opened, priority: "P1")], at: t0 * 1000)
        // Acknowledged at +898, arriving at +903: inside the 5 s lateness of the +900 deadline.
        d.ingest([ev("a", 898, .acknowledged)], at: (t0 + 903) * 1000)
        d.run(until: (t0 + 1_000) * 1000)
        #expect(!d.log.contains { $0.kind == .breach && $0.metric == .reaction })

        var e = driver()
        e.ingest([ev("o", 0, .opened, priority: "P1")], at: t0 * 1000)
        e.run(until: (t0 + 1_000) * 1000)
        #expect(e.log.contains { $0.id == "INC/reaction/breach/100%" })
        e.ingest([ev("a", 890, .acknowledged)], at: (t0 + 1_000) * 1000)
        let retraction = e.log.last
        #expect(retraction?.id == "INC/reaction/breach/100%/retracted")
        #expect(retraction?.kind == .retraction)
        e.ingest([ev("b", 900, .updated, status: "x")], at: (t0 + 1_001) * 1000)
        #expect(e.log.filter { $0.kind == .retraction }.count == 1, "retracted once")
    }

    @Test(
        "an OLA hold warns and breaches to its line's endpoints (escalations to theirs), counts for no standing, and a handoff starts the next line's hold"
    )
    func olaNotifications() {
        let cal = BusinessCalendar.twentyFourSeven()
        let olas = OLABook(lines: [
            "L1": OLATerms(
                unit: "line:L1", calendar: cal, pauseOn: [], targets: ["P1": 600],
                warnAt: [Percentage(parsing: "50%")!],
                escalations: [Escalation(at: Percentage(parsing: "200%")!, notify: ["duty-manager"])],
                notify: ["l1-desk"]),
            "L2": OLATerms(
                unit: "line:L2", calendar: cal, pauseOn: [], targets: ["P1": 7_200], warnAt: [], escalations: [],
                notify: ["l2-desk"]),
        ])
        var d = ManualDriver(
            live: LiveEngine(
                engine: IngestEngine(contracts: [liveContract().with(olas: olas)]), nowMilliseconds: t0 * 1000),
            now: t0 * 1000)
        var open = ev("o", 0, .opened, priority: "P1")
        open.level = "L1"
        var handoff = ev("h", 1_500, .updated)
        handoff.level = "L2"
        d.ingest([open, ev("a", 60, .acknowledged)], at: t0 * 1000)
        d.run(until: (t0 + 1_400) * 1000)
        // A standing is what the customer was promised: the OLA breach leaves the incident fine.
        #expect(d.live.counts(contract: "live").breached == 0)
        #expect(d.live.counts(contract: "live").atRisk == 0)
        d.ingest([handoff], at: (t0 + 1_500) * 1000)
        d.run(until: (t0 + 2_000) * 1000)
        #expect(
            d.log.filter { $0.metric.isOLA }.map { "\($0.id) due=+\($0.due.seconds - t0) notify=\($0.notify)" } == [
                "INC/ola:line:L1#1/warning/50% due=+300 notify=[\"l1-desk\"]",
                "INC/ola:line:L1#1/breach/100% due=+600 notify=[\"l1-desk\"]",
                "INC/ola:line:L1#1/escalation/200% due=+1200 notify=[\"duty-manager\"]",
            ])
        let verdict = d.live.engine.evaluate(incident: "INC", asOf: Instant(t0 + 2_000)).verdict
        #expect(
            verdict?.clocks.filter(\.metric.isOLA).map { "\($0.metric) \($0.outcome.rawValue) \($0.elapsed)" } == [
                "ola:line:L1#1 breached 1500", "ola:line:L2#1 running 500",
            ])
    }

    @Test(
        "a breach that comes back after its retraction is announced again, with an id of its own; across a restart too")
    func breachAfterRetraction() {
        var d = driver()
        d.ingest([ev("o", 0, .opened, priority: "P1"), ev("a", 60, .acknowledged)], at: t0 * 1000)
        d.run(until: (t0 + 14_500) * 1000)
        // A late event says it was resolved in time; then it is reopened and runs out again.
        d.ingest([ev("r", 14_000, .resolved)], at: (t0 + 14_500) * 1000)
        d.ingest([ev("re", 14_600, .reopened)], at: (t0 + 14_600) * 1000)
        d.run(until: (t0 + 15_500) * 1000)
        let breaches = d.log.filter { $0.metric == .resolution && $0.kind != .warning }
        #expect(
            breaches.map { "\($0.kind.rawValue) \($0.id) due=+\($0.due.seconds - t0)" } == [
                "breach INC/resolution/breach/100% due=+14400",
                "breach.retracted INC/resolution/breach/100%/retracted due=+14400",
                "breach INC/resolution/breach/100%/2 due=+15000",
            ])
        // A restart that loads the outbox announces nothing again, and a second retraction and
        // return take /2/retracted and /3.
        var restarted = ManualDriver(
            live: LiveEngine(
                engine: d.live.engine, nowMilliseconds: (t0 + 15_500) * 1000, emitted: d.log),
            now: (t0 + 15_500) * 1000)
        restarted.run(until: (t0 + 15_600) * 1000)
        #expect(restarted.log.isEmpty, "\(restarted.lines(t0))")
        restarted.ingest([ev("r2", 14_900, .resolved)], at: (t0 + 15_600) * 1000)
        restarted.ingest([ev("re2", 15_700, .reopened)], at: (t0 + 15_700) * 1000)
        restarted.run(until: (t0 + 16_000) * 1000)
        #expect(
            restarted.log.filter { $0.metric == .resolution && $0.kind != .warning }.map(\.id) == [
                "INC/resolution/breach/100%/2/retracted", "INC/resolution/breach/100%/3",
            ])
    }

    @Test("a breach that a late pause moves is retracted and announced again at its true instant")
    func movedBreach() {
        var d = driver()
        d.ingest([ev("o", 0, .opened, priority: "P1"), ev("a", 60, .acknowledged)], at: t0 * 1000)
        d.run(until: (t0 + 14_500) * 1000)
        // Late news: the customer was waited for from +10 000 to +12 000, so the 4 h ran out
        // at +16 400, not at +14 400.
        d.ingest(
            [ev("p", 10_000, .updated, status: "pending_customer"), ev("w", 12_000, .updated, status: "work")],
            at: (t0 + 14_600) * 1000)
        d.run(until: (t0 + 16_500) * 1000)
        #expect(
            d.log.filter { $0.metric == .resolution && $0.kind != .warning }.map {
                "\($0.kind.rawValue) \($0.id) due=+\($0.due.seconds - t0)"
            } == [
                "breach INC/resolution/breach/100% due=+14400",
                "breach.retracted INC/resolution/breach/100%/retracted due=+14400",
                "breach INC/resolution/breach/100%/2 due=+16400",
            ])
    }

    @Test(
        "a breach announced stands when its incident is refreshed after the catch-up window: history is not retracted")
    func announcedBreachOutlivesTheWindow() {
        var d = driver()
        d.ingest([ev("o", 0, .opened, priority: "P1")], at: t0 * 1000)
        d.run(until: (t0 + 40_000) * 1000)
        #expect(d.log.contains { $0.id == "INC/reaction/breach/100%" })
        #expect(d.log.contains { $0.id == "INC/resolution/breach/100%" })
        // Two days on, an update arrives: every crossing is now older than the 24 h window.
        d.ingest([ev("u", 2 * 86_400, .updated, status: "waiting")], at: (t0 + 2 * 86_400) * 1000)
        #expect(!d.log.contains { $0.kind == .retraction }, "\(d.lines(t0))")
    }

    @Test("times with a fraction of a second: every threshold is decided at or after its exact instant, within 3 s")
    func fractionsNeverEarly() {
        let seed = testSeed()
        var random = SeededRandom(seed: seed)
        func event(_ id: String, _ ms: Int64, _ type: EventType, status: String? = nil) -> SLAEvent {
            var e = ev(id, 0, type, priority: type == .opened ? "P1" : nil, status: status)
            e.time = Instant(ms / 1000)
            e.fractional = ms % 1000 != 0
            return e
        }
        for round in 0..<200 {
            // Opened, paused and resumed at random milliseconds (the resolution clock pauses).
            let open = t0 * 1000 + Int64(random.next() % 1000)
            let pause = open + 100_000 + Int64(random.next() % 3_000_000)
            let resume = pause + 1 + Int64(random.next() % 7_200_000)
            var d = driver(at: t0 * 1000 - 1000)
            d.ingest([event("o", open, .opened)], at: open)
            d.ingest([event("p", pause, .updated, status: "pending_customer")], at: pause)
            d.ingest([event("r", resume, .updated, status: "in_progress")], at: resume)
            d.run(until: (t0 + 100_000) * 1000)
            #expect(d.log.count == 8, "seed \(seed) round \(round): \(d.lines(t0))")
            for n in d.log {
                // The exact instant on the millisecond times: the reaction clock runs from the
                // opening; the resolution clock also stops from the pause to the resumption.
                let share = Int64(n.percent.description.dropLast())!
                let exact: Int64
                if n.metric == .reaction {
                    exact = open + share * 9_000
                } else {
                    let needed = share * 144_000
                    exact = needed <= pause - open ? open + needed : resume + needed - (pause - open)
                }
                let lateness: Int64 = n.kind == .breach ? 5_000 : 0
                #expect(
                    n.decidedAtMilliseconds >= exact + lateness && n.decidedAtMilliseconds < exact + lateness + 3_000,
                    "seed \(seed) round \(round): \(n.id) decided at \(n.decidedAtMilliseconds), exact \(exact)")
            }
        }
    }
}

@Suite("live engine: incident listings")
struct LiveListingTests {
    @Test("at risk by least time left, breached by most overdue, pages by cursor, filter by contract")
    func listing() throws {
        let contract = try #require(listingContract())
        var live = LiveEngine(engine: IngestEngine(contracts: [contract]), nowMilliseconds: 0, allowedLateness: 0)
        let now: Int64 = 1_800_000_000
        var events: [SLAEvent] = []
        // Reaction 1 h, warning at 50 %: opened 10, 40, 45, 90, 150 minutes ago.
        for (i, minutes) in [10, 40, 45, 90, 150].enumerated() {
            var e = SLAEvent(id: "o\(i)", time: Instant(now - Int64(minutes) * 60), type: .opened)
            e.incident = "I\(i)"
            e.contract = "c"
            e.priority = "P1"
            events.append(e)
        }
        _ = live.ingest(events, nowMilliseconds: now * 1000)
        #expect(live.status.open == 5 && live.status.atRisk == 2 && live.status.breached == 2)
        #expect(live.list(.atRisk, limit: 10).incidents.map(\.incident) == ["I2", "I1"])
        #expect(live.list(.breached, limit: 10).incidents.map(\.incident) == ["I4", "I3"])
        let first = live.list(.open, limit: 2)
        #expect(first.incidents.map(\.incident) == ["I4", "I3"] && first.more)
        let second = live.list(.open, after: first.incidents.last, limit: 2)
        #expect(second.incidents.map(\.incident) == ["I2", "I1"] && second.more)
        let third = live.list(.open, after: second.incidents.last, limit: 2)
        #expect(third.incidents.map(\.incident) == ["I0"] && !third.more)
        #expect(live.list(.open, contract: "other", limit: 5).incidents.isEmpty)
        #expect(live.counts(contract: "c").open == 5)
        let token = try #require(first.incidents.last?.token)
        #expect(IncidentCursor(token: token) == first.incidents.last)
    }

    func listingContract() -> Contract? {
        let cal = BusinessCalendar.twentyFourSeven()
        return Contract(
            id: "c", customer: "C", calendar: cal, fee: Money(parsing: "100.00", currency: Currency(code: "EUR")!)!,
            priorities: [PriorityTerms(name: "P1", reaction: 3600, resolution: 36_000, calendar: cal)],
            warnAt: [Percentage(parsing: "50%")!])
    }
}
