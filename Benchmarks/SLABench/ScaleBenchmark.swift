import Foundation

/// Issue 29's scale figures on the realistic corpus (``Corpus``), with the release `slad` as
/// shipped, each size in a fresh folder: durable ingest of the whole log, a restart on the
/// store it left (to idle: load, catch-up, nothing new to read), `slad report` of one month
/// for all 100 contracts (computed: nothing is sealed), and a restart that seals the year's
/// 1,200 contract months. Cost per event (ingest, restart) and per incident (report) is printed
/// for every size and as a ratio to the smallest size measured in the same run: the claim is
/// that it does not grow with history. `runs` rounds alternate the sizes, median and range.
///
/// With `old` (another build of `slad`), each round runs both builds on the same corpus, one
/// after the other in alternating order, their month's reports must be byte-identical, and the new build's cost is
/// printed as a ratio to the old one's of the same round too.
///
/// Peak RSS comes from GNU time (`/usr/bin/time -f %M`).
func runScaleBenchmark(sizes: [Int], runs: Int, seed: UInt64, openOnly: Bool, old: URL? = nil) throws {
    let builds = [("new", shippedSlad())] + (old.map { [("old", $0)] } ?? [])
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/time") else {
        print("needs GNU time: apt-get install time")
        exit(1)
    }
    let fm = FileManager.default
    let root = fm.temporaryDirectory.appendingPathComponent("slad-scale-bench-\(getpid())")
    try? fm.removeItem(at: root)
    defer { try? fm.removeItem(at: root) }
    print(
        "scale: realistic corpus (time-ordered, 100 contracts, \(openOnly ? "every incident open" : "a year of history")), seed \(seed), sizes \(sizes.map(String.init).joined(separator: ", ")), \(runs) rounds"
    )
    var events: [Int: Int] = [:]
    for size in sizes {
        let folder = root.appendingPathComponent("\(size)")
        let start = ContinuousClock.now
        events[size] = try Corpus(incidents: size, seed: seed, open: openOnly).write(to: folder)
        let bytes = (try? fm.attributesOfItem(atPath: folder.appendingPathComponent("events.jsonl").path)[.size])
        print(
            "  \(size) incidents: \(events[size]!) events, \(((bytes as? Int) ?? 0) >> 20) MiB, generated in \(seconds(ContinuousClock.now - start)) s"
        )
    }

    struct Sample {
        var ingest: Double
        var ingestRSS: Int
        var restart: Double
        var restartRSS: Int
        /// The same restart with the full catch-up (the configuration's bytes changed).
        var restartFull: Double
        /// Each one's `start_ms`: from the store opened to READY.
        var ready: Double
        var readyFull: Double
        var report: Double
        var reportRSS: Int
        var sealing: Double
    }
    var samples: [Int: [Sample]] = [:]
    var oldSamples: [Int: [Sample]] = [:]
    for round in 1...runs {
        for size in sizes {
            // The builds alternate in order from round to round, so that neither always runs
            // on the machine as the other left it (page cache, a neighbour's load).
            for (build, bin) in round % 2 == 1 ? builds : builds.reversed() {
                let folder = root.appendingPathComponent("\(size)")
                let state = folder.appendingPathComponent("state")
                try? fm.removeItem(at: state)
                let config = folder.appendingPathComponent("config").path
                let run = ["run", "--config", config, "--state", state.path, "--exit-when-idle"]
                let ingest = try timed(bin, run, expect: "events=\(events[size]!)")
                // Resumed from the state the ingest stored at its stop; then, on the same store,
                // the full catch-up, which a comment added to slad.yaml forces (another
                // fingerprint). Both must end with the same incidents standing.
                let restart = try timed(bin, run, expect: build == "new" ? "resumed=snapshot" : "slad")
                let yaml = folder.appendingPathComponent("config/slad.yaml")
                let original = try Data(contentsOf: yaml)
                try (original + Data("# the full catch-up\n".utf8)).write(to: yaml)
                let full = try timed(bin, run, expect: build == "new" ? "resumed=catch-up" : "slad")
                try original.write(to: yaml)
                func standing(_ output: String) -> String {
                    let lines = output.split(separator: "\n")
                    let started = lines.last { $0.hasPrefix("slad: started") } ?? ""
                    let stopped = lines.last { $0.hasPrefix("slad: stopped") } ?? ""
                    return (started.split(separator: " ") + stopped.split(separator: " ")).filter {
                        ["events=", "late_notifications=", "open=", "at_risk=", "breached=", "armed="].contains(
                            where: $0.hasPrefix)
                    }.joined(separator: " ")
                }
                guard !standing(restart.output).isEmpty, standing(restart.output) == standing(full.output) else {
                    print(
                        "the resumed restart and the full catch-up disagree at \(size) incidents: "
                            + "\(standing(restart.output)) against \(standing(full.output))")
                    exit(1)
                }
                var report = (seconds: 0.0, rss: 0, output: "")
                if !openOnly {
                    report = try timed(
                        bin,
                        [
                            "report", "--config", config, "--state", state.path, "--month", Corpus.reportMonth,
                            "--format", "csv", "--as-of", "2026-12-15T00:00:00Z", "-o",
                            folder.appendingPathComponent("report-\(build)-\(round).csv").path,
                        ], expect: "")
                    // Same input, same output: every round's report, of either build, must be byte-identical.
                    if round > 1 || build != "new" {
                        let a = try Data(contentsOf: folder.appendingPathComponent("report-new-1.csv"))
                        let b = try Data(contentsOf: folder.appendingPathComponent("report-\(build)-\(round).csv"))
                        guard a == b else {
                            print(
                                "report of the \(build) build, round \(round), differs from round 1's at \(size) incidents"
                            )
                            exit(1)
                        }
                    }
                }
                let sealing = try timed(
                    bin,
                    [
                        "run", "--config", folder.appendingPathComponent("config-sealing").path, "--state", state.path,
                        "--exit-when-idle",
                    ], expect: openOnly ? "" : "report sealed")
                let sample = Sample(
                    ingest: ingest.seconds, ingestRSS: ingest.rss, restart: restart.seconds, restartRSS: restart.rss,
                    restartFull: full.seconds, ready: startMilliseconds(restart.output),
                    readyFull: startMilliseconds(full.output),
                    report: report.seconds, reportRSS: report.rss, sealing: sealing.seconds)
                if build == "new" {
                    samples[size, default: []].append(sample)
                } else {
                    oldSamples[size, default: []].append(sample)
                }
                print(
                    String(
                        format:
                            "  round %d, %@, %8d incidents: ingest %6.2f s (%4d MB)  restart %6.2f s (%4d MB, full catch-up %6.2f s)  report %6.2f s (%4d MB)  sealing restart %6.2f s",
                        round, build, size, ingest.seconds, ingest.rss >> 10, restart.seconds, restart.rss >> 10,
                        full.seconds, report.seconds, report.rss >> 10, sealing.seconds))
            }
        }
    }

    func line(_ title: String, _ unit: String, _ per: (Int) -> Double, _ value: (Sample) -> Double) {
        let base = sizes[0]
        print(title)
        for size in sizes {
            let costs = samples[size]!.map { value($0) / per(size) * 1e6 }.sorted()
            // Each round's cost against the smallest size's cost in the same round.
            let ratios = zip(samples[size]!, samples[base]!).map { (value($0) / per(size)) / (value($1) / per(base)) }
                .sorted()
            print(
                String(
                    format: "  %8d incidents: %7.2f µs %@ [%.2f–%.2f]   × %.2f [%.2f–%.2f] of %d", size,
                    costs[costs.count / 2], unit, costs.first!, costs.last!, ratios[ratios.count / 2], ratios.first!,
                    ratios.last!, base))
        }
    }
    let perEvent = { (size: Int) in Double(events[size]!) }
    line("ingest, cost per event (median [range]), and its ratio to the smallest size:", "per event", perEvent) {
        $0.ingest
    }
    line("restart to idle, cost per event of history:", "per event", perEvent) { $0.restart }
    line(
        "restart to idle with the full catch-up (configuration changed), cost per event of history:", "per event",
        perEvent
    ) {
        $0.restartFull
    }
    print(
        "restart resumed / with the full catch-up, same round, median [range]; each one's store opened to READY (start_ms):"
    )
    for size in sizes {
        func spread(_ f: (Sample) -> Double) -> String { medianAndRange(samples[size]!.map(f)) }
        print(
            String(format: "  %8d incidents: ", size) + spread { $0.restart / $0.restartFull } + "   to READY "
                + spread { $0.ready / 1000 } + " s resumed, " + spread { $0.readyFull / 1000 } + " s full")
    }
    if !openOnly {
        line(
            "report of \(Corpus.reportMonth), 100 contracts, cost per incident of history:", "per incident", Double.init
        ) {
            $0.report
        }
        line("restart sealing a year of 100 contracts, cost per incident of history:", "per incident", Double.init) {
            $0.sealing
        }
    }
    print("peak RSS (median, MB): ingest / restart / report")
    for size in sizes {
        for (build, s) in [("new", samples[size]!), ("old", oldSamples[size] ?? [])] where !s.isEmpty {
            func median(_ f: (Sample) -> Int) -> Int { s.map(f).sorted()[s.count / 2] >> 10 }
            print(
                "  \(build), \(size) incidents: \(median(\.ingestRSS)) / \(median(\.restartRSS)) / \(median(\.reportRSS))  (\(String(format: "%.2f", Double(events[size]!) / Double(max(1, size)))) events per incident)"
            )
        }
    }
    guard old != nil else { return }
    print("new build / old build, same round, median [range]:")
    for size in sizes {
        func ratio(_ f: (Sample) -> Double) -> String {
            medianAndRange(zip(samples[size]!, oldSamples[size]!).map { f($0) / f($1) })
        }
        // An old build without `start_ms` has no time to READY to compare.
        let ready = oldSamples[size]!.allSatisfy { $0.ready > 0 } ? "  to READY \(ratio(\.ready))" : ""
        print(
            "  \(size) incidents: ingest \(ratio(\.ingest))  restart \(ratio(\.restart))\(ready)"
                + (openOnly ? "" : "  report \(ratio(\.report))") + "  sealing restart \(ratio(\.sealing))")
    }
}

