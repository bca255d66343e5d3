import Foundation
import SLACore
import Testing

@Suite("Prometheus scrapes slad (real daemon, real Prometheus)", .serialized)
struct PrometheusTests {
    @Test(
        "metrics.listen serves /metrics over TCP and nothing else; a real Prometheus scrapes it and has slad's figures"
    )
    func scraped() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus") else {
            Issue.record("Debian's prometheus is not installed (scripts/test.sh installs it)")
            return
        }
        let work = try makeTemporaryDirectory("slad-prometheus")
        defer { try? FileManager.default.removeItem(at: work) }
        let config = work.appendingPathComponent("config")
        try FileManager.default.copyItem(at: repositoryRoot.appendingPathComponent("etc/slad"), to: config)
        let port = freePort()
        let sample = repositoryRoot.appendingPathComponent("etc/samples/events.jsonl").path
        try """
        sources:
          - { name: sample, path: "\(sample)", format: jsonl }
        metrics:
          listen: 127.0.0.1:\(port)
        """.write(to: config.appendingPathComponent("slad.yaml"), atomically: true, encoding: .utf8)
        let socket = work.appendingPathComponent("slad.sock").path
        let daemon = try startSlad(
            ["run", "--config", config.path, "--state", work.appendingPathComponent("state").path, "--socket", socket],
            stderr: work.appendingPathComponent("stderr"))
        defer {
            daemon.terminate()
            daemon.waitUntilExit()
        }
        func get(_ url: String) throws -> Ran {
            try runProgram(["curl", "-s", "--max-time", "5", "-w", "\n%{http_code}", url])
        }
        var metrics = Ran(status: -1, stdout: "", stderr: "")
        #expect(
            waitUntil(30) {
                metrics = (try? get("http://127.0.0.1:\(port)/metrics")) ?? metrics
                return metrics.stdout.hasSuffix("\n200") && metrics.stdout.contains("slad_ledger_events 28")
            }, "\(metrics.stdout.suffix(300))")
        // Only /metrics: the control API stays on the socket, behind its access rules.
        for path in ["/v1/status", "/v1/incidents", "/v1/breaches"] {
            #expect(try get("http://127.0.0.1:\(port)\(path)").stdout.hasSuffix("\n404"), "\(path)")
        }
        let reload = try runProgram([
            "curl", "-s", "-X", "POST", "-w", "\n%{http_code}", "http://127.0.0.1:\(port)/v1/reload",
        ])
        #expect(reload.stdout.hasSuffix("\n404"))

        // A real Prometheus scraping every second.
        let prometheusPort = freePort()
        try """
        global: { scrape_interval: 1s, evaluation_interval: 1s }
        scrape_configs:
          - job_name: slad
            static_configs: [{ targets: ["127.0.0.1:\(port)"] }]
        """.write(to: work.appendingPathComponent("prometheus.yml"), atomically: true, encoding: .utf8)
        let prometheus = Process()
        prometheus.executableURL = URL(fileURLWithPath: "/usr/bin/prometheus")
        prometheus.arguments = [
            "--config.file=\(work.path)/prometheus.yml", "--storage.tsdb.path=\(work.path)/tsdb",
            "--web.listen-address=127.0.0.1:\(prometheusPort)",
        ]
        prometheus.standardOutput = FileHandle.nullDevice
        prometheus.standardError = try FileHandle(
            forWritingTo: {
                let log = work.appendingPathComponent("prometheus.log")
                _ = FileManager.default.createFile(atPath: log.path, contents: nil)
                return log
            }())
        try prometheus.run()
        defer {
            prometheus.terminate()
            prometheus.waitUntilExit()
        }
        func query(_ q: String) -> [String: Any] {
            let escaped = q.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? q
            let r = try? get("http://127.0.0.1:\(prometheusPort)/api/v1/query?query=\(escaped)")
            let body = r?.stdout.split(separator: "\n").dropLast().joined(separator: "\n") ?? ""
            return json(body)
        }
        func value(_ q: String) -> String? {
            let result = (query(q)["data"] as? [String: Any])?["result"] as? [[String: Any]]
            return (result?.first?["value"] as? [Any])?.last as? String
        }
        #expect(
            waitUntil(60) { value("up{job=\"slad\"}") == "1" },
            "Prometheus never scraped slad: \((try? String(contentsOf: work.appendingPathComponent("prometheus.log"), encoding: .utf8))?.suffix(800) ?? "")"
        )
        #expect(value("slad_ledger_events") == "28")
        #expect(value("slad_incidents_open") == "2")
        #expect(value("slad_build_info") == "1")
        #expect(value("slad_lines_quarantined_total") == "1")
    }
}
