import Foundation
import Testing

/// The real, public logs beside the repository (`../shared/data/real`).
let realLogs = repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/data/real")

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
        // Not a skip: CI has ../shared beside the clone, and a missing log must fail loudly.
        try #require(FileManager.default.fileExists(atPath: path), "real log missing at \(path)")
        for format in ["verdicts", "statements", "csv"] {
            let r = try runSlad([
                "replay", "--config", "etc/slad", "--events", path, "--source", mapping, "--format", format,
            ])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stderr.isEmpty, "quarantined rows:\n\(r.stderr.prefix(2000))")
            let name = ["verdicts": "verdicts.csv", "statements": "statements.txt", "csv": "report.csv"][format]!
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
    }
}
