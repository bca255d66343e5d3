import Foundation
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
