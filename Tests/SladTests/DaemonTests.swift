import Foundation
import Logging
import SLACore
import SLAStore
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A configuration folder with the acme-gold contract and one source reading `pattern`.
func daemonConfig(pattern: String) throws -> URL {
    let dir = try makeTemporaryDirectory("slad-daemon")
    let fm = FileManager.default
    for sub in ["contracts.d", "calendars"] {
        try fm.createDirectory(at: dir.appendingPathComponent(sub), withIntermediateDirectories: true)
    }
    let etc = repositoryRoot.appendingPathComponent("etc/slad")
    for file in ["contracts.d/acme-gold.yaml", "calendars/msk-business.yaml", "calendars/ru-holidays-2026.ics"] {
        try fm.copyItem(at: etc.appendingPathComponent(file), to: dir.appendingPathComponent(file))
    }
    try "sources:\n  - { name: app, path: \"\(pattern)\", format: jsonl }\n".write(
        to: dir.appendingPathComponent("slad.yaml"), atomically: true, encoding: .utf8)
    return dir
}

/// Writes `incidents` incidents of five events each (and a malformed line every 1000 incidents).
func writeLog(_ url: URL, incidents: Int) throws {
    var text = ""
    let base = 1_793_600_000
    for i in 0..<incidents {
        let t = base + i * 37
        let p = ["P1", "P2", "P3"][i % 3]
        text +=
            #"{"id":"e-\#(i)-0","time":"\#(iso(t))","type":"incident.opened","incident":"INC-\#(i)","contract":"acme-gold","service":"portal","priority":"\#(p)","team":"L1"}"#
            + "\n"
        text +=
            #"{"id":"e-\#(i)-1","time":"\#(iso(t + 60 + i % 3000))","type":"incident.acknowledged","incident":"INC-\#(i)"}"#
            + "\n"
        text +=
            #"{"id":"e-\#(i)-2","time":"\#(iso(t + 3700 + i % 3000))","type":"incident.updated","incident":"INC-\#(i)","team":"L2"}"#
            + "\n"
        text +=
            #"{"id":"e-\#(i)-3","time":"\#(iso(t + 7300 + (i * 7) % 30000))","type":"incident.resolved","incident":"INC-\#(i)"}"#
            + "\n"
        text +=
            #"{"id":"e-\#(i)-4","time":"\#(iso(t + 50000 + i % 9000))","type":"incident.closed","incident":"INC-\#(i)"}"#
            + "\n"
        if i % 1000 == 0 { text += "this line is not JSON\n" }
    }
    try text.write(to: url, atomically: true, encoding: .utf8)
}

func iso(_ seconds: Int) -> String {
    let d = Date(timeIntervalSince1970: TimeInterval(seconds))
    let f = ISO8601DateFormatter()
    return f.string(from: d)
}

/// `slad run` arguments with a control socket inside the state folder, so that daemons of
/// parallel tests never meet at the system path.
func withControlSocket(_ arguments: [String]) -> [String] {
    guard arguments.first == "run", !arguments.contains("--socket"), let i = arguments.firstIndex(of: "--state"),
        i + 1 < arguments.count
    else { return arguments }
    return arguments + ["--socket", arguments[i + 1] + "/slad.sock"]
}

/// Starts the real daemon.
func startSlad(_ arguments: [String], stderr: URL? = nil, environment: [String: String] = [:]) throws -> Process {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: sladBinary)
    p.arguments = withControlSocket(arguments)
    if !environment.isEmpty {
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    }
    if let stderr {
        if !FileManager.default.fileExists(atPath: stderr.path) {
            _ = FileManager.default.createFile(atPath: stderr.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: stderr)
        handle.seekToEndOfFile()
        p.standardError = handle
    } else {
        p.standardError = FileHandle.nullDevice
    }
    p.standardOutput = FileHandle.nullDevice
    try p.run()
    return p
}

