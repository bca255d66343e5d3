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
