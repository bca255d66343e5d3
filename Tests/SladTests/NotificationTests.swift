import Foundation
import SLACore
import SLANotify
import SLAStore
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

let scriptsDirectory = repositoryRoot.appendingPathComponent("Tests/SladTests/Scripts")

/// Polls `condition` every 50 ms until it holds or `seconds` pass.
func waitUntil(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        usleep(50_000)
    }
    return try condition()
}

/// The real webhook receiver (Python's http.server) of Scripts/webhook_receiver.py.
final class Receiver {
    let port: Int
    let log: URL
    private var process: Process?
    private let arguments: [String]

    init(port: Int = freePort(), directory: URL, secret: String, _ extra: [String] = []) {
        self.port = port
        log = directory.appendingPathComponent("received-\(port).jsonl")
        arguments = ["--port", String(port), "--log", log.path, "--secret", secret] + extra
    }

    func start() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", scriptsDirectory.appendingPathComponent("webhook_receiver.py").path] + arguments
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        process = p
        // "ready" once it listens.
        _ = out.fileHandleForReading.availableData
    }

    func stop() {
        guard let p = process, p.isRunning else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        process = nil
    }

    /// Every request received so far.
    func records() -> [[String: Any]] {
        guard let text = try? String(contentsOf: log, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    deinit { stop() }
}

/// slad inside a private mount namespace beside its own systemd-journald (Scripts/with-journald.sh).
final class JournaldSlad {
    let wrapper = Process()
    let journalOut: URL
    let pidFile: URL

    init(arguments: [String], directory: URL) throws {
        journalOut = directory.appendingPathComponent("journal.json")
        pidFile = directory.appendingPathComponent("slad.pid")
        // The test runner's threads block most signals and a spawned process inherits that mask;
        // bash cannot unblock, so a one-line Python exec clears it first (else SIGTERM never reaches the script).
        wrapper.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        wrapper.arguments =
            [
                "python3", "-c",
                "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execvp(sys.argv[1], sys.argv[1:])",
                "unshare", "--mount", "--propagation", "private",
                scriptsDirectory.appendingPathComponent("with-journald.sh").path, sladBinary,
            ] + withControlSocket(arguments)
        var env = ProcessInfo.processInfo.environment
        env["JOURNAL_OUT"] = journalOut.path
        env["CHILD_PID_FILE"] = pidFile.path
        env["STDERR_FILE"] = directory.appendingPathComponent("stderr").path
        wrapper.environment = env
        wrapper.standardError = FileHandle.nullDevice
        try wrapper.run()
    }

    var sladPID: Int32? { (try? String(contentsOf: pidFile, encoding: .utf8)).flatMap { Int32($0.trimmed) } }

    /// Journal entries so far, read with journalctl inside slad's namespace.
    func entries(_ match: String) -> [[String: Any]] {
        guard let pid = sladPID else { return [] }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        p.arguments = ["-t", String(pid), "-m", "journalctl", "-o", "json", "--no-pager", match]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return [] }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return parseJournal(data)
    }

    /// Stops slad (SIGTERM), then journald; returns the whole journal.
    func stop() -> [[String: Any]] {
        kill(wrapper.processIdentifier, SIGTERM)
        wrapper.waitUntilExit()
        return parseJournal((try? Data(contentsOf: journalOut)) ?? Data())
    }

    deinit { if wrapper.isRunning { kill(wrapper.processIdentifier, SIGKILL) } }
}

func parseJournal(_ data: Data) -> [[String: Any]] {
    String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap {
        try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
    }
}

extension String {
    var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}

/// A configuration with one 24x7 contract (P1: reaction 2 s, warning at 50 %, escalation at 200 %)
/// whose notifications go to `webhooks` (name → slad.yaml entry).
func notifyConfig(
    _ work: URL, log: URL, webhooks: [String: String], notify: [String], escalate: [String]? = nil,
    reaction: String = "2s"
) throws -> URL {
    let config = work.appendingPathComponent("config")
    try FileManager.default.createDirectory(
        at: config.appendingPathComponent("contracts.d"), withIntermediateDirectories: true)
    try """
    id: rt
    customer: Real Time GmbH
    calendar: 24x7
    fee: { amount: "100.00", currency: EUR }
    warn_at: ["50%"]
    escalations:
      - { at: "200%", notify: [\((escalate ?? notify).joined(separator: ", "))] }
    priorities:
      P1: { reaction: \(reaction), resolution: 1h }
    notify: [\(notify.joined(separator: ", "))]
    """.write(to: config.appendingPathComponent("contracts.d/rt.yaml"), atomically: true, encoding: .utf8)
    var yaml = "allowed_lateness: 0s\nsources:\n  - { name: rt, path: \"\(log.path)\", format: jsonl }\n"
    if !webhooks.isEmpty {
        yaml += "webhooks:\n" + webhooks.sorted { $0.key < $1.key }.map { "  \($0.key): \($0.value)\n" }.joined()
    }
    try yaml.write(to: config.appendingPathComponent("slad.yaml"), atomically: true, encoding: .utf8)
    return config
}

