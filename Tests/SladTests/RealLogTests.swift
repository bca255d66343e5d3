import Foundation
import SLAAPI
import SLACore
import SLAReport
import Testing

/// The real, public logs of Tests/Fixtures/real, unpacked once into a temporary folder.
let realLogs: URL = {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("slad-real-logs-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    for (_, file) in RealLogTests.logs {
        let packed = repositoryRoot.appendingPathComponent("Tests/Fixtures/real/\(file).gz").path
        let unpacked = folder.appendingPathComponent(file).path
        _ = try? runProgram(["sh", "-c", "gzip -dc \"$0\" > \"$1\"", packed, unpacked])
    }
    return folder
}()

@Suite("Real incident logs through the shipped source mappings (real binary)")
struct RealLogTests {
    static let logs = [
        ("volvo-bpic2013", "volvo-it-bpic2013-incidents.csv"),
        ("servicenow", "servicenow-incident-event-log-sample.csv"),
    ]

    @Test(
        "every row maps: nothing quarantined, nothing rejected; verdicts, statements and the monthly report CSV match the golden files",
        arguments: logs)
    func golden(_ mapping: String, _ file: String) throws {
        // The ServiceNow mapping names no contract: the shipped policies pick it and the priority
        // (impact × urgency), and the goldens are those the export's own priorities give.
        if mapping == "servicenow" {
            let text = try String(
                contentsOf: repositoryRoot.appendingPathComponent("etc/slad/sources/servicenow.yaml"), encoding: .utf8)
            #expect(!text.contains("\ncontract:"), "the ServiceNow log goes through the policies")
        }
        let path = realLogs.appendingPathComponent(file).path
        // Not a skip: the logs are in the checkout, and one that did not unpack fails loudly.
        try #require(FileManager.default.fileExists(atPath: path), "real log missing at \(path)")
        var outputs: [String: String] = [:]
        for format in ["verdicts", "statements", "csv", "charges-csv"] {
            let r = try runSlad([
                "replay", "--config", "etc/slad", "--events", path, "--source", mapping, "--format", format,
            ])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stderr.isEmpty, "quarantined rows:\n\(r.stderr.prefix(2000))")
            outputs[format] = r.stdout
            let name = [
                "verdicts": "verdicts.csv", "statements": "statements.txt", "csv": "report.csv",
                "charges-csv": "charges.csv",
            ][format]!
            let golden = repositoryRoot.appendingPathComponent("Tests/SladTests/Golden/\(mapping).\(name)")
            if ProcessInfo.processInfo.environment["SLAD_UPDATE_GOLDEN"] == "1" {
                try r.stdout.write(to: golden, atomically: true, encoding: .utf8)
            }
            let expected = try String(contentsOf: golden, encoding: .utf8)
            #expect(r.stdout == expected, "\(mapping) --format \(format) differs from \(golden.lastPathComponent)")
            if format == "statements" {
                #expect(r.stdout.contains(", 0 quarantined\n"))
                #expect(r.stdout.contains(" 0 rejected\n"))
            }
        }
        // The charged lines add up to each month's total of the report, to the cent.
        func cents(_ amount: Substring) -> Int64 {
            let parts = amount.split(separator: ".")
            let whole = Int64(parts[0]) ?? 0
            let fraction = Int64(parts.count > 1 ? String(parts[1]) : "0") ?? 0
            return whole * 100 + (amount.hasPrefix("-") ? -fraction : fraction)
        }
        var totals: [String: Int64] = [:]
        for row in (outputs["csv"] ?? "").split(separator: "\r\n").dropFirst() {
            let f = row.split(separator: ",", omittingEmptySubsequences: false)
            if f.count > 13, f[3] == "summary", f[4] == "total" { totals["\(f[0]) \(f[1])"] = cents(f[13]) }
        }
        var charged: [String: Int64] = [:]
        for row in (outputs["charges-csv"] ?? "").split(separator: "\r\n").dropFirst() {
            // The rule (last) may hold commas, quoted: the amount is the ninth field either way.
            let f = row.split(separator: ",", maxSplits: 10, omittingEmptySubsequences: false)
            charged["\(f[0]) \(f[1])", default: 0] += cents(f[8])
        }
        #expect(!totals.isEmpty)
        #expect(charged.filter { $0.value != 0 } == totals.filter { $0.value != 0 })
    }

    @Test(
        "the Volvo log through the shipped line and team OLAs: the OLA reports from the store equal the replay's and their golden files; three incidents' holds checked by hand"
    )
    func volvoUnits() throws {
        let original = realLogs.appendingPathComponent("volvo-it-bpic2013-incidents.csv")
        try #require(FileManager.default.fileExists(atPath: original.path), "real log missing at \(original.path)")
        let work = try makeTemporaryDirectory("slad-units")
        defer { try? FileManager.default.removeItem(at: work) }
        // The log's last row has no line end, which a tailing daemon waits for: both sides read a
        // copy that ends its last row.
        let log = work.appendingPathComponent("volvo.csv").path
        try (Data(contentsOf: original) + Data("\n".utf8)).write(to: URL(fileURLWithPath: log))
        let config = work.appendingPathComponent("config")
        try FileManager.default.copyItem(at: repositoryRoot.appendingPathComponent("etc/slad"), to: config)
        // The shipped lines and teams, with the Volvo log as the only source.
        let shipped = try String(contentsOf: config.appendingPathComponent("slad.yaml"), encoding: .utf8)
        let units = try #require(shipped.range(of: "# Support lines")).lowerBound
        try ("sources:\n  - { name: volvo, path: \"\(log)\", format: volvo-bpic2013 }\n" + shipped[units...]).write(
            to: config.appendingPathComponent("slad.yaml"), atomically: true, encoding: .utf8)
        let state = work.appendingPathComponent("state").path
        let run = try runSlad(["run", "--config", config.path, "--state", state, "--exit-when-idle"])
        #expect(run.status == 0, "\(run.stderr.suffix(2000))")
        let asOf = "2012-05-23T01:22:25+02:00"
        for (month, format, file) in [
            ("2012-05", "table", "units-2012-05.txt"), ("2011-11", "csv", "units-2011-11.csv"),
        ] {
            let stored = try runSlad([
                "report", "--units", "--config", config.path, "--state", state, "--month", month, "--as-of", asOf,
                "--format", format,
            ])
            let replayed = try runSlad([
                "replay", "--config", config.path, "--events", log, "--source", "volvo-bpic2013", "--month", month,
                "--format", format == "table" ? "units" : "units-csv",
            ])
            #expect(stored.status == 0 && replayed.status == 0, "\(stored.stderr)\(replayed.stderr)")
            #expect(stored.stdout == replayed.stdout, "\(month): the store's OLA report differs from the replay's")
            let golden = repositoryRoot.appendingPathComponent("Tests/SladTests/Golden/volvo-bpic2013.\(file)")
            if ProcessInfo.processInfo.environment["SLAD_UPDATE_GOLDEN"] == "1" {
                try replayed.stdout.write(to: golden, atomically: true, encoding: .utf8)
            }
            #expect(replayed.stdout == (try String(contentsOf: golden, encoding: .utf8)), "\(file)")
        }

        // The live picture through the daemon: slactl lines and teams.
        let socket = work.appendingPathComponent("slad.sock").path
        let daemon = try startSlad(
            ["run", "--config", config.path, "--state", state, "--socket", socket],
            stderr: work.appendingPathComponent("stderr"))
        defer {
            daemon.terminate()
            daemon.waitUntilExit()
        }
        #expect(waitUntil(60) { (try? curl(socket, "/v1/status", maxTime: 2).status) == 200 })
        let lines = try runProgram([slactlBinary, "lines", "--json", "--month", "2012-05", "--socket", socket])
        #expect(lines.status == 0, "\(lines.stderr)")
        let live = try APIJSON.decode(UnitReport.self, from: Array(lines.stdout.utf8))
        let stored = try APIJSON.decode(
            UnitReport.self,
            from: Array(
                try runSlad([
                    "report", "--units", "--config", config.path, "--state", state, "--month", "2012-05", "--format",
                    "json",
                ]).stdout.utf8))
        // The month's figures are the store's; the holds running now are those of the open
        // incidents, each held by the line of its last line hold (replayed as of now).
        #expect(live.units.map(\.name) == ["L1", "L2", "L3"])
        #expect(live.units.map(\.rows) == stored.units.filter { $0.kind == "line" }.map(\.rows))
        let now = ISO8601.format(Instant(Int64(Date().timeIntervalSince1970)), in: .utc)
        let replayNow = try runSlad([
            "replay", "--config", config.path, "--events", log, "--source", "volvo-bpic2013", "--format", "verdicts",
            "--as-of", now,
        ])
        var lastHold: [String: (unit: String, breached: Bool)] = [:]
        for row in replayNow.stdout.split(separator: "\r\n") {
            let f = row.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 10, f[2] == "open", f[4].hasPrefix("ola:line:") else { continue }
            lastHold[f[0]] = (String(f[4].dropFirst("ola:line:".count).prefix { $0 != "#" }), f[6] == "breached")
        }
        for unit in live.units {
            let held = lastHold.values.filter { $0.unit == unit.name }
            #expect(unit.holdingNow == held.count, "\(unit.name)")
            #expect(unit.holdingNowBreached == held.filter(\.breached).count, "\(unit.name)")
        }
        #expect(lastHold.count > 0, "open incidents are held")
        let teams = try runProgram([slactlBinary, "teams", "--format", "csv", "--socket", socket])
        #expect(teams.status == 0, "\(teams.stderr)")
        #expect(
            Set(teams.stdout.split(separator: "\r\n").dropFirst().map { $0.split(separator: ",")[1] }) == ["team"])

        // Three incidents by hand, from their rows in the log (times +01:00 as logged; the
        // se-business calendar counts Mon–Fri 08:00–17:00 Stockholm time, 1 May a holiday). The
        // fourth column is the incident's handoffs: each later row naming another resource, team
        // (Involved ST) or line (ST Level).
        let verdicts = try runSlad([
            "replay", "--config", config.path, "--events", log, "--source", "volvo-bpic2013", "--format", "verdicts",
        ])
        #expect(verdicts.status == 0)
        let holds = verdicts.stdout.split(separator: "\r\n").filter { $0.contains(",ola:") }
        func rows(_ incident: String) -> [String] {
            holds.filter { $0.hasPrefix(incident + ",") }.map(String.init)
        }
        // 1-729256831, P3 (Medium), L1 only: queued Wed 2 May 09:36:31, resolved 10:00:14 (+01:00),
        // that is 10:36:31–11:00:14 in Stockholm: 23m43s = 1423 s of L1's 4 h, met. Handoffs:
        // Jan-Ove → Andreas → Siebel.
        #expect(rows("1-729256831") == ["1-729256831,volvo-it,resolved,2,ola:line:L1#1,P3,met,14400,1423,"])
        // 1-605313141, P3: L1 from Fri 11 Nov 2011 13:45:04 to 13:49:29 (4m25s = 265 s, met); L2 from
        // 13:49:29: Fri to 17:00 3h10m31s, Mon 14 and Tue 15 9 h each, Wed 16 08:00–09:22:17 1h22m17s,
        // then waiting for the user (paused) until the resolution in May 2012: 22h32m48s = 81168 s
        // of 18 h (2 business days of 9 h). 18 h were used up Tue 15 Nov at 08:00 + (18 h − 12h10m31s)
        // = 13:49:29: the breach, counted in 2011-11. Handoffs: T19/L1 → G356 2nd/L2, Lars → Luiz →
        // Lars → Siebel.
        #expect(
            rows("1-605313141") == [
                "1-605313141,volvo-it,resolved,4,ola:line:L1#1,P3,met,14400,265,",
                "1-605313141,volvo-it,resolved,4,ola:line:L2#1,P3,breached,64800,81168,2011-11-15T13:49:29+01:00",
            ])
        // 1-736726674, P3: L1 at 13:42:37 on 1 May (a holiday: no time counts), handed to L2 at
        // 13:45:36, back to L1 at 14:32:56 (a return: L1's second hold), resolved at 14:34:40. Three
        // holds of 0 s, all met, in the order they began; L1#1 and L2#1 handed on, L1#2 ended by the
        // resolution. Handoffs: N38/L1 → N30 2nd/L2 → N44/L1 with Jon → Siebel.
        #expect(
            rows("1-736726674") == [
                "1-736726674,volvo-it,resolved,3,ola:line:L1#1,P3,met,14400,0,",
                "1-736726674,volvo-it,resolved,3,ola:line:L2#1,P3,met,64800,0,",
                "1-736726674,volvo-it,resolved,3,ola:line:L1#2,P3,met,14400,0,",
            ])

        // The contract's clocks by the line holding each incident when they were decided, for
        // the same three incidents alone: 1-729256831 acknowledged (09:56:49) and resolved
        // (10:00:14) while L1 held it; 1-736726674 acknowledged at its opening and resolved by
        // L1#2; 1-605313141 acknowledged on 11 Nov 2011 at 14:54:03 by L2 (which took it at
        // 13:49:29), and resolved on 2 May 2012 while L2 still held it, within its 27 h
        // (22h37m13s of business time until the customer was asked on 16 Nov, then paused).
        let three = work.appendingPathComponent("three.csv")
        // The log ends its lines with CRLF, one Character in Swift: split on line ends.
        let rows = try String(contentsOfFile: log, encoding: .utf8).split(whereSeparator: \.isNewline)
        let wanted = ["1-729256831,", "1-736726674,", "1-605313141,"]
        let picked = [rows[0]] + rows.filter { row in wanted.contains { row.hasPrefix($0) } }
        try (picked.joined(separator: "\n") + "\n").write(to: three, atomically: true, encoding: .utf8)
        func clocks(_ month: String) throws -> [String: [String]] {
            let r = try runSlad([
                "replay", "--config", config.path, "--events", three.path, "--source", "volvo-bpic2013", "--month",
                month, "--format", "units-json",
            ])
            let report = try APIJSON.decode(UnitReport.self, from: Array(r.stdout.utf8))
            return Dictionary(
                uniqueKeysWithValues: report.units.filter { !$0.clocks.isEmpty }.map {
                    (
                        "\($0.kind) \($0.name)",
                        $0.clocks.map { "\($0.metric) \($0.priority) met=\($0.met) breached=\($0.breached)" }
                    )
                })
        }
        let may = try clocks("2012-05")
        #expect(
            may == [
                "line L1": ["reaction P3 met=2 breached=0", "resolution P3 met=2 breached=0"],
                "line L2": ["resolution P3 met=1 breached=0"],
            ], "\(may)")
        let november = try clocks("2011-11")
        #expect(november == ["line L2": ["reaction P3 met=1 breached=0"]], "\(november)")
    }

    @Test(
        "slactl incident --explain on a real Volvo incident (two pauses, a reopen, a breach) is its golden file, and the replay explains it the same"
    )
    func explainVolvoIncident() throws {
        let log = realLogs.appendingPathComponent("volvo-it-bpic2013-incidents.csv").path
        try #require(FileManager.default.fileExists(atPath: log), "real log missing at \(log)")
        let work = try makeTemporaryDirectory("slad-explain")
        defer { try? FileManager.default.removeItem(at: work) }
        let config = work.appendingPathComponent("config")
        try FileManager.default.copyItem(at: repositoryRoot.appendingPathComponent("etc/slad"), to: config)
        try "sources:\n  - { name: volvo, path: \"\(log)\", format: volvo-bpic2013 }\n".write(
            to: config.appendingPathComponent("slad.yaml"), atomically: true, encoding: .utf8)
        let state = work.appendingPathComponent("state").path
        let socket = work.appendingPathComponent("slad.sock").path
        let daemon = try startSlad(
            ["run", "--config", config.path, "--state", state, "--socket", socket],
            stderr: work.appendingPathComponent("stderr"))
        defer {
            daemon.terminate()
            daemon.waitUntilExit()
        }
        // The last event of the log: the instant the replay explains as of.
        let asOf = "2012-05-23T01:22:25+02:00"
        let incident = "1-734863171"
        var answer = Ran(status: -1, stdout: "", stderr: "")
        #expect(
            waitUntil(120) {
                answer =
                    (try? runProgram([
                        slactlBinary, "incident", incident, "--explain", "--as-of", asOf, "--socket", socket,
                    ])) ?? answer
                return answer.status == 0
            }, "\(answer.stderr)")
        let golden = repositoryRoot.appendingPathComponent(
            "Tests/SladTests/Golden/volvo-bpic2013.explain-\(incident).txt")
        if ProcessInfo.processInfo.environment["SLAD_UPDATE_GOLDEN"] == "1" {
            try answer.stdout.write(to: golden, atomically: true, encoding: .utf8)
        }
        #expect(answer.stdout == (try String(contentsOf: golden, encoding: .utf8)))
        // The replay names events by the mapping, the daemon by the source and file: the rest is the same.
        let replay = try runSlad([
            "replay", "--config", config.path, "--events", log, "--source", "volvo-bpic2013", "--explain", incident,
        ])
        #expect(replay.status == 0, "\(replay.stderr)")
        func withoutIDs(_ text: String) -> String {
            text.replacingOccurrences(of: #"\((incident\.[a-z]+) [^ )]+"#, with: "($1 ID", options: .regularExpression)
        }
        #expect(withoutIDs(replay.stdout) == withoutIDs(answer.stdout))
        #expect(withoutIDs(answer.stdout) != answer.stdout, "event ids are in the explanation")
    }
}
