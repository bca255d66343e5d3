import Foundation
import TestSupport
import Testing

/// A contract in force whatever the date, promising 99.9 % availability of `web`, round the
/// clock. Month figures of tests that look back at most an hour need that hour inside the
/// contract's month: in the first hour of a UTC month the contract lives in New York, where
/// that month has not begun.
func uptimeContract() -> (yaml: String, zone: TimeZone) {
    let utc = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date())
    let zone = utc.day == 1 && utc.hour == 0 ? "America/New_York" : "UTC"
    return (
        """
        id: uptime
        customer: Uptime Ltd
        timezone: \(zone)
        calendar: 24x7
        fee: { amount: "1000.00", currency: EUR }
        services: [web]
        availability:
          target: "99.9%"
          calendar: 24x7
          exclude_maintenance: true
          credits: [{ below: "99.9%", credit: "10%" }]
        priorities:
          P1: { reaction: 15m, resolution: 4h }
        """, TimeZone(identifier: zone)!
    )
}

@Suite("Alertmanager as an availability source (real daemon, real Alertmanager)", .serialized)
struct AlertmanagerSourceTests {
    @Test(
        "a real Alertmanager posts firing and resolved alerts to slad, which records the outage to the second; declared maintenance is excluded; a wrong token is refused"
    )
    func alertmanagerPosts() throws {
        let binary = "/usr/bin/prometheus-alertmanager"
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            Issue.record("Debian's prometheus-alertmanager is not installed (scripts/test.sh installs it)")
            return
        }
        let work = try makeTemporaryDirectory("slad-alertmanager")
        defer { try? FileManager.default.removeItem(at: work) }
        let config = work.appendingPathComponent("config")
        try FileManager.default.createDirectory(
            at: config.appendingPathComponent("contracts.d"), withIntermediateDirectories: true)
        let (contract, zone) = uptimeContract()
        try contract.write(
            to: config.appendingPathComponent("contracts.d/uptime.yaml"), atomically: true, encoding: .utf8)
        let token = "t0ken-\(UUID().uuidString)"
        try token.write(to: config.appendingPathComponent("am.token"), atomically: true, encoding: .utf8)
        let now = Int(Date().timeIntervalSince1970)
        let port = freePort()
        // Five minutes of maintenance half an hour ago, declared in slad.yaml; an outage from
        // ten minutes ago to one minute ago, told by Alertmanager.
        try """
        alertmanager:
          listen: 127.0.0.1:\(port)
          token_file: am.token
          services:
            - { match: { team: web }, service_label: service }
        maintenance:
          - { service: web, from: "\(iso(now - 1800))", to: "\(iso(now - 1500))" }
        """.write(to: config.appendingPathComponent("slad.yaml"), atomically: true, encoding: .utf8)
        try withDaemon(config: config, in: work) { socket in
            // The listener serves POST /v1/alertmanager only, and only with the token.
            let url = "http://127.0.0.1:\(port)/v1/alertmanager"
            let noToken = try runProgram(["curl", "-s", "-w", "\n%{http_code}", "-X", "POST", "--data", "{}", url])
            #expect(noToken.stdout.hasSuffix("\n401"), "\(noToken.stdout)")
            let status = try runProgram(["curl", "-s", "-w", "\n%{http_code}", "http://127.0.0.1:\(port)/v1/status"])
            #expect(status.stdout.hasSuffix("\n404"), "\(status.stdout)")
            let bad = try runProgram([
                "curl", "-s", "-w", "\n%{http_code}", "-X", "POST", "-H", "Authorization: Bearer \(token)", "--data",
                "{\"alerts\":[{\"status\":\"firing\"}]}", url,
            ])
            #expect(bad.stdout.hasSuffix("\n422") && bad.stdout.contains("alerts[0].labels: missing"), "\(bad.stdout)")

            // A real Alertmanager, grouping by service, posting at once and on every change.
            let amPort = freePort()
            try """
            route:
              receiver: slad
              group_by: [service]
              group_wait: 1s
              group_interval: 1s
              repeat_interval: 1h
            receivers:
              - name: slad
                webhook_configs:
                  - url: \(url)
                    send_resolved: true
                    http_config:
                      authorization: { credentials: \(token) }
            """.write(to: work.appendingPathComponent("alertmanager.yml"), atomically: true, encoding: .utf8)
            let alertmanager = Process()
            alertmanager.executableURL = URL(fileURLWithPath: binary)
            alertmanager.arguments = [
                "--config.file=\(work.path)/alertmanager.yml", "--storage.path=\(work.path)/am",
                "--web.listen-address=127.0.0.1:\(amPort)", "--cluster.listen-address=",
            ]
            let log = work.appendingPathComponent("alertmanager.log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            alertmanager.standardOutput = FileHandle.nullDevice
            alertmanager.standardError = try FileHandle(forWritingTo: log)
            try alertmanager.run()
            defer {
                alertmanager.terminate()
                alertmanager.waitUntilExit()
            }
            func amLog() -> String { (try? String(contentsOf: log, encoding: .utf8))?.suffix(1500).description ?? "" }
            func post(_ alerts: String) -> Bool {
                let r = try? runProgram([
                    "curl", "-s", "-w", "\n%{http_code}", "-X", "POST", "-H", "Content-Type: application/json",
                    "--data",
                    alerts, "http://127.0.0.1:\(amPort)/api/v2/alerts",
                ])
                return r?.stdout.hasSuffix("\n200") == true
            }
            let labels = #"{"alertname":"WebDown","team":"web","service":"web"}"#
            #expect(waitUntil(30) { post(#"[{"labels":\#(labels),"startsAt":"\#(iso(now - 600))"}]"#) }, "\(amLog())")
            func budget() -> [String: Any] {
                let view = json((try? curl(socket, "/v1/contracts/uptime").body) ?? "")
                return (view["month_to_date"] as? [String: Any])?["availability"] as? [String: Any] ?? [:]
            }
            #expect(waitUntil(60) { budget()["down"] as? Bool == true }, "slad never saw the outage: \(amLog())")

            // Resolved a minute ago: up again, 540 s of downtime, the maintenance taken out of the month.
            #expect(post(#"[{"labels":\#(labels),"startsAt":"\#(iso(now - 600))","endsAt":"\#(iso(now - 60))"}]"#))
            #expect(waitUntil(60) { budget()["down"] as? Bool == false }, "slad never saw the end: \(amLog())")
            // The month figures follow the store a moment later.
            #expect(waitUntil(40) { budget()["spent_seconds"] as? Int == 540 }, "\(budget())")
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = zone
            let days = calendar.range(of: .day, in: .month, for: Date())!.count
            #expect(budget()["month_seconds"] as? Int == days * 86_400 - 300, "\(budget())")
        }
    }
}

