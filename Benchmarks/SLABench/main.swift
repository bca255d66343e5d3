// Calendar arithmetic and clock evaluation, each against a naive
// minute-by-minute walk over the same calendar definition, measured in the
// same run. Absolute numbers vary with the machine; the ratios are the claim.
//
// Run: swift build -c release --static-swift-stdlib --product SLABench && .build/release/SLABench [--quick]
import Foundation
import SLACore
import SLAIngest

/// Keeps results alive so the optimizer cannot drop the measured work.
nonisolated(unsafe) var sink: Int64 = 0

struct Measurement {
    var operations: Int
    var seconds: Double
    var perSecond: Double { Double(operations) / seconds }
}

/// Runs `body` over `inputs` repeatedly for at least `minimum` seconds; best of three rounds.
func measure<T>(_ inputs: [T], minimum: Double, _ body: (T) -> Int64) -> Measurement {
    var best: Measurement?
    for _ in 0..<3 {
        let clock = ContinuousClock()
        let start = clock.now
        var ops = 0
        var elapsed = 0.0
        repeat {
            for x in inputs { sink &+= body(x) }
            ops += inputs.count
            let d = clock.now - start
            elapsed = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        } while elapsed < minimum
        let m = Measurement(operations: ops, seconds: elapsed)
        if best == nil || m.perSecond > best!.perSecond { best = m }
    }
    return best!
}

/// The straightforward implementation: step through time a minute at a time and ask the definition.
struct NaiveCalendar {
    let definition: CalendarDefinition

    func isWorking(_ t: Int64) -> Bool {
        let zone = definition.zone
        let date = zone.localDate(at: Instant(t))
        let secondOfDay = Int32(t + zone.offset(at: Instant(t)) - date.daysSinceEpoch * 86_400)
        return definition.spans(on: date).contains { secondOfDay >= $0.start && secondOfDay < $0.end }
    }

    func elapsed(_ a: Int64, _ b: Int64) -> Int64 {
        var total: Int64 = 0
        var m = a
        while m < b {
            if isWorking(m) { total += 60 }
            m += 60
        }
        return total
    }

    func adding(_ d: Int64, to a: Int64) -> Int64 {
        var left = d
        var m = a
        while left > 0 {
            if isWorking(m) { left -= 60 }
            m += 60
        }
        return m
    }
}

let quick = CommandLine.arguments.contains("--quick")
if CommandLine.arguments.contains("wheel") {
    runWheelBenchmark(
        held: quick ? 100_000 : 1_000_000, expiring: quick ? 1_000_000 : 10_000_000,
        operations: quick ? 1_000_000 : 5_000_000)
    exit(0)
}
if CommandLine.arguments.contains("latency") {
    try runLatencyBenchmark(incidents: quick ? 100_000 : 1_000_000)
    exit(0)
}
if CommandLine.arguments.contains("ingest") {
    try runIngestBenchmark(lines: quick ? 200_000 : 1_000_000)
    exit(0)
}
let minimum = quick ? 0.2 : 1.0
let zoneStart = ContinuousClock.now
let berlin = ZoneRules(timeZone: TimeZone(identifier: "Europe/Berlin")!)
let zoneTime = ContinuousClock.now - zoneStart
let week: [DaySpan] = [DaySpan(parsing: "08:00-12:00")!, DaySpan(parsing: "13:00-17:00")!]
let definition = CalendarDefinition(
    id: "office", zone: berlin, weekly: WeeklyHours(days: [week, week, week, week, week, [], []]),
    holidays: [LocalDate(year: 2026, month: 12, day: 25), LocalDate(year: 2026, month: 12, day: 26)])
let buildStart = ContinuousClock.now
let calendar = BusinessCalendar(definition)
let buildTime = ContinuousClock.now - buildStart
let naive = NaiveCalendar(definition: definition)

var rng = SystemRandomNumberGenerator()
let base: Int64 = 1_767_222_000  // 2026-01-01
// Pairs up to 5 days apart, minute-aligned so both sides compute the same thing.
let pairs: [(Int64, Int64)] = (0..<2_000).map { _ in
    let a = (base + Int64.random(in: 0..<(330 * 86_400), using: &rng)) / 60 * 60
    return (a, a + Int64.random(in: 0..<(5 * 86_400), using: &rng) / 60 * 60)
}
let adds: [(Int64, Int64)] = pairs.map { ($0.0, Int64.random(in: 1..<(16 * 60), using: &rng) * 60) }

// Correctness first: a benchmark of wrong answers is worthless.
for (a, b) in pairs.prefix(200) {
    precondition(calendar.elapsed(from: Instant(a), to: Instant(b)) == naive.elapsed(a, b), "elapsed disagrees")
}
for (a, d) in adds.prefix(200) {
    precondition(calendar.adding(business: d, to: Instant(a))!.seconds == naive.adding(d, to: a), "add disagrees")
}

print("slad benchmarks (\(quick ? "quick" : "full") run; ratios compare to a naive walk measured now)")
print("zone table build (Europe/Berlin, 1990–2099, once per zone): \(zoneTime)")
print("calendar table build (1990–2099, 2 spans/day): \(buildTime)")
print("")
func row(_ name: String, _ fast: Measurement, _ slow: Measurement) {
    let ratio = fast.perSecond / slow.perSecond
    print(
        name.padding(toLength: 34, withPad: " ", startingAt: 0)
            + String(format: "%14.0f ops/s   naive %10.0f ops/s   ratio %8.1fx", fast.perSecond, slow.perSecond, ratio))
}

