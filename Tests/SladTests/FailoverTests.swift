import Foundation
import Logging
import PostgresNIO
import SLAConfig
import SLACore
import SLAPostgres
import SLAStore
import Synchronization
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Three slad processes on one PostgreSQL store while events stream into their shared log and
/// deadlines fall due; the leader is killed (SIGKILL), stopped beyond its lease (SIGSTOP, then
/// SIGCONT) and cut from the database (`pg_terminate_backend`), `SLAD_FAILOVER_KILLS` times of
/// each kind (1 in the test suite; scripts/failover.sh runs the long campaign).
@Suite("failover: three slad nodes on one PostgreSQL (real processes, real server)", .serialized)
struct FailoverTests {
    static let logger = Logger(label: "slad.test.failover")

    enum Kill: String, CaseIterable {
        case sigkill = "kill -9"
        case sigstop = "SIGSTOP beyond the lease"
        case cut = "pg_terminate_backend"
    }

    /// One node: its folder, its socket, and the process running now.
    final class Node {
        let index: Int
        let folder: URL
        let config: URL
        var process: Process?

        init(index: Int, work: URL, config: URL) {
            self.index = index
            folder = work.appendingPathComponent("node\(index)")
            self.config = config
        }

        var socket: String { folder.appendingPathComponent("slad.sock").path }

        func start() throws {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            process = try startSlad(
                ["run", "--config", config.path, "--state", folder.path, "--socket", socket],
                stderr: folder.appendingPathComponent("stderr"))
        }

        var pid: Int32? { process.flatMap { $0.isRunning ? $0.processIdentifier : nil } }
    }

    @Test(
        "no event lost or doubled, every notification delivered with one content, no stale write accepted, whatever happens to the leader"
    )
    func failover() async throws {
        try await PostgresCluster.with { try await run($0) }
    }

