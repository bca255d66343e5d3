import Foundation
import Logging
import SLAConfig
import SLACore
import SLAStore

@testable import SLADaemon

/// A fresh temporary folder for one test.
func makeTemporaryDirectory(_ name: String = "slad-daemon-test") throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A configuration folder with one 24x7 contract (`gold`: P1 reacts in 15m, resolves in 4h)
/// and one JSONL source `events` tailing `events.jsonl` in the same folder.
struct TestSetup {
    let folder: URL
    var log: URL { folder.appendingPathComponent("events.jsonl") }
    var state: URL { folder.appendingPathComponent("state") }

    init() throws {
        folder = try makeTemporaryDirectory()
        let files = [
            "slad.yaml": """
            sources:
              - { name: events, path: events.jsonl, format: jsonl }
            """,
            "contracts.d/gold.yaml": """
            id: gold
            customer: Gold Customer
            calendar: 24x7
            timezone: Europe/Berlin
            fee: { amount: "1000.00", currency: EUR }
            services: [web]
            priorities:
              P1: { reaction: 15m, resolution: 4h }
            warn_at: ["50%"]
            penalties:
              reaction_breach: { P1: "100.00" }
            """,
        ]
        for (path, text) in files {
            let url = folder.appendingPathComponent(path)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try (text + "\n").write(to: url, atomically: true, encoding: .utf8)
        }
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
    }

    func configuration() throws -> SladConfiguration { try ConfigLoader.load(directory: folder.path) }

    /// Appends event lines to the source's file.
    func append(_ lines: [String]) throws {
        let handle = try FileHandle(forWritingTo: log)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((lines.joined(separator: "\n") + "\n").utf8))
        try handle.close()
    }

    /// The options of a daemon on this setup: state under the folder, a socket beside it.
    func options() -> DaemonOptions {
        DaemonOptions(stateDirectory: state.path, socketPath: folder.appendingPathComponent("slad.sock").path)
    }

    /// An engine loop over this setup's store, restored, not running on a thread: tests call
    /// its steps directly. `stop()` the returned notifier when done.
    func loop(batchLines: Int = 20_000) async throws -> (EngineLoop, [SLANotification], Notifier) {
        let config = try configuration()
        let store = try Daemon.openStore(options())
        let notifier = try Notifier(config: config, store: store, logger: testLogger)
        let ingest = Ingest(config: config, store: store, maxLineBytes: 1 << 20, reference: false, logger: testLogger)
        let board = StatusBoard(startedMilliseconds: wallMilliseconds())
        let path = state.appendingPathComponent("slad.sqlite").path
        let mailbox = LoopMailbox<EngineLoop>()
        let loop = try EngineLoop(
            config: config, store: store, reader: SLAStore(path: path, readOnly: true), ingest: ingest,
            notifier: notifier, mailbox: mailbox, board: board, metrics: SladMetrics(board: board),
            monthWatch: MonthWatch(
                reader: SLAStore(path: path, readOnly: true), board: board, mailbox: mailbox, logger: testLogger),
            batchLines: batchLines, exitWhenIdle: true, logger: testLogger)
        let caughtUp = try loop.restore()
        return (loop, caughtUp, notifier)
    }
}

/// Logs nothing: the tests look at results, not log lines.
let testLogger = Logger(label: "slad-test", factory: { _ in SwiftLogNoOpLogHandler() })

/// An event line of the native format; `time` is seconds from now (negative: in the past).
func eventLine(
    _ id: String, _ type: String, incident: String, secondsFromNow: Int, extra: String = ""
) -> String {
    let time = ISO8601.format(Instant(Int64(Date().timeIntervalSince1970) + Int64(secondsFromNow)), in: .utc)
    return #"{"id":"\#(id)","time":"\#(time)","type":"\#(type)","incident":"\#(incident)""#
        + (type == "incident.opened" ? #","contract":"gold","service":"web","priority":"P1""# : "") + extra + "}"
}