func append(_ url: URL, _ lines: [String]) throws {
    if !FileManager.default.fileExists(atPath: url.path) {
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
    }
    let handle = try FileHandle(forWritingTo: url)
    handle.seekToEndOfFile()
    handle.write(Data(lines.map { $0 + "\n" }.joined().utf8))
    try handle.close()
}

func opened(_ incident: String, at seconds: Int) -> String {
    #"{"id":"\#(incident)-open","time":"\#(iso(seconds))","type":"incident.opened","incident":"\#(incident)","contract":"rt","priority":"P1"}"#
}

@Suite("notifications (real journald, real HTTP receivers, real process)", .serialized)
struct NotificationTests {
    @Test("journald: warning, breach and retraction entries carry every field; the log goes to the journal natively")
    func journal() throws {
        let work = try makeTemporaryDirectory("slad-journal")
        let log = work.appendingPathComponent("events.jsonl")
        try append(log, [])
        let config = try notifyConfig(work, log: log, webhooks: [:], notify: [])
        let slad = try JournaldSlad(
            arguments: ["run", "--config", config.path, "--state", work.appendingPathComponent("state").path],
            directory: work)
        defer { _ = slad.stop() }
        #expect(waitUntil(10) { slad.sladPID != nil && !slad.entries("SYSLOG_IDENTIFIER=slad").isEmpty })
        let start = Int(Date().timeIntervalSince1970)
        try append(log, [opened("RT-1", at: start)])
        let breached = waitUntil(10) { !slad.entries("SLA_KIND=breach").isEmpty }
        #expect(breached, "no breach entry in the journal")
        // The acknowledgement that arrives late but proves the clock stopped at 1 s: the breach is retracted.
        try append(
            log, [#"{"id":"RT-1-ack","time":"\#(iso(start + 1))","type":"incident.acknowledged","incident":"RT-1"}"#])
        #expect(waitUntil(10) { !slad.entries("SLA_KIND=breach.retracted").isEmpty })
        let all = slad.stop()
        let sla = all.filter { $0["SLA_INCIDENT"] as? String == "RT-1" }
        #expect(sla.map { $0["SLA_KIND"] as? String } == ["warning", "breach", "breach.retracted"])
        let breach = try #require(sla.first { $0["SLA_KIND"] as? String == "breach" })
        let expected: [String: String] = [
            "MESSAGE": "RT-1 (rt, P1) breached reaction: 2s target, 2s elapsed",
            "PRIORITY": "3", "MESSAGE_ID": NotificationText.messageID(.breach), "SYSLOG_IDENTIFIER": "slad",
            "SLA_CONTRACT": "rt", "SLA_CUSTOMER": "Real Time GmbH", "SLA_INCIDENT": "RT-1", "SLA_METRIC": "reaction",
            "SLA_PRIORITY": "P1", "SLA_TARGET_SEC": "2", "SLA_ELAPSED_SEC": "2", "SLA_DEADLINE": iso(start + 2),
            "SLA_DUE": iso(start + 2), "SLA_NOTIFICATION_ID": "RT-1/reaction/breach/100%", "SLA_PERCENT": "100%",
            "SLA_LATE": "0",
        ]
        for (field, value) in expected.sorted(by: { $0.key < $1.key }) {
            #expect(breach[field] as? String == value, "\(field)")
        }
        let warning = try #require(sla.first)
        #expect(warning["PRIORITY"] as? String == "4")
        #expect(
            warning["MESSAGE"] as? String
                == "RT-1 (rt, P1) at 50% of reaction: 2s target, 1s elapsed, breach at \(iso(start + 2))")
        #expect(sla.last?["PRIORITY"] as? String == "5")
        // slad's own log records are journal entries too, with metadata as fields and in MESSAGE.
        let started = try #require(all.first { ($0["MESSAGE"] as? String)?.hasPrefix("slad: started ") == true })
        #expect((started["MESSAGE"] as? String)?.contains(" sources=1") == true)
        #expect(started["SLAD_SOURCES"] as? String == "1")
        #expect(started["PRIORITY"] as? String == "6")
        // The journal deliveries are recorded as done in the store, with the outbox row.
        let store = try SLAStore(path: work.appendingPathComponent("state/slad.sqlite").path, readOnly: true)
        #expect(try store.deliveryCounts()["journal"] == ["delivered": 3])
    }
}

/// Webhook behaviour against real receivers.
@Suite("webhook delivery (real HTTP receivers, real process)", .serialized)
struct WebhookDeliveryTests {
    static let secret = "whsec_c2xhZC10ZXN0LXNlY3JldC0wMTIzNDU2Nzg5"

