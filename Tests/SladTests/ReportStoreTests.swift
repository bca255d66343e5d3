import Foundation
import SLAAPI
import SLACore
import SLAIngest
import SLAReport
import SLAStore
import TestSupport
import Testing

/// Random incident histories for the docs/reports.md contracts, as native JSONL.
func randomReportEvents(seed: UInt64, incidents: Int) -> String {
    var rng = SeededRandom(seed: seed)
    let contracts = [("rep-tiers", "portal"), ("rep-usd", "api"), ("rep-biz", ""), ("rep-partial", "shop")]
    let start: Int64 = 1_788_220_800  // 2026-09-01T00:00:00Z
    var lines: [String] = []
    var n = 0
    func line(_ time: Int64, _ type: String, _ fields: [String: String]) {
        n += 1
        var object = ["id": "ev-\(n)", "time": ISO8601.format(Instant(time), in: .utc), "type": type]
        object.merge(fields) { a, _ in a }
        let body = object.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }.joined(separator: ",")
        lines.append("{\(body)}")
    }
    for i in 0..<incidents {
        let (contract, _) = contracts[i % contracts.count]
        var t = start + Int64(rng.next() % (85 * 86_400))
        let id = "INC-\(i)"
        line(
            t, "incident.opened", ["incident": id, "contract": contract, "priority": rng.next() % 3 == 0 ? "P2" : "P1"])
        for _ in 0..<(rng.next() % 6) {
            t += Int64(rng.next() % (20 * 3_600)) + 60
            switch rng.next() % 6 {
            case 0: line(t, "incident.acknowledged", ["incident": id])
            case 1:
                line(
                    t, "incident.updated",
                    ["incident": id, "status": rng.next() % 2 == 0 ? "pending_customer" : "work"])
            case 2: line(t, "incident.updated", ["incident": id, "team": "L\(rng.next() % 3)"])
            case 3: line(t, "incident.resolved", ["incident": id])
            case 4: line(t, "incident.reopened", ["incident": id])
            default: line(t, "incident.updated", ["incident": id, "priority": rng.next() % 2 == 0 ? "P1" : "P2"])
            }
        }
    }
    for (_, service) in contracts where !service.isEmpty {
        var t = start
        for _ in 0..<6 {
            t += Int64(rng.next() % (20 * 86_400))
            line(t, "service.down", ["service": service])
            t += Int64(rng.next() % (8 * 3_600)) + 60
            line(t, "service.up", ["service": service])
        }
    }
    return lines.joined(separator: "\n") + "\n"
}

/// A configuration folder with the docs/reports.md contracts tailing one JSONL file.
func reportWorld(sealAfter: String, events: String) throws -> URL {
    let dir = try makeTemporaryDirectory("slad-reports")
    try SemanticsDocument.load("docs/reports.md").write(to: dir)
    try events.write(to: dir.appendingPathComponent("events.jsonl"), atomically: true, encoding: .utf8)
    try """
    state_dir: \(dir.path)/state
    sources:
      - { name: events, path: \(dir.path)/events.jsonl }
    reports:
      seal_after: \(sealAfter)
    control:
      socket: \(dir.path)/slad.sock
    """.write(to: dir.appendingPathComponent("slad.yaml"), atomically: true, encoding: .utf8)
    return dir
}

@Suite("Reports from the store (real binary, real SQLite)")
struct ReportStoreTests {
    @Test("a store report equals the replay of the same events, for every contract and month (600 random incidents)")
    func storeEqualsReplay() throws {
        let events = randomReportEvents(seed: 42, incidents: 600)
        let dir = try reportWorld(sealAfter: "366d", events: events)
        defer {
            if ProcessInfo.processInfo.environment["SLAD_KEEP_TEST_DIRS"] == nil {
                try? FileManager.default.removeItem(at: dir)
            }
        }
        let run = try runSlad(["run", "--config", dir.path, "--exit-when-idle"])
        #expect(run.status == 0, "\(run.stderr)")
        let asOf = "2026-12-20T00:00:00Z"
        var compared = 0
        for month in ["2026-09", "2026-10", "2026-11"] {
            let store = try runSlad([
                "report", "--config", dir.path, "--state", "\(dir.path)/state", "--month", month, "--as-of", asOf,
                "--format", "json",
            ])
            #expect(store.status == 0, "\(store.stderr)")
            let replay = try runSlad([
                "replay", "--config", dir.path, "--events", "\(dir.path)/events.jsonl", "--month", month, "--as-of",
                asOf, "--format", "report-json",
            ])
            #expect(replay.status == 0, "\(replay.stderr)")
            let fromStore = try APIJSON.decode(ReportDocument.self, from: Array(store.stdout.utf8))
            let fromReplay = try APIJSON.decode(ReportDocument.self, from: Array(replay.stdout.utf8))
            #expect(!fromReplay.reports.isEmpty)
            for expected in fromReplay.reports {
                let actual = fromStore.reports.first { $0.contract == expected.contract }
                #expect(actual == expected, "\(expected.contract) \(month) differs between store and replay")
                compared += expected.breaches.count
            }
        }
        #expect(compared > 100, "the data should produce breaches to compare")
    }

