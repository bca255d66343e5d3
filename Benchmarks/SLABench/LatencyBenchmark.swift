import Foundation
import SLACore
import SLAStore

/// Deadline-to-outbox latency with many open incidents: the live engine holds
/// every incident's thresholds armed; at each sampled deadline, the time to
/// advance the wheel, re-decide the incident and commit the decision to SQLite
/// (synchronous = FULL) is what a breach waits for after the daemon wakes.
/// Wake-up jitter itself is covered by the real-time test of the daemon.
func runLatencyBenchmark(incidents: Int) throws {
    let cal = BusinessCalendar.twentyFourSeven()
    let contract = Contract(
        id: "lat", customer: "Latency", calendar: cal, fee: Money(parsing: "1.00", currency: Currency(code: "EUR")!)!,
        priorities: [PriorityTerms(name: "P1", reaction: 3_600, resolution: 86_400, calendar: cal)],
        warnAt: [Percentage(parsing: "50%")!, Percentage(parsing: "80%")!])
    let start: Int64 = 1_900_000_000
    var engine = IngestEngine(contracts: [contract])
    var rng = SystemRandomNumberGenerator()
    var events: [SLAEvent] = []
    events.reserveCapacity(incidents)
    for i in 0..<incidents {
        events.append(
            SLAEvent(
                id: "o-\(i)", time: Instant(start + Int64.random(in: 0..<3_600, using: &rng)), type: .opened,
                incident: "INC-\(i)", contract: "lat", priority: "P1"))
    }
    var clock = ContinuousClock.now
    _ = engine.add(events)
    var live = LiveEngine(engine: engine, nowMilliseconds: start * 1000 + 3_600_000, allowedLateness: 0)
    _ = live.catchUp(incidents: engine.incidentIDs, nowMilliseconds: (start + 3_600) * 1000)
    print(
        "deadline-to-outbox latency: \(incidents) open incidents, \(live.armedCount) timers armed (setup \(clock.duration(to: .now)))"
    )

    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("slad-latency-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let store = try SLAStore(path: dir.appendingPathComponent("slad.sqlite").path)

    var decideSamples: [Double] = []
    var totalSamples: [Double] = []
    var decided = 0
    var now = (start + 3_600) * 1000
    func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) / 1e15 }
    for _ in 0..<1_000 {
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
    }
    func pct(_ xs: [Double], _ p: Double) -> Double {
        let s = xs.sorted()
        return s[min(s.count - 1, Int(Double(s.count) * p))]
    }
    print(
        String(
            format: "advance + decide:            p50 %.3f ms, p99 %.3f ms  (%d deadlines, %d decisions)",
            pct(decideSamples, 0.5), pct(decideSamples, 0.99), decideSamples.count, decided))
    print(
        String(
            format: "+ commit (WAL, sync FULL):   p50 %.3f ms, p99 %.3f ms",
            pct(totalSamples, 0.5), pct(totalSamples, 0.99)))
}
