import Foundation
import Testing

@Suite("policies for native events (real daemon, tailed file and control socket)", .serialized)
struct NativePolicyDaemonTests {
    @Test(
        "openings that name no contract get the contract and priority of the first matching policy, from a tailed file and from POST /v1/events; one no policy matches is quarantined there and refused here, located"
    )
    func policiesPickContracts() throws {
        let work = try makeTemporaryDirectory("slad-native-policies")
        defer { try? FileManager.default.removeItem(at: work) }
        let config = work.appendingPathComponent("config")
        try FileManager.default.createDirectory(
            at: config.appendingPathComponent("contracts.d"), withIntermediateDirectories: true)
        let events = work.appendingPathComponent("desk.jsonl")
        try """
        sources:
          - { name: desk, path: "\(events.path)", format: jsonl }
        priority_matrices:
          itil:
            "1": { "1": P1, "2": P2 }
            "2": { "1": P2, "2": P3 }
        policies:
          - { name: network, match: { category: network }, contract: gold, priority: P1 }
          - { name: phone, match: { channel: phone }, contract: silver, priority_from: itil }
        """.write(to: config.appendingPathComponent("slad.yaml"), atomically: true, encoding: .utf8)
        for id in ["gold", "silver"] {
            try """
            id: \(id)
            customer: \(id.capitalized) Ltd
            calendar: 24x7
            fee: { amount: "1000.00", currency: EUR }
            priorities:
              P1: { reaction: 15m, resolution: 4h }
              P2: { reaction: 1h, resolution: 8h }
              P3: { reaction: 4h, resolution: 2d }
            """.write(
                to: config.appendingPathComponent("contracts.d/\(id).yaml"), atomically: true, encoding: .utf8)
        }
        func line(_ id: String, _ incident: String, _ type: String, _ extra: String) -> String {
            #"{"id":"\#(id)","time":"2026-03-02T09:00:00Z","type":"incident.\#(type)","incident":"\#(incident)"\#(extra)}"#
        }
        try [
            line("a", "A", "opened", #","attributes":{"category":"network","channel":"phone"}"#),
            line("b", "B", "opened", #","attributes":{"channel":"phone","impact":"1","urgency":"2"}"#),
            line("f", "F", "opened", #","priority":"P2","attributes":{"channel":"fax"}"#),
            line("a-done", "A", "resolved", ""),
            line("b-done", "B", "resolved", ""),
        ].joined(separator: "\n").appending("\n").write(to: events, atomically: true, encoding: .utf8)
        try withDaemon(config: config, in: work) { socket in
            let pushed = work.appendingPathComponent("pushed.jsonl")
            try [
                line("c", "C", "opened", #","attributes":{"channel":"phone","impact":"2","urgency":"2"}"#),
                line("c-done", "C", "resolved", ""),
            ].joined(separator: "\n").write(to: pushed, atomically: true, encoding: .utf8)
            #expect(try curl(socket, "/v1/events", method: "POST", body: pushed).status == 200)
            let refused = work.appendingPathComponent("refused.jsonl")
            try line("g", "G", "opened", #","priority":"P1","attributes":{"channel":"fax"}"#).write(
                to: refused, atomically: true, encoding: .utf8)
            let answer = try curl(socket, "/v1/events", method: "POST", body: refused)
            #expect(answer.status == 422)
            #expect(
                json(answer.body)["details"] as? [String]
                    == ["line 1: attributes: no_policy: no policy matches category=(none), channel=fax"])

            // Each incident as the daemon holds it: its line, and its opening as the ledger keeps it
            // (the picked priority written into the event).
            func incident(_ id: String) -> String {
                guard let r = try? curl(socket, "/v1/incidents/\(id)"), r.status == 200 else { return "\(id) unknown" }
                let body = json(r.body)
                let line = body["incident"] as? [String: Any] ?? [:]
                let opening = (body["events"] as? [[String: Any]])?.first { $0["type"] as? String == "incident.opened" }
                return
                    "\(id) \(line["contract"] ?? "") \(line["priority"] ?? "") \(line["status"] ?? ""), opened at \(opening?["priority"] ?? "")"
            }
            let all = ["A", "B", "C", "F", "G"]
            #expect(waitUntil(30) { incident("C") != "C unknown" }, "\(all.map(incident))")
            #expect(
                all.map(incident) == [
                    "A gold P1 resolved, opened at P1", "B silver P2 resolved, opened at P2",
                    "C silver P3 resolved, opened at P3", "F unknown", "G unknown",
                ])
            let status = json(try curl(socket, "/v1/status").body)
            let desk = (status["sources"] as? [[String: Any]])?.first { $0["name"] as? String == "desk" }
            #expect(desk?["quarantined"] as? Int == 1, "\(status)")
        }
    }
}