    func run(_ cluster: PostgresCluster) async throws {
        let kills = Int(ProcessInfo.processInfo.environment["SLAD_FAILOVER_KILLS"] ?? "") ?? 1
        // Incidents of history in the log before the nodes start (opened, acknowledged and
        // resolved in time, a day ago): the ledger a takeover would otherwise read again.
        let history = Int(ProcessInfo.processInfo.environment["SLAD_FAILOVER_HISTORY"] ?? "") ?? 0
        let location = try await cluster.createDatabase("slad", logger: Self.logger)
        let work = try makeTemporaryDirectory("slad-failover")
        let secretFile = try WebhookDeliveryTests.writeSecret(in: work)
        let receiver = Receiver(directory: work, secret: WebhookDeliveryTests.secret)
        try receiver.start()
        defer { receiver.stop() }
        let log = work.appendingPathComponent("events.jsonl")
        try append(log, [])
        let dayAgo = Int(Date().timeIntervalSince1970) - 86_400
        for chunk in stride(from: 0, to: history, by: 10_000) {
            try append(
                log,
                (chunk..<min(history, chunk + 10_000)).flatMap { k in
                    [
                        opened("H-\(k)", at: dayAgo),
                        Self.event("H-\(k)-ack", "incident.acknowledged", "H-\(k)", dayAgo + 1),
                        Self.event("H-\(k)-res", "incident.resolved", "H-\(k)", dayAgo + 2),
                    ]
                })
        }
        let config = try notifyConfig(
            work, log: log,
            webhooks: [
                "ops": "{ url: \"http://127.0.0.1:\(receiver.port)/hooks/ops\", secret_file: \"\(secretFile.path)\" }"
            ], notify: ["ops"], reaction: "3s")
        try append(config.appendingPathComponent("slad.yaml"), ["store: \(location)"])

        let nodes = (1...3).map { Node(index: $0, work: work, config: config) }
        for n in nodes { try n.start() }
        defer {
            for n in nodes { if let p = n.process, p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        }
        let admin = try await location.connect(logger: Self.logger)
        defer { Task { try? await admin.close() } }

        // Events stream in all along: an incident a tick, half of them acknowledged in time, the
        // others left to warn, breach and escalate before they are resolved.
        let written = Mutex<[String]>([])
        let writing = Task {
            var k = 0
            while !Task.isCancelled {
                let now = Int(Date().timeIntervalSince1970)
                var lines = [opened("F-\(k)", at: now)]
                var ids = ["F-\(k)-open"]
                if k >= 5, k % 2 == 0 {
                    lines.append(Self.event("F-\(k - 5)-ack", "incident.acknowledged", "F-\(k - 5)", now))
                    ids.append("F-\(k - 5)-ack")
                }
                if k >= 40 {
                    lines.append(Self.event("F-\(k - 40)-res", "incident.resolved", "F-\(k - 40)", now))
                    ids.append("F-\(k - 40)-res")
                }
                try? append(log, lines)
                written.withLock { $0 += ids }
                k += 1
                try? await Task.sleep(for: .milliseconds(250))
            }
        }

        // The lease's holder now, once one holds it; which node it is.
        func leader() async throws -> (holder: LeaderLease.Holder, node: Node) {
            for _ in 0..<3_000 {
                // Before the first node migrated the database there is no lease table yet.
                if let h = try? await LeaderLease.holder(on: admin, logger: Self.logger), h.expiresInMilliseconds > 0,
                    let pid = h.holder.split(separator: "/").last.flatMap({ Int32($0) }),
                    let node = nodes.first(where: { $0.pid == pid })
                {
                    return (h, node)
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            throw FailoverFailure("no node took the lease within 60 s")
        }
        // Waits until a node other than `old` leads and answers on its control socket.
        func takeover(from old: LeaderLease.Holder) async throws -> (Duration, Node) {
            let clock = ContinuousClock()
            let start = clock.now
            while clock.now - start < .seconds(60) {
                let (h, node) = try await leader()
                // Taken over once the new leader answers as one: it has read the store by then.
                if h.token > old.token, let status = try? curl(node.socket, "/v1/status", maxTime: 2),
                    status.status == 200, json(status.body)["role"] as? String == "leader"
                {
                    let took = clock.now - start
                    let s = json(status.body)
                    #expect(s["lease_holder"] as? String == h.holder && s["fencing_token"] as? Int == Int(h.token))
                    let metrics = try curl(node.socket, "/metrics").body
                    #expect(
                        metrics.contains("\nslad_leader 1.0\n")
                            && metrics.contains("\nslad_fencing_token \(h.token).0\n"))
                    return (took, node)
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            throw FailoverFailure("no takeover from \(old.holder) within 60 s")
        }
        // Waits for `node`'s process to end; starts it again, as systemd's Restart= would.
        func restart(_ node: Node) async throws {
            for _ in 0..<3_000 where node.process?.isRunning == true { try await Task.sleep(for: .milliseconds(20)) }
            #expect(node.process?.isRunning == false, "node \(node.index) did not stop")
            try node.start()
        }

        // A standby says who leads, and sends writers there.
        let (first, firstNode) = try await leader()
        let standby = try #require(nodes.first { $0 !== firstNode })
        #expect(waitUntil(30) { (try? curl(standby.socket, "/v1/status").status) == 200 })
        let standbyStatus = json(try curl(standby.socket, "/v1/status").body)
        #expect(
            standbyStatus["role"] as? String == "standby" && standbyStatus["lease_holder"] as? String == first.holder)
        let pushed = work.appendingPathComponent("pushed.jsonl")
        try append(pushed, [opened("PUSHED-1", at: Int(Date().timeIntervalSince1970))])
        let refused = try curl(standby.socket, "/v1/events", method: "POST", body: pushed)
        #expect(refused.status == 503 && json(refused.body)["code"] as? String == "not_leader", "\(refused.body)")
        #expect(refused.body.contains(first.holder))
        #expect(try curl(standby.socket, "/metrics").body.contains("\nslad_leader 0.0\n"))

        var takeovers: [Kill: [Duration]] = [:]
        var staleTried = false
        try await Task.sleep(for: .seconds(2))
        // With history, every standby has followed it before the leader is killed, as standbys
        // that have run for a while have: the takeover then shows what following saves.
        func standbysFollowed() async throws {
            guard history > 0 else { return }
            let (_, leading) = try await leader()
            for n in nodes where n !== leading {
                let followed = waitUntil(300) {
                    (json((try? curl(n.socket, "/v1/status", maxTime: 2).body) ?? "")["events"] as? Int ?? 0)
                        >= 3 * history
                }
                #expect(followed, "node \(n.index) did not follow the history's \(3 * history) events")
            }
            // And the leader has written the state it left waiting while it read the history as a
            // backlog: a kill before that makes the next leader derive it again (its start then
            // measures the crash repair, not the takeover).
            let clock = ContinuousClock()
            let start = clock.now
            while clock.now - start < .seconds(120) {
                var behind = 1
                for try await c in try await admin.query("SELECT count(*) FROM state_behind", logger: Self.logger)
                    .decode(Int.self)
                {
                    behind = c
                }
                if behind == 0 { return }
                try await Task.sleep(for: .milliseconds(100))
            }
            Issue.record("the leader's state stayed behind its ledger for 120 s")
        }
        for round in 0..<kills {
            for kind in Kill.allCases {
                try await standbysFollowed()
                let (old, node) = try await leader()
                switch kind {
                case .sigkill:
                    kill(node.pid!, SIGKILL)
                    let (took, _) = try await takeover(from: old)
                    takeovers[kind, default: []].append(took)
                    try await restart(node)
                case .sigstop:
                    let pid = node.pid!
                    kill(pid, SIGSTOP)
                    let (took, _) = try await takeover(from: old)
                    takeovers[kind, default: []].append(took)
                    kill(pid, SIGCONT)
                    // Woken, it finds its tenure over and stops with an error.
                    try await restart(node)
                    #expect(node.process.map { _ in true } == true)
                case .cut:
                    for try await _ in try await admin.query(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = \("slad \(old.holder)")",
                        logger: Self.logger)
                    {}
                    try await Task.sleep(for: .seconds(2))
                    // It renews from a new connection or another node takes over; either way one leads.
                    _ = try await leader()
                    if !(node.process?.isRunning ?? false) { try await restart(node) }
                }
                if !staleTried {
                    // A write under a token taken over is refused, on purpose here.
                    staleTried = true
                    let store = try await PostgresStore.open(location, logger: Self.logger)
                    await #expect(throws: StaleFencingToken.self) {
                        try await store.commit(Batch(), token: old.token)
                    }
                    try await store.close()
                }
                try await Task.sleep(for: .seconds(1))
                _ = round
            }
        }
        writing.cancel()
        _ = await writing.value
        let expected = written.withLock { $0 }

        // The leader now catches up: every written event in the ledger, every decided
        // notification delivered.
        let store = try await PostgresStore.open(location, logger: Self.logger)
        var ledger: [String] = []
        let clock = ContinuousClock()
        let start = clock.now
        var undelivered: Set<String> = []
        while clock.now - start < .seconds(90) {
            ledger = []
            try await store.forEachEventRun { _, events in ledger += events.map(\.id) }
            let outbox = Set(try await store.outbox().map(\.id))
            undelivered = outbox.subtracting(WebhookDeliveryTests.delivered(receiver))
            if Set(ledger).isSuperset(of: expected) && undelivered.isEmpty { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        let outbox = try await store.outbox()
        var tokens: [Int64] = []
        for try await t in try await admin.query("SELECT token FROM ledger ORDER BY seq", logger: Self.logger)
            .decode(Int64.self)
        {
            tokens.append(t)
        }
        try await store.close()

        let lost = Set(expected).subtracting(ledger)
        #expect(lost.isEmpty, "events lost: \(lost.sorted().prefix(20))")
        #expect(ledger.count == Set(ledger).count, "events doubled: \(ledger.count - Set(ledger).count)")
        #expect(
            outbox.filter { $0.kind == .breach }.count > 3 && outbox.contains { $0.kind == .warning },
            "deadlines fell due: \(outbox.count) notifications")
        #expect(undelivered.isEmpty, "decided, never delivered: \(undelivered.sorted().prefix(20))")
        // One content per notification id, however many leaders delivered it.
        var contents: [String: Set<String>] = [:]
        for rec in receiver.records() where rec["status"] as? Int == 200 {
            guard let id = rec["id"] as? String, let data = (rec["body"] as? [String: Any])?["data"] else { continue }
            let text = String(
                decoding: try JSONSerialization.data(withJSONObject: data, options: [.sortedKeys]), as: UTF8.self)
            contents[id, default: []].insert(text)
        }
        let differing = contents.filter { $0.value.count > 1 }
        #expect(differing.isEmpty, "ids delivered with different contents: \(differing.keys.sorted().prefix(10))")
        // No write under an older token after a newer one: the fence let no stale leader through.
        #expect(zip(tokens, tokens.dropFirst()).allSatisfy { $0 <= $1 }, "ledger tokens out of order")
        #expect(Set(tokens).count > kills * 2, "tokens: \(Set(tokens).sorted())")
        WebhookDeliveryTests.checkSigned(receiver)

        func summary(_ d: [Duration]) -> String {
            let ms = d.map { Int($0.components.seconds * 1000 + $0.components.attoseconds / 1_000_000_000_000_000) }
                .sorted()
            return ms.isEmpty ? "none" : "min \(ms.first!) ms, median \(ms[ms.count / 2]) ms, max \(ms.last!) ms"
        }
        for kind in [Kill.sigkill, .sigstop] {
            print("failover: takeover after \(kind.rawValue) (\(kills)×): \(summary(takeovers[kind] ?? []))")
        }
        // Each new leader's start, from its store opened to ready (its share of a takeover).
        var starts: [Duration] = []
        for n in nodes {
            let text = (try? String(contentsOf: n.folder.appendingPathComponent("stderr"), encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n") where line.hasPrefix("slad: started ") {
                let field = line.split(separator: " ").first { $0.hasPrefix("start_ms=") }
                if let ms = field.flatMap({ Int($0.dropFirst("start_ms=".count)) }) { starts.append(.milliseconds(ms)) }
            }
        }
        #expect(starts.count >= kills * 2, "\(starts.count) leaders' starts logged")
        print("failover: each leader's start, store opened to ready (\(starts.count)×): \(summary(starts))")
        print(
            "failover: \(expected.count) events, \(outbox.count) notifications, \(Set(tokens).count) leader tenures, 0 lost, 0 doubled"
        )
        // Standbys follow the ledger into their engines, and answer what is read from the store
        // (breaches, the month's report, OLA figures) with the leader's bytes.
        let (_, leading) = try await leader()
        let month = String(ISO8601DateFormatter().string(from: Date()).prefix(7))
        for standby in nodes where standby !== leading && standby.pid != nil {
            var followed: Any?
            #expect(
                waitUntil(30) {
                    followed = json((try? curl(standby.socket, "/v1/status").body) ?? "")["events"]
                    return followed as? Int == ledger.count
                }, "node \(standby.index) followed \(followed ?? "nothing") of \(ledger.count) events")
            for path in [
                "/v1/breaches?limit=1000", "/v1/reports/\(month)?format=csv", "/v1/units?format=csv",
                "/v1/incidents/F-3", "/v1/incidents/F-3/explanation", "/v1/incidents?limit=1000",
                "/v1/incidents?state=breached&limit=5",
            ] {
                // Both answer as of now: a pair asked across a second's turn may differ, and is asked again.
                var pair: (leader: (Int, String), standby: (Int, String))?
                let same = waitUntil(20) {
                    guard let a = try? curl(leading.socket, path), let b = try? curl(standby.socket, path) else {
                        return false
                    }
                    pair = (a, b)
                    return a.status == 200 && a == b
                }
                #expect(
                    same,
                    "\(path): leader \(String(describing: pair?.leader)), standby \(String(describing: pair?.standby))")
                if !path.hasPrefix("/v1/units") {
                    #expect(
                        pair.map { $0.leader.1.count > 100 } == true, "\(path): \(String(describing: pair?.leader))")
                }
            }
        }
        // SIGTERM stops every node, standing by or leading, within its graceful shutdown.
        for n in nodes {
            guard let p = n.process, p.isRunning else { continue }
            kill(p.processIdentifier, SIGTERM)
            for _ in 0..<1_500 where p.isRunning { try await Task.sleep(for: .milliseconds(20)) }
            #expect(!p.isRunning, "node \(n.index) did not stop on SIGTERM within 30 s")
        }
    }

    @Test(
        "a standby on the socket systemd passed answers there as a standby, follows the ledger, and leads there after a takeover from its followed row"
    )
    func activatedStandby() async throws {
        try await PostgresCluster.with { try await activated($0) }
    }

    func activated(_ cluster: PostgresCluster) async throws {
        let location = try await cluster.createDatabase("slad", logger: Self.logger)
        let work = try makeTemporaryDirectory("slad-activated")
        let log = work.appendingPathComponent("events.jsonl")
        let now = Int(Date().timeIntervalSince1970)
        try append(log, (0..<50).map { opened("A-\($0)", at: now - 60) })
        let config = try notifyConfig(work, log: log, webhooks: [:], notify: [], reaction: "1h")
        try append(config.appendingPathComponent("slad.yaml"), ["store: \(location)"])
        func status(_ socket: String) -> [String: Any] {
            json((try? curl(socket, "/v1/status", maxTime: 2).body) ?? "")
        }

        let first = Node(index: 1, work: work, config: config)
        try first.start()
        defer { if let pid = first.pid { kill(pid, SIGKILL) } }
        #expect(waitUntil(60) { status(first.socket)["role"] as? String == "leader" })

        // The second node gets its socket from systemd-socket-activate, as from a .socket unit.
        let folder = work.appendingPathComponent("node2")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let socket = folder.appendingPathComponent("activated.sock").path
        let stderr = folder.appendingPathComponent("stderr")
        // Not `Process`: systemd-socket-activate closes the descriptor through which `Process`
        // would learn that it ended (``Spawned``).
        let second = try Spawned(
            [
                "/usr/bin/systemd-socket-activate", "-l", socket, sladBinary, "run", "--config", config.path, "--state",
                folder.path,
            ], output: stderr)
        defer { second.signal(SIGKILL) }

        // Standing by on the passed socket, it follows what the leader commits.
        var seen: [String: Any] = [:]
        #expect(
            waitUntil(60) {
                seen = status(socket)
                return seen["role"] as? String == "standby" && seen["events"] as? Int == 50
            }, "\(seen)")
        try append(log, (50..<70).map { opened("A-\($0)", at: now - 30) })
        #expect(
            waitUntil(60) {
                seen = status(socket)
                return seen["events"] as? Int == 70
            }, "\(seen)")

        // The leader dies; the standby leads, on the same socket, from the row it had followed.
        kill(first.pid!, SIGKILL)
        #expect(
            waitUntil(60) {
                seen = status(socket)
                return seen["role"] as? String == "leader"
            }, "\(seen)")
        #expect(seen["events"] as? Int == 70, "\(seen)")
        let lines = try String(contentsOf: stderr, encoding: .utf8).split(separator: "\n")
        let started = try #require(lines.first { $0.hasPrefix("slad: started ") }, "\(lines)")
        let row = started.split(separator: " ").first { $0.hasPrefix("followed_through_row=") }
            .flatMap { Int($0.dropFirst("followed_through_row=".count)) }
        #expect((row ?? 0) > 0, "\(started)")
        #expect(try curl(socket, "/v1/incidents/A-69").status == 200)

        second.signal(SIGTERM)
        #expect(waitUntil(30) { !second.isRunning }, "the node did not stop on SIGTERM")
        #expect(second.wait() == 0)
    }

    static func event(_ id: String, _ type: String, _ incident: String, _ at: Int) -> String {
        #"{"id":"\#(id)","time":"\#(iso(at))","type":"\#(type)","incident":"\#(incident)"}"#
    }
}

struct FailoverFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
