import Foundation
import SLACore
import SLAStore
import TestSupport
import Testing

/// Random histories for the docs/reports.md contracts: each incident opens, then gets
/// acknowledgements, pauses, priority changes, resolutions, reopens (a status set in the
/// reopen's second too) and mostly a close, spread over three appends to the log so that
/// events arrive late: a resolution that stops a clock in time after its breach was
/// announced, a reopen that lets it run out again, a pause that moves a breach.
struct RandomHistories {
    /// The log, in three appends.
    var appends: [[String]] = [[], [], []]
    /// Incidents generated.
    let count: Int

    init(seed: UInt64, incidents: Int) {
        count = incidents
        var rng = SeededRandom(seed: seed)
        let contracts = OneTruthTests.contracts
        let start: Int64 = 1_788_220_800  // 2026-09-01T00:00:00Z
        var n = 0
        for i in 0..<incidents {
            let incident = "H-\(i)"
            var fields: [(time: Int64, type: String, extra: [String: String])] = []
            var t = start + Int64(rng.next() % (75 * 86_400))
            fields.append(
                (
                    t, "incident.opened",
                    ["contract": contracts[i % contracts.count], "priority": rng.next() % 3 == 0 ? "P2" : "P1"]
                ))
            var resolved = false
            for _ in 0..<(rng.next() % 7) {
                // Same second now and then, else minutes to hours later.
                t += rng.next() % 8 == 0 ? 0 : Int64(rng.next() % (6 * 3_600)) + 30
                switch rng.next() % 7 {
                case 0: fields.append((t, "incident.acknowledged", [:]))
                case 1:
                    fields.append(
                        (t, "incident.updated", ["status": rng.next() % 2 == 0 ? "pending_customer" : "in_progress"]))
                case 2: fields.append((t, "incident.updated", ["priority": rng.next() % 2 == 0 ? "P1" : "P2"]))
                case 3, 4:
                    if resolved {
                        fields.append((t, "incident.reopened", [:]))
                        if rng.next() % 3 == 0 {
                            fields.append((t, "incident.updated", ["status": "pending_customer"]))
                        }
                    } else {
                        fields.append((t, "incident.resolved", [:]))
                    }
                    resolved.toggle()
                default: fields.append((t, "incident.updated", ["team": "L\(rng.next() % 3)"]))
                }
            }
            if rng.next() % 5 != 0 { fields.append((t + Int64(rng.next() % 86_400) + 60, "incident.closed", [:])) }
            // The opening arrives first; every other event in that append or a later one.
            var append = 0
            for (k, f) in fields.enumerated() {
                if k > 0 { append = max(append, Int(rng.next() % 3)) }
                n += 1
                var object = [
                    "id": "e-\(n)", "time": ISO8601.format(Instant(f.time), in: .utc), "type": f.type,
                    "incident": incident,
                ]
                object.merge(f.extra) { a, _ in a }
                let body = object.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }
                appends[append].append("{" + body.joined(separator: ",") + "}")
            }
        }
    }
}

@Suite("One truth for breaches (real daemon, real SQLite, real curl)", .serialized)
struct OneTruthTests {
    /// A breach as each view names it: incident, metric and the instant it happened.
    struct Key: Hashable, Comparable, CustomStringConvertible {
        var incident: String
        var metric: String
        var at: Int64
        static func < (a: Key, b: Key) -> Bool { (a.at, a.incident, a.metric) < (b.at, b.incident, b.metric) }
        var description: String { "\(incident) \(metric) \(ISO8601.format(Instant(at), in: .utc))" }
    }

    static func seconds(_ text: String) -> Int64 { ISO8601.parse(text)!.instant(in: .utc).seconds }

    /// The contracts the histories open incidents under: docs/reports.md's, and one with
    /// versions (``versioned``).
    static let contracts = ["rep-tiers", "rep-usd", "rep-biz", "rep-partial", "rep-versions"]

    /// A contract of three versions: stricter terms for incidents opened from October, then
    /// on 20 October at noon a version that takes the open incidents over too, with other
    /// targets, a pause of its own and other penalties.
    static let versioned = """
        id: rep-versions
        customer: Report Versions SA
        calendar: 24x7
        timezone: Europe/Berlin
        fee: { amount: "50000.00", currency: EUR }
        priorities:
          P1: { reaction: 30m, resolution: 6h }
          P2: { reaction: 2h, resolution: 12h }
        pause_on: [pending_customer]
        penalties:
          reaction_breach: { P1: "100.00", P2: "40.00" }
          resolution_breach: { P1: { fixed: "500.00", per_hour_late: "50.00" }, P2: "200.00" }
        versions:
          - version: "2026-10"
            effective: 2026-10-01
            priorities:
              P1: { reaction: 15m, resolution: 4h }
              P2: { reaction: 1h, resolution: 8h }
          - version: "2026-10-20"
            effective: 2026-10-20T12:00
            applies_to_open: true
            priorities:
              P1: { reaction: 20m, resolution: 3h }
              P2: { reaction: 1h30m, resolution: 10h }
            pause_on: { reaction: [pending_customer], resolution: [pending_customer, in_progress] }
            penalties:
              reaction_breach: { P1: "120.00" }
              resolution_breach: { P1: { fixed: "700.00", per_hour_late: "70.00" }, P2: "250.00" }

        """

