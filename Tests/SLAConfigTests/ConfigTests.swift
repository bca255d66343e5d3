import Foundation
import SLAConfig
import SLACore
import Testing

/// A configuration folder written by the test.
struct ConfigFolder {
    let url: URL

    init(_ files: [String: String]) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("slad-config-\(UUID().uuidString)")
        for (path, text) in files { try write(path, text) }
    }

    func write(_ path: String, _ text: String) throws {
        try write(path, Data(text.utf8))
    }

    func write(_ path: String, _ data: Data) throws {
        let file = url.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: file)
    }

    func path(_ relative: String) -> String { url.appendingPathComponent(relative).path }

    /// The errors of loading this folder as text, paths relative to the folder.
    func relativeErrors() -> [String] {
        errors().map { $0.description.replacingOccurrences(of: url.path + "/", with: "") }
    }

    /// The errors of loading this folder (empty when it loads).
    func errors() -> [ConfigError] {
        do {
            _ = try ConfigLoader.load(directory: url.path)
            return []
        } catch {
            return error.errors
        }
    }
}

let calendarYAML = """
    timezone: Europe/Moscow
    hours:
      mon-fri: ["09:00-18:00"]
    """

let goodContract = """
    id: good
    customer: Good Ltd
    calendar: msk
    fee: { amount: "1000.00", currency: EUR }
    priorities:
      P1: { reaction: 15m, resolution: 4h }
    """

