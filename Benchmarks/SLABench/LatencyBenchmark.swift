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
    let cal = BusinessCalendar.twentyFourSeven()
    let contract = Contract(
        id: "lat", customer: "Latency", calendar: cal, fee: Money(parsing: "1.00", currency: Currency(code: "EUR")!)!,
        priorities: [
            PriorityTerms(name: "P1", reaction: 3_600, resolution: 86_400, calendar: cal),
            PriorityTerms(name: "P4", reaction: 30 * 86_400, resolution: 60 * 86_400, calendar: cal),
        ],
        warnAt: [Percentage(parsing: "50%")!, Percentage(parsing: "80%")!])
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

private func measure(_ label: String, _ contract: Contract, _ events: [SLAEvent], from now: Int64) throws {
    var clock = ContinuousClock.now
    var engine = IngestEngine(contracts: [contract])
    _ = engine.add(events)
    var live = LiveEngine(engine: engine, nowMilliseconds: now, allowedLateness: 0)
    _ = live.catchUp(incidents: engine.incidentIDs, nowMilliseconds: now)
    print("\(label): \(live.status.open) open, \(live.armedCount) timers armed (setup \(clock.duration(to: .now)))")

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
    while totalSamples.count < 1_000 {
        guard let wake = live.nextWakeupMilliseconds else { break }
        now = max(now, wake)
        clock = ContinuousClock.now
        var batch = Batch()
        batch.notifications = live.advance(toMilliseconds: now)
        let decide = clock.duration(to: .now)
        guard !batch.notifications.isEmpty else { continue }
        try store.commit(batch)
        let total = clock.duration(to: .now)
        decided += batch.notifications.count
        decideSamples.append(ms(decide))
        totalSamples.append(ms(total))
        decideTotal += ms(decide)
        commitTotal += ms(total) - ms(decide)
    }
    func pct(_ xs: [Double], _ p: Double) -> Double {
        let s = xs.sorted()
        return s[min(s.count - 1, Int(Double(s.count) * p))]
    }
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
}
