import SLACore
import SLAStore

/// Seeded histories of incidents, cut into batches as the daemon cuts them: each batch's
/// events, the state of the incidents they touched, rejections, quarantined lines, offsets,
/// source counts, notifications and the state marks of a backlog.
public enum HistoryBatches {
    /// The contract of every incident in the histories.
    public static let contract = Contract(
        id: "c", customer: "C", calendar: .twentyFourSeven(),
        fee: Money(parsing: "10.00", currency: Currency(code: "EUR")!)!,
        priorities: [
            PriorityTerms(name: "P1", reaction: 60, resolution: 600, calendar: .twentyFourSeven()),
            PriorityTerms(name: "P2", reaction: 600, resolution: 6_000, calendar: .twentyFourSeven()),
        ])

    /// `batches` batches of a history of `incidents` incidents, the same for the same seed.
    public static func make(seed: UInt64, incidents: Int, batches: Int) -> [Batch] {
        var rng = SeededRandom(seed: seed)
        var engine = IngestEngine(contracts: [contract])
        var out: [Batch] = []
        var clock: [Int64] = Array(repeating: 0, count: incidents)
        var serial = 0
        for b in 0..<batches {
            var batch = Batch()
            var touched: [String] = []
            for _ in 0..<(1 + Int(rng.next() % 40)) {
                let k = Int(rng.next() % UInt64(incidents))
                let incident = "INC-\(k)"
                clock[k] += Int64(rng.next() % 900)
                serial += 1
                let types: [EventType] = [.opened, .acknowledged, .updated, .resolved, .reopened, .closed]
                let type = clock[k] == 0 || rng.next() % 5 == 0 ? .opened : types[Int(rng.next() % 6)]
                let source = rng.next() % 3 == 0 ? "helpdesk|b" : "helpdesk-a"
                let text = ["new", "in progress", "waiting\ncustomer", "back\\slash", "ü"][Int(rng.next() % 5)]
                // Some events come before their incident's opening, some twice under one id.
                let time = rng.next() % 10 == 0 ? max(0, clock[k] - 2_000) : clock[k]
                let e = SLAEvent(
                    id: rng.next() % 20 == 0 && serial > 1 ? "e\(serial - 1)" : "e\(serial)", time: Instant(time),
                    type: type, incident: incident, contract: "c", priority: rng.next() % 4 == 0 ? "P1" : "P2",
                    status: text, assignee: rng.next() % 2 == 0 ? nil : "agent-\(rng.next() % 5)")
                if engine.add([e]).fresh.count == 1 { batch.events.append((e, source)) }
                if !touched.contains(incident) { touched.append(incident) }
            }
            if b % 4 == 1 {
                serial += 1
                let e = SLAEvent(id: "svc\(serial)", time: Instant(Int64(b) * 100), type: .serviceDown, service: "mail")
                batch.events.append((e, "monitor"))
            }
            if b % 5 == 2 {
                batch.quarantine.append(
                    QuarantineRecord(
                        source: "helpdesk-a", fingerprint: "f1", offset: Int64(b) * 10, line: b,
                        field: b % 2 == 0 ? "time" : nil,
                        reason: "not a time", raw: "{\"bad\": \(b)}"))
            }
            batch.offsets.append(
                SourceOffset(
                    source: "helpdesk-a", fingerprint: "f1", path: "/var/log/a.jsonl", inode: UInt64.max - UInt64(b),
                    offset: Int64(b) * 1_000, line: b * 10, tail: b % 2 == 0 ? nil : UInt64(b)))
            batch.stats["helpdesk-a"] = SourceStats()
            batch.stats["helpdesk-a"]!.lines = 10
            batch.stats["helpdesk-a"]!.events = batch.events.count
            // A backlog: state left behind for a few batches, then written for everything touched.
            let behind = b % 7 == 3 || b % 7 == 4
            if b % 7 == 3 { batch.stateMark = .behindFromHere }
            if !behind {
                if b % 7 == 5 { batch.stateMark = .current }
                let asOf = Instant(clock.max()! + 1_000)
                let all = (0..<incidents).map { "INC-\($0)" }
                for incident in b % 7 == 5 ? all : touched {
                    let (verdict, rejections) = engine.evaluate(incident: incident, asOf: asOf)
                    if let verdict { batch.incidents.append(verdict) } else { batch.unevaluated.append(incident) }
                    batch.rejections += rejections
                }
            }
            if b % 3 == 0 {
                let id = "n\(b)"
                batch.notifications.append(
                    SLANotification(
                        id: id, kind: b % 2 == 0 ? .breach : .warning, incident: "INC-\(b % incidents)", contract: "c",
                        metric: .reaction, priority: "P1", percent: Percentage(millionths: 800_000), target: 60,
                        due: Instant(Int64(b)), decidedAtMilliseconds: Int64(b) * 1_000, late: b % 2 == 1,
                        notify: b % 6 == 0 ? ["ops", "finance"] : [], customer: "C", elapsed: 48,
                        deadline: b % 2 == 0 ? Instant(Int64(b) + 60) : nil))
                if b % 6 == 0 { batch.journaled[id] = Int64(b) * 1_000 + 5 }
            }
            out.append(batch)
        }
        return out
    }
}
