import Foundation
import SLACore
import TestSupport

/// A helpdesk log shaped like a real one, for the scale benchmarks (issue 29): the events of
/// all incidents interleaved in time order, a year of history, 100 contracts on two calendars,
/// priorities P1–P4 at 2/13/50/35 %, 30 % of incidents paused (pending customer) once, 20 %
/// handed off from L1 to L2, 5 % reopened and resolved again, 5 % closed. About 3.95 events
/// per incident; the same seed gives the same bytes.
///
/// With `open` every incident is opened and acknowledged only, in the last month, so that all
/// of them are open when the log ends (the restart benchmark's "1 M open").
struct Corpus {
    /// Contracts, `c000`…`c099`.
    static let contractCount = 100
    /// The history covered: 2025-11-01 … 2026-11-01 (UTC).
    static let start: Int64 = 1_761_955_200
    static let end: Int64 = 1_793_491_200
    /// The month the report benchmarks state: October 2026.
    static let reportMonth = "2026-10"

    var incidents: Int
    var seed: UInt64
    var open = false

    /// Writes `config/` (slad.yaml, calendars, contracts) and `events.jsonl` under `folder`;
    /// returns the number of events written.
    @discardableResult
    func write(to folder: URL) throws -> Int {
        let fm = FileManager.default
        let config = folder.appendingPathComponent("config")
        try fm.createDirectory(at: config.appendingPathComponent("contracts.d"), withIntermediateDirectories: true)
        try fm.createDirectory(at: config.appendingPathComponent("calendars"), withIntermediateDirectories: true)
        let log = folder.appendingPathComponent("events.jsonl")
        // Reports of past months stay unsealed (computed from the verdicts, which is what the
        // report benchmark measures); `config-sealing/` is the same set-up sealing after 3 days.
        let sources = "sources:\n  - { name: corpus, path: \"\(log.path)\", format: jsonl }\n"
        try (sources + "reports: { seal_after: 366d }\n").write(
            to: config.appendingPathComponent("slad.yaml"), atomically: true, encoding: .utf8)
        let sealing = folder.appendingPathComponent("config-sealing")
        try fm.createDirectory(at: sealing, withIntermediateDirectories: true)
        try (sources + "reports: { seal_after: 3d }\n").write(
            to: sealing.appendingPathComponent("slad.yaml"), atomically: true, encoding: .utf8)
        for shared in ["contracts.d", "calendars"] {
            try fm.createSymbolicLink(
                atPath: sealing.appendingPathComponent(shared).path, withDestinationPath: "../config/\(shared)")
        }
        try """
        timezone: Europe/Berlin
        hours:
          mon-fri: ["08:00-18:00"]
        """.write(to: config.appendingPathComponent("calendars/office.yaml"), atomically: true, encoding: .utf8)
        for k in 0..<Self.contractCount {
            try Self.contract(k).write(
                to: config.appendingPathComponent("contracts.d/\(Self.contractID(k)).yaml"), atomically: true,
                encoding: .utf8)
        }
        return try writeEvents(to: log)
    }

    static func contractID(_ k: Int) -> String { String(format: "c%03d", k) }

    /// Contract `k`: a third round the clock (UTC), the rest on office hours in Berlin; targets
    /// scaled a little per contract so that no two contracts are alike.
    static func contract(_ k: Int) -> String {
        let office = k % 3 != 0
        let scale = 1 + k % 4
        return """
            id: \(contractID(k))
            customer: Customer \(k)
            calendar: \(office ? "office" : "24x7")
            \(office ? "" : "timezone: UTC\n")fee: { amount: "\(10_000 + 500 * k).00", currency: EUR }
            priorities:
              P1: { reaction: \(15 * scale)m, resolution: \(4 * scale)h }
              P2: { reaction: \(scale)h, resolution: \(8 * scale)h }
              P3: { reaction: \(4 * scale)h, resolution: \(3 * scale)d }
              P4: { reaction: 1d, resolution: 10d }
            pause_on: [pending_customer]
            warn_at: ["80%"]
            penalties:
              reaction_breach: { P1: "100.00", P2: "50.00" }
              resolution_breach: { P1: { fixed: "500.00", per_hour_late: "50.00" }, P2: "200.00" }
              cap: "10%"

            """
    }

