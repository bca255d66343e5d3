import Foundation

/// Issue 24's cost: durable ingest of the realistic corpus (``Corpus``) with the release `slad`,
/// as shipped before support lines had OLAs (its own configuration) and with every line and
/// team of the corpus given an OLA and slad.yaml holding policies, in the same run. The two
/// alternate in each round (the order flips every round, so neither always runs on a warmer
/// machine). Both ingest the same log; the harness checks that they read every event and
/// that the month's penalty report, which OLAs must not change, is byte-identical. The
/// corpus's events name their contracts, so the policies are loaded but not consulted (an
/// event that names its contract wins): their cost on a mapped source is one match per
/// opening row.
///
/// `old`, when given, is a `slad` built from the commit before OLAs and policies (issue 24's
/// "today's"): it ingests the same log with the configuration without OLAs as a fourth side,
/// and the new build's figures are printed against it too.
func runOLABenchmark(incidents: Int, runs: Int, seed: UInt64, old: URL?) throws {
    let bin = shippedSlad()
    let fm = FileManager.default
    let root = fm.temporaryDirectory.appendingPathComponent("slad-ola-bench-\(getpid())")
    try? fm.removeItem(at: root)
    defer { try? fm.removeItem(at: root) }
    let events = try Corpus(incidents: incidents, seed: seed, open: false).write(to: root)
    let plain = root.appendingPathComponent("config")
    let linesOnly = root.appendingPathComponent("config-lines")
    let olas = root.appendingPathComponent("config-olas")
    for folder in [linesOnly, olas] {
        try fm.createDirectory(at: folder, withIntermediateDirectories: true)
        for shared in ["contracts.d", "calendars"] {
            try fm.createSymbolicLink(
                atPath: folder.appendingPathComponent(shared).path, withDestinationPath: "../config/\(shared)")
        }
    }
    let ola = """
        ola:
              calendar: 24x7
              pause_on: [pending_customer]
              targets: { P1: 30m, P2: 2h, P3: 8h, P4: 1d }
              warn_at: ["80%"]
        """
    let contract = Corpus.contractID(0)
    let base = try String(contentsOf: plain.appendingPathComponent("slad.yaml"), encoding: .utf8)
    let lines = """
        lines:
          L1:
            \(ola)
          L2:
            \(ola)

        """
    try (base + lines).write(to: linesOnly.appendingPathComponent("slad.yaml"), atomically: true, encoding: .utf8)
    try
        (base + lines + """
            teams:
              L1:
                \(ola)
              L2:
                \(ola)
            priority_matrices:
              itil:
                "1": { "1": P1, "2": P2, "3": P3 }
                "2": { "1": P2, "2": P3, "3": P4 }
                "3": { "1": P3, "2": P4, "3": P4 }
            policies:
              - { name: network, match: { category: network }, contract: \(contract), priority: P1 }
              - { name: everything, contract: \(contract), priority_from: itil }

            """).write(to: olas.appendingPathComponent("slad.yaml"), atomically: true, encoding: .utf8)
    print(
        "OLAs and policies: realistic corpus, \(incidents) incidents, \(events) events, seed \(seed), \(runs) rounds; durable ingest without and with line and team OLAs"
    )
    var ratios: [String: [Double]] = [:]
    var times: [String: [Double]] = [:]
    var reports: [String: Data] = [:]
    var sides = [("without", plain, bin), ("lines", linesOnly, bin), ("with", olas, bin)]
    if let old { sides.insert(("old", plain, old), at: 0) }
    for round in 1...runs {
        let order = round % 2 == 1 ? sides : sides.reversed()
        var took: [String: Double] = [:]
        for (name, config, binary) in order {
            let state = root.appendingPathComponent("state-\(name)")
            try? fm.removeItem(at: state)
            took[name] =
                try timed(
                    binary, ["run", "--config", config.path, "--state", state.path, "--exit-when-idle"],
                    expect: "events=\(events)"
                ).seconds
            times[name, default: []].append(took[name]!)
            let report = root.appendingPathComponent("report-\(name).csv")
            _ = try timed(
                binary,
                [
                    "report", "--config", config.path, "--state", state.path, "--month", Corpus.reportMonth, "--format",
                    "csv", "--as-of", "2026-12-15T00:00:00Z", "-o", report.path,
                ], expect: "")
            reports[name] = try Data(contentsOf: report)
        }
        guard reports["without"] == reports["with"], reports["without"] == reports["lines"],
            old == nil || reports["old"] == reports["without"]
        else {
            print("round \(round): the \(Corpus.reportMonth) report differs with OLAs on: they must not change money")
            exit(1)
        }
        for side in ["lines", "with"] { ratios[side, default: []].append(took[side]! / took["without"]!) }
        if old != nil {
            for side in ["without", "with"] { ratios["old-" + side, default: []].append(took[side]! / took["old"]!) }
        }
        print(
            String(
                format:
                    "  round %d: without %6.2f s  line OLAs %6.2f s (%.3f)  line and team OLAs, policies %6.2f s (%.3f)",
                round, took["without"]!, took["lines"]!, ratios["lines"]!.last!, took["with"]!, ratios["with"]!.last!))
    }
    if old != nil {
        print(String(format: "  old build (before OLAs), without: median %.2f s", median(times["old"]!)))
    }
    func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
    for (side, title) in [("lines", "line OLAs"), ("with", "line and team OLAs, policies")] {
        let r = ratios[side]!.sorted()
        print(
            String(
                format:
                    "durable ingest with %@: %.0f ev/s against %.0f ev/s without (medians); time ratio %.3f [%.3f–%.3f] (goal ≤ 1.20)",
                title, Double(events) / median(times[side]!), Double(events) / median(times["without"]!), median(r),
                r.first!, r.last!))
    }
    if old != nil {
        for (side, title) in [
            ("old-without", "this build without OLAs"), ("old-with", "this build with line and team OLAs, policies"),
        ] {
            let r = ratios[side]!.sorted()
            print(
                String(
                    format: "%@ against the old build without: time ratio %.3f [%.3f–%.3f] (goal ≤ 1.20)", title,
                    median(r), r.first!, r.last!))
        }
    }
}
