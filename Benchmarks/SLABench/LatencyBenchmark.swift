import Foundation
import SLACore
import SLAStore
import TestSupport

/// Deadline-to-outbox latency with many open incidents: the live engine holds
/// every incident's thresholds armed; at each deadline, the time to advance the
/// wheel, re-decide the incidents due and commit the decisions to SQLite (as the
/// daemon does: one transaction, WAL, synchronous NORMAL for decisions) is what a
/// decision waits for after the daemon wakes. Every decision of a deadline waits
/// for the whole deadline, so the figures are per deadline. Wake-up jitter itself
/// is covered by the real-time test of the daemon.
///
/// Two shapes of load, both with `incidents` open incidents and two timers each:
/// - **steady**: a backlog of low-priority incidents opened over the last 30 days
///   (thresholds days away), and one urgent incident opening per second, whose
///   thresholds come due while the benchmark runs — a few decisions per deadline;
/// - **burst**: every incident opened within one hour, about 280 per second, so
///   each deadline second carries about 830 decisions (an outage storm).
func runLatencyBenchmark(incidents: Int) throws {
    let contract = latencyContract()
    let start: Int64 = 1_900_000_000
    var rng = SeededRandom(seed: 20_261_206)
    // Helpdesks number incidents in the order they open, so incidents opened in the same second
    // have neighbouring ids (and their outbox rows neighbouring keys).
    func events(_ openings: [(at: Int64, priority: String)]) -> [SLAEvent] {
        openings.sorted { $0.at < $1.at }.enumerated().map { i, o in
            SLAEvent(
                id: "o-\(i)", time: Instant(o.at), type: .opened, incident: "INC-\(1_000_000 + i)", contract: "lat",
                priority: o.priority)
        }
    }
    let urgent = 3_600
    let steady = events(
        (0..<(incidents - urgent)).map { _ in (start - Int64.random(in: 1...(30 * 86_400), using: &rng), "P4") }
            + (0..<urgent).map { (start + Int64($0), "P1") })
    try measure(
        "steady: \(incidents - urgent) backlog + 1 urgent/s", contract, steady, from: (start + 3_600) * 1000)
    let burst = events((0..<incidents).map { _ in (start + Int64.random(in: 0..<3_600, using: &rng), "P1") })
    try measure("burst: \(incidents) opened within 1 h", contract, burst, from: (start + 3_600) * 1000)
}

/// What one measurement saw: per-deadline times, and the contract's own decisions (OLA holds'
/// left out), which a comparison with and without OLAs checks are the same.
struct LatencyRun {
    var decide: [Double] = []
    var total: [Double] = []
    var contractDecisions: [String] = []
    /// Every decision taken, OLA holds' included.
    var decisions = 0
}

/// The latency benchmarks' contract: P1 (an hour to react) and P4 (30 days), warnings at 50 %
/// and 80 %, around the clock.
private func latencyContract() -> Contract {
    let cal = BusinessCalendar.twentyFourSeven()
    return Contract(
        id: "lat", customer: "Latency", calendar: cal, fee: Money(parsing: "1.00", currency: Currency(code: "EUR")!)!,
        priorities: [
            PriorityTerms(name: "P1", reaction: 3_600, resolution: 86_400, calendar: cal),
            PriorityTerms(name: "P4", reaction: 30 * 86_400, resolution: 60 * 86_400, calendar: cal),
        ],
        warnAt: [Percentage(parsing: "50%")!, Percentage(parsing: "80%")!])
}

@discardableResult
private func measure(
    _ label: String, _ contract: Contract, _ events: [SLAEvent], from now: Int64, until horizon: Int64? = nil,
    quiet: Bool = false
) throws -> LatencyRun {
    var clock = ContinuousClock.now
    var engine = IngestEngine(contracts: [contract])
    _ = engine.add(events)
    var live = LiveEngine(engine: engine, nowMilliseconds: now, allowedLateness: 0)
    _ = live.catchUp(nowMilliseconds: now)
    if !quiet {
        print("\(label): \(live.status.open) open, \(live.armedCount) timers armed (setup \(clock.duration(to: .now)))")
    }

    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("slad-latency-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let store = try SLAStore(path: dir.appendingPathComponent("slad.sqlite").path)

    var decideSamples: [Double] = []
    var totalSamples: [Double] = []
    var decided = 0
    var decideTotal = 0.0
    var commitTotal = 0.0
    var now = now
    func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) / 1e15 }
    var contractDecisions: [String] = []
    while horizon != nil || totalSamples.count < 1_000 {
        guard let wake = live.nextWakeupMilliseconds, wake <= horizon ?? .max else { break }
        now = max(now, wake)
        clock = ContinuousClock.now
        var batch = Batch()
        batch.notifications = live.advance(toMilliseconds: now)
        let decide = clock.duration(to: .now)
        guard !batch.notifications.isEmpty else { continue }
        try store.commit(batch)
        let total = clock.duration(to: .now)
        decided += batch.notifications.count
        contractDecisions += batch.notifications.filter { !$0.metric.isOLA }.map(\.id)
        decideSamples.append(ms(decide))
        totalSamples.append(ms(total))
        decideTotal += ms(decide)
        commitTotal += ms(total) - ms(decide)
    }
    let run = LatencyRun(
        decide: decideSamples, total: totalSamples, contractDecisions: contractDecisions.sorted(), decisions: decided)
    if quiet { return run }
    print(
        String(
            format:
                "  advance + decide:          p50 %7.3f ms, p99 %7.3f ms  (%d deadlines, %d decisions, %.1f per deadline)",
            pct(decideSamples, 0.5), pct(decideSamples, 0.99), decideSamples.count, decided,
            Double(decided) / Double(max(1, decideSamples.count))))
    print(
        String(
            format: "  deadline → outbox:         p50 %7.3f ms, p99 %7.3f ms  (goal p99 ≤ 2 ms)",
            pct(totalSamples, 0.5), pct(totalSamples, 0.99)))
    print(
        String(
            format: "  per decision:              decide %.1f µs, commit %.1f µs",
            decideTotal * 1000 / Double(max(1, decided)), commitTotal * 1000 / Double(max(1, decided))))
    return run
}