    /// The shared test secret in a file of `work`.
    static func writeSecret(in work: URL) throws -> URL {
        let file = work.appendingPathComponent("hook.key")
        try secret.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    /// Ids each receiver answered 200 to, in order of that first success.
    static func delivered(_ r: Receiver) -> [String] {
        var seen = Set<String>()
        return r.records().compactMap { rec in
            guard rec["status"] as? Int == 200, let id = rec["id"] as? String, seen.insert(id).inserted else {
                return nil
            }
            return id
        }
    }

    /// Every complete request carried a valid signature and a body whose data.id is its webhook-id;
    /// a request cut short by a SIGKILL of the sender is never answered, so never counts as delivered.
    static func checkSigned(_ r: Receiver) {
        for rec in r.records() {
            if rec["incomplete"] as? Bool == true {
                #expect(rec["status"] == nil, "an incomplete request was answered: \(rec)")
                continue
            }
            #expect(rec["valid"] as? Bool == true, "bad signature: \(rec)")
            let data = (rec["body"] as? [String: Any])?["data"] as? [String: Any]
            #expect(data?["id"] as? String == rec["id"] as? String)
        }
    }

    @Test(
        "a flaky (500, timeout), a down-for-a-while and a healthy endpoint: each notification arrives, same id, signed, in order per incident; a dead one is failed after max_age, and never delays the others"
    )
    func flakyDownDead() throws {
        let work = try makeTemporaryDirectory("slad-webhooks")
        let secretFile = try Self.writeSecret(in: work)
        let fast = Receiver(directory: work, secret: Self.secret)
        let flaky = Receiver(
            directory: work, secret: Self.secret, ["--fail-first", "2", "--hang-first", "--hang-seconds", "2"])
        let late = Receiver(directory: work, secret: Self.secret)
        let deadPort = freePort()
        try fast.start()
        try flaky.start()
        defer {
            fast.stop()
            flaky.stop()
            late.stop()
        }
        func hook(_ name: String, _ port: Int, _ extra: String = "") -> String {
            "{ url: \"http://127.0.0.1:\(port)/hooks/\(name)\", secret_file: \"\(secretFile.path)\", timeout: 1s\(extra) }"
        }
        let log = work.appendingPathComponent("events.jsonl")
        try append(log, [])
        let names = ["fast", "flaky", "late", "dead"]
        let config = try notifyConfig(
            work, log: log,
            webhooks: [
                "fast": hook("fast", fast.port), "flaky": hook("flaky", flaky.port), "late": hook("late", late.port),
                "dead": hook("dead", deadPort, ", max_age: 2s"),
            ], notify: names)
        let state = work.appendingPathComponent("state")
        let stderr = work.appendingPathComponent("stderr")
        var daemon = try startSlad(["run", "--config", config.path, "--state", state.path], stderr: stderr)
        defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
        let storePath = state.appendingPathComponent("slad.sqlite").path
        #expect(waitUntil(20) { FileManager.default.fileExists(atPath: storePath) })
        let start = Int(Date().timeIntervalSince1970)
        try append(log, (1...5).map { opened("W-\($0)", at: start) })
        // 5 incidents × (warning 50 %, breach, escalation 200 %) = 15 notifications per endpoint.
        #expect(
            waitUntil(30) { Self.delivered(fast).count == 15 },
            "the healthy endpoint got \(Self.delivered(fast).count) of 15 while another endpoint was down")
        try late.start()
        #expect(waitUntil(60) { Self.delivered(flaky).count == 15 && Self.delivered(late).count == 15 })
        let store = try SLAStore(path: storePath, readOnly: true)
        #expect(waitUntil(10) { (try? store.deliveryCounts()["dead"]?["failed"]) == 15 })

        let outbox = try store.outbox()
        #expect(outbox.count == 15)
        for r in [fast, flaky, late] {
            Self.checkSigned(r)
            #expect(Set(Self.delivered(r)) == Set(outbox.map(\.id)))
            // Per incident, first successful receipt in decision order: warning, breach, escalation.
            for i in 1...5 {
                #expect(
                    Self.delivered(r).filter { $0.hasPrefix("W-\(i)/") }
                        == [
                            "W-\(i)/reaction/warning/50%", "W-\(i)/reaction/breach/100%",
                            "W-\(i)/reaction/escalation/200%",
                        ])
            }
        }
        // The flaky endpoint saw the timeout and the 500s and the same id again each time.
        #expect(flaky.records().count >= 45)
        // A clean stop and restart sends nothing again.
        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
        #expect(daemon.terminationStatus == 0)
        let counts = [fast, flaky, late].map { $0.records().count }
        daemon = try startSlad(["run", "--config", config.path, "--state", state.path])
        usleep(2_500_000)
        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
        #expect([fast, flaky, late].map { $0.records().count } == counts)
        let after = try SLAStore(path: storePath, readOnly: true).deliveryCounts()
        for name in ["fast", "flaky", "late"] { #expect(after[name] == ["delivered": 15], "\(name)") }
        #expect(after["dead"] == ["failed": 15])
        // Failures were logged (the dead endpoint given up at error level), and no log line,
        // error or store row carries the secret or an endpoint URL.
        let logText = try String(contentsOf: stderr, encoding: .utf8)
        #expect(logText.contains("slad: delivery given up after the maximum age"))
        #expect(logText.contains("sink=dead"))
        let storeBytes =
            try Data(contentsOf: URL(fileURLWithPath: storePath))
            + ((try? Data(contentsOf: URL(fileURLWithPath: storePath + "-wal"))) ?? Data())
        for needle in [Self.secret, String(Self.secret.dropFirst(6)), "slad-test-secret", "/hooks/dead"] {
            #expect(!logText.contains(needle), "log carries \(needle)")
            #expect(storeBytes.range(of: Data(needle.utf8)) == nil, "store carries \(needle)")
        }
    }