    @Test(
        "a store on a read-only mount (what finance reads) gives the report of the writable store; one whose log was left out is a clear error"
    )
    func readOnlyStore() throws {
        guard getuid() == 0 else {
            Issue.record(
                "the read-only store test bind-mounts the state folder read-only and must run as root (CI does)")
            return
        }
        let dir = try reportWorld(sealAfter: "366d", events: randomReportEvents(seed: 7, incidents: 60))
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try runSlad(["run", "--config", dir.path, "--exit-when-idle"]).status == 0)
        func report(_ state: String) throws -> CommandResult {
            try runSlad([
                "report", "--config", dir.path, "--state", state, "--month", "2026-10", "--as-of",
                "2026-12-20T00:00:00Z", "--format", "csv",
            ])
        }
        let writable = try report("\(dir.path)/state")
        #expect(writable.status == 0, "\(writable.stderr)")
        #expect(
            writable.stdout.contains(",breach,"), "the data should produce breaches: \(writable.stdout.prefix(300))")
        func mountReadOnly(_ from: String, _ to: String) throws {
            try FileManager.default.createDirectory(atPath: to, withIntermediateDirectories: true)
            #expect(try runProgram(["mount", "--bind", from, to]).status == 0)
            #expect(try runProgram(["mount", "-o", "remount,ro,bind", to]).status == 0)
        }
        let mounted = "\(dir.path)/ro"
        try mountReadOnly("\(dir.path)/state", mounted)
        defer { _ = try? runProgram(["umount", "-l", mounted]) }
        let readOnly = try report(mounted)
        #expect(readOnly.status == 0, "\(readOnly.stderr)")
        #expect(readOnly.stdout == writable.stdout)
        // A copy of a live store with its write-ahead log but not the log's index, on a read-only
        // mount: the file alone is an older store, so it is refused, saying why.
        let copy = "\(dir.path)/copy"
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        let script = """
            import shutil, sqlite3, sys
            src, dst = sys.argv[1], sys.argv[2]
            c = sqlite3.connect(src)
            c.execute("PRAGMA wal_autocheckpoint = 0")
            c.execute("CREATE TABLE scratch (x)")
            c.commit()
            shutil.copy(src, dst)
            shutil.copy(src + "-wal", dst + "-wal")
            """
        let copied = try runProgram(["python3", "-c", script, "\(dir.path)/state/slad.sqlite", "\(copy)/slad.sqlite"])
        #expect(copied.status == 0, "\(copied.stderr)")
        let mountedCopy = "\(dir.path)/ro-copy"
        try mountReadOnly(copy, mountedCopy)
        defer { _ = try? runProgram(["umount", "-l", mountedCopy]) }
        let refused = try report(mountedCopy)
        #expect(refused.status != 0)
        #expect(
            refused.stderr.contains("slad.sqlite-wal holds commits not yet in the file"),
            "\(refused.stderr)")
    }
}

@Suite("Sealed months (real daemon, real SQLite, real curl and slactl)", .serialized)
struct SealedReportTests {
    /// `YYYY-MM` of the month `back` months before the current one (UTC).
    static func month(back: Int) -> String {
        let c = Calendar(identifier: .gregorian)
        var utc = c
        utc.timeZone = TimeZone(identifier: "UTC")!
        let d = utc.date(byAdding: .month, value: -back, to: Date())!
        let parts = utc.dateComponents([.year, .month], from: d)
        return String(format: "%04d-%02d", parts.year!, parts.month!)
    }