    /// The breaches an offline replay of `events` finds as of `asOf`, and the incidents among
    /// them still open.
    static func replayedBreaches(config dir: URL, events log: URL, asOf: String) throws -> (
        breaches: Set<Key>, openBreached: Set<String>
    ) {
        let replay = try runSlad([
            "replay", "--config", dir.path, "--events", log.path, "--format", "verdicts", "--as-of", asOf,
        ])
        #expect(replay.status == 0, "\(replay.stderr)")
        var truth = Set<Key>()
        var openBreached = Set<String>()
        // CSV lines end with CRLF (RFC 4180).
        for row in replay.stdout.split(whereSeparator: \.isNewline).dropFirst() {
            let c = row.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard c.count == 10, c[6] == "breached" else { continue }
            truth.insert(Key(incident: c[0], metric: c[4], at: Self.seconds(c[9])))
            if c[2] == "open" { openBreached.insert(c[0]) }
        }
        return (truth, openBreached)
    }

    /// The breaches the store under `state` announced: every one decided and not retracted.
    static func announcedBreaches(state: String) throws -> Set<Key> {
        let outbox = try SLAStore(path: "\(state)/slad.sqlite", readOnly: true).outbox()
        let retracted = Set(outbox.filter { $0.kind == .retraction }.map { String($0.id.dropLast("/retracted".count)) })
        return Set(
            outbox.filter { $0.kind == .breach && !retracted.contains($0.id) }.map {
                Key(incident: $0.incident, metric: "\($0.metric)", at: $0.due.seconds)
            })
    }

    /// A report world with ``versioned`` and every breach announced, however old.
    static func versionedWorld() throws -> URL {
        let dir = try reportWorld(sealAfter: "366d", events: "")
        try versioned.write(
            to: dir.appendingPathComponent("contracts.d/rep-versions.yaml"), atomically: true, encoding: .utf8)
        let yaml = dir.appendingPathComponent("slad.yaml")
        try (String(contentsOf: yaml, encoding: .utf8) + "\ncatch_up_window: 400d\n").write(
            to: yaml, atomically: true, encoding: .utf8)
        return dir
    }