    /// One event: its time, then its incident and kind (for a stable order of equal times).
    private struct Line {
        var time: Int64
        var incident: Int32
        var kind: Kind
    }

    /// An incident's events in the order they happen; the raw value numbers its event ids.
    private enum Kind: UInt8 {
        case opened, acknowledged, pending, working, handoff, resolved, reopened, resolvedAgain, closed
    }

    private func writeEvents(to url: URL) throws -> Int {
        var random = SeededRandom(seed: seed)
        var lines: [Line] = []
        lines.reserveCapacity(incidents * 4)
        var priority: [UInt8] = []
        priority.reserveCapacity(incidents)
        let first = open ? Self.end - 30 * 86_400 : Self.start
        let span = UInt64(Self.end - first)
        // Wall-clock durations, in seconds, roughly a target's size; a business calendar makes
        // them shorter in business time, so the 24x7 contracts breach more often.
        let reaction: [Int64] = [20 * 60, 80 * 60, 5 * 3_600, 20 * 3_600]
        let resolution: [Int64] = [5 * 3_600, 10 * 3_600, 3 * 86_400, 8 * 86_400]
        for n in 0..<incidents {
            let roll = random.next() % 100
            let p: UInt8 = roll < 2 ? 0 : roll < 15 ? 1 : roll < 65 ? 2 : 3
            priority.append(p)
            let opened = first + Int64(random.next() % span)
            let i = Int32(n)
            func add(_ kind: Kind, _ t: Int64) {
                lines.append(Line(time: t, incident: i, kind: kind))
            }
            add(.opened, opened)
            let ack = opened + Int64(random.next() % UInt64(reaction[Int(p)]))
            add(.acknowledged, ack)
            if open { continue }
            let fix = ack + Int64(random.next() % UInt64(resolution[Int(p)]))
            var t = ack
            if random.next() % 100 < 30 {
                let pause = ack + Int64(random.next() % UInt64(max(1, fix - ack)))
                add(.pending, pause)
                add(.working, pause + Int64(random.next() % 86_400))
                t = pause + 86_400
            }
            if random.next() % 100 < 20 { add(.handoff, ack + Int64(random.next() % UInt64(max(1, fix - ack)))) }
            let resolved = max(fix, t) + 60
            add(.resolved, resolved)
            var last = resolved
            if random.next() % 100 < 5 {
                add(.reopened, resolved + 3_600)
                last = resolved + 3_600 + Int64(random.next() % UInt64(resolution[Int(p)]))
                add(.resolvedAgain, last)
            }
            if random.next() % 100 < 5 { add(.closed, last + 3 * 86_400) }
        }
        lines.removeAll { $0.time >= Self.end }
        lines.sort { ($0.time, $0.incident, $0.kind.rawValue) < ($1.time, $1.incident, $1.kind.rawValue) }

        guard let out = fopen(url.path, "w") else { throw CocoaError(.fileWriteNoPermission) }
        defer { fclose(out) }
        let utc = ZoneRules.utc
        for line in lines {
            let n = Int(line.incident)
            let time = ISO8601.format(Instant(line.time), in: utc)
            let head = #"{"id":"e\#(n)-\#(line.kind.rawValue)","time":"\#(time)","incident":"INC-\#(n)","type":"#
            var text: String
            switch line.kind {
            case .opened:
                text =
                    head
                    + #""incident.opened","contract":"\#(Self.contractID(n % Self.contractCount))","priority":"P\#(priority[n] + 1)","team":"L1","level":"L1"}"#
            case .acknowledged: text = head + #""incident.acknowledged"}"#
            case .pending: text = head + #""incident.updated","status":"pending_customer"}"#
            case .working: text = head + #""incident.updated","status":"in_progress"}"#
            case .handoff: text = head + #""incident.updated","team":"L2","level":"L2"}"#
            case .resolved, .resolvedAgain: text = head + #""incident.resolved"}"#
            case .reopened: text = head + #""incident.reopened"}"#
            case .closed: text = head + #""incident.closed"}"#
            }
            text += "\n"
            text.withUTF8 { bytes in _ = fwrite(bytes.baseAddress, 1, bytes.count, out) }
        }
        return lines.count
    }
}
