import Foundation
import SLACore
import TestSupport
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
        try uptimeContract().yaml.write(
            to: config.appendingPathComponent("contracts.d/uptime.yaml"), atomically: true, encoding: .utf8)
        try withDaemon(config: config, in: work) { socket in
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

            // `web` went down ten minutes ago and is still down; one incident breached its 15 min
            // reaction target five minutes ago, another met it.
            let now = Int(Date().timeIntervalSince1970)
            let pushed = work.appendingPathComponent("pushed.jsonl")
            try [
                #"{"id":"web-down","time":"\#(iso(now - 600))","type":"service.down","service":"web"}"#,
                #"{"id":"u1-open","time":"\#(iso(now - 1200))","type":"incident.opened","incident":"U1","contract":"uptime","priority":"P1"}"#,
                #"{"id":"u2-open","time":"\#(iso(now - 600))","type":"incident.opened","incident":"U2","contract":"uptime","priority":"P1"}"#,
                #"{"id":"u2-ack","time":"\#(iso(now - 590))","type":"incident.acknowledged","incident":"U2"}"#,
            ].joined(separator: "\n").appending("\n").write(to: pushed, atomically: true, encoding: .utf8)
            #expect(try curl(socket, "/v1/events", method: "POST", body: pushed).status == 200)

            // A real Prometheus scraping every second, with slad's rules.
            let prometheusPort = freePort()
            let rules = repositoryRoot.appendingPathComponent("contrib/prometheus/slad.rules.yml").path
            try """
            global: { scrape_interval: 1s, evaluation_interval: 1s }
            rule_files: ["\(rules)"]
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
            #expect(value("slad_ledger_events") == "32")
            #expect(value("sum(slad_incidents_open)") == "4")
            #expect(value("slad_incidents_breached{contract=\"uptime\",priority=\"P1\"}") == "1")
            #expect(value("slad_build_info") == "1")
            #expect(value("slad_lines_quarantined_total") == "1")
            #expect(value("slad_availability_target_ratio{contract=\"uptime\"}") == "0.999")
            #expect(
                waitUntil(30) { value("slad_availability_down{contract=\"uptime\"}") == "1" },
                "\(query("slad_availability_down"))")
            #expect(value("slad_month_attainment_ratio{contract=\"uptime\",metric=\"reaction\"}") == "0.5")
            #expect(value("slad_month_breaches{contract=\"uptime\"}") == "1")
            // slad's own burn alert in the journal's stead: its log, and the figures on the socket.
            let uptime = json(try curl(socket, "/v1/contracts/uptime").body)
            let budget = (uptime["month_to_date"] as? [String: Any])?["availability"] as? [String: Any] ?? [:]
            #expect((budget["burning"] as? [[String: Any]])?.map { $0["rate"] as? String } == ["14.4", "6", "3", "1"])
            #expect((budget["spent_seconds"] as? Int ?? 0) >= 600)
            // The rules' fast burn alert fires on slad's figures in a real Prometheus.
            let firing =
                "ALERTS{alertname=\"SladErrorBudgetBurn\",alertstate=\"firing\",contract=\"uptime\",severity=\"page\"}"
            #expect(waitUntil(60) { value(firing) == "1" }, "\(query("ALERTS"))")

            // Every query of the Grafana dashboard runs in that Prometheus, and names only metrics
            // slad exports or the rules record.
            let exposition = try get("http://127.0.0.1:\(port)/metrics").stdout
            let exported = Set(
                exposition.split(separator: "\n").filter { $0.hasPrefix("# HELP ") }.map {
                    String($0.split(separator: " ")[2])
                })
            let recorded = Set(
                try String(contentsOfFile: rules, encoding: .utf8).split(separator: "\n").compactMap {
                    line -> String? in
                    let t = line.trimmingCharacters(in: .whitespaces)
                    return t.hasPrefix("- record: ") ? String(t.dropFirst("- record: ".count)) : nil
                })
            for expr in try dashboardQueries() {
                let promql = expr.replacingOccurrences(of: "$__rate_interval", with: "1m")
                    .replacingOccurrences(of: "$contract", with: ".*").replacingOccurrences(of: "$job", with: ".*")
                let answer = query(promql)
                #expect(answer["status"] as? String == "success", "\(promql): \(answer)")
                let names = metricNames(in: promql).filter { !exported.contains($0) && !recorded.contains($0) }
                #expect(names.isEmpty, "\(promql) names metrics slad does not export: \(names)")
            }
        }
    }

    @Test("the shipped rules pass promtool check rules and their unit tests (promtool test rules)")
    func rules() throws {
        let folder = repositoryRoot.appendingPathComponent("contrib/prometheus").path
        let check = try runProgram(["promtool", "check", "rules", folder + "/slad.rules.yml"])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        let unit = try runProgram(["sh", "-c", "cd \"$0\" && promtool test rules slad.rules.test.yml", folder])
        #expect(unit.status == 0 && unit.stdout.contains("SUCCESS"), "\(unit.stdout)\(unit.stderr)")
    }

    /// The `expr` of every target of every panel of contrib/grafana/slad.json, and of its variables.
    func dashboardQueries() throws -> [String] {
        let data = try Data(contentsOf: repositoryRoot.appendingPathComponent("contrib/grafana/slad.json"))
        let dashboard = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let panels = dashboard["panels"] as? [[String: Any]] ?? []
        let exprs = panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        #expect(exprs.count >= 15, "the dashboard has lost its panels")
        return exprs
    }

    /// The metric names a PromQL expression reads: identifiers that are neither functions,
    /// keywords, label names inside braces or `by (...)` lists, nor durations.
    func metricNames(in promql: String) -> Set<String> {
        let chars = Array(promql)
        var names: Set<String> = []
        var depth = 0
        var grouping = false
        var i = 0
        while i < chars.count {
            let c = chars[i]
            guard c.isLetter || c == "_" || c == ":" else {
                if c.isNumber {  // a number or a duration, `5m`
                    while i < chars.count, chars[i].isLetter || chars[i].isNumber || chars[i] == "." { i += 1 }
                    continue
                }
                switch c {
                case "{": depth += 1
                case "}": depth -= 1
                case "(" where grouping: depth += 1
                case ")" where grouping && depth > 0:
                    depth -= 1
                    grouping = false
                default: break
                }
                i += 1
                continue
            }
            var word = ""
            while i < chars.count, chars[i].isLetter || chars[i].isNumber || chars[i] == "_" || chars[i] == ":" {
                word.append(chars[i])
                i += 1
            }
            var next = i
            while next < chars.count, chars[next] == " " || chars[next] == "\n" { next += 1 }
            let aggregations = ["sum", "min", "max", "avg", "count", "group", "stddev", "stdvar", "topk", "bottomk"]
            if ["by", "without", "on", "ignoring", "group_left", "group_right"].contains(word) {
                grouping = true
            } else if depth == 0, next == chars.count || chars[next] != "(",
                !["and", "or", "unless", "bool", "offset"].contains(word), !aggregations.contains(word)
            {
                names.insert(word)
            }
        }
        return names
    }
}
