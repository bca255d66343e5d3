// Calendar arithmetic and clock evaluation, each against the straightforward implementation
// (a day-by-day walk over the same calendar definition, no table; Baselines.swift), and event
// decoding against Foundation's JSONDecoder, measured in the same run. Absolute numbers vary
// with the machine; the ratios are the claim: the median of several rounds, with the range.
//
// Run: swift build -c release --static-swift-stdlib --product SLABench && .build/release/SLABench [--quick]
import Foundation
import SLACore
import SLAIngest
import TestSupport

/// Keeps results alive so the optimizer cannot drop the measured work.
nonisolated(unsafe) var sink: Int64 = 0

struct Measurement {
    var operations: Int
    var seconds: Double
    var perSecond: Double { Double(operations) / seconds }
}

/// Rounds of one measurement, each run for at least `minimum` seconds.
struct Rounds {
    var rounds: [Measurement]
    var rates: [Double] { rounds.map(\.perSecond).sorted() }
    var median: Double { rates[rates.count / 2] }
}

/// Several runs' values as `median [min–max]`, each written with `format`: how the benchmarks
/// print a measure of several runs.
func medianAndRange(_ values: [Double], _ format: String = "%.2f") -> String {
    let v = values.sorted()
    return String(format: "\(format) [\(format)–\(format)]", v[v.count / 2], v.first!, v.last!)
}

/// Rounds per measurement; the fast and the baseline side alternate, so that a busy moment of
/// the machine falls on both.
let roundCount = 5

/// One round of `body` over `inputs`, repeated for at least `minimum` seconds; each input
/// counts as `weight` operations (a whole file of lines decoded at once).
func round<T>(_ inputs: [T], minimum: Double, weight: Int = 1, _ body: (T) -> Int64) -> Measurement {
    let clock = ContinuousClock()
    let start = clock.now
    var ops = 0
    var elapsed = 0.0
    repeat {
        for x in inputs { sink &+= body(x) }
        ops += inputs.count * weight
        let d = clock.now - start
        elapsed = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    } while elapsed < minimum
    return Measurement(operations: ops, seconds: elapsed)
}

/// `fast` and `baseline` in alternating rounds: per-round ratios give the median and range.
func compare<T, U>(
    _ fastInputs: [T], _ baseInputs: [U], minimum: Double, fastWeight: Int = 1, fast: (T) -> Int64,
    baseline: (U) -> Int64
) -> (fast: Rounds, baseline: Rounds, ratios: [Double]) {
    var f: [Measurement] = []
    var b: [Measurement] = []
    for _ in 0..<roundCount {
        f.append(round(fastInputs, minimum: minimum, weight: fastWeight, fast))
        b.append(round(baseInputs, minimum: minimum, baseline))
    }
    let ratios = zip(f, b).map { $0.perSecond / $1.perSecond }.sorted()
    return (Rounds(rounds: f), Rounds(rounds: b), ratios)
}

let quick = CommandLine.arguments.contains("--quick")