    /// A report world whose two months before this one are sealed by a first run: two months
    /// back and one month back a 3.5 h late P1 resolution each (7000.00 RUB).
    static func twoSealedMonths() throws -> (dir: URL, m2: String, m1: String, m0: String, first: CommandResult) {
        let (m2, m1, m0) = (month(back: 2), month(back: 1), month(back: 0))
        let events =
            (incident("A", m2, day: "10", ack: "10:05", resolved: "17:30")
            + incident("B", m1, day: "10", ack: "10:05", resolved: "17:30")).joined(separator: "\n") + "\n"
        let dir = try reportWorld(sealAfter: "1s", events: events)
        let first = try runSlad(["run", "--config", dir.path, "--exit-when-idle"])
        #expect(first.status == 0, "\(first.stderr)")
        return (dir, m2, m1, m0, first)
    }

    static func incident(_ id: String, _ month: String, day: String, ack: String, resolved: String) -> [String] {
        [
            #"{"id":"\#(id)-o","time":"\#(month)-\#(day)T10:00:00+03:00","type":"incident.opened","incident":"\#(id)","contract":"rep-tiers","priority":"P1"}"#,
            #"{"id":"\#(id)-a","time":"\#(month)-\#(day)T\#(ack):00+03:00","type":"incident.acknowledged","incident":"\#(id)"}"#,
            #"{"id":"\#(id)-r","time":"\#(month)-\#(day)T\#(resolved):00+03:00","type":"incident.resolved","incident":"\#(id)"}"#,
        ]
    }

    func report(_ dir: URL, _ month: String, format: String = "json") throws -> String {
        let r = try runSlad([
            "report", "--config", dir.path, "--state", "\(dir.path)/state", "--month", month, "--contract", "rep-tiers",
            "--format", format,
        ])
        #expect(r.status == 0, "\(r.stderr)")
        return r.stdout
    }

