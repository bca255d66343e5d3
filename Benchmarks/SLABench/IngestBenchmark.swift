import Foundation

/// The release `slad` beside this benchmark (`make build`, as shipped); the run stops when it
/// is not there.
func shippedSlad() -> URL {
    let bin = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("slad")
    guard FileManager.default.isExecutableFile(atPath: bin.path) else {
        print("build slad first: make build (release, as shipped)")
        exit(1)
    }
    return bin
}

/// Durable ingest end to end: the release `slad run` over a generated JSONL
/// file into a fresh SQLite store, with the fast decoder and with Foundation's
/// JSONDecoder (the baseline), in the same run.
func runIngestBenchmark(lines: Int) throws {
    let bin = shippedSlad()
    let work = FileManager.default.temporaryDirectory.appendingPathComponent("slad-ingest-bench-\(getpid())")
    let fm = FileManager.default
    try? fm.removeItem(at: work)
    try fm.createDirectory(at: work.appendingPathComponent("config/contracts.d"), withIntermediateDirectories: true)
    try """
    id: bench
    customer: Bench
    calendar: 24x7
    timezone: Europe/Moscow
    fee: { amount: "1000.00", currency: EUR }
    priorities:
      P1: { reaction: 15m, resolution: 4h }
      P2: { reaction: 1h, resolution: 8h }
      P3: { reaction: 4h, resolution: 3d }
    pause_on: [pending_customer]
    warn_at: ["50%", "80%"]
    """.write(to: work.appendingPathComponent("config/contracts.d/bench.yaml"), atomically: true, encoding: .utf8)
    let log = work.appendingPathComponent("events.jsonl")
    try "sources:\n  - { name: bench, path: \"\(log.path)\", format: jsonl }\n".write(
        to: work.appendingPathComponent("config/slad.yaml"), atomically: true, encoding: .utf8)

    // Five events per incident, the shape of a real helpdesk flow.
    var text = ""
    text.reserveCapacity(lines * 130)
    let kinds = [
        ("incident.opened", 0), ("incident.acknowledged", 300), ("incident.updated", 3600), ("incident.resolved", 7200),
        ("incident.closed", 50_000),
    ]
    let formatter = ISO8601DateFormatter()
    for n in 0..<lines {
        let incident = n / 5
        let (type, offset) = kinds[n % 5]
        let time = formatter.string(
            from: Date(timeIntervalSince1970: TimeInterval(1_793_600_000 + incident * 7 + offset)))
        var line = #"{"id":"e-\#(n)","time":"\#(time)","type":"\#(type)","incident":"INC-\#(incident)""#
        if n % 5 == 0 {
            line += #","contract":"bench","service":"portal","priority":"P\#(incident % 3 + 1)","team":"L1""#
        }
        if n % 5 == 2 { line += #","team":"L2","status":"in_progress""# }
        text += line + "}\n"
    }
    try text.write(to: log, atomically: true, encoding: .utf8)
    print("durable ingest: \(lines) JSONL lines (\(text.utf8.count / 1_048_576) MiB) → SQLite (WAL, synchronous=FULL)")

    func run(_ extra: [String], state: String) throws -> Double {
        let p = Process()
        p.executableURL = bin
        p.arguments =
            [
                "run", "--config", work.appendingPathComponent("config").path, "--state",
                work.appendingPathComponent(state).path, "--exit-when-idle",
            ] + extra
        let err = Pipe()
        p.standardError = err
        let start = ContinuousClock.now
        try p.run()
        let output = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        let d = ContinuousClock.now - start
        guard p.terminationStatus == 0, output.contains("events=\(lines)") else {
            print("slad failed:\n\(output)")
            exit(1)
        }
        if let stop = output.split(separator: "\n").last {
            print("  \(extra.isEmpty ? "fast" : "reference") decoder: \(stop)")
        }
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
    let fast = try run([], state: "fast")
    let reference = try run(["--reference-decoder"], state: "reference")
    let fastRate = Double(lines) / fast
    let referenceRate = Double(lines) / reference
    print(
        String(
            format:
                "durable ingest (end to end)           %10.0f ev/s   JSONDecoder pipeline %8.0f ev/s   ratio %6.2fx",
            fastRate, referenceRate, fastRate / referenceRate))
    try? fm.removeItem(at: work)
}