/// The value after `name` on the command line, if any.
func option(_ name: String) -> String? {
    CommandLine.arguments.firstIndex(of: name).flatMap {
        $0 + 1 < CommandLine.arguments.count ? CommandLine.arguments[$0 + 1] : nil
    }
}
if CommandLine.arguments.contains("store") {
    // SLABench store [--daemon] [--incidents N] [--runs N] [--seed N]: PostgreSQL against SQLite
    // (issue 25): the stores' commits, or with --daemon the whole daemon's ingest and restart.
    let daemon = CommandLine.arguments.contains("--daemon")
    let incidents = option("--incidents").flatMap { Int($0) } ?? 100_000
    let runs = option("--runs").flatMap { Int($0) } ?? 3
    let seed = option("--seed").flatMap { UInt64($0) } ?? 29
    let done = DispatchSemaphore(value: 0)
    // Detached: a task of the top-level code would run on the main thread, which waits below.
    Task.detached {
        do {
            if daemon {
                try await runDaemonStoreBenchmark(incidents: incidents, runs: runs, seed: seed)
            } else {
                try await runStoreBenchmark(incidents: incidents, runs: runs, seed: seed)
            }
        } catch {
            print("store: \(error)")
            exit(1)
        }
        done.signal()
    }
    done.wait()
    exit(0)
}
if CommandLine.arguments.contains("wheel") {
    runWheelBenchmark(
        held: quick ? 100_000 : 1_000_000, expiring: quick ? 1_000_000 : 10_000_000,
        operations: quick ? 1_000_000 : 5_000_000)
    exit(0)
}
if CommandLine.arguments.contains("latency") {
    // SLABench latency [--quick] [--olas [--runs 3]]
    if CommandLine.arguments.contains("--olas") {
        let runs = option("--runs").flatMap { Int($0) } ?? 3
        try runOLALatencyBenchmark(incidents: quick ? 100_000 : 1_000_000, runs: runs)
    } else {
        try runLatencyBenchmark(incidents: quick ? 100_000 : 1_000_000)
    }
    exit(0)
}
if CommandLine.arguments.count >= 4, CommandLine.arguments[1] == "corpus" {
    // SLABench corpus INCIDENTS FOLDER [--seed N] [--open]: the scale benchmark's input alone.
    let seed = option("--seed").flatMap { UInt64($0) } ?? 29
    let events = try Corpus(
        incidents: Int(CommandLine.arguments[2]) ?? 0, seed: seed, open: CommandLine.arguments.contains("--open")
    ).write(to: URL(fileURLWithPath: CommandLine.arguments[3]))
    print("\(events) events in \(CommandLine.arguments[3])/events.jsonl, contracts in its config/")
    exit(0)
}
if CommandLine.arguments.contains("scale") {
    // SLABench scale [--sizes 100000,1000000] [--runs 3] [--seed N] [--open] [--old PATH-TO-OLD-SLAD]
    let sizes =
        option("--sizes").map { $0.split(separator: ",").compactMap { Int($0) } }
        ?? (quick ? [20_000, 100_000] : [100_000, 1_000_000])
    try runScaleBenchmark(
        sizes: sizes, runs: option("--runs").flatMap { Int($0) } ?? 3,
        seed: option("--seed").flatMap { UInt64($0) } ?? 29,
        openOnly: CommandLine.arguments.contains("--open"), old: option("--old").map { URL(fileURLWithPath: $0) })
    exit(0)
}
if CommandLine.arguments.contains("olas") {
    // SLABench olas [--incidents 100000] [--runs 5] [--seed N] [--old PATH-TO-OLD-SLAD]
    try runOLABenchmark(
        incidents: option("--incidents").flatMap { Int($0) } ?? (quick ? 20_000 : 100_000),
        runs: option("--runs").flatMap { Int($0) } ?? 5, seed: option("--seed").flatMap { UInt64($0) } ?? 29,
        old: option("--old").map { URL(fileURLWithPath: $0) })
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
let walk = DayWalkCalendar(definition: definition)

// Fixed seed: the same inputs in every run, so runs compare.
var rng = SeededRandom(seed: 20_261_206)
let base: Int64 = 1_767_222_000  // 2026-01-01
// Pairs up to 5 days apart, to the second.
let pairs: [(Int64, Int64)] = (0..<2_000).map { _ in
    let a = base + Int64.random(in: 0..<(330 * 86_400), using: &rng)
    return (a, a + Int64.random(in: 0..<(5 * 86_400), using: &rng))
}
let adds: [(Int64, Int64)] = pairs.map { ($0.0, Int64.random(in: 1..<(16 * 3_600), using: &rng)) }

// Correctness first: both sides must give the same answer on every input.
for (a, b) in pairs {
    precondition(calendar.elapsed(from: Instant(a), to: Instant(b)) == walk.elapsed(a, b), "elapsed disagrees")
}
for (a, d) in adds {
    precondition(calendar.adding(business: d, to: Instant(a))!.seconds == walk.adding(d, to: a), "add disagrees")
}

print(
    "slad benchmarks (\(quick ? "quick" : "full") run; \(roundCount) alternating rounds each; "
        + "ratio = median of the per-round ratios [min–max])")
print("zone table build (Europe/Berlin, 1990–2099, once per zone): \(zoneTime)")
print("calendar table build (1990–2099, 2 spans/day): \(buildTime)")
print("")
func row(_ name: String, _ r: (fast: Rounds, baseline: Rounds, ratios: [Double]), unit: String = "ops/s") {
    print(
        name.padding(toLength: 36, withPad: " ", startingAt: 0)
            + String(
                format: "%12.0f %@   baseline %10.0f %@   ratio %7.1fx [%.1f–%.1f]", r.fast.median, unit,
                r.baseline.median, unit, r.ratios[r.ratios.count / 2], r.ratios.first!, r.ratios.last!))
}

let onlyDecode = CommandLine.arguments.contains("decode")
if !onlyDecode {
    print("baseline: a day-by-day walk over the calendar definition (spans to instants per day, no table)")
    row(
        "business elapsed(a, b), ≤ 5 days",
        compare(
            pairs, pairs, minimum: minimum, fast: { calendar.elapsed(from: Instant($0.0), to: Instant($0.1)) },
            baseline: { walk.elapsed($0.0, $0.1) }))
    row(
        "instant + business duration, ≤ 16h",
        compare(
            adds, adds, minimum: minimum, fast: { calendar.adding(business: $0.1, to: Instant($0.0))!.seconds },
            baseline: { walk.adding($0.1, to: $0.0) }))

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
    let baselineEvaluator = BaselineEvaluator(calendar: walk, contract: contract)
    func evaluated(_ events: [SLAEvent]) -> BaselineEvaluator.Result {
        let v = IncidentEvaluator.evaluate(
            incident: events[0].incident!, events: events, contract: contract, asOf: asOf
        ).verdict!
        return BaselineEvaluator.Result(
            elapsed: v.clocks.map(\.elapsed), crossings: v.clocks.map { $0.crossings.map(\.at.seconds) })
    }
    for events in incidents {
        precondition(
            evaluated(events) == baselineEvaluator.evaluate(events, asOf: asOf.seconds),
            "evaluation disagrees on \(events[0].incident!)")
    }
    print("baseline: the same clocks and thresholds, phases walked with the day-walk calendar")
    row(
        "incident evaluation (6 events)",
        compare(
            incidents, incidents, minimum: minimum,
            fast: { events in
                IncidentEvaluator.evaluate(
                    incident: events[0].incident!, events: events, contract: contract, asOf: asOf
                ).verdict!.clocks.reduce(0) { $0 + $1.elapsed }
            },
            baseline: { events in baselineEvaluator.evaluate(events, asOf: asOf.seconds).elapsed.reduce(0, +) }))
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
let sampleLines = Array(jsonl.split(separator: "\n").prefix(lineCount / 5))
// Both decoders must decode every line to the same events.
let fastEvents = fastDecoder.decodeAll(jsonl).events
precondition(fastEvents.count == lineCount, "the fast decoder must decode every generated line")
for (i, line) in sampleLines.enumerated() {
    guard case .success(let e) = referenceDecoder.decode(line: line, number: i + 1), e == fastEvents[i] else {
        preconditionFailure("the decoders disagree on line \(i + 1)")
    }
}
print("")
print(
    "event decoding, \(lineCount) JSONL lines (\(jsonl.utf8.count / 1_048_576) MiB); baseline: JSONDecoder per line "
        + "(on the first \(sampleLines.count))")
row(
    "decode only",
    compare(
        [jsonl], sampleLines, minimum: minimum, fastWeight: lineCount,
        fast: { Int64(fastDecoder.decodeAll($0).events.count) },
        baseline: { line in
            if case .success = referenceDecoder.decode(line: line, number: 1) { return 1 }
            return 0
        }), unit: "ev/s")
print("sink \(sink & 1)")