/// Runs `slad run` on `config`, its state, control socket and standard error in `work`, until
/// `body` returns: `body` gets the control socket once the daemon answers on it.
func withDaemon<R>(config: URL, in work: URL, _ body: (_ socket: String) throws -> R) throws -> R {
    let socket = work.appendingPathComponent("slad.sock").path
    let daemon = try startSlad(
        ["run", "--config", config.path, "--state", work.appendingPathComponent("state").path, "--socket", socket],
        stderr: work.appendingPathComponent("stderr"))
    defer {
        daemon.terminate()
        daemon.waitUntilExit()
    }
    #expect(waitUntil(30) { (try? curl(socket, "/v1/status").status) == 200 })
    return try body(socket)
}

@Suite("slad run (real process, real files)", .serialized)
struct DaemonTests {
    @Test("SIGKILL at 50+ random points: the final store equals one clean run's, byte for byte")
    func crashes() throws {
        let work = try makeTemporaryDirectory("slad-crash")
        let log = work.appendingPathComponent("events.jsonl")
        try writeLog(log, incidents: 12_000)
        let config = try daemonConfig(pattern: log.path)
        let clean = work.appendingPathComponent("clean")
        let crashed = work.appendingPathComponent("crashed")

        let reference = try startSlad(["run", "--config", config.path, "--state", clean.path, "--exit-when-idle"])
        reference.waitUntilExit()
        #expect(reference.terminationStatus == 0)
        let expected = try runSlad(["dump", "--state", clean.path]).stdout
        #expect(expected.contains("\ne-11999-4|"), "the clean run ingested everything")

        // The kill times are random; the seed names them in a failure (SLAD_TEST_SEED runs them again).
        let seed = testSeed()
        var rng = SeededRandom(seed: seed)
        var killedWhileRunning = 0
        var kills = 0
        while kills < 50 || killedWhileRunning < 30 {
            let p = try startSlad([
                "run", "--config", config.path, "--state", crashed.path, "--exit-when-idle", "--batch-lines", "1500",
                // The state settled at the end of the backlog in batches of 700 incidents: kills
                // land between them too.
                "--state-slice", "700",
            ])
            usleep(UInt32.random(in: 50_000...900_000, using: &rng))
            if p.isRunning {
                kill(p.processIdentifier, SIGKILL)
                killedWhileRunning += 1
            }
            p.waitUntilExit()
            kills += 1
            if kills > 400 { break }
        }
        let last = try startSlad(["run", "--config", config.path, "--state", crashed.path, "--exit-when-idle"])
        last.waitUntilExit()
        #expect(last.terminationStatus == 0)
        #expect(killedWhileRunning >= 30, "most kills must land mid-ingest (\(killedWhileRunning) of \(kills))")
        let actual = try runSlad(["dump", "--state", crashed.path]).stdout
        // Compare as a Bool: on failure, print the first differing line, not two multi-megabyte dumps.
        let same = actual == expected
        let a = actual.split(separator: "\n")
        let e = expected.split(separator: "\n")
        let firstDifference = (0..<min(a.count, e.count)).first { a[$0] != e[$0] } ?? min(a.count, e.count)
        #expect(
            same,
            "the store after \(kills) kills (SLAD_TEST_SEED=\(seed)) differs from a clean run at dump line \(firstDifference + 1): \(a.count > firstDifference ? String(a[firstDifference]) : "<end>") vs \(e.count > firstDifference ? String(e[firstDifference]) : "<end>")"
        )
        let stats = try SLAStore(path: crashed.appendingPathComponent("slad.sqlite").path, readOnly: true).sourceStats()
        #expect(stats["app"]?.events == 60_000)
    }

    @Test(
        "a log read again (its lines appended once more, a copy as a second source, after a restart) adds nothing to the ledger or the incidents"
    )
    func rereadChangesNothing() throws {
        let work = try makeTemporaryDirectory("slad-reread")
        let log = work.appendingPathComponent("events.jsonl")
        try writeLog(log, incidents: 300)
        let config = try daemonConfig(pattern: log.path)
        let state = work.appendingPathComponent("state")
        func run() throws {
            let p = try startSlad(["run", "--config", config.path, "--state", state.path, "--exit-when-idle"])
            p.waitUntilExit()
            #expect(p.terminationStatus == 0)
        }
        /// The ledger and incident sections of the dump (offsets and counters do change).
        func ledgerAndIncidents() throws -> String {
            let dump = try runSlad(["dump", "--state", state.path]).stdout
            return dump.components(separatedBy: "# quarantine\n")[0]
        }
        try run()
        let first = try ledgerAndIncidents()
        #expect(first.contains("\ne-299-4|"))
        let lines = try String(contentsOf: log, encoding: .utf8)
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        handle.write(Data(lines.utf8))
        try handle.close()
        let copy = work.appendingPathComponent("copy.jsonl")
        try lines.write(to: copy, atomically: true, encoding: .utf8)
        try
            "sources:\n  - { name: app, path: \"\(log.path)\", format: jsonl }\n  - { name: copy, path: \"\(copy.path)\", format: jsonl }\n"
            .write(to: config.appendingPathComponent("slad.yaml"), atomically: true, encoding: .utf8)
        try run()
        #expect(try ledgerAndIncidents() == first)
        let stats = try SLAStore(path: state.appendingPathComponent("slad.sqlite").path, readOnly: true).sourceStats()
        #expect(stats["app"]?.events == 1_500 && stats["app"]?.duplicates == 1_500)
        #expect(stats["copy"]?.events == 0 && stats["copy"]?.duplicates == 1_500)
    }

    @Test("real time: a 2 s reaction target breaches within 50 ms of its deadline (outbox decision time)")
    func realTimeBreach() throws {
        let work = try makeTemporaryDirectory("slad-realtime")
        let config = work.appendingPathComponent("config")
        try FileManager.default.createDirectory(
            at: config.appendingPathComponent("contracts.d"), withIntermediateDirectories: true)
        try """
        id: rt
        customer: Real time
        calendar: 24x7
        fee: { amount: "100.00", currency: EUR }
        priorities:
          P1: { reaction: 2s, resolution: 1h }
        """.write(to: config.appendingPathComponent("contracts.d/rt.yaml"), atomically: true, encoding: .utf8)
        let log = work.appendingPathComponent("events.jsonl")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        try "allowed_lateness: 0s\nsources:\n  - { name: rt, path: \"\(log.path)\", format: jsonl }\n".write(
            to: config.appendingPathComponent("slad.yaml"), atomically: true, encoding: .utf8)
        let state = work.appendingPathComponent("state")
        let daemon = try startSlad(["run", "--config", config.path, "--state", state.path])
        defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
        let storePath = state.appendingPathComponent("slad.sqlite").path
        let started = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: storePath) && Date() < started { usleep(20_000) }
        usleep(300_000)

        let openedAt = Int(Date().timeIntervalSince1970)
        try append(log, [opened("RT-1", at: openedAt)])

        var breach: (due: Int64, decided: Int64)?
        let deadline = Date().addingTimeInterval(10)
        while breach == nil && Date() < deadline {
            usleep(50_000)
            if let store = try? SLAStore(path: storePath, readOnly: true),
                let n = (try? store.outbox())?.first(where: { $0.id == "RT-1/reaction/breach/100%" })
            {
                breach = (n.due.seconds, n.decidedAtMilliseconds)
            }
        }
        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
        let b = try #require(breach, "no breach in the outbox")
        #expect(b.due == Int64(openedAt + 2))
        let latency = b.decided - b.due * 1000
        #expect(latency >= 0 && latency <= 50, "decided \(latency) ms after the deadline")
    }

    @Test("SIGTERM finishes the batch, saves offsets and exits 0")
    func gracefulStop() throws {
        let work = try makeTemporaryDirectory("slad-term")
        let log = work.appendingPathComponent("events.jsonl")
        try writeLog(log, incidents: 200)
        let config = try daemonConfig(pattern: log.path)
        let state = work.appendingPathComponent("state")
        let p = try startSlad(["run", "--config", config.path, "--state", state.path])
        let deadline = Date().addingTimeInterval(30)
        var events = 0
        while Date() < deadline {
            usleep(100_000)
            if let store = try? SLAStore(path: state.appendingPathComponent("slad.sqlite").path, readOnly: true),
                let n = try? store.sourceStats()["app"]?.events
            {
                events = n
                if events == 1000 { break }
            }
        }
        #expect(events == 1000)
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        #expect(p.terminationReason == .exit && p.terminationStatus == 0)
        let offsets = try SLAStore(path: state.appendingPathComponent("slad.sqlite").path, readOnly: true).offsets()
        let size = try FileManager.default.attributesOfItem(atPath: log.path)[.size] as? Int
        #expect(offsets.map(\.offset) == [Int64(size ?? -1)])
    }

    @Test("200 rotations of each kind while a writer appends: every line ingested exactly once")
    func rotation() throws {
        let work = try makeTemporaryDirectory("slad-rotate")
        let logs = work.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        let live = logs.appendingPathComponent("app.jsonl")
        let config = try daemonConfig(pattern: logs.path + "/app.jsonl*")
        let state = work.appendingPathComponent("state")
        let storePath = state.appendingPathComponent("slad.sqlite").path
        _ = FileManager.default.createFile(atPath: live.path, contents: nil)
        let daemon = try startSlad(["run", "--config", config.path, "--state", state.path])
        defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }

        var written = 0
        func append(_ count: Int) throws {
            var lines: [String] = []
            for _ in 0..<count {
                let t = 1_793_600_000 + written
                lines.append(#"{"id":"r-\#(written)","time":"\#(iso(t))","type":"service.down","service":"portal"}"#)
                written += 1
            }
            try SladTests.append(live, lines)
        }
        func ingested() -> Int {
            guard let store = try? SLAStore(path: storePath, readOnly: true) else { return 0 }
            return (try? store.sourceStats()["app"]?.events) ?? 0
        }
        func waitFor(_ n: Int) -> Bool {
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                if ingested() >= n { return true }
                usleep(20_000)
            }
            return false
        }
        let fm = FileManager.default
        for cycle in 0..<200 {
            // rename + create
            try append(3)
            try fm.moveItem(at: live, to: logs.appendingPathComponent("app.jsonl.r\(cycle)"))
            _ = fm.createFile(atPath: live.path, contents: nil)
            try append(2)
            // copytruncate (the writer pauses only for the copy-and-truncate itself)
            try append(3)
            try fm.copyItem(at: live, to: logs.appendingPathComponent("app.jsonl.c\(cycle)"))
            try FileHandle(forWritingTo: live).truncate(atOffset: 0)
            try append(2)
            // delete + re-create: what was written before a deletion is read first
            try append(3)
            try #require(
                waitFor(written),
                "cycle \(cycle): daemon did not catch up before deletion (\(ingested()) of \(written))")
            try fm.removeItem(at: live)
            _ = fm.createFile(atPath: live.path, contents: nil)
        }
        try append(5)
        #expect(waitFor(written))
        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
        let stats = try SLAStore(path: storePath, readOnly: true).sourceStats()["app"]
        #expect(stats?.events == written, "every line once")
        #expect(stats?.duplicates == 0, "no line read twice")
        #expect(stats?.quarantined == 0)
        #expect(stats?.lines == written)
    }
}

