import Foundation
import Testing

@testable import SLAConfig

/// The JSON Schemas of contrib/schema and the loader: the same keys everywhere, and the same
/// verdict on the same files (a real validator: python3-jsonschema, through scripts/check-schema.py).
@Suite("JSON Schemas for editors (real validator)", .serialized)
struct SchemaTests {
    static let schemas = repositoryRoot.appendingPathComponent("contrib/schema")

    static func schema(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: schemas.appendingPathComponent("\(name).schema.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// The object at a JSON pointer of `document`.
    static func at(_ pointer: String, in document: Any) -> [String: Any]? {
        var node: Any? = document
        for token in pointer.split(separator: "/") {
            if let array = node as? [Any], let k = Int(token) {
                node = k < array.count ? array[k] : nil
            } else {
                node = (node as? [String: Any])?[String(token)]
            }
        }
        return node as? [String: Any]
    }

    @Test("every mapping of the schemas names exactly the keys the loader accepts there")
    func sameKeys() throws {
        let places: [(String, String, [String])] = [
            ("slad", "", ConfigKeys.main), ("slad", "properties/control", ConfigKeys.control),
            ("slad", "properties/webhooks/additionalProperties", ConfigKeys.webhook),
            ("slad", "properties/sources/items", ConfigKeys.source), ("slad", "properties/metrics", ConfigKeys.metrics),
            ("slad", "properties/reports", ConfigKeys.reports), ("slad", "properties/store/oneOf/1", ConfigKeys.store),
            ("slad", "properties/alertmanager", ConfigKeys.alertmanager),
            ("slad", "properties/alertmanager/properties/services/items", ConfigKeys.alertmanagerRule),
            ("slad", "properties/maintenance/items", ConfigKeys.maintenanceWindow),
            ("slad", "properties/teams/additionalProperties", ConfigKeys.team),
            ("slad", "properties/teams/additionalProperties/properties/ola", ConfigKeys.ola),
            ("slad", "properties/lines/additionalProperties", ConfigKeys.line),
            ("slad", "properties/policies/items", ConfigKeys.policy),
            ("slad", "properties/lines/additionalProperties/properties/ola", ConfigKeys.ola),
            ("contract", "", ConfigKeys.contract), ("contract", "properties/valid", ConfigKeys.validity),
            ("contract", "properties/fee", ConfigKeys.fee),
            ("contract", "properties/versions/items", ConfigKeys.contractVersion),
            ("contract", "properties/availability", ConfigKeys.availability),
            ("contract", "properties/availability/properties/credits/items", ConfigKeys.creditTier),
            ("contract", "properties/priorities/additionalProperties", ConfigKeys.priority),
            ("contract", "properties/escalations/items", ConfigKeys.escalation),
            ("contract", "properties/penalties", ConfigKeys.penalties),
            ("contract", "properties/promises/additionalProperties", ConfigKeys.promise),
            ("contract", "properties/pause_on/oneOf/1", ConfigKeys.pauseOn),
            ("contract", "properties/penalties/properties/promise_breach/oneOf/1", ConfigKeys.penalty),
            ("calendar", "", ConfigKeys.calendar),
            ("calendar", "properties/holidays/items/oneOf/1", ConfigKeys.holiday),
            ("calendar", "properties/extra_working_days/items", ConfigKeys.extraWorkingDay),
            ("source-mapping", "", ConfigKeys.sourceMapping),
            ("source-mapping", "properties/fields", ConfigKeys.sourceFields),
        ]
        for (name, pointer, keys) in places {
            let object = try #require(Self.at(pointer, in: try Self.schema(name)), "\(name) #/\(pointer) is missing")
            let properties = (object["properties"] as? [String: Any]).map { Set($0.keys) } ?? []
            #expect(properties == Set(keys), "\(name).schema.json #/\(pointer): \(properties.sorted()) vs \(keys)")
            #expect(object["additionalProperties"] as? Bool == false, "\(name) #/\(pointer) allows unknown keys")
        }
        // Status meanings: the two mapping forms together.
        let statuses = try #require(
            Self.at("properties/statuses/additionalProperties", in: try Self.schema("source-mapping"))?["oneOf"]
                as? [[String: Any]])
        let statusKeys = statuses.compactMap { $0["properties"] as? [String: Any] }.flatMap(\.keys)
        #expect(Set(statusKeys) == Set(ConfigKeys.status))
    }

    /// The schema's verdict on `files` of `kind`: the validator's exit status and output.
    func schemaCheck(_ arguments: [String]) throws -> Ran {
        try runProgram(["python3", repositoryRoot.appendingPathComponent("scripts/check-schema.py").path] + arguments)
    }

    static let calendar = """
        timezone: Europe/Berlin
        hours:
          mon-fri: ["09:00-17:00"]
        """
    static let contract = """
        id: good
        customer: Good Ltd
        calendar: office
        fee: { amount: "1000.00", currency: EUR }
        services: [web]
        availability: { target: "99.9%", calendar: 24x7, exclude_maintenance: true, credits: [{ below: "99.9%", credit: "10%" }] }
        priorities:
          P1: { reaction: 15m, resolution: 4h }
        warn_at: ["50%"]
        escalations: [{ at: "100%", notify: [ops] }]
        penalties: { reaction_breach: { P1: "100.00" }, resolution_breach: { P1: { fixed: "500.00", per_hour_late: "50.00" } }, cap: "30%" }
        notify: [ops]
        """
    static let main = """
        sources: [{ name: app, path: app.jsonl, format: jsonl }]
        webhooks:
          ops: { url: "http://127.0.0.1:9000/hooks", timeout: 5s, max_age: 24h, kinds: [breach, warning] }
        allowed_lateness: 5s
        reports: { seal_after: 3d }
        metrics: { listen: "127.0.0.1:9464" }
        alertmanager:
          services:
            - { match: { alertname: WebDown }, service: web }
            - { match: { team: web }, service_label: service }
        maintenance:
          - { service: web, from: "2026-12-20T02:00:00+01:00", to: "2026-12-20T04:00:00+01:00" }
        """

    /// A folder whose every file both the loader and the schemas accept, with `file` replaced.
    func folder(_ file: String? = nil, _ text: String? = nil) throws -> URL {
        let dir = try makeTemporaryDirectory("slad-schema")
        let files = [
            "slad.yaml": Self.main, "calendars/office.yaml": Self.calendar, "contracts.d/good.yaml": Self.contract,
        ]
        for (path, content) in files.merging(file.map { [$0: text ?? ""] } ?? [:], uniquingKeysWith: { $1 }) {
            let url = dir.appendingPathComponent(path)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try content.write(to: url, atomically: true, encoding: .utf8)
        }
        return dir
    }

    @Test("the shipped configurations and a folder using every section pass both the loader and the schemas")
    func goodFiles() throws {
        for dir in [repositoryRoot.appendingPathComponent("etc/slad"), try folder()] {
            #expect(throws: Never.self, "\(dir.path)") { _ = try ConfigLoader.load(directory: dir.path) }
            let r = try schemaCheck(["--folder", dir.path])
            #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        }
        // The installed slad.yaml names groups this machine may lack: the schema alone.
        let installed = try schemaCheck(["slad", repositoryRoot.appendingPathComponent("systemd/slad.yaml").path])
        #expect(installed.status == 0, "\(installed.stdout)\(installed.stderr)")
    }

    @Test(
        "the same bad files are refused by the loader and by the schemas",
        arguments: [
            ("slad.yaml", "sources: [{ name: a, path: a.jsonl, colour: red }]"),
            ("slad.yaml", "allowed_lateness: 5 minutes"),
            ("slad.yaml", "webhooks: { ops: { url: \"http://x\", kinds: [breach, page] } }"),
            ("slad.yaml", "webhooks: { ops: { url: \"ftp://x\" } }"),
            ("slad.yaml", "alertmanager: { services: [{ match: { a: b }, service: s, service_label: l }] }"),
            ("slad.yaml", "alertmanager: { services: [{ service: everything }] }"),
            ("slad.yaml", "maintenance: [{ service: s, from: \"2026-12-20 02:00\", to: \"2026-12-20T04:00:00Z\" }]"),
            ("slad.yaml", "metrics: { listen: 9464 }"),
            ("slad.yaml", "control: { sockett: /run/x.sock }"),
            ("slad.yaml", "reports: { seal_after: soon }"),
            ("contracts.d/good.yaml", contract.replacingOccurrences(of: "\"1000.00\"", with: "\"1,000.00\"")),
            ("contracts.d/good.yaml", contract.replacingOccurrences(of: "[\"50%\"]", with: "[\"50\"]")),
            ("contracts.d/good.yaml", contract.replacingOccurrences(of: "resolution: 4h }", with: "resolve: 4h }")),
            ("contracts.d/good.yaml", contract.replacingOccurrences(of: "cap: \"30%\"", with: "cap: 30 percent")),
            ("contracts.d/good.yaml", contract.replacingOccurrences(of: "currency: EUR", with: "currency: Euro")),
            (
                "contracts.d/good.yaml",
                contract.replacingOccurrences(of: "fee: { amount: \"1000.00\", currency: EUR }\n", with: "")
            ),
            ("calendars/office.yaml", calendar.replacingOccurrences(of: "09:00-17:00", with: "9-17")),
            ("calendars/office.yaml", calendar + "\nholidays: [{ day: 2026-01-01 }]"),
            ("calendars/office.yaml", calendar.replacingOccurrences(of: "mon-fri", with: "weekdays")),
        ])
    func badFiles(_ file: String, _ text: String) throws {
        let dir = try folder(file, text)
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(throws: ConfigErrors.self, "the loader took \(file):\n\(text)") {
            _ = try ConfigLoader.load(directory: dir.path)
        }
        let r = try schemaCheck(["--folder", dir.path])
        #expect(
            r.status == 1 && r.stdout.contains(dir.appendingPathComponent(file).path),
            "the schema took \(file):\n\(text)\n\(r.stdout)\(r.stderr)")
    }
}