/// The `start_ms` of a daemon's `slad: started` line (0 when it has none).
func startMilliseconds(_ output: String) -> Double {
    let started = output.split(separator: "\n").last { $0.hasPrefix("slad: started") } ?? ""
    let field = started.split(separator: " ").first { $0.hasPrefix("start_ms=") }
    return field.flatMap { Double($0.dropFirst("start_ms=".count)) } ?? 0
}

/// Runs `bin` under GNU time; wall seconds and peak RSS (KiB). Fails the benchmark when it
/// exits non-zero or its standard error lacks `expect`.
func timed(_ bin: URL, _ arguments: [String], expect: String) throws -> (seconds: Double, rss: Int, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/time")
    p.arguments = ["-f", "rss=%M", bin.path] + arguments
    let err = Pipe()
    p.standardError = err
    p.standardOutput = FileHandle.nullDevice
    let start = ContinuousClock.now
    try p.run()
    let output = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    let elapsed = seconds(ContinuousClock.now - start)
    guard p.terminationStatus == 0, expect.isEmpty || output.contains(expect),
        let rss = output.split(separator: "\n").last(where: { $0.hasPrefix("rss=") }).flatMap({ Int($0.dropFirst(4)) })
    else {
        print("slad \(arguments.joined(separator: " ")) failed:\n\(output.suffix(2000))")
        exit(1)
    }
    return (elapsed, rss, output)
}