    @Test(
        "a sealed month keeps the terms that judged it: editing them is refused at start and at reload, naming contract, version and month; a new version after the sealed months is taken, and the sealed report stays byte for byte"
    )
    func sealedTermsStay() throws {
        let (dir, m2, m1, m0, _) = try Self.twoSealedMonths()
        defer { try? FileManager.default.removeItem(at: dir) }
        let sealedText = try report(dir, m2)
        let sealed = try APIJSON.decode(ReportDocument.self, from: Array(sealedText.utf8)).reports[0]
        #expect(sealed.state == .sealed)
        let terms = try #require(sealed.versions?.first)
        #expect(sealed.versions?.count == 1)
        #expect(terms.version == "1" && terms.effective == nil && !terms.appliesToOpen)
        #expect(terms.sha256.count == 64 && terms.sha256.allSatisfy(\.isHexDigit), "\(terms.sha256)")

        // The terms edited in place: the daemon does not start on them.
        let file = dir.appendingPathComponent("contracts.d/rep-tiers.yaml")
        let original = try String(contentsOf: file, encoding: .utf8)
        let edited = original.replacingOccurrences(
            of: #"reaction_breach: { P1: "1000.00" }"#, with: #"reaction_breach: { P1: "1500.00" }"#)
        #expect(edited != original)
        try edited.write(to: file, atomically: true, encoding: .utf8)
        let refused = try runSlad(["run", "--config", dir.path, "--exit-when-idle"])
        #expect(refused.status == 1)
        #expect(
            refused.stderr.contains("slad: the contracts would judge sealed months again")
                && refused.stderr.contains("file=\(file.path)")
                && refused.stderr.contains(
                    "contract rep-tiers: version 1's terms differ from those that judged sealed month \(m1) (sha256 \(terms.sha256.prefix(12))… sealed,"
                ), "\(refused.stderr)")

        // The new terms as a version from the first month not sealed: taken.
        let penalties = """
                penalties:
                  reaction_breach: { P1: "1500.00" }
                  resolution_breach: { P1: { fixed: "5000.00", per_hour_late: "500.00" } }
                  cap: "30%"

            """
        try (original + "versions:\n  - version: \"2\"\n    effective: \(m0)-01\n" + penalties).write(
            to: file, atomically: true, encoding: .utf8)
        let daemon = try startSlad(["run", "--config", dir.path], stderr: dir.appendingPathComponent("stderr"))
        defer {
            daemon.terminate()
            daemon.waitUntilExit()
        }
        let socket = dir.appendingPathComponent("slad.sock").path
        #expect(waitUntil(30) { (try? curl(socket, "/v1/status", maxTime: 2).status) == 200 })
        #expect(try report(dir, m2) == sealedText, "a sealed month is never rewritten")

        // Version 1 edited while the daemon runs: the reload is refused, the running terms stay.
        try (edited + "versions:\n  - version: \"2\"\n    effective: \(m0)-01\n" + penalties).write(
            to: file, atomically: true, encoding: .utf8)
        let reload = try runProgram([slactlBinary, "reload", "--socket", socket])
        #expect(reload.status != 0)
        #expect(
            (reload.stdout + reload.stderr).contains(
                "\(file.path): contract rep-tiers: version 1's terms differ from those that judged sealed month \(m1)"),
            "\(reload.stdout)\(reload.stderr)")
        let log = try String(contentsOf: dir.appendingPathComponent("stderr"), encoding: .utf8)
        #expect(log.contains("slad: configuration not reloaded; the running one stays in force"), "\(log.suffix(1500))")
        let current = try curl(socket, "/v1/reports/\(m0)?contract=rep-tiers&format=json")
        #expect(current.status == 200, "\(current.body)")
        let versions = try APIJSON.decode(ReportDocument.self, from: Array(current.body.utf8)).reports[0].versions
        #expect(versions?.map(\.version) == ["1", "2"])
        #expect(versions?.first?.sha256 == terms.sha256, "the running version 1 is the sealed one")
    }

    @Test(
        "past months are sealed with their hash; a late event leaves the seal byte-identical and shows as one adjustment in the first open month"
    )
    func sealAndAdjust() throws {
        let (dir, m2, m1, m0, first) = try Self.twoSealedMonths()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(first.stderr.contains("report sealed"), "\(first.stderr)")

        let sealedText = try report(dir, m2)
        let sealed = try APIJSON.decode(ReportDocument.self, from: Array(sealedText.utf8)).reports[0]
        #expect(sealed.state == .sealed)
        #expect(sealed.total.amount == "7000.00")
        let seal = try #require(sealed.seal)
        // The hash covers the canonical JSON without the seal: anyone can check it with sha256sum.
        let canonical = dir.appendingPathComponent("canonical.json")
        try Data(ReportRenderer.canonical(sealed)).write(to: canonical)
        let sum = try runProgram(["sha256sum", canonical.path])
        #expect(sum.stdout.hasPrefix(seal.sha256 + " "), "\(sum.stdout) vs \(seal.sha256)")
        #expect(try report(dir, m1).contains(#""state" : "sealed""#))
        #expect(try report(dir, m0).contains(#""state" : "provisional""#))

        // A late log line: an incident of two months back whose reaction breached (1000.00).
        try append(
            dir.appendingPathComponent("events.jsonl"),
            Self.incident("C", m2, day: "20", ack: "10:30", resolved: "12:00"))
        let daemon = try startSlad(["run", "--config", dir.path], stderr: dir.appendingPathComponent("stderr"))
        defer {
            daemon.terminate()
            daemon.waitUntilExit()
        }
        let socket = dir.appendingPathComponent("slad.sock").path
        let caughtUp = try waitUntil(30) {
            let r = try curl(socket, "/v1/status", maxTime: 2)
            return r.status == 200 && (json(r.body)["events"] as? Int ?? 0) >= 9
        }
        #expect(caughtUp)
        #expect(try report(dir, m2) == sealedText, "a sealed month is never rewritten")

        let open = try curl(socket, "/v1/reports/\(m0)?contract=rep-tiers&format=json")
        #expect(open.status == 200, "\(open.body)")
        let current = try APIJSON.decode(ReportDocument.self, from: Array(open.body.utf8)).reports[0]
        #expect(current.state == .provisional)
        #expect(current.adjustments.count == 1)
        let adjustment = try #require(current.adjustments.first)
        #expect(adjustment.sealedMonth == m2)
        #expect(adjustment.sealedSha256 == seal.sha256)
        #expect(adjustment.sealedTotal.amount == "7000.00")
        #expect(adjustment.recomputedTotal.amount == "8000.00")
        #expect(adjustment.amount.amount == "1000.00")
        #expect(current.total.minorUnits == current.cappedSubtotalMinorUnits + 100_000)

        // Every format through the socket, and slactl.
        for (format, marker) in [
            ("csv", "adjustment,\(m2)"), ("table", "adjustment for sealed \(m2)"), ("html", "<svg"),
        ] {
            let r = try curl(socket, "/v1/reports/\(m0)?contract=rep-tiers&format=\(format)")
            #expect(r.status == 200 && r.body.contains(marker), "\(format): \(r.body.prefix(500))")
        }
        let table = try runProgram([
            slactlBinary, "report", "--socket", socket, "--month", m2, "--contract", "rep-tiers",
        ])
        #expect(table.status == 0 && table.stdout.contains("[SEALED"), "\(table.stdout)\(table.stderr)")
        let out = dir.appendingPathComponent("report.csv")
        let csv = try runProgram([
            slactlBinary, "report", "--socket", socket, "--month", m2, "--format", "csv", "-o", out.path,
        ])
        #expect(csv.status == 0, "\(csv.stderr)")
        #expect(try String(contentsOf: out, encoding: .utf8).contains("rep-tiers,\(m2),sealed,summary,total"))
        // Error paths: a bad month, format or parameter is 400; an unknown contract 404 (slactl exit 2).
        #expect(try curl(socket, "/v1/reports/2026-13").status == 400)
        #expect(try curl(socket, "/v1/reports/\(m0)?format=pdf").status == 400)
        #expect(try curl(socket, "/v1/reports/\(m0)?colour=red").status == 400)
        #expect(try curl(socket, "/v1/reports/\(m0)?contract=nobody").status == 404)
        let missing = try runProgram([slactlBinary, "report", "--socket", socket, "--contract", "nobody"])
        #expect(missing.status == 2, "\(missing.stderr)")
    }

    @Test("an adjustment is carried once: the month sealed with it records it, and later months no longer show it")
    func carriedOnce() throws {
        let (m2, m1, m0) = (Self.month(back: 2), Self.month(back: 1), Self.month(back: 0))
        let events = Self.incident("A", m2, day: "10", ack: "10:05", resolved: "17:30").joined(separator: "\n") + "\n"
        // The daemon seals nothing here (a long grace); the book seals at instants the test picks.
        let dir = try reportWorld(sealAfter: "366d", events: events)
        defer { try? FileManager.default.removeItem(at: dir) }
        let contracts = try SemanticsDocument.load("docs/reports.md").configuration().contracts
        let path = "\(dir.path)/state/slad.sqlite"
        #expect(try runSlad(["run", "--config", dir.path, "--exit-when-idle"]).status == 0)
        // Sealed ten days into last month: only two months back is over.
        let tenDaysIn = (ISO8601.parse("\(m1)-11T00:00:00Z")!.instant(in: .utc).seconds) * 1000
        let early = ReportBook(store: try SLAStore(path: path), contracts: contracts, sealAfter: 1)
        #expect(try early.sealDue(nowMilliseconds: tenDaysIn).sealed == ["rep-tiers \(m2)"])
        try append(
            dir.appendingPathComponent("events.jsonl"),
            Self.incident("C", m2, day: "20", ack: "10:30", resolved: "12:00"))
        #expect(try runSlad(["run", "--config", dir.path, "--exit-when-idle"]).status == 0)
        // Now last month is sealed too, carrying the correction of two months back.
        let book = ReportBook(store: try SLAStore(path: path), contracts: contracts, sealAfter: 1)
        let now = Int64(Date().timeIntervalSince1970) * 1000
        #expect(try book.sealDue(nowMilliseconds: now).sealed == ["rep-tiers \(m1)"])
        #expect(
            try book.store.adjustments(contract: "rep-tiers") == [
                RecordedAdjustment(sealedMonth: m2, appliedMonth: m1, amountMinorUnits: 100_000)
            ])
        let sealedM1 = try book.document(month: YearMonth(parsing: m1)!, contract: "rep-tiers", asOf: Instant(0))
        #expect(sealedM1.reports[0].state == .sealed)
        #expect(sealedM1.reports[0].adjustments.map(\.amount.amount) == ["1000.00"])
        #expect(sealedM1.reports[0].total.amount == "1000.00")
        let current = try book.document(
            month: YearMonth(parsing: m0)!, contract: "rep-tiers", asOf: Instant(now / 1000))
        #expect(current.reports[0].adjustments.isEmpty, "carried by \(m1) already")
        #expect(try book.sealDue(nowMilliseconds: now).sealed.isEmpty, "nothing sealed twice")
    }

    @Test(
        "sealing a month at a time with a memo: a batch committed between two steps is seen, its change carried as an adjustment"
    )
    func memoSeesCommits() throws {
        let events =
            (Self.incident("A", "2026-01", day: "12", ack: "10:05", resolved: "11:00")
            + Self.incident("B", "2026-03", day: "10", ack: "10:05", resolved: "11:00")).joined(separator: "\n") + "\n"
        let contracts = try SemanticsDocument.load("docs/reports.md").configuration().contracts
        let dir = try reportWorld(sealAfter: "366d", events: events)
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try runSlad(["run", "--config", dir.path, "--exit-when-idle"]).status == 0)
        let store = try SLAStore(path: "\(dir.path)/state/slad.sqlite")
        let book = ReportBook(store: store, contracts: contracts, sealAfter: 1, memo: ReportBook.SealMemo())
        let now = (ISO8601.parse("2026-12-06T00:00:00Z")!.instant(in: .utc).seconds) * 1000
        #expect(try book.sealDue(nowMilliseconds: now, limit: 1).sealed == ["rep-tiers 2026-01"])
        #expect(try book.sealDue(nowMilliseconds: now, limit: 1).sealed == ["rep-tiers 2026-02"])
        // January gets a late incident whose reaction breached (a P1 acknowledged after 30 min).
        var engine = IngestEngine(contracts: contracts)
        let late = try Self.incident("C", "2026-01", day: "20", ack: "10:30", resolved: "11:00").map {
            try JSONLEventDecoder(source: "late").decode(line: Substring($0), number: 1).get()
        }
        _ = engine.add(late)
        var batch = Batch()
        batch.events = late.map { ($0, "late") }
        batch.incidents = [try #require(engine.evaluate(incident: "C").verdict)]
        try store.commit(batch)
        #expect(try book.sealDue(nowMilliseconds: now, limit: 1).sealed == ["rep-tiers 2026-03"])
        let carried = try store.adjustments(contract: "rep-tiers")
        #expect(
            carried == [RecordedAdjustment(sealedMonth: "2026-01", appliedMonth: "2026-03", amountMinorUnits: 100_000)],
            "\(carried)")
    }

    @Test("a long history is sealed a few months per step, in month order, with the same reports as sealing it at once")
    func sealedInSteps() throws {
        let events =
            (Self.incident("A", "2026-01", day: "12", ack: "12:00", resolved: "18:00")
            + Self.incident("B", "2026-03", day: "10", ack: "10:05", resolved: "11:00")).joined(separator: "\n") + "\n"
        let contracts = try SemanticsDocument.load("docs/reports.md").configuration().contracts
        // Two stores of the same history: one sealed at once, one in steps.
        var books: [ReportBook] = []
        var dirs: [URL] = []
        defer { for dir in dirs { try? FileManager.default.removeItem(at: dir) } }
        for _ in 0..<2 {
            let dir = try reportWorld(sealAfter: "366d", events: events)
            dirs.append(dir)
            #expect(try runSlad(["run", "--config", dir.path, "--exit-when-idle"]).status == 0)
            books.append(
                ReportBook(
                    store: try SLAStore(path: "\(dir.path)/state/slad.sqlite"), contracts: contracts, sealAfter: 1))
        }
        let now = (ISO8601.parse("2026-12-06T00:00:00Z")!.instant(in: .utc).seconds) * 1000
        let all = (1...11).map { String(format: "rep-tiers 2026-%02d", $0) }
        #expect(try books[0].sealDue(nowMilliseconds: now) == (all, false))
        #expect(
            try books[1].sealDue(nowMilliseconds: now, until: .now) == (["rep-tiers 2026-01"], true),
            "a deadline already passed still seals one month, and says more is due")
        var stepped: [String] = []
        var steps = 0
        while true {
            let step = try books[1].sealDue(nowMilliseconds: now, limit: 3)
            steps += 1
            stepped += step.sealed
            #expect(step.sealed.count == (step.more ? 3 : 1), "step \(steps): \(step)")
            if !step.more || steps > 20 { break }
        }
        #expect(["rep-tiers 2026-01"] + stepped == all)
        #expect(steps == 4)
        #expect(try books[1].sealDue(nowMilliseconds: now).sealed.isEmpty, "nothing sealed twice")
        let whole = try books[0].store.sealedReports(contract: "rep-tiers")
        let parts = try books[1].store.sealedReports(contract: "rep-tiers")
        #expect(parts == whole)
        #expect(
            try books[1].store.adjustments(contract: "rep-tiers") == books[0].store.adjustments(contract: "rep-tiers"))
    }
}
