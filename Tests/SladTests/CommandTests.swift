import Foundation
import Testing

/// The `slad` binary built with the tests (`SLAD_BIN`, else the default debug path).
let sladBinary: String = {
    if let path = ProcessInfo.processInfo.environment["SLAD_BIN"] { return path }
    return repositoryRoot.appendingPathComponent(".build/debug/slad").path
}()

/// The folder of the built binaries (slad, slactl): what `make install BIN_DIR=` takes.
let binaryFolder: String = (sladBinary as NSString).deletingLastPathComponent

struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs the real binary and collects its output.
func runSlad(_ arguments: [String], stdin: String? = nil) throws -> CommandResult {
    guard FileManager.default.isExecutableFile(atPath: sladBinary) else {
        throw ScenarioSyntaxError(description: "slad binary not found at \(sladBinary): build it first (swift build)")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: sladBinary)
    process.arguments = arguments
    process.currentDirectoryURL = repositoryRoot
    // Files, not pipes: a large output cannot fill a pipe buffer and stall the child.
    let dir = try makeTemporaryDirectory("slad-run")
    let outURL = dir.appendingPathComponent("stdout")
    let errURL = dir.appendingPathComponent("stderr")
    let inURL = dir.appendingPathComponent("stdin")
    try Data((stdin ?? "").utf8).write(to: inURL)
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: outURL)
    process.standardError = try FileHandle(forWritingTo: errURL)
    process.standardInput = try FileHandle(forReadingFrom: inURL)
    try process.run()
    process.waitUntilExit()
    defer { try? FileManager.default.removeItem(at: dir) }
    return CommandResult(
        status: process.terminationStatus, stdout: try String(contentsOf: outURL, encoding: .utf8),
        stderr: try String(contentsOf: errURL, encoding: .utf8))
}

@Suite("slad command line (real binary)")
struct CommandTests {
    @Test("check-config accepts the example configuration")
    func checkConfigOK() throws {
        let r = try runSlad(["check-config", "etc/slad"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(
            r.stdout
                == "etc/slad: ok: 4 contracts (acme-gold, globex-silver, servicenow-demo, volvo-it), 3 calendars, 1 sources, 2 source mappings\n"
        )
    }

    static let knownKeys =
        "id, customer, valid, calendar, timezone, fee, services, availability, priorities, pause_on, warn_at, escalations, penalties, notify, promises, version, versions"

    @Test("a contract with five different errors: check-config prints five located messages and exits 1")
    func checkConfigErrors() throws {
        let dir = try makeTemporaryDirectory()
        try FileManager.default.createDirectory(
            at: dir.appendingPathComponent("contracts.d"), withIntermediateDirectories: true)
        try """
        id: bad
        customer: Bad
        calendar: nowhere
        fee: { amount: "12.345", currency: XXX }
        priorities:
          P1: { reaction: soon }
        warn_at: ["150%"]
        colour: red
        """.write(to: dir.appendingPathComponent("contracts.d/bad.yaml"), atomically: true, encoding: .utf8)
        let r = try runSlad(["check-config", dir.path])
        #expect(r.status == 1)
        let lines = r.stderr.split(separator: "\n").map(String.init)
        let file = dir.appendingPathComponent("contracts.d/bad.yaml").path
        #expect(lines.count == 6, "\(r.stderr)")
        #expect(
            lines.contains(
                "\(file):3:11: calendar: calendar 'nowhere' is not defined in calendars/; known calendars: 24x7"))
        #expect(
            lines.contains("\(file):4:36: fee.currency: 'XXX' is not an ISO 4217 currency code; e.g. EUR, USD, RUB"))
        #expect(lines.contains { $0.hasPrefix("\(file):6:19: priorities.P1.reaction: 'soon' is not a duration") })
        #expect(lines.contains("\(file):7:11: warn_at.[0]: a warning must be above 0% and below 100%"))
        #expect(lines.contains("\(file):8:1: colour: unknown key 'colour'; known keys: \(Self.knownKeys)"))
        #expect(lines.last == "5 errors in \(dir.path)")
    }

    @Test(
        "run with a control socket it cannot bind: exit 1 with the reason, delivery workers never started are not waited for"
    )
    func runFailsAtStart() throws {
        let state = try makeTemporaryDirectory("slad-nosocket")
        defer { try? FileManager.default.removeItem(at: state) }
        let r = try runSlad([
            "run", "--config", repositoryRoot.appendingPathComponent("etc/slad").path, "--state", state.path,
            "--socket", "/proc/no-such-folder/slad.sock",
        ])
        #expect(r.status == 1)
        #expect(r.stderr.contains("slad: cannot serve the control socket"), "\(r.stderr)")
        #expect(!r.stderr.contains("did not stop in time"), "\(r.stderr)")
        #expect(!r.stderr.contains("Fatal error"), "\(r.stderr)")
    }