    @Test(
        "an incident reopened by a late event dated before a version took over open incidents is taken over when the event arrives"
    )
    func lateReopenTakenOver() throws {
        let dir = try Self.versionedWorld()
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = dir.appendingPathComponent("events.jsonl")
        let state = "\(dir.path)/state"
        // Opened under the first version as P1 and resolved after 3h31m40s, within its 6 h;
        // never acknowledged, so its reaction breached at 30 minutes.
        try append(
            log,
            [
                #"{"contract":"rep-versions","id":"e-1","incident":"H-1","priority":"P1","time":"2026-09-15T01:01:00Z","type":"incident.opened"}"#,
                #"{"id":"e-2","incident":"H-1","time":"2026-09-15T04:32:40Z","type":"incident.resolved"}"#,
            ])
        let first = try runSlad(["run", "--config", dir.path, "--exit-when-idle"])
        #expect(first.status == 0, "\(first.stderr)")
        // A daemon later, the reopening arrives: waiting for the customer, the resolution clock
        // holds 3h31m40s. The version of 20 October noon in Berlin takes the open incidents
        // over with 3 h for P1, pending_customer still pausing it: breached at the takeover.
        try append(
            log,
            [
                #"{"id":"e-3","incident":"H-1","time":"2026-09-15T06:27:33Z","type":"incident.reopened"}"#,
                #"{"id":"e-4","incident":"H-1","status":"pending_customer","time":"2026-09-15T06:27:33Z","type":"incident.updated"}"#,
            ])
        let second = try runSlad(["run", "--config", dir.path, "--exit-when-idle"])
        #expect(second.status == 0, "\(second.stderr)")

        let (truth, _) = try Self.replayedBreaches(config: dir, events: log, asOf: "2026-12-01T00:00:00Z")
        #expect(
            truth == [
                Key(incident: "H-1", metric: "reaction", at: Self.seconds("2026-09-15T01:31:00Z")),
                Key(incident: "H-1", metric: "resolution", at: Self.seconds("2026-10-20T10:00:00Z")),
            ])
        let announced = try Self.announcedBreaches(state: state)
        #expect(
            announced == truth,
            "announced \(announced.sorted()); true \(truth.sorted()); the daemons said:\n\(first.stderr)\n\(second.stderr)"
        )
    }

    @Test(
        "1,000 random histories arriving late, through restarts, one contract with versions: the breach list, the breached incidents, the announced breaches and every month's report agree with an offline replay"
    )
    func viewsAgree() throws {
        let seed = testSeed()
        let histories = RandomHistories(seed: seed, incidents: 1_000)
        // Every breach is announced, however old: the announcements are a view to check too.
        let dir = try Self.versionedWorld()
        defer {
            if ProcessInfo.processInfo.environment["SLAD_KEEP_TEST_DIRS"] == nil {
                try? FileManager.default.removeItem(at: dir)
            }
        }
        let log = dir.appendingPathComponent("events.jsonl")
        let state = "\(dir.path)/state"
        // Each append is read by a daemon of its own: late events meet a restarted engine.
        for lines in histories.appends {
            try append(log, lines)
            let run = try runSlad(["run", "--config", dir.path, "--exit-when-idle"])
            #expect(run.status == 0, "seed \(seed): \(run.stderr)")
        }

        // The truth: an offline replay of the whole log as of a fixed instant past every event.
        let asOf = "2026-12-01T00:00:00Z"
        let (truth, openBreached) = try Self.replayedBreaches(config: dir, events: log, asOf: asOf)
        #expect(
            truth.count > 300,
            "seed \(seed): the histories should breach often, \(truth.count) breaches")

        let announced = try Self.announcedBreaches(state: state)
        #expect(
            announced == truth,
            "seed \(seed): announced but not true: \(announced.subtracting(truth).sorted().prefix(5)); true but not announced: \(truth.subtracting(announced).sorted().prefix(5))"
        )
        let retractions = try SLAStore(path: "\(state)/slad.sqlite", readOnly: true).outbox().filter {
            $0.kind == .retraction
        }
        #expect(!retractions.isEmpty, "seed \(seed): late events should retract some breaches")

        // The running daemon's views.
        let socket = "\(dir.path)/slad.sock"
        let daemon = try startSlad(["run", "--config", dir.path], stderr: dir.appendingPathComponent("stderr"))
        defer {
            daemon.terminate()
            daemon.waitUntilExit()
        }
        #expect(waitUntil(30) { (try? curl(socket, "/v1/status", maxTime: 2).status) == 200 })
        var listed = Set<Key>()
        for contract in Self.contracts {
            let r = try curl(socket, "/v1/breaches?contract=\(contract)&limit=1000")
            #expect(r.status == 200, "\(r.body)")
            let doc = json(r.body)
            #expect(doc["truncated"] as? Bool == false)
            for b in doc["breaches"] as? [[String: Any]] ?? [] {
                listed.insert(
                    Key(
                        incident: b["incident"] as? String ?? "", metric: b["metric"] as? String ?? "",
                        at: Self.seconds(b["breached_at"] as? String ?? "")))
            }
        }
        #expect(
            listed == truth,
            "seed \(seed): listed but not true: \(listed.subtracting(truth).sorted().prefix(5)); true but not listed: \(truth.subtracting(listed).sorted().prefix(5))"
        )
        var breachedIncidents = Set<String>()
        var cursor = ""
        repeat {
            let r = try curl(socket, "/v1/incidents?state=breached&limit=1000\(cursor)")
            #expect(r.status == 200, "\(r.body)")
            let doc = json(r.body)
            for i in doc["incidents"] as? [[String: Any]] ?? [] { breachedIncidents.insert(i["id"] as? String ?? "") }
            let next = doc["next_cursor"] as? String
            cursor =
                next.map { "&cursor=" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0) } ?? ""
        } while !cursor.isEmpty
        #expect(breachedIncidents == openBreached, "seed \(seed)")

        // The money: each month's report from the store equals the replay's, line for line.
        for month in ["2026-09", "2026-10", "2026-11"] {
            let stored = try runSlad([
                "report", "--config", dir.path, "--state", state, "--month", month, "--as-of", asOf, "--format", "csv",
            ])
            let replayed = try runSlad([
                "replay", "--config", dir.path, "--events", log.path, "--month", month, "--as-of", asOf, "--format",
                "csv",
            ])
            #expect(stored.status == 0 && replayed.status == 0, "\(stored.stderr)\(replayed.stderr)")
            #expect(stored.stdout == replayed.stdout, "seed \(seed): the \(month) report differs from the replay's")
        }
    }
}