@Suite("slad run: the restart resumes from the state stored at the stop (real process, real store)", .serialized)
struct ResumeTests {
    @Test(
        "after SIGTERM the next start resumes from the snapshot and lists what the full catch-up lists; another configuration or a new event falls back to it"
    )
    func resumedRestartEqualsCatchUp() throws {
        try resumeAndFallBack(store: nil)
    }

    @Test("the same on a PostgreSQL store: the snapshot is stored and read back through the lease holder's writes")
    func resumedRestartOnPostgres() async throws {
        try await PostgresCluster.with { cluster in
            let location = try await cluster.createDatabase("slad", logger: Logger(label: "slad.test.resume"))
            try resumeAndFallBack(store: "\(location)")
        }
    }

    /// Six starts of one daemon (on SQLite, or on the PostgreSQL `store`), see the tests above.
    func resumeAndFallBack(store: String?) throws {
        let work = try makeTemporaryDirectory("slad-resume")
        let config = work.appendingPathComponent("config")
        try FileManager.default.createDirectory(
            at: config.appendingPathComponent("contracts.d"), withIntermediateDirectories: true)
        // Round the clock, with thresholds days apart: none comes due while the test runs, so
        // every start must list the same.
        let contract = config.appendingPathComponent("contracts.d/snap.yaml")
        try """
        id: snap
        customer: Snap
        valid: { from: 2020-01-01 }
        calendar: 24x7
        fee: { amount: "1000.00", currency: EUR }
        priorities:
          P1: { reaction: 30d, resolution: 60d }
          P2: { reaction: 1h, resolution: 2h }
        warn_at: ["50%", "80%"]
        notify: [ops]

        """.write(to: contract, atomically: true, encoding: .utf8)
        let log = work.appendingPathComponent("events.jsonl")
        try
            ("sources:\n  - { name: app, path: \"\(log.path)\", format: jsonl }\n"
            + (store.map { "store: \($0)\n" } ?? ""))
            .write(to: config.appendingPathComponent("slad.yaml"), atomically: true, encoding: .utf8)
        let now = Int(Date().timeIntervalSince1970)
        var lines = ""
        func line(_ id: String, _ t: Int, _ type: String, _ incident: String, _ extra: String = "") {
            lines +=
                #"{"id":"\#(id)","time":"\#(iso(t))","type":"incident.\#(type)","incident":"\#(incident)","contract":"snap"\#(extra)}"#
                + "\n"
        }
        for i in 0..<120 {
            // Fine and armed (P1, an hour old), at risk and armed (P1, 20 days old), breached
            // (P2, 10 days old), and some resolved.
            let (age, priority) = [(3_600, "P1"), (20 * 86_400, "P1"), (10 * 86_400, "P2")][i % 3]
            line("e\(i)-o", now - age - i, "opened", "INC-\(i)", #","priority":"\#(priority)""#)
            if i % 4 == 0 { line("e\(i)-a", now - age - i + 60, "acknowledged", "INC-\(i)") }
            if i % 5 == 0 { line("e\(i)-r", now - age - i + 120, "resolved", "INC-\(i)") }
        }
        try lines.write(to: log, atomically: true, encoding: .utf8)
        let stderr = work.appendingPathComponent("stderr")
        let state = work.appendingPathComponent("state")
        let socket = work.appendingPathComponent("slad.sock").path
        /// The status document as a dictionary.
        func status() -> [String: Any]? {
            guard let body = try? curl(socket, "/v1/status").body else { return nil }
            return (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
        }
        /// One start until `events` are read, stopped by `signal`: what it lists and counts, and
        /// its start line's `resumed`.
        func start(events: Int, signal: Int32 = SIGTERM, state: URL = state) throws -> (
            listing: String, resumed: String
        ) {
            let before = (try? Data(contentsOf: stderr).count) ?? 0
            let daemon = try startSlad(
                ["run", "--config", config.path, "--state", state.path, "--socket", socket], stderr: stderr)
            // On PostgreSQL a node answers as a standby until the last one's lease lapses.
            #expect(
                waitUntil(30) {
                    let s = status()
                    return s?["events"] as? Int == events && s?["role"] as? String != "standby"
                })
            let counts = status().map { s in
                let incidents = s["incidents"] as? [String: Int] ?? [:]
                return "open \(incidents["open"] ?? -1) at_risk \(incidents["at_risk"] ?? -1) breached "
                    + "\(incidents["breached"] ?? -1) armed \(s["armed_timers"] as? Int ?? -1)"
            }
            // `seconds_left` is counted to the moment of the request.
            let listing =
                try ["open", "at_risk", "breached"].map {
                    try curl(socket, "/v1/incidents?state=\($0)&limit=1000").body.replacing(
                        /"seconds_left":-?[0-9]+,/, with: "")
                }
                + [counts ?? "no status"]
            kill(daemon.processIdentifier, signal)
            daemon.waitUntilExit()
            let log = String(decoding: try Data(contentsOf: stderr).dropFirst(before), as: UTF8.self)
            let started = log.split(separator: "\n").first { $0.contains("slad: started") } ?? ""
            let resumed = started.split(separator: " ").first { $0.hasPrefix("resumed=") }.map(String.init) ?? "none"
            return (listing.joined(separator: "\n"), resumed)
        }
        let count = lines.split(separator: "\n").count
        let first = try start(events: count)
        #expect(first.resumed == "resumed=catch-up", "a new store has no snapshot")
        #expect(first.listing.contains("INC-1\"") && first.listing.contains("INC-2\""))
        let second = try start(events: count)
        #expect(second.resumed == "resumed=snapshot")
        #expect(second.listing == first.listing)
        if store == nil {
            // A clean stop leaves the database file whole: its WAL is empty, and a copy of the
            // file alone (a backup taken after the stop) resumes where the daemon stopped. Also
            // after `--exit-when-idle`, whose process can end before the database is closed (the
            // close checkpoints): with a large store it did, and the stop now checkpoints itself.
            let idle = try runSlad(
                ["run", "--config", config.path, "--state", state.path, "--socket", socket, "--exit-when-idle"])
            #expect(idle.status == 0 && idle.stderr.contains("resumed=snapshot"), "\(idle.stderr)")
            let wal = state.appendingPathComponent("slad.sqlite-wal").path
            #expect((try? FileManager.default.attributesOfItem(atPath: wal)[.size] as? Int) ?? 0 == 0)
            let copy = work.appendingPathComponent("copy")
            try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
            try FileManager.default.copyItem(
                at: state.appendingPathComponent("slad.sqlite"), to: copy.appendingPathComponent("slad.sqlite"))
            let fromCopy = try start(events: count, state: copy)
            #expect(fromCopy.resumed == "resumed=snapshot")
            #expect(fromCopy.listing == first.listing)
        }
        // The same terms in other bytes: another configuration, so the full catch-up.
        try (String(contentsOf: contract, encoding: .utf8) + "# the same terms\n").write(
            to: contract, atomically: true, encoding: .utf8)
        let third = try start(events: count)
        #expect(third.resumed == "resumed=catch-up")
        #expect(third.listing == first.listing)
        // A new event read, then SIGKILL: no snapshot after it, so the next start catches up.
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        handle.write(
            Data(
                (#"{"id":"late","time":"\#(iso(now - 30))","type":"incident.acknowledged","incident":"INC-1","contract":"snap"}"#
                    + "\n").utf8))
        try handle.close()
        let fourth = try start(events: count + 1, signal: SIGKILL)
        #expect(fourth.resumed == "resumed=snapshot", "the ledger as at the last stop; the new line comes after")
        let fifth = try start(events: count + 1)
        #expect(fifth.resumed == "resumed=catch-up")
        let sixth = try start(events: count + 1)
        #expect(sixth.resumed == "resumed=snapshot")
        #expect(sixth.listing == fifth.listing)
        #expect(sixth.listing != first.listing, "INC-1 was acknowledged")
    }
}