    @Test(
        "SIGKILL 15 times while notifications are pending: each arrives at least once, duplicates only with the same id"
    )
    func crashes() throws {
        let work = try makeTemporaryDirectory("slad-webhook-crash")
        let secretFile = try Self.writeSecret(in: work)
        let receiver = Receiver(directory: work, secret: Self.secret, ["--fail-rate", "0.3", "--seed", "7"])
        try receiver.start()
        defer { receiver.stop() }
        let log = work.appendingPathComponent("events.jsonl")
        try append(log, [])
        let config = try notifyConfig(
            work, log: log,
            webhooks: [
                "ops":
                    "{ url: \"http://127.0.0.1:\(receiver.port)/hooks/ops\", secret_file: \"\(secretFile.path)\", timeout: 1s }"
            ],
            notify: ["ops"])
        let state = work.appendingPathComponent("state")
        let storePath = state.appendingPathComponent("slad.sqlite").path
        // 20 incidents whose thresholds come due over the next ~8 s, while slad is killed and restarted.
        let start = Int(Date().timeIntervalSince1970)
        try append(log, (0..<20).map { opened("K-\($0)", at: start - 2 + $0 / 4) })
        // The kill times are random; the seed names them in a failure (SLAD_TEST_SEED runs them again).
        let seed = testSeed()
        var rng = SeededRandom(seed: seed)
        for _ in 0..<15 {
            let daemon = try startSlad(["run", "--config", config.path, "--state", state.path])
            usleep(UInt32.random(in: 200_000...900_000, using: &rng))
            kill(daemon.processIdentifier, SIGKILL)
            daemon.waitUntilExit()
        }
        let daemon = try startSlad(["run", "--config", config.path, "--state", state.path])
        defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
        let expected = 20 * 3
        #expect(
            waitUntil(90) { Set(Self.delivered(receiver)).count == expected },
            "not every notification arrived after 15 kills (SLAD_TEST_SEED=\(seed))")
        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
        let outbox = try SLAStore(path: storePath, readOnly: true).outbox()
        #expect(outbox.count == expected)
        Self.checkSigned(receiver)
        let received = receiver.records().compactMap { $0["id"] as? String }
        #expect(Set(received) == Set(outbox.map(\.id)), "a request carried an id the outbox does not have")
        #expect(Set(Self.delivered(receiver)) == Set(outbox.map(\.id)))
    }
}