@Suite("Configuration loading and validation")
struct ConfigTests {
    @Test("the shipped example configuration loads")
    func exampleLoads() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let config = try ConfigLoader.load(directory: root.appendingPathComponent("etc/slad").path)
        #expect(config.contracts.map(\.id) == ["acme-gold", "globex-silver", "servicenow-demo", "volvo-it"])
        let acme = try #require(config.contracts.first)
        #expect(acme.zone.identifier == "Europe/Moscow")
        let p2 = try #require(acme.terms(for: "P2"))
        #expect(p2.resolution == Int64(9 * 3600))  // 1d on a 9 h business day
        #expect(acme.terms(for: "P1")?.calendar.id == "24x7")
        #expect(acme.penalties.cap == .percentOfFee(Percentage(parsing: "30%")!))
        // Holidays from the .ics file: New Year block and a yearly rule.
        let msk = try #require(config.calendars["msk-business"])
        #expect(msk.definition.holidays.contains(LocalDate(year: 2026, month: 1, day: 5)))
        #expect(msk.definition.holidays.contains(LocalDate(year: 2028, month: 5, day: 9)))
        #expect(!msk.definition.holidays.contains(LocalDate(year: 2029, month: 5, day: 9)))
        #expect(config.sources.first?.name == "sample")
    }

    @Test("a contract with five different errors yields five located messages")
    func fiveErrors() throws {
        let folder = try ConfigFolder([
            "calendars/msk.yaml": calendarYAML,
            "contracts.d/bad.yaml": """
            id: bad
            customer: Bad Ltd
            calendar: mks
            fee: { amount: "1,000.00", currency: EUR }
            priorities:
              P1: { reaction: 15 min, resolution: 4h }
              P2: { reacton: 1h, resolution: 8h }
            warn_at: ["50"]
            penalties:
              reaction_breach: { P9: "100.00" }
            """,
        ])
        let errors = folder.errors()
        let file = folder.path("contracts.d/bad.yaml")
        let expected: [(Int, String, String)] = [
            (3, "calendar", "calendar 'mks' is not defined in calendars/; did you mean 'msk'?"),
            (
                4, "fee.amount",
                "'1,000.00' is not an amount in EUR; write digits with at most 2 decimals and no separators, e.g. \"1000.00\""
            ),
            (6, "priorities.P1.reaction", "'15 min' is not a duration; write 15m"),
            (7, "priorities.P2.reacton", "unknown key 'reacton'; did you mean 'reaction'?"),
            (8, "warn_at.[0]", "'50' is not a percentage; write 50%"),
            (10, "penalties.reaction_breach.P9", "priority P9 is not in priorities; known: P1, P2"),
        ]
        #expect(errors.count == expected.count, "\(errors.map(\.description).joined(separator: "\n"))")
        for (line, field, message) in expected {
            let hit = errors.first { $0.line == line && $0.field == field }
            #expect(
                hit != nil,
                "no error at line \(line) field \(field); got:\n\(errors.map(\.description).joined(separator: "\n"))")
            if let hit {
                #expect(hit.file == file)
                #expect(hit.description.hasSuffix("\(field): \(message)"), "\(hit.description)")
            }
        }
    }

    @Test("missing required keys are reported at the mapping, with a hint")
    func missingKeys() throws {
        let folder = try ConfigFolder([
            "calendars/msk.yaml": calendarYAML, "contracts.d/x.yaml": "id: x\ncustomer: X\n",
        ])
        let reasons = folder.errors().map(\.reason)
        #expect(reasons.contains("missing required key 'calendar'"))
        #expect(reasons.contains("missing required key 'fee'"))
        #expect(reasons.contains("missing required key 'priorities'"))
    }

    @Test("calendar errors: bad zone, bad span, overlapping spans, bad day, bad ics")
    func calendarErrors() throws {
        let folder = try ConfigFolder([
            "calendars/c.yaml": """
            timezone: Moscow
            hours:
              mon-fri: ["09:00-18:00", "17:00-19:00"]
              sat: ["25:00-26:00"]
              funday: []
            holidays_ics: h.ics
            """,
            "calendars/h.ics":
                "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:20261301\nEND:VEVENT\nEND:VCALENDAR\n",
            "contracts.d/good.yaml": goodContract.replacingOccurrences(of: "calendar: msk", with: "calendar: 24x7"),
        ])
        let errors = folder.errors()
        let text = errors.map(\.description).joined(separator: "\n")
        #expect(
            text.contains("c.yaml:1:11: timezone: 'Moscow' is not an IANA time zone; did you mean Europe/Moscow?"),
            "\(text)")
        #expect(text.contains("c.yaml:3:12: hours.mon-fri: spans 09:00-18:00 and 17:00-19:00 overlap"), "\(text)")
        #expect(text.contains("c.yaml:4:9: hours.sat.[0]: '25:00-26:00' is not a span of the day"), "\(text)")
        #expect(text.contains("c.yaml:5:11: hours.funday: 'funday' is not a day or day range"), "\(text)")
        #expect(text.contains("h.ics:3: DTSTART '20261301' is not a date"), "\(text)")
    }

    @Test("an iCalendar file with CRLF line ends (RFC 5545) gives the holidays of the same file with LF")
    func icalendarLineEnds() throws {
        let ics = [
            "BEGIN:VCALENDAR", "VERSION:2.0", "BEGIN:VEVENT", "DTSTART;VALUE=DATE:20260101",
            "DTEND;VALUE=DATE:20260103", "SUMMARY:New Year", "END:VEVENT", "BEGIN:VEVENT",
            "DTSTART;VALUE=DATE:20260501", "RRULE:FREQ=YEARLY;COUNT=2", "SUMMARY:Labour", " Day", "END:VEVENT",
            "END:VCALENDAR",
        ]
        var holidays: [String: [String]] = [:]
        for (name, end) in [("lf", "\n"), ("crlf", "\r\n")] {
            let folder = try ConfigFolder([
                "calendars/msk.yaml": calendarYAML + "\nholidays_ics: h.ics\n",
                "calendars/h.ics": ics.joined(separator: end) + end,
                "contracts.d/good.yaml": goodContract,
            ])
            let config = try ConfigLoader.load(directory: folder.url.path)
            holidays[name] = config.calendars["msk"]?.definition.holidays.map(\.description).sorted()
        }
        #expect(holidays["crlf"] == ["2026-01-01", "2026-01-02", "2026-05-01", "2027-05-01"])
        #expect(holidays["lf"] == holidays["crlf"])
    }

    @Test("an empty iCalendar file and a folder in its place give one located error each")
    func icalendarEmptyOrFolder() throws {
        let folder = try ConfigFolder([
            "calendars/msk.yaml": calendarYAML + "\nholidays_ics: [empty.ics, folder.ics]\n",
            "calendars/empty.ics": "",
            "contracts.d/good.yaml": goodContract,
        ])
        try FileManager.default.createDirectory(
            atPath: folder.path("calendars/folder.ics"), withIntermediateDirectories: true)
        let errors = folder.relativeErrors()
        #expect(
            errors == [
                "calendars/empty.ics:1: not an iCalendar file (no BEGIN:VCALENDAR)",
                "calendars/msk.yaml:4:27: holidays_ics.[1]: cannot read iCalendar file 'folder.ics'; paths are relative to the calendars folder",
                // A calendar with errors is not defined, and its contract says so.
                "contracts.d/good.yaml:3:11: calendar: calendar 'msk' is not defined in calendars/; known calendars: 24x7",
            ], "\(errors)")
    }

    @Test("metrics.listen takes HOST:PORT, IPv6 in brackets; anything else is a located error")
    func metricsListen() throws {
        for (text, expected) in [("127.0.0.1:9464", "127.0.0.1 9464"), ("[::1]:9464", "::1 9464")] {
            let folder = try ConfigFolder([
                "slad.yaml": "metrics:\n  listen: \"\(text)\"\n", "calendars/msk.yaml": calendarYAML,
                "contracts.d/good.yaml": goodContract,
            ])
            let listen = try ConfigLoader.load(directory: folder.url.path).metricsListen
            #expect(listen.map { "\($0.host) \($0.port)" } == expected)
        }
        let bad = try ConfigFolder([
            "slad.yaml": "metrics:\n  listen: 9464\n", "calendars/msk.yaml": calendarYAML,
            "contracts.d/good.yaml": goodContract,
        ])
        #expect(
            bad.relativeErrors() == [
                "slad.yaml:2:11: metrics.listen: '9464' is not HOST:PORT; e.g. 127.0.0.1:9464, or [::1]:9464"
            ])
    }

    @Test("store: a postgresql:// URL, or a mapping with a password file or credential; errors never show a password")
    func store() throws {
        let short = try ConfigFolder([
            "slad.yaml": "store: postgresql://slad@db.example:5433/sla?sslmode=verify-full\n",
            "calendars/msk.yaml": calendarYAML, "contracts.d/good.yaml": goodContract,
        ])
        let plain = try #require(try ConfigLoader.load(directory: short.url.path).store)
        #expect("\(plain.location)" == "postgresql://slad@db.example:5433/sla?sslmode=verify-full")
        #expect(plain.passwordFile == nil && plain.passwordCredential == nil && plain.node == nil)
        #expect(try plain.resolvedLocation(environment: [:]) == plain.location)

        let folder = try ConfigFolder([
            "slad.yaml": """
            store:
              url: postgresql://slad@db.example/sla
              password_file: secrets/pg.pass
              node: node-b
            """,
            "secrets/pg.pass": "hunter2\n", "calendars/msk.yaml": calendarYAML, "contracts.d/good.yaml": goodContract,
        ])
        let config = try #require(try ConfigLoader.load(directory: folder.url.path).store)
        #expect(config.node == "node-b" && config.location.password == nil)
        let resolved = try config.resolvedLocation(environment: [:])
        #expect(resolved.password == "hunter2")
        #expect("\(resolved)" == "postgresql://slad:***@db.example:5432/sla")

        let credential = try ConfigFolder([
            "slad.yaml": "store: { url: \"postgresql://slad@db.example/sla\", password_credential: slad-pg }\n",
            "calendars/msk.yaml": calendarYAML, "contracts.d/good.yaml": goodContract,
        ])
        let byCredential = try #require(try ConfigLoader.load(directory: credential.url.path).store)
        let credentials = credential.url.appendingPathComponent("credentials")
        try FileManager.default.createDirectory(at: credentials, withIntermediateDirectories: true)
        try "s3cret".write(to: credentials.appendingPathComponent("slad-pg"), atomically: true, encoding: .utf8)
        #expect(
            try byCredential.resolvedLocation(environment: ["CREDENTIALS_DIRECTORY": credentials.path]).password
                == "s3cret")
        #expect(throws: PostgresLocation.Invalid.self) { try byCredential.resolvedLocation(environment: [:]) }

        let bad = try ConfigFolder([
            "slad.yaml": """
            store:
              url: "mysql://root:hunter2@db/sla"
              nodes: a
            """,
            "calendars/msk.yaml": calendarYAML, "contracts.d/good.yaml": goodContract,
        ])
        let errors = bad.relativeErrors()
        #expect(
            errors == [
                "slad.yaml:3:3: store.nodes: unknown key 'nodes'; did you mean 'node'?",
                "slad.yaml:2:8: store.url: a PostgreSQL store is a postgresql:// URL; e.g. postgresql://slad@db.example/slad?sslmode=verify-full",
            ], "\(errors)")
        #expect(!errors.joined().contains("hunter2"))
        let both = try ConfigFolder([
            "slad.yaml": """
            store:
              url: "postgresql://slad:hunter2@db/sla"
              password_file: secrets/none.pass
              password_credential: slad-pg
            """,
            "calendars/msk.yaml": calendarYAML, "contracts.d/good.yaml": goodContract,
        ])
        let bothErrors = both.relativeErrors()
        #expect(bothErrors.count == 3, "\(bothErrors)")
        #expect(
            bothErrors.first?.hasPrefix("slad.yaml:3:18: store.password_file: cannot read the password file ") == true
                && bothErrors.first?.hasSuffix("secrets/none.pass; create it (mode 0600) or use password_credential")
                    == true,
            "\(bothErrors)")
        #expect(
            Array(bothErrors.dropFirst()) == [
                "slad.yaml:4:24: store.password_credential: give password_file or password_credential, not both",
                "slad.yaml:2:8: store.url: the URL holds a password and password_file or password_credential gives another",
            ], "\(bothErrors)")
        #expect(!bothErrors.joined().contains("hunter2"))
    }

    @Test("alertmanager: rules in order with a fixed service or a service label, a token from a file")
    func alertmanager() throws {
        let folder = try ConfigFolder([
            "slad.yaml": """
            alertmanager:
              listen: 127.0.0.1:9466
              token_file: secrets/am.token
              services:
                - { match: { alertname: PortalDown }, service: portal }
                - { match: { team: web }, service_label: service }
            """,
            "secrets/am.token": "s3cret\n", "calendars/msk.yaml": calendarYAML, "contracts.d/good.yaml": goodContract,
        ])
        let am = try #require(try ConfigLoader.load(directory: folder.url.path).alertmanager)
        #expect(am.listen.map { "\($0.host) \($0.port)" } == "127.0.0.1 9466")
        #expect(am.token == "s3cret")
        #expect(
            am.mapping
                == AlertmanagerMapping(rules: [
                    .init(match: ["alertname": "PortalDown"], service: "portal"),
                    .init(match: ["team": "web"], serviceLabel: "service"),
                ]))
        let bad = try ConfigFolder([
            "slad.yaml": """
            alertmanager:
              listen: 9466
              token_file: secrets/none.token
              services:
                - { match: { alertname: A }, service: a, service_label: s }
                - { match: { alertname: B } }
                - { service: everything }
            maintenance:
              - { service: portal, from: "2026-12-20T04:00:00+01:00", to: "2026-12-20T02:00:00+01:00" }
              - { service: portal, from: "2026-12-20 02:00", to: "2026-12-20T04:00:00+01:00" }
            """,
            "calendars/msk.yaml": calendarYAML, "contracts.d/good.yaml": goodContract,
        ])
        #expect(
            bad.relativeErrors() == [
                "slad.yaml:2:11: alertmanager.listen: '9466' is not HOST:PORT; e.g. 127.0.0.1:9466",
                "slad.yaml:3:15: alertmanager.token_file: cannot read a token from secrets/none.token; one line, e.g. from: openssl rand -hex 24 > secrets/none.token",
                "slad.yaml:5:61: alertmanager.services.[0].service_label: give service or service_label, not both",
                "slad.yaml:6:7: alertmanager.services.[1]: give service (a fixed service) or service_label (the label naming it)",
                "slad.yaml:7:7: alertmanager.services.[2]: a fixed service with no match takes every alert as its outage; add match: { alertname: … }",
                "slad.yaml:9:63: maintenance.[0].to: the window ends before it starts",
                "slad.yaml:10:30: maintenance.[1].from: '2026-12-20 02:00' is not a time with an offset; e.g. 2026-12-20T02:00:00+01:00",
            ])
    }

    @Test(
        "promises: terms by kind, a recurring kind's period; a period on default, one under a minute, an unknown key are located errors"
    )
    func promises() throws {
        let contract =
            goodContract + """

                promises:
                  default: { warn_at: ["50%"] }
                  status_update: { every: 4h, warn_at: ["75%"], escalations: [{ at: "150%", notify: [ops] }] }
                """
        let good = try ConfigFolder(["calendars/msk.yaml": calendarYAML, "contracts.d/good.yaml": contract])
        let loaded = try #require(try ConfigLoader.load(directory: good.url.path).contracts.first)
        #expect(loaded.recurringPromises.map { "\($0.kind) \($0.every)" } == ["status_update 14400"])
        #expect(
            loaded.promiseThresholds("status_update#7").map { "\($0.kind) \($0.at)" } == [
                "warning 75%", "breach 100%", "escalation 150%",
            ])
        #expect(loaded.promiseThresholds("callback").map { "\($0.kind) \($0.at)" } == ["warning 50%", "breach 100%"])
        let bad = try ConfigFolder([
            "calendars/msk.yaml": calendarYAML,
            "contracts.d/good.yaml": goodContract + """

                promises:
                  default: { every: 4h }
                  ping: { every: 30s }
                  call: { warn_at: ["50%"], due: 1h }
                """,
        ])
        #expect(
            bad.relativeErrors() == [
                "contracts.d/good.yaml:8:21: promises.default.every: 'default' gives terms to other kinds; a recurring kind has its own name",
                "contracts.d/good.yaml:9:18: promises.ping.every: a recurring promise needs a period of at least 1m; e.g. every: 4h",
                "contracts.d/good.yaml:10:29: promises.call.due: unknown key 'due'; known keys: warn_at, escalations, every",
            ])
    }

    @Test(
        "teams: routes by team name; an unknown webhook in a team and an unknown role in a contract are located errors")
    func teams() throws {
        let main = """
            webhooks:
              ops: { url: "http://127.0.0.1:9000/ops" }
              lead: { url: "http://127.0.0.1:9000/lead" }
            teams:
              L2: { notify: [ops], lead: [lead] }
            """
        let contract = goodContract + "\nescalations: [{ at: \"100%\", notify: [\"@lead\", ops] }]\n"
        let good = try ConfigFolder([
            "slad.yaml": main, "calendars/msk.yaml": calendarYAML, "contracts.d/good.yaml": contract,
        ])
        let loaded = try ConfigLoader.load(directory: good.url.path)
        #expect(loaded.teams == ["L2": TeamRoute(notify: ["ops"], lead: ["lead"])])
        #expect(loaded.contracts.first?.escalations.first?.notify == ["@lead", "ops"])
        let bad = try ConfigFolder([
            "slad.yaml": main + "\n  L3: { notify: [opz] }\n", "calendars/msk.yaml": calendarYAML,
            "contracts.d/good.yaml": goodContract + "\nescalations: [{ at: \"100%\", notify: [\"@boss\"] }]\n",
        ])
        #expect(
            bad.relativeErrors() == [
                "slad.yaml:6:18: teams.L3.notify.[0]: 'opz' is not a webhook in slad.yaml; did you mean 'ops'?",
                "contracts.d/good.yaml:7:38: escalations.[0].notify.[0]: '@boss' is not a role; @lead: the lead of the team holding the incident",
            ])
    }

    @Test("maintenance: windows declared ahead, in start order, as events with ids of their own")
    func maintenance() throws {
        let folder = try ConfigFolder([
            "slad.yaml": """
            maintenance:
              - { service: api, from: "2026-12-21T02:00:00Z", to: "2026-12-21T03:00:00Z" }
              - { service: portal, from: "2026-12-20T02:00:00+01:00", to: "2026-12-20T04:00:00+01:00" }
            """,
            "calendars/msk.yaml": calendarYAML, "contracts.d/good.yaml": goodContract,
        ])
        let windows = try ConfigLoader.load(directory: folder.url.path).maintenance
        #expect(
            windows.flatMap(\.events).map { "\($0.id) \($0.type.rawValue) \($0.service ?? "") \($0.time.seconds)" } == [
                "config:maintenance:portal:1797728400-1797735600:start maintenance.started portal 1797728400",
                "config:maintenance:portal:1797728400-1797735600:end maintenance.ended portal 1797735600",
                "config:maintenance:api:1797818400-1797822000:start maintenance.started api 1797818400",
                "config:maintenance:api:1797818400-1797822000:end maintenance.ended api 1797822000",
            ])
    }

    @Test("empty, binary, non-mapping and syntactically broken files give one clear error each")
    func junkFiles() throws {
        let folder = try ConfigFolder(["calendars/msk.yaml": calendarYAML, "contracts.d/good.yaml": goodContract])
        try folder.write("contracts.d/empty.yaml", "")
        try folder.write("contracts.d/binary.yaml", Data([0x7F, 0x45, 0x4C, 0x46, 0x00, 0x01, 0xFF, 0xFE]))
        try folder.write("contracts.d/list.yaml", "- a\n- b\n")
        try folder.write("contracts.d/broken.yaml", "id: x\n  customer: [unclosed\n")
        try folder.write("contracts.d/dup.yaml", "id: d\nid: e\n")
        let errors = folder.errors()
        func one(_ name: String) -> ConfigError? { errors.first { $0.file.hasSuffix("/" + name) } }
        #expect(one("empty.yaml")?.reason == "is empty")
        #expect(one("binary.yaml")?.reason == "is not UTF-8 text")
        #expect(one("list.yaml")?.reason.hasPrefix("expected a contract") == true)
        #expect(one("broken.yaml")?.line == 2)
        #expect(one("dup.yaml")?.reason == "duplicate key 'id'")
        #expect(!errors.contains { $0.file.hasSuffix("good.yaml") })
    }

    @Test("alias bombs and deep nesting are bounded, not expanded")
    func bombs() throws {
        var bomb = "a: &a [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]\n"
        for (i, name) in ["b", "c", "d", "e", "f", "g", "h", "i"].enumerated() {
            let prev = i == 0 ? "a" : ["b", "c", "d", "e", "f", "g", "h", "i"][i - 1]
            bomb += "\(name): &\(name) [" + Array(repeating: "*\(prev)", count: 10).joined(separator: ",") + "]\n"
        }
        let folder = try ConfigFolder([
            "calendars/msk.yaml": calendarYAML,
            "contracts.d/bomb.yaml": bomb + "services: *i\n",
            "contracts.d/deep.yaml": String(repeating: "[", count: 100_000),
        ])
        let start = ContinuousClock.now
        let errors = folder.errors()
        #expect(ContinuousClock.now - start < .seconds(30), "validation of hostile files must be bounded")
        #expect(errors.contains { $0.file.hasSuffix("deep.yaml") && $0.reason.contains("deeper than 64") })
        let bombErrors = errors.filter { $0.file.hasSuffix("bomb.yaml") }
        #expect(!bombErrors.isEmpty && bombErrors.count <= 101)
    }

    @Test("a webhook name in a contract must exist in slad.yaml when webhooks are defined")
    func webhookNames() throws {
        let folder = try ConfigFolder([
            "slad.yaml": "webhooks:\n  ops: { url: \"http://127.0.0.1:9/x\" }\n",
            "calendars/msk.yaml": calendarYAML,
            "contracts.d/good.yaml": goodContract + "\nnotify: [ops, opz]\n",
        ])
        let errors = folder.errors()
        #expect(errors.count == 1)
        #expect(
            errors.first?.description.hasSuffix("notify.[1]: 'opz' is not a webhook in slad.yaml; did you mean 'ops'?")
                == true)
    }

    @Test("webhook options: every bad value located; the URL and the secret are never echoed")
    func webhookOptions() throws {
        let folder = try ConfigFolder([
            "slad.yaml": """
            webhooks:
              ops:
                url: "https://hooks.example.com/T000/B000/s3cr3tpath"
                secret_file: secrets/missing.key
                secret_credential: ops
                timeout: 10m
                max_age: 0s
                max_concurrency: 0
                kinds: [breach, breech]
                format: teams
                retries: 3
              chat: { url: "ftp://hooks.example.com/s3cr3tpath" }
              journal: { url: "http://127.0.0.1:9/x" }
            """,
            "secrets/good.key": "whsec_c2VjcmV0",
        ])
        let text = folder.errors().map(\.description)
        let expected = [
            "slad.yaml:11:5: webhooks.ops.retries: unknown key 'retries'",
            "slad.yaml:4:18: webhooks.ops.secret_file: cannot read the secret file",
            "slad.yaml:5:24: webhooks.ops.secret_credential: give secret_file or secret_credential, not both",
            "slad.yaml:6:14: webhooks.ops.timeout: timeout must be between 1s and 5m",
            "slad.yaml:7:14: webhooks.ops.max_age: max_age must be at least 1s",
            "slad.yaml:8:22: webhooks.ops.max_concurrency: '0' is not a number from 1 to 64",
            "slad.yaml:10:13: webhooks.ops.format: 'teams' is not a webhook format",
            "slad.yaml:9:12: webhooks.ops.kinds: 'breech' is not a notification kind",
            "slad.yaml:12:16: webhooks.chat.url: not an http(s) URL",
            "'journal' is the journal sink's name",
        ]
        for e in expected {
            #expect(text.contains { $0.contains(e) }, "missing: \(e)\nin:\n\(text.joined(separator: "\n"))")
        }
        #expect(!text.joined().contains("s3cr3tpath"))
        let good = try ConfigFolder([
            "slad.yaml": """
            webhooks:
              ops: { url: "http://127.0.0.1:9/x", secret_file: secrets/good.key, kinds: [breach.retracted], format: pagerduty, timeout: 2s, max_age: 1h, max_concurrency: 8, contracts: [good] }
            """,
            "secrets/good.key": "whsec_c2VjcmV0",
            "calendars/msk.yaml": calendarYAML,
            "contracts.d/good.yaml": goodContract,
        ])
        let config = try ConfigLoader.load(directory: good.url.path)
        let hook = try #require(config.webhooks.first)
        #expect(hook.secretFile == good.path("secrets/good.key"))
        #expect(hook.kinds == [.retraction])
        #expect(hook.format == "pagerduty")
        #expect(hook.timeoutMilliseconds == 2_000)
        #expect(hook.maxAgeMilliseconds == 3_600_000)
        #expect(hook.maxConcurrency == 8)
        #expect(hook.contracts == ["good"])
    }

    @Test(
        "contract versions: each later one replaces the terms it writes from its effective instant; the hash of a version ignores layout, comments and the versions after it"
    )
    func versions() throws {
        let versioned =
            goodContract + """

                version: "2026"
                versions:
                  # Stricter from 1 December, for incidents opened from then on.
                  - version: "2027"
                    effective: 2026-12-01
                    priorities:
                      P1: { reaction: 10m, resolution: 2h }
                  - { version: "2027b", effective: "2027-01-15T08:00", applies_to_open: true, fee: { currency: EUR, amount: "1200.00" } }
                """
        let folder = try ConfigFolder(["calendars/msk.yaml": calendarYAML, "contracts.d/good.yaml": versioned])
        let c = try #require(try ConfigLoader.load(directory: folder.url.path).contracts.first)
        #expect(c.versions.map(\.version) == ["2026", "2027", "2027b"])
        #expect(c.versions.map(\.appliesToOpen) == [false, false, true])
        let zone = c.zone
        #expect(
            c.laterVersions.map { ISO8601.format($0.effective!, in: zone) } == [
                "2026-12-01T00:00:00+03:00", "2027-01-15T08:00:00+03:00",
            ])
        // Terms not written carry over from the version before.
        #expect(c.laterVersions[0].terms(for: "P1")?.resolution == 7_200)
        #expect(c.laterVersions[0].fee.amountText == "1000.00")
        #expect(c.laterVersions[1].terms(for: "P1")?.resolution == 7_200)
        #expect(c.laterVersions[1].fee.amountText == "1200.00")
        #expect(Set(c.versions.map(\.versionHash)).count == 3)
        #expect(c.versions.allSatisfy { $0.versionHash.count == 64 })

        // The same first version written alone, keys reordered and commented: the same hash.
        let alone = """
            # The first version, keys in another order.
            priorities:
              P1: { resolution: 4h, reaction: 15m }
            fee: { currency: EUR, amount: "1000.00" }
            calendar: msk
            customer: Good Ltd
            id: good
            version: "2026"
            """
        let other = try ConfigFolder(["calendars/msk.yaml": calendarYAML, "contracts.d/good.yaml": alone])
        let first = try #require(try ConfigLoader.load(directory: other.url.path).contracts.first)
        #expect(first.versionHash == c.versionHash)
        #expect(first.laterVersions.isEmpty)
        let changed = try ConfigFolder([
            "calendars/msk.yaml": calendarYAML,
            "contracts.d/good.yaml": alone.replacingOccurrences(of: "4h", with: "5h"),
        ])
        #expect(try ConfigLoader.load(directory: changed.url.path).contracts.first?.versionHash != c.versionHash)
    }

    @Test("contract version errors: each located, one per file")
    func versionErrors() throws {
        func contract(_ id: String, _ versions: String) -> String {
            goodContract.replacingOccurrences(of: "id: good", with: "id: \(id)") + "\nversions:\n" + versions
        }
        let folder = try ConfigFolder([
            "calendars/msk.yaml": calendarYAML,
            "calendars/ny.yaml": "timezone: America/New_York\nhours:\n  mon-fri: [\"09:00-17:00\"]\n",
            "contracts.d/a.yaml": contract(
                "a", "  - { version: \"2\", effective: 2027-01-01 }\n  - { version: \"2\", effective: 2027-02-01 }\n"),
            "contracts.d/b.yaml": contract(
                "b", "  - { version: \"2\", effective: 2027-02-01 }\n  - { version: \"3\", effective: 2027-01-01 }\n"),
            "contracts.d/c.yaml": contract(
                "c", "  - { version: \"2\", effective: 2027-01-01, fee: { amount: \"5.00\", currency: USD } }\n"),
            "contracts.d/d.yaml": contract("d", "  - { version: \"2\", effective: 2027-01-01, calendar: ny }\n"),
            "contracts.d/e.yaml": contract("e", "  - { version: \"2\", effective: 2027-01-01, id: other }\n"),
            "contracts.d/f.yaml": contract("f", "  - { version: \"2\" }\n"),
            "contracts.d/g.yaml": contract("g", "  - { version: \"2\", effective: soon }\n"),
            "contracts.d/h.yaml": contract(
                "h", "  - { version: \"2\", effective: 2027-01-01, priorities: { P1: { reaction: never } } }\n"),
        ])
        #expect(
            folder.relativeErrors() == [
                "contracts.d/a.yaml:9:16: versions.[1].version: version '2' is written twice",
                "contracts.d/b.yaml:9:32: versions.[1].effective: a version takes effect after the one before it (2)",
                "contracts.d/c.yaml:8:5: versions.[0]: version 2 charges USD, the contract EUR; a contract keeps its currency; a new currency is a new contract",
                "contracts.d/d.yaml:8:5: versions.[0]: version 2 is in America/New_York, the contract in Europe/Moscow; a contract keeps its time zone (its months); a new zone is a new contract",
                "contracts.d/e.yaml:8:44: versions.[0].id: unknown key 'id'; known keys: version, effective, applies_to_open, customer, calendar, fee, services, availability, priorities, pause_on, warn_at, escalations, penalties, notify, promises",
                "contracts.d/f.yaml:8:5: versions.[0]: missing required key 'effective'; the instant it takes effect, e.g. 2027-01-01",
                "contracts.d/g.yaml:8:32: versions.[0].effective: 'soon' is not a date or a local date and time; e.g. 2027-01-01 or 2027-01-01T08:00 (in the contract's zone)",
                "contracts.d/h.yaml:8:74: versions.[0].priorities.P1.reaction: 'never' is not a duration; write a number and a unit (d, h, m, s), e.g. 15m, 4h, 1d, 1h30m",
            ])
    }

    @Test(
        "policies: unknown contract, priority, matrix and key are located errors; a shadowed policy and two peers that overlap are warnings"
    )
    func policies() throws {
        let main = """
            priority_matrices:
              itil:
                "1": { "1": P1, "2": P9 }
            policies:
              - { name: a, match: { category: net }, contract: good, priority: P1 }
              - { name: b, match: { category: [net, web] }, contract: good, priority: P1 }
              - { name: c, match: { category: net, channel: phone }, contract: good, priority: P1 }
              - { name: d, match: {}, contract: nope, priority: P1 }
              - { name: e, match: {}, contract: good, priority: P7 }
              - { name: f, contract: good, priority_from: itil }
              - { name: g, contract: good, priority_from: other }
              - { name: h, contract: good, priority: P1, colour: red }
            """
        let folder = try ConfigFolder([
            "calendars/msk.yaml": calendarYAML, "contracts.d/good.yaml": goodContract, "slad.yaml": main,
        ])
        #expect(
            folder.relativeErrors() == [
                "slad.yaml:8:37: policies.[3].contract: contract 'nope' is not defined in contracts.d/",
                "slad.yaml:9:53: policies.[4].priority: priority P7 is not in contract good; known: P1",
                "slad.yaml:10:47: policies.[5].priority_from: matrix itil gives P9 (impact 1), which is not in contract good; known: P1",
                "slad.yaml:11:47: policies.[6].priority_from: matrix 'other' is not in priority_matrices; known: itil",
                "slad.yaml:12:46: policies.[7].colour: unknown key 'colour'; known keys: name, match, contract, priority, priority_from",
            ])
        // Without the errors, the warnings remain and the configuration loads.
        let dropped = [
            "name: d", "name: e", "name: f", "name: g", "name: h", "\"1\": {", "itil:", "priority_matrices:",
        ]
        let clean = main.split(separator: "\n").filter { line in !dropped.contains { line.contains($0) } }
            .joined(separator: "\n")
        try folder.write("slad.yaml", clean)
        let config = try ConfigLoader.load(directory: folder.url.path)
        #expect(
            config.warnings.map { $0.description.replacingOccurrences(of: folder.url.path + "/", with: "") } == [
                "slad.yaml:3:5: policies.[1]: policy b overlaps policy a: an incident both match goes to a",
                "slad.yaml:4:5: policies.[2]: policy c is never reached: policy a before it matches all it matches",
            ])
        #expect(config.policies.policies.map(\.name) == ["a", "b", "c"])
    }

    @Test("a source read through a mapping that names no contract needs policies")
    func mappingWithoutContract() throws {
        let mapping = """
            format: csv
            time_format: iso8601
            fields: { incident: id, time: at, status: state, priority: prio }
            priorities: { "1": P1 }
            statuses: { Open: { status: open } }
            """
        let folder = try ConfigFolder([
            "calendars/msk.yaml": calendarYAML, "contracts.d/good.yaml": goodContract, "sources/desk.yaml": mapping,
            "slad.yaml": "sources:\n  - { name: desk-log, path: desk.csv, format: desk }\n",
        ])
        #expect(
            folder.relativeErrors() == [
                "slad.yaml: sources: source 'desk-log' reads through mapping 'desk', which names no contract, and there are no policies; add contract: to sources/desk.yaml, or policies to slad.yaml"
            ])
        try folder.write(
            "slad.yaml",
            "sources:\n  - { name: desk-log, path: desk.csv, format: desk }\npolicies:\n  - { name: all, contract: good }\n"
        )
        #expect(folder.errors().isEmpty)
    }

    @Test("two contracts with one id are an error; ids are unique")
    func duplicateIDs() throws {
        let folder = try ConfigFolder([
            "calendars/msk.yaml": calendarYAML, "contracts.d/a.yaml": goodContract, "contracts.d/b.yaml": goodContract,
        ])
        let errors = folder.errors()
        #expect(errors.count == 1)
        #expect(errors.first?.reason.hasPrefix("contract id 'good' is already used by") == true)
    }

    @Test("availability targets lie in (0%, 100%]: 150% and 0% are located errors, 100% loads")
    func availabilityTargetRange() throws {
        func contract(_ target: String) -> String {
            goodContract + """

                services: [portal]
                availability: { target: "\(target)" }
                """
        }
        for bad in ["150%", "0%"] {
            let folder = try ConfigFolder(["calendars/msk.yaml": calendarYAML, "contracts.d/good.yaml": contract(bad)])
            let errors = folder.errors()
            #expect(errors.count == 1, "\(errors)")
            #expect(errors.first?.line == 8)
            #expect(errors.first?.field == "availability.target")
            #expect(errors.first?.reason == "an availability target is above 0% and at most 100%", "\(errors)")
        }
        let full = try ConfigFolder(["calendars/msk.yaml": calendarYAML, "contracts.d/good.yaml": contract("100%")])
        #expect(full.errors().isEmpty, "\(full.errors())")
    }

    @Test("a YAML syntax error is placed on the line that broke it, not at the end of the file; a tab gets a hint")
    func yamlSyntaxLines() throws {
        let unclosed = try ConfigFolder([
            "calendars/msk.yaml": calendarYAML,
            "contracts.d/good.yaml": "id: good\ncustomer: [unclosed\nfee: { amount: \"1.00\", currency: EUR }\n\n\n",
        ])
        let errors = unclosed.errors()
        #expect(errors.count == 1, "\(errors)")
        #expect(errors.first?.line == 2, "\(errors)")
        #expect(errors.first?.reason.contains("noticed at line") == true, "\(errors)")
        let tab = try ConfigFolder([
            "calendars/msk.yaml": calendarYAML,
            "contracts.d/good.yaml": "id: good\npriorities:\n\tP1: { reaction: 15m }\n",
        ])
        let tabErrors = tab.errors()
        #expect(tabErrors.count == 1, "\(tabErrors)")
        #expect(tabErrors.first?.line == 3, "\(tabErrors)")
        #expect(
            tabErrors.first?.hint == "YAML indents with spaces only: replace the tab on line 3 with spaces",
            "\(tabErrors)")
        // The same file saved with CRLF line ends: the same line, the same hint.
        let crlf = try ConfigFolder([
            "calendars/msk.yaml": calendarYAML,
            "contracts.d/good.yaml": "id: good\r\npriorities:\r\n\tP1: { reaction: 15m }\r\n",
        ])
        #expect(
            crlf.relativeErrors() == tab.relativeErrors())
    }
}