    @Test("run with a control socket named by a bare file name serves it in the working folder")
    func bareSocketName() throws {
        let work = try makeTemporaryDirectory("slad-baresocket")
        defer { try? FileManager.default.removeItem(at: work) }
        let config = work.appendingPathComponent("config")
        try FileManager.default.createDirectory(
            at: config.appendingPathComponent("contracts.d"), withIntermediateDirectories: true)
        try """
        id: c
        customer: C
        calendar: 24x7
        timezone: UTC
        fee: { amount: "10.00", currency: EUR }
        priorities:
          P1: { reaction: 15m, resolution: 4h }
        """.write(to: config.appendingPathComponent("contracts.d/c.yaml"), atomically: true, encoding: .utf8)
        try
            #"{"id":"e1","time":"2026-01-01T00:00:00Z","type":"incident.opened","incident":"I","contract":"c","priority":"P1"}"#
            .appending("\n").write(to: work.appendingPathComponent("e.jsonl"), atomically: true, encoding: .utf8)
        try "sources:\n  - { name: s, path: ../e.jsonl, format: jsonl }\n".write(
            to: config.appendingPathComponent("slad.yaml"), atomically: true, encoding: .utf8)
        // `env -C`: slad runs in `work`, where the socket goes.
        let r = try runProgram([
            "-C", work.path, sladBinary, "run", "--config", config.path, "--state",
            work.appendingPathComponent("state").path, "--socket", "slad.sock", "--exit-when-idle",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("socket=slad.sock"), "\(r.stderr)")
        #expect(r.stderr.contains("events=1"), "\(r.stderr)")
        #expect(!r.stderr.contains("cannot serve"), "\(r.stderr)")
    }

    @Test("check-config on a missing folder fails clearly")
    func missingFolder() throws {
        let r = try runSlad(["check-config", "/nonexistent/slad"])
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("/nonexistent/slad: is not a folder"))
    }

    @Test(
        "replay of the sample log matches the committed golden output",
        arguments: ["lines", "json", "table", "charges-csv", "html"])
    func replayGolden(_ format: String) throws {
        let r = try runSlad([
            "replay", "--config", "etc/slad", "--events", "etc/samples/events.jsonl", "--format", format,
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let golden = repositoryRoot.appendingPathComponent("Tests/SladTests/Golden/sample-replay.\(format)")
        if ProcessInfo.processInfo.environment["SLAD_UPDATE_GOLDEN"] == "1" {
            try r.stdout.write(to: golden, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: golden, encoding: .utf8)
        #expect(r.stdout == expected, "replay --format \(format) differs from \(golden.lastPathComponent)")
        #expect(r.stderr.contains("etc/samples/events.jsonl:29: time: 'not a time' is not an ISO 8601 time"))
    }

    @Test("the HTML report opens with each contract's total, groups thousands, and shows times in the contract's zone")
    func htmlForFinance() throws {
        let r = try runSlad([
            "replay", "--config", "etc/slad", "--events", "etc/samples/events.jsonl", "--format", "html", "--month",
            "2026-11", "--as-of", "2026-12-01T00:00:00+03:00",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let body = try #require(r.stdout.range(of: "<body>").map { String(r.stdout[$0.upperBound...]) })
        let totals = try #require(body.range(of: "</table>").map { String(body[..<$0.lowerBound]) })
        #expect(totals.contains("<h1>Totals</h1>"))
        #expect(totals.contains("22,800.00 RUB") && totals.contains("2,000.00 EUR"), "\(totals)")
        #expect(body.contains("Total owed: <strong>22,800.00 RUB</strong>"))
        #expect(body.contains("times in Europe/Moscow") && body.contains("<td>2026-11-17 10:00:00</td>"))
        // No raw ISO 8601 instants (T and an offset) in the text of the page.
        #expect(body.range(of: #"\d{4}-\d\d-\d\dT\d\d:\d\d"#, options: .regularExpression) == nil)
    }

    @Test("replay output is byte-identical across runs and input orders")
    func deterministic() throws {
        let sample = try String(
            contentsOf: repositoryRoot.appendingPathComponent("etc/samples/events.jsonl"), encoding: .utf8)
        let reversed = sample.split(separator: "\n").reversed().joined(separator: "\n") + "\n"
        let a = try runSlad([
            "replay", "--config", "etc/slad", "--events", "etc/samples/events.jsonl", "--format", "json",
        ])
        let b = try runSlad(["replay", "--config", "etc/slad", "--events", "-", "--format", "json"], stdin: reversed)
        #expect(a.status == 0 && b.status == 0)
        #expect(a.stdout == b.stdout)
        #expect(!a.stdout.isEmpty)
    }

    @Test("replay rejects a bad --as-of and a missing events file")
    func replayBadInput() throws {
        let r1 = try runSlad([
            "replay", "--config", "etc/slad", "--events", "etc/samples/events.jsonl", "--as-of", "tomorrow",
        ])
        #expect(r1.status != 0)
        #expect(r1.stderr.contains("--as-of 'tomorrow' must be an ISO 8601 time with an offset"))
        let r2 = try runSlad(["replay", "--config", "etc/slad", "--events", "/nonexistent.jsonl"])
        #expect(r2.status == 1)
        #expect(r2.stderr.contains("/nonexistent.jsonl: cannot be read"))
    }

    @Test(
        "slad --version and slactl --version exit 0 and say the same version, the release and the commit it was built from"
    )
    func versions() throws {
        let slad = try runSlad(["--version"])
        let slactl = try runProgram([slactlBinary, "--version"])
        #expect(slad.status == 0 && slactl.status == 0, "\(slad.stderr)\(slactl.stderr)")
        let source = try String(
            contentsOf: repositoryRoot.appendingPathComponent("Sources/SLAAPI/SladVersion.swift"), encoding: .utf8)
        let release = try #require(source.firstMatch(of: #/static let release = "([0-9.]+)"/#)?.1)
        // Built from this checkout: the release, then the last commit's date and the commit count.
        let git = ["git", "-C", repositoryRoot.path]
        let date = try runProgram(git + ["log", "-1", "--format=%cd", "--date=format:%Y%m%d"]).stdout.trimmed
        let count = try runProgram(git + ["rev-list", "--count", "HEAD"]).stdout.trimmed
        #expect(slad.stdout == "\(release)+git\(date).\(count)\n")
        #expect(slactl.stdout == slad.stdout)
    }
}