let onlyDecode = CommandLine.arguments.contains("decode")
if !onlyDecode {
    let elapsedFast = measure(pairs, minimum: minimum) { calendar.elapsed(from: Instant($0.0), to: Instant($0.1)) }
    let elapsedSlow = measure(Array(pairs.prefix(200)), minimum: minimum) { naive.elapsed($0.0, $0.1) }
    row("business elapsed(a, b), ≤ 5 days", elapsedFast, elapsedSlow)

    let addFast = measure(adds, minimum: minimum) { calendar.adding(business: $0.1, to: Instant($0.0))!.seconds }
    let addSlow = measure(Array(adds.prefix(200)), minimum: minimum) { naive.adding($0.1, to: $0.0) }
    row("instant + business duration, ≤ 16h", addFast, addSlow)

    // Clock evaluation: a typical incident (open, ack, pause, resume, priority change, resolve).
    let contract = Contract(
        id: "bench", customer: "Bench", calendar: calendar,
        fee: Money(parsing: "1000.00", currency: Currency(code: "EUR")!)!,
        priorities: [
            PriorityTerms(name: "P1", reaction: 1800, resolution: 8 * 3600, calendar: calendar),
            PriorityTerms(name: "P2", reaction: 7200, resolution: 16 * 3600, calendar: calendar),
        ], pauseOn: ["pending_customer"], warnAt: [Percentage(parsing: "50%")!, Percentage(parsing: "80%")!],
        escalations: [Escalation(at: Percentage(parsing: "200%")!, notify: [])])
    let incidents: [[SLAEvent]] = pairs.prefix(500).enumerated().map { i, p in
        let a = p.0
        let span = max(p.1 - p.0, 3600)
        let id = "INC-\(i)"
        return [
            SLAEvent(id: "\(id)-1", time: Instant(a), type: .opened, incident: id, contract: "bench", priority: "P2"),
            SLAEvent(id: "\(id)-2", time: Instant(a + span / 10), type: .acknowledged, incident: id),
            SLAEvent(
                id: "\(id)-3", time: Instant(a + span / 5), type: .updated, incident: id, status: "pending_customer"),
            SLAEvent(id: "\(id)-4", time: Instant(a + span / 3), type: .updated, incident: id, status: "in_progress"),
            SLAEvent(id: "\(id)-5", time: Instant(a + span / 2), type: .updated, incident: id, priority: "P1"),
            SLAEvent(id: "\(id)-6", time: Instant(a + span), type: .resolved, incident: id),
        ]
    }
    let asOf = Instant(base + 400 * 86_400)
    let evalFast = measure(incidents, minimum: minimum) { events in
        let v = IncidentEvaluator.evaluate(
            incident: events[0].incident!, events: events, contract: contract, asOf: asOf)
        return v.verdict!.clocks.reduce(0) { $0 + $1.elapsed }
    }
    // The naive clock: the same running segments, each summed minute by minute.
    let evalSlow = measure(Array(incidents.prefix(50)), minimum: minimum) { events in
        let t = events.map(\.time.seconds)
        return naive.elapsed(t[0], t[1]) + naive.elapsed(t[0], t[2]) + naive.elapsed(t[3], t[5])
    }
    row("incident evaluation (6 events)", evalFast, evalSlow)

}

// Event decoding: generated native JSONL, the fast byte scanner vs Foundation's JSONDecoder per line.
let lineCount = quick ? 200_000 : 1_000_000
var jsonl = ""
jsonl.reserveCapacity(lineCount * 190)
let kinds = ["incident.opened", "incident.acknowledged", "incident.updated", "incident.resolved", "incident.closed"]
for n in 0..<lineCount {
    let t = ISO8601.format(Instant(base + Int64(n) * 7), in: berlin)
    jsonl +=
        #"{"id":"e-\#(n)","time":"\#(t)","type":"\#(kinds[n % 5])","incident":"INC-\#(n / 5)","contract":"acme-gold","service":"portal","priority":"P\#(n % 3 + 1)","status":"in_progress","team":"L\#(n % 2 + 1)"}"#
    jsonl += "\n"
}
let fastDecoder = JSONLEventDecoder(source: "bench")
let referenceDecoder = ReferenceJSONLDecoder(source: "bench")
func timed(_ body: () -> Int) -> (Int, Double) {
    let start = ContinuousClock.now
    let n = body()
    let d = ContinuousClock.now - start
    return (n, Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
}
let (fastCount, fastSeconds) = timed { fastDecoder.decodeAll(jsonl).events.count }
let sampleLines = jsonl.split(separator: "\n").prefix(lineCount / 5)
let (refCount, refSeconds) = timed {
    var n = 0
    for (i, line) in sampleLines.enumerated() {
        if case .success = referenceDecoder.decode(line: line, number: i + 1) { n += 1 }
    }
    return n
}
precondition(fastCount == lineCount && refCount == sampleLines.count, "decoders must decode every generated line")
let decodeFast = Measurement(operations: fastCount, seconds: fastSeconds)
let decodeSlow = Measurement(operations: refCount, seconds: refSeconds)
print("")
print("event decoding, \(lineCount) JSONL lines (\(jsonl.utf8.count / 1_048_576) MiB); baseline: JSONDecoder per line")
let decodeRatio = decodeFast.perSecond / decodeSlow.perSecond
print(
    "decode only".padding(toLength: 34, withPad: " ", startingAt: 0)
        + String(
            format: "%14.0f ev/s    JSONDecoder %8.0f ev/s   ratio %8.1fx", decodeFast.perSecond, decodeSlow.perSecond,
            decodeRatio))
print("")
print("sink \(sink & 1)")