@Suite("availability burn alerts (real daemon, real webhook receiver)", .serialized)
struct BurnAlertTests {
    @Test(
        "an outage burning the budget 14.4 times as fast is announced to the contract's webhook and the journal sink, once, across a restart"
    )
    func burnReachesWebhooks() throws {
        let work = try makeTemporaryDirectory("slad-burn")
        defer { try? FileManager.default.removeItem(at: work) }
        let receiver = Receiver(directory: work, secret: WebhookDeliveryTests.secret)
        try receiver.start()
        defer { receiver.stop() }
        let config = work.appendingPathComponent("config")
        try FileManager.default.createDirectory(
            at: config.appendingPathComponent("contracts.d"), withIntermediateDirectories: true)
        try (uptimeContract().yaml + "\nnotify: [ops]\n").write(
            to: config.appendingPathComponent("contracts.d/uptime.yaml"), atomically: true, encoding: .utf8)
        let key = try WebhookDeliveryTests.writeSecret(in: work)
        try """
        webhooks:
          ops: { url: "http://127.0.0.1:\(receiver.port)/hooks/ops", secret_file: "\(key.path)", kinds: [availability.burn] }
        """.write(to: config.appendingPathComponent("slad.yaml"), atomically: true, encoding: .utf8)
        let socket = work.appendingPathComponent("slad.sock").path
        let arguments = [
            "run", "--config", config.path, "--state", work.appendingPathComponent("state").path, "--socket", socket,
        ]
        var daemon = try startSlad(arguments, stderr: work.appendingPathComponent("stderr"))
        defer {
            daemon.terminate()
            daemon.waitUntilExit()
        }
        #expect(waitUntil(30) { (try? curl(socket, "/v1/status").status) == 200 })
        let down = work.appendingPathComponent("down.jsonl")
        try
            #"{"id":"web-down","time":"\#(iso(Int(Date().timeIntervalSince1970) - 600))","type":"service.down","service":"web"}"#
            .appending("\n").write(to: down, atomically: true, encoding: .utf8)
        #expect(try curl(socket, "/v1/events", method: "POST", body: down).status == 200)

        func burns() -> [[String: Any]] {
            receiver.records().filter {
                ($0["body"] as? [String: Any])?["type"] as? String == "sla.availability.burn"
                    && $0["status"] as? Int == 200
            }
        }
        // Every pair burns in the first minutes of an outage: four alerts, each once.
        #expect(waitUntil(60) { Set(burns().compactMap { $0["id"] as? String }).count == 4 }, "\(receiver.records())")
        let ids = Set(burns().compactMap { $0["id"] as? String })
        #expect(ids.allSatisfy { $0.hasPrefix("availability/uptime/burn/") }, "\(ids)")
        let data =
            try #require(
                burns().first { ($0["id"] as? String)?.contains("/burn/14.4/") == true }?["body"] as? [String: Any])[
                "data"]
            as? [String: Any]
        #expect(data?["contract"] as? String == "uptime")
        #expect(data?["metric"] as? String == "availability")
        #expect(data?["priority"] as? String == "page")
        #expect(data?["percent"] as? String == "1440%", "\(data ?? [:])")

        // Restarted during the same outage: the alerts are known, none is sent again.
        daemon.terminate()
        daemon.waitUntilExit()
        daemon = try startSlad(arguments, stderr: work.appendingPathComponent("stderr2"))
        #expect(
            waitUntil(30) {
                let view = json((try? curl(socket, "/v1/contracts/uptime").body) ?? "")
                let budget = (view["month_to_date"] as? [String: Any])?["availability"] as? [String: Any]
                return (budget?["burning"] as? [Any])?.count == 4
            })
        Thread.sleep(forTimeInterval: 3)
        #expect(burns().count == 4, "\(burns().map { $0["id"] ?? "" })")
    }
}
