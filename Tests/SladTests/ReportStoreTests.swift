import Foundation
import SLACore
import SLAReport
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

/// SplitMix64 for reproducible test data.
struct SeededRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A configuration folder with the docs/reports.md contracts tailing one JSONL file.
func reportWorld(sealAfter: String, events: String) throws -> URL {
    let dir = try makeTemporaryDirectory("slad-reports")
    for (path, text) in try SemanticsDocument.load("docs/reports.md").files {
        let url = dir.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }
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
}