private func pct(_ xs: [Double], _ p: Double) -> Double {
    let s = xs.sorted()
    return s[min(s.count - 1, Int(Double(s.count) * p))]
}

/// Issue 24's deadline latency: the steady load above, with and without OLA holds for the
/// line and the team holding each incident (both L1; a hold's target 30 min for P1 and 2 days
/// for P4, a warning at 80 %), so each incident has four clocks armed instead of two. Both
/// sides read the same events (which name their line and team either way) and run the same
/// hour of deadlines; the contract's own decisions must be the same on both sides, or the
/// run stops. Rounds alternate the side that goes first; the per-deadline p50 and p99 of each
/// round give the ratios. Policies do not enter: they act when an event is read, not at a
/// deadline.
func runOLALatencyBenchmark(incidents: Int, runs: Int) throws {
    let cal = BusinessCalendar.twentyFourSeven()
    let plain = latencyContract()
    func terms(_ unit: String) -> OLATerms {
        OLATerms(
            unit: unit, calendar: cal, pauseOn: [], targets: ["P1": 1_800, "P4": 2 * 86_400],
            warnAt: [Percentage(parsing: "80%")!], escalations: [], notify: [])
    }
    let withOLAs = plain.with(olas: OLABook(lines: ["L1": terms("line:L1")], teams: ["L1": terms("team:L1")]))
    let start: Int64 = 1_900_000_000
    var rng = SeededRandom(seed: 20_261_206)
    let urgent = 3_600
    let openings =
        ((0..<(incidents - urgent)).map { _ in (start - Int64.random(in: 1...(30 * 86_400), using: &rng), "P4") }
        + (0..<urgent).map { (start + Int64($0), "P1") }).sorted { $0.0 < $1.0 }
    let events = openings.enumerated().map { i, o in
        SLAEvent(
            id: "o-\(i)", time: Instant(o.0), type: .opened, incident: "INC-\(1_000_000 + i)", contract: "lat",
            priority: o.1, team: "L1", level: "L1")
    }
    let from = (start + 3_600) * 1000
    let until = from + 3_600 * 1000
    print(
        "deadline → outbox with and without OLA holds: \(incidents) open (steady: backlog + 1 urgent/s), one hour of deadlines, \(runs) rounds"
    )
    var p50: [Double] = []
    var p99: [Double] = []
    var perDecisionRatio: [Double] = []
    for round in 1...runs {
        var results: [Bool: LatencyRun] = [:]
        for olas in round % 2 == 1 ? [false, true] : [true, false] {
            results[olas] = try measure(
                olas ? "with OLAs" : "without", olas ? withOLAs : plain, events, from: from, until: until, quiet: true)
        }
        let a = results[false]!
        let b = results[true]!
        guard a.contractDecisions == b.contractDecisions, !a.contractDecisions.isEmpty else {
            print("round \(round): the contract's decisions differ with OLA holds on: they must not change them")
            exit(1)
        }
        p50.append(pct(b.total, 0.5) / pct(a.total, 0.5))
        p99.append(pct(b.total, 0.99) / pct(a.total, 0.99))
        let perDecision = { (r: LatencyRun) in r.total.reduce(0, +) * 1000 / Double(r.decisions) }
        perDecisionRatio.append(perDecision(b) / perDecision(a))
        print(
            String(
                format:
                    "  round %d: without p50 %.3f ms (deciding %.3f) p99 %.3f ms (%d deadlines, %d decisions, %.1f µs each); with OLAs p50 %.3f ms (deciding %.3f) p99 %.3f ms (%d deadlines, %d decisions, %.1f µs each); the %d contract decisions the same",
                round, pct(a.total, 0.5), pct(a.decide, 0.5), pct(a.total, 0.99), a.total.count, a.decisions,
                perDecision(a), pct(b.total, 0.5), pct(b.decide, 0.5), pct(b.total, 0.99), b.total.count, b.decisions,
                perDecision(b),
                a.contractDecisions.count))
    }
    for (name, r) in [("p50", p50.sorted()), ("p99", p99.sorted())] {
        print(
            String(
                format: "deadline → outbox %@ with OLAs / without: %.3f [%.3f–%.3f] (goal ≤ 1.20)", name,
                r[r.count / 2], r.first!, r.last!))
    }
    let r = perDecisionRatio.sorted()
    print(
        String(
            format: "time per decision with OLAs / without: %.3f [%.3f–%.3f]", r[r.count / 2], r.first!, r.last!))
}
