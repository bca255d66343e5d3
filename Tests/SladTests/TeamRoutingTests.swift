import Foundation
import Testing

@Suite("notifications routed to the team holding the incident (real daemon, real receivers)", .serialized)
struct TeamRoutingTests {
    @Test(
        "the team's webhooks hear every notification of the incidents it holds; @lead in an escalation reaches the team's lead only"
    )
    func teamAndLead() throws {
        let work = try makeTemporaryDirectory("slad-teams")
        defer { try? FileManager.default.removeItem(at: work) }
        let receiver = Receiver(directory: work, secret: WebhookDeliveryTests.secret)
        try receiver.start()
        defer { receiver.stop() }
        let key = try WebhookDeliveryTests.writeSecret(in: work)
        let config = work.appendingPathComponent("config")
        try FileManager.default.createDirectory(
            at: config.appendingPathComponent("contracts.d"), withIntermediateDirectories: true)
        let url = "http://127.0.0.1:\(receiver.port)/hooks"
        try """
        webhooks:
          ops: { url: "\(url)/ops", secret_file: "\(key.path)" }
          netops: { url: "\(url)/netops", secret_file: "\(key.path)" }
          netlead: { url: "\(url)/netlead", secret_file: "\(key.path)" }
        teams:
          L2-network: { notify: [netops], lead: [netlead] }
        """.write(to: config.appendingPathComponent("slad.yaml"), atomically: true, encoding: .utf8)
        try """
        id: routed
        customer: Routed Ltd
        calendar: 24x7
        fee: { amount: "1000.00", currency: EUR }
        priorities:
          P1: { reaction: 15m, resolution: 4h }
        warn_at: ["50%"]
        escalations: [{ at: "100%", notify: ["@lead"] }]
        notify: [ops]
        """.write(to: config.appendingPathComponent("contracts.d/routed.yaml"), atomically: true, encoding: .utf8)
        try withDaemon(config: config, in: work) { socket in
            // Opened by L1 half an hour ago, handed to L2-network five minutes later: every
            // threshold of the reaction clock came due while L2-network held it.
            let now = Int(Date().timeIntervalSince1970)
            let events = work.appendingPathComponent("events.jsonl")
            try [
                #"{"id":"r1-open","time":"\#(iso(now - 1800))","type":"incident.opened","incident":"R-1","contract":"routed","priority":"P1","team":"L1"}"#,
                #"{"id":"r1-hand","time":"\#(iso(now - 1500))","type":"incident.updated","incident":"R-1","team":"L2-network"}"#,
            ].joined(separator: "\n").appending("\n").write(to: events, atomically: true, encoding: .utf8)
            #expect(try curl(socket, "/v1/events", method: "POST", body: events).status == 200)

            func heard(_ path: String) -> [String] {
                receiver.records().filter { $0["path"] as? String == "/hooks/\(path)" && $0["status"] as? Int == 200 }
                    .compactMap { ($0["body"] as? [String: Any])?["type"] as? String }.sorted()
            }
            #expect(
                waitUntil(30) {
                    heard("ops").count == 2 && heard("netops").count == 3 && heard("netlead").count == 1
                }, "\(receiver.records().map { "\($0["path"] ?? "") \($0["id"] ?? "")" })")
            #expect(heard("ops") == ["sla.breach", "sla.warning"])
            #expect(heard("netops") == ["sla.breach", "sla.escalation", "sla.warning"])
            #expect(heard("netlead") == ["sla.escalation"])
        }
    }
}
