import Foundation
import SLACore

/// A log source named in slad.yaml.
public struct SourceConfig: Sendable, Hashable {
    /// The source's name, unique in slad.yaml.
    public var name: String
    /// A path or glob, resolved against the configuration folder when relative.
    public var path: String
    /// `jsonl` (native events), or the name of a mapping in `sources/` for status-snapshot logs.
    public var format: String
}

/// A webhook endpoint named in slad.yaml.
public struct WebhookConfig: Sendable, Hashable {
    /// The endpoint's name, as contracts refer to it.
    public var name: String
    /// Where notifications are posted.
    public var url: String
    /// Where the signing secret is read from; the secret itself never appears in configuration.
    public var secretFile: String?
    /// A systemd credential holding the secret (`LoadCredential=NAME:…`), read from `$CREDENTIALS_DIRECTORY/NAME`.
    public var secretCredential: String?
    /// Per request, in milliseconds.
    public var timeoutMilliseconds: Int64 = 5_000
    /// Only these kinds (`warning`, `breach`, `escalation`, `breach.retracted`); nil: all.
    public var kinds: Set<NotificationKind>?
    /// Only these contracts; nil: all.
    public var contracts: Set<String>?
    /// `standard`, `slack` or `pagerduty`.
    public var format = "standard"
    /// Requests in flight at once.
    public var maxConcurrency = 4
    /// After this long undelivered, a notification is marked failed (milliseconds).
    public var maxAgeMilliseconds: Int64 = 86_400_000
}

/// The control socket (`control:` in slad.yaml).
public struct ControlConfig: Sendable, Hashable {
    /// Socket path; nil means the daemon's default (`$RUNTIME_DIRECTORY/slad.sock`, else /run/slad/slad.sock).
    public var socket: String?
    /// File mode of the socket (connecting needs write permission on it).
    public var socketMode: UInt32 = 0o660
    /// Members may read (status, incidents, …); the socket file belongs to this group.
    public var statusGroup: String?
    /// Members may also write (reload, push events).
    public var adminGroup: String?
    /// Connections held at once.
    public var maxConnections = 16_384
    /// Largest request body, bytes.
    public var maxBodyBytes = 16 << 20
    /// From a request's first byte to its last, ms.
    public var requestTimeoutMilliseconds: Int64 = 10_000
    /// A connection idle this long between requests is closed, ms.
    public var idleTimeoutMilliseconds: Int64 = 60_000

    /// The defaults.
    public init() {}
}

/// Everything slad needs from `/etc/slad`, validated and resolved.
public struct SladConfiguration: Sendable {
    /// The folder the configuration was read from.
    public var directory: String
    /// Where state is kept; nil means the caller's default (`$STATE_DIRECTORY` or `./state`).
    public var stateDirectory: String?
    /// Event logs to read.
    public var sources: [SourceConfig]
    /// Notification endpoints.
    public var webhooks: [WebhookConfig]
    /// Calendars by name (without the built-in `24x7`).
    public var calendars: [String: BusinessCalendar]
    /// Contracts, ordered by id.
    public var contracts: [Contract]
    /// The file each contract was read from, by contract id.
    public var contractFiles: [String: String] = [:]
    /// What loads but deserves a look (a policy no incident can reach, two that overlap).
    public var warnings: [ConfigError] = []
    /// The policies that pick contracts for sources that name none (`policies:`).
    public var policies = PolicyBook()
    /// Mappings of status-snapshot logs by name (`sources/NAME.yaml`).
    public var mappings: [String: SourceMapping]
    /// How long a breach decision waits for events that could still stop the clock in time (seconds).
    public var allowedLateness: Int64 = 5
    /// Thresholds due longer ago than this (seconds) are history: recorded, not notified.
    public var catchUpWindow: Int64 = 86_400
    /// The control socket.
    public var control = ControlConfig()
    /// Seconds after a month's end (contract zone) before its report is sealed (`reports.seal_after`).
    public var sealAfter: Int64 = 3 * 86_400
    /// Where `/metrics` is also served over TCP for Prometheus (`metrics.listen`); nil: the
    /// control socket only.
    public var metricsListen: (host: String, port: Int)?
    /// Alertmanager as an availability source (`alertmanager:`); nil when not configured.
    public var alertmanager: AlertmanagerConfig?
    /// Maintenance windows declared ahead (`maintenance:`), in start order.
    public var maintenance: [MaintenanceWindow] = []
    /// Where each team's notifications go (`teams:`), by the team name events carry.
    public var teams: [String: TeamRoute] = [:]
    /// A PostgreSQL store shared by several nodes (`store:`); nil: the SQLite file in the state folder.
    public var store: StoreConfig?
    /// SHA-256 over every file the load read (its path, relative to ``directory`` inside it,
    /// and its bytes, in path order): equal fingerprints, the same configuration.
    public var fingerprint = ""
}

/// The `store:` setting: the PostgreSQL database several slad nodes share, one leading at a
/// time (docs/ha.md). Its password is best kept out of slad.yaml: in a file, or a systemd
/// credential.
public struct StoreConfig: Sendable {
    /// Where the database is (without a password when the URL gave none).
    public var location: PostgresLocation
    /// A file holding the password (its first line), resolved against the configuration folder.
    public var passwordFile: String?
    /// A systemd credential holding the password (`LoadCredential=NAME:…`), read from
    /// `$CREDENTIALS_DIRECTORY/NAME`.
    public var passwordCredential: String?
    /// This node's name in the lease and in `pg_stat_activity`; nil: the host name.
    public var node: String?

    /// The location with the password from the file or credential, when one is set.
    ///
    /// Read when the daemon connects, not when the configuration is checked: a credential
    /// exists only inside the unit's process.
    public func resolvedLocation(environment: [String: String]) throws -> PostgresLocation {
        let path: String
        if let credential = passwordCredential {
            guard let folder = environment["CREDENTIALS_DIRECTORY"] else {
                throw PostgresLocation.Invalid(
                    description:
                        "store.password_credential: $CREDENTIALS_DIRECTORY is not set (LoadCredential=\(credential):… in the unit?)"
                )
            }
            path = (folder as NSString).appendingPathComponent(credential)
        } else if let file = passwordFile {
            path = file
        } else {
            return location
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PostgresLocation.Invalid(description: "store: cannot read the password file \(path)")
        }
        let text = String(decoding: data, as: UTF8.self)
        let password = text.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
        guard !password.isEmpty else {
            throw PostgresLocation.Invalid(description: "store: the password file \(path) is empty")
        }
        return location.withPassword(password)
    }
}

/// The `alertmanager:` section: where Alertmanager's webhook posts, and which alerts are which
/// service's outage.
public struct AlertmanagerConfig: Sendable {
    /// A TCP address serving `POST /v1/alertmanager` only; nil: the control socket only.
    public var listen: (host: String, port: Int)?
    /// The bearer token the TCP listener requires (`token_file`'s content); nil: none.
    public var token: String?
    /// Alerts to services.
    public var mapping: AlertmanagerMapping
}

/// A maintenance window declared in slad.yaml: its events enter the ledger once it starts
/// (a window cancelled before its start never counts).
public struct MaintenanceWindow: Sendable, Hashable {
    /// The service in maintenance.
    public var service: String
    /// Start, inclusive.
    public var from: Instant
    /// End, exclusive.
    public var to: Instant

    /// The window's `maintenance.started` and `maintenance.ended` events, with ids made of the
    /// service and the instants (the same window declared again is the same events).
    public var events: [SLAEvent] {
        let key = "config:maintenance:\(service):\(from.seconds)-\(to.seconds)"
        return [
            SLAEvent(id: key + ":start", time: from, type: .maintenanceStarted, service: service),
            SLAEvent(id: key + ":end", time: to, type: .maintenanceEnded, service: service),
        ]
    }
}

/// Loads and validates a configuration folder; reports every error, not the first.
public enum ConfigLoader {
    static let webhookKeys = [
        "url", "secret_file", "secret_credential", "timeout", "kinds", "contracts", "format", "max_concurrency",
        "max_age",
    ]

    /// One `webhooks:` entry.
    static func webhook(_ name: String, _ value: YAMLValue, directory: String) -> WebhookConfig? {
        guard let m = value.mapping(known: webhookKeys, what: "{ url, secret_file, timeout, kinds, … }"),
            let url = m.required("url")?.string("a URL")
        else { return nil }
        if URL(string: url)?.scheme.map({ ["http", "https"].contains($0) }) != true {
            // The URL is not echoed: chat webhook URLs carry their secret in the path.
            m["url"]!.fail("not an http(s) URL")
        }
        var hook = WebhookConfig(name: name, url: url, secretFile: m["secret_file"]?.string("a file path"))
        if let file = hook.secretFile {
            let path = file.hasPrefix("/") ? file : (directory as NSString).appendingPathComponent(file)
            hook.secretFile = path
            // Checked here so that check-config (ExecStartPre) catches it; the content is read by the daemon only.
            if !FileManager.default.isReadableFile(atPath: path) {
                m["secret_file"]!.fail(
                    "cannot read the secret file \(path)", hint: "create it (mode 0600) or use secret_credential")
            }
        }
        hook.secretCredential = m["secret_credential"]?.identifier("a credential name")
        if hook.secretFile != nil && hook.secretCredential != nil {
            m["secret_credential"]!.fail("give secret_file or secret_credential, not both")
        }
        if let v = m["timeout"], let d = v.duration() {
            if d.days > 0 || d.seconds < 1 || d.seconds > 300 {
                v.fail("timeout must be between 1s and 5m", hint: "e.g. 5s")
            }
            hook.timeoutMilliseconds = d.seconds * 1000
        }
        if let v = m["max_age"], let d = v.duration() {
            let seconds = d.resolved(dayLength: 86_400)
            if seconds < 1 { v.fail("max_age must be at least 1s", hint: "e.g. 24h") }
            hook.maxAgeMilliseconds = seconds * 1000
        }
        if let v = m["max_concurrency"], let text = v.string("a number") {
            if let n = Int(text), (1...64).contains(n) {
                hook.maxConcurrency = n
            } else {
                v.fail("'\(text)' is not a number from 1 to 64")
            }
        }
        if let v = m["format"], let text = v.string("standard, slack or pagerduty") {
            if ["standard", "slack", "pagerduty"].contains(text) {
                hook.format = text
            } else {
                v.fail("'\(text)' is not a webhook format", hint: "standard, slack or pagerduty")
            }
        }
        if let v = m["kinds"], let names = v.strings("a list of kinds") {
            var kinds = Set<NotificationKind>()
            for name in names {
                if let kind = NotificationKind(rawValue: name) {
                    kinds.insert(kind)
                } else {
                    v.fail(
                        "'\(name)' is not a notification kind",
                        hint: "warning, breach, escalation, breach.retracted, availability.burn")
                }
            }
            hook.kinds = kinds
        }
        if let v = m["contracts"], let names = v.strings("a list of contract ids") { hook.contracts = Set(names) }
        return hook
    }

    static let mainKeys = [
        "state_dir", "sources", "webhooks", "allowed_lateness", "catch_up_window", "control", "reports", "metrics",
        "alertmanager", "maintenance", "teams", "lines", "policies", "priority_matrices", "store",
    ]

    /// `store:`: a `postgresql://` URL, or `{ url, password_file | password_credential, node }`.
    static func store(_ value: YAMLValue, directory: String) -> StoreConfig? {
        var urlValue = value
        var fields: Fields?
        if case .mapping = value.node {
            guard
                let m = value.mapping(
                    known: ConfigKeys.store, what: "{ url, password_file, password_credential, node }"),
                let url = m.required("url")
            else { return nil }
            urlValue = url
            fields = m
        }
        guard let url = urlValue.string("a postgresql:// URL") else { return nil }
        let location: PostgresLocation
        do {
            location = try PostgresLocation(url: url)
        } catch {
            // The URL is not echoed: it may hold the password.
            urlValue.fail("\(error)", hint: "e.g. postgresql://slad@db.example/slad?sslmode=verify-full")
            return nil
        }
        var store = StoreConfig(location: location)
        guard let m = fields else { return store }
        if let v = m["password_file"], let file = v.string("a file path") {
            let path = file.hasPrefix("/") ? file : join(directory, file)
            store.passwordFile = path
            // Checked here so that check-config (ExecStartPre) catches it; the daemon reads it.
            if !FileManager.default.isReadableFile(atPath: path) {
                v.fail(
                    "cannot read the password file \(path)", hint: "create it (mode 0600) or use password_credential")
            }
        }
        store.passwordCredential = m["password_credential"]?.identifier("a credential name")
        if store.passwordFile != nil && store.passwordCredential != nil {
            m["password_credential"]!.fail("give password_file or password_credential, not both")
        }
        if (store.passwordFile != nil || store.passwordCredential != nil) && location.password != nil {
            m["url"]!.fail("the URL holds a password and password_file or password_credential gives another")
        }
        store.node = m["node"]?.identifier("a node name")
        return store
    }

    /// The `alertmanager:` section.
    static func alertmanager(_ value: YAMLValue, directory: String) -> AlertmanagerConfig? {
        guard
            let m = value.mapping(
                known: ConfigKeys.alertmanager, what: "{ listen, token_file, services }")
        else { return nil }
        var config = AlertmanagerConfig(mapping: AlertmanagerMapping(rules: []))
        if let v = m["listen"], let text = v.string("HOST:PORT") {
            config.listen = listenAddress(text)
            if config.listen == nil { v.fail("'\(text)' is not HOST:PORT", hint: "e.g. 127.0.0.1:9466") }
        }
        if let v = m["token_file"], let file = v.string("a file path") {
            let path = file.hasPrefix("/") ? file : join(directory, file)
            // The token is never echoed; only whether it could be read.
            let token = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(
                in: .whitespacesAndNewlines)
            if let token, !token.isEmpty {
                config.token = token
            } else {
                v.fail("cannot read a token from \(path)", hint: "one line, e.g. from: openssl rand -hex 24 > \(file)")
            }
        }
        guard
            let rules = m.required("services", hint: "e.g. - { match: { alertname: PortalDown }, service: portal }")?
                .list("a list of { match, service } or { match, service_label }")
        else { return config }
        if rules.isEmpty {
            m["services"]!.fail("name at least one rule: an Alertmanager source without services takes no alert")
        }
        for rule in rules {
            guard
                let r = rule.mapping(
                    known: ConfigKeys.alertmanagerRule, what: "{ match, service | service_label }")
            else { continue }
            var match: [String: String] = [:]
            for (label, v) in r["match"]?.entries("labels and their values") ?? [] {
                if let text = v.string("a label value") { match[label] = text }
            }
            let service = r["service"]?.string("a service name")
            let label = r["service_label"]?.identifier("a label name")
            switch (service, label) {
            case (nil, nil):
                rule.fail("give service (a fixed service) or service_label (the label naming it)")
            case (.some, .some):
                r["service_label"]!.fail("give service or service_label, not both")
            case (.some, nil) where match.isEmpty:
                rule.fail(
                    "a fixed service with no match takes every alert as its outage",
                    hint: "add match: { alertname: … }")
            default:
                config.mapping.rules.append(.init(match: match, service: service, serviceLabel: label))
            }
        }
        return config
    }

    /// The `maintenance:` section: windows declared ahead.
    static func maintenance(_ value: YAMLValue) -> [MaintenanceWindow] {
        var windows: [MaintenanceWindow] = []
        for item in value.list("a list of { service, from, to }") ?? [] {
            guard let m = item.mapping(known: ConfigKeys.maintenanceWindow, what: "{ service, from, to }"),
                let service = m.required("service")?.string("a service name"),
                let from = m.required("from", hint: "e.g. 2026-12-20T02:00:00+01:00")?.instantWithOffset(),
                let to = m.required("to", hint: "e.g. 2026-12-20T04:00:00+01:00")?.instantWithOffset()
            else { continue }
            guard from < to else {
                m["to"]!.fail("the window ends before it starts")
                continue
            }
            windows.append(MaintenanceWindow(service: service, from: from, to: to))
        }
        return windows.sorted { ($0.from, $0.service) < ($1.from, $1.service) }
    }

    static let controlKeys = [
        "socket", "socket_mode", "status_group", "admin_group", "max_connections", "max_body", "request_timeout",
        "idle_timeout",
    ]

    /// The `control:` section. Groups must exist: access silently denied to everyone is worse than an error.
    static func control(_ value: YAMLValue) -> ControlConfig {
        var c = ControlConfig()
        guard let m = value.mapping(known: controlKeys, what: "{ socket, status_group, admin_group, … }") else {
            return c
        }
        if let v = m["socket"], let path = v.string("a socket path") {
            if !path.hasPrefix("/") { v.fail("the socket path must be absolute", hint: "e.g. /run/slad/slad.sock") }
            if path.utf8.count > 107 { v.fail("a Unix socket path has at most 107 bytes") }
            c.socket = path
        }
        if let v = m["socket_mode"], let text = v.string("an octal mode") {
            if let mode = UInt32(text, radix: 8), mode <= 0o777 {
                c.socketMode = mode
            } else {
                v.fail("'\(text)' is not an octal file mode", hint: "e.g. \"0660\" (quoted)")
            }
        }
        for (key, path) in [("status_group", \ControlConfig.statusGroup), ("admin_group", \ControlConfig.adminGroup)] {
            guard let v = m[key], let name = v.string("a group name") else { continue }
            if getgrnam(name) == nil {
                v.fail(
                    "group '\(name)' does not exist on this machine",
                    hint: "create it (groupadd, sysusers.d) or remove the line")
            }
            c[keyPath: path] = name
        }
        if let v = m["max_connections"], let text = v.string("a number") {
            if let n = Int(text), (1...1_000_000).contains(n) {
                c.maxConnections = n
            } else {
                v.fail("'\(text)' is not a number from 1 to 1000000")
            }
        }
        if let v = m["max_body"], let text = v.string("a size") {
            if let n = byteSize(text), n >= 1024, n <= 1 << 30 {
                c.maxBodyBytes = n
            } else {
                v.fail("'\(text)' is not a size from 1KiB to 1GiB", hint: "e.g. 16MiB")
            }
        }
        for (key, path) in [
            ("request_timeout", \ControlConfig.requestTimeoutMilliseconds),
            ("idle_timeout", \ControlConfig.idleTimeoutMilliseconds),
        ] {
            guard let v = m[key], let d = v.duration() else { continue }
            let seconds = d.resolved(dayLength: 86_400)
            if seconds < 1 || seconds > 3600 { v.fail("\(key) must be between 1s and 1h") }
            c[keyPath: path] = seconds * 1000
        }
        return c
    }

    /// `16MiB`, `512KiB`, `1048576` → bytes.
    static func byteSize(_ text: String) -> Int? {
        for (suffix, factor) in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1)]
        where text.hasSuffix(suffix) {
            return Int(text.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)).map { $0 * factor }
        }
        return Int(text)
    }

    /// Loads `directory` (slad.yaml, calendars/*.yaml, contracts.d/*.yaml, sources/*.yaml).
    ///
    /// - Throws: ``ConfigErrors`` with every problem found, in file order.
    public static func load(directory: String) throws(ConfigErrors) -> SladConfiguration {
        let log = FilesRead(directory: directory)
        let result = FilesRead.$current.withValue(log) { () -> Result<SladConfiguration, ConfigErrors> in
            do throws(ConfigErrors) { return .success(try loadFiles(directory: directory)) } catch {
                return .failure(error)
            }
        }
        var config = try result.get()
        config.fingerprint = log.fingerprint()
        return config
    }

    private static func loadFiles(directory: String) throws(ConfigErrors) -> SladConfiguration {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue
        else {
            throw ConfigErrors([ConfigError(file: directory, field: "", reason: "is not a folder")])
        }
        let diagnostics = Diagnostics()
        let main = mainFile(directory, diagnostics)
        let calendars = Self.calendars(join(directory, "calendars"), diagnostics)
        var (contracts, contractFiles) = Self.contracts(
            join(directory, "contracts.d"), calendars: calendars, notifyTargets: main.notifyTargets, diagnostics)
        let olas = Self.olas(main, calendars: calendars, contracts: contracts)
        if !olas.isEmpty { contracts = contracts.map { $0.with(olas: olas) } }
        let byID = Dictionary(contracts.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var warnings: [ConfigError] = []
        let policies = Self.policies(main, contracts: byID, warnings: &warnings)
        var mappings = Self.mappings(join(directory, "sources"), contracts: byID, diagnostics)
        if !policies.isEmpty {
            for name in mappings.keys where mappings[name]!.contract == nil { mappings[name]!.policies = policies }
        }
        for source in main.sources where source.format != "jsonl" && mappings[source.format] == nil {
            diagnostics.report(
                ConfigError(
                    file: join(directory, "slad.yaml"), field: "sources",
                    reason: "source '\(source.name)' uses mapping '\(source.format)', which is not in sources/"))
        }
        // A mapping that names no contract needs policies, once a source reads through it.
        for source in main.sources {
            guard let m = mappings[source.format], m.contract == nil, m.fields.contract == nil, policies.isEmpty
            else { continue }
            diagnostics.report(
                ConfigError(
                    file: join(directory, "slad.yaml"), field: "sources",
                    reason:
                        "source '\(source.name)' reads through mapping '\(source.format)', which names no contract, and there are no policies",
                    hint: "add contract: to sources/\(source.format).yaml, or policies to slad.yaml"))
        }
        guard diagnostics.isEmpty else { throw ConfigErrors(diagnostics.errors) }
        return SladConfiguration(
            directory: directory, stateDirectory: main.stateDirectory, sources: main.sources, webhooks: main.webhooks,
            calendars: calendars, contracts: contracts.sorted { $0.id < $1.id }, contractFiles: contractFiles,
            warnings: warnings, policies: policies, mappings: mappings, allowedLateness: main.allowedLateness,
            catchUpWindow: main.catchUpWindow,
            control: main.control,
            sealAfter: main.sealAfter, metricsListen: main.metricsListen, alertmanager: main.alertmanager,
            maintenance: main.maintenance, teams: main.teams, store: main.store)
    }

    static func join(_ a: String, _ b: String) -> String { (a as NSString).appendingPathComponent(b) }

    /// `priority_matrices: { NAME: { IMPACT: { URGENCY: PRIORITY } } }` and the ordered
    /// `policies: [{ name, match, contract, priority | priority_from }]`; a policy that an earlier
    /// one shadows, or two that overlap, are warnings.
    static func policies(_ main: MainSettings, contracts: [String: Contract], warnings: inout [ConfigError])
        -> PolicyBook
    {
        var matrices: [String: PriorityMatrix] = [:]
        for (name, value) in main.matrixValue?.entries("matrices by name") ?? [] {
            var cells: [String: [String: String]] = [:]
            for (impact, row) in value.entries("impact → { urgency: priority }") ?? [] {
                for (urgency, cell) in row.entries("urgency → priority") ?? [] {
                    if let p = cell.string("a priority") { cells[impact, default: [:]][urgency] = p }
                }
            }
            matrices[name] = PriorityMatrix(name: name, cells: cells)
        }
        var book = PolicyBook()
        var written: [String: YAMLValue] = [:]
        for item in main.policyValue?.list("a list of { name, match, contract, priority | priority_from }") ?? [] {
            guard
                let p = item.mapping(
                    known: ConfigKeys.policy, what: "{ name, match, contract, priority | priority_from }"),
                let name = p.required("name")?.identifier("a policy name"),
                let contractValue = p.required("contract"), let contractID = contractValue.string("a contract id")
            else { continue }
            if written[name] != nil { p["name"]!.fail("policy '\(name)' is written twice") }
            guard let contract = contracts[contractID] else {
                contractValue.fail(
                    "contract '\(contractID)' is not defined in contracts.d/",
                    hint: closest(to: contractID, in: contracts.keys.sorted()).map { "did you mean '\($0)'?" })
                continue
            }
            let known = Set(contract.versions.flatMap { $0.priorities.map(\.name) })
            func check(_ priority: String, _ v: YAMLValue) {
                if !known.contains(priority) {
                    v.fail(
                        "priority \(priority) is not in contract \(contractID)",
                        hint: "known: \(known.sorted().joined(separator: ", "))")
                }
            }
            var conditions: [String: Set<String>] = [:]
            for (field, v) in p["match"]?.entries("attribute → value or list of values") ?? [] {
                if case .sequence = v.node {
                    conditions[field] = Set(v.strings("a list of values") ?? [])
                } else if let one = v.string("a value or a list of values") {
                    conditions[field] = [one]
                }
            }
            var priority: String?
            var matrix: PriorityMatrix?
            if let v = p["priority"], let text = v.string("a priority") {
                check(text, v)
                priority = text
            }
            if let v = p["priority_from"], let m = v.string("a matrix name") {
                if priority != nil { v.fail("a policy gives either priority or priority_from") }
                matrix = matrices[m]
                if let matrix {
                    for (impact, row) in matrix.cells.sorted(by: { $0.key < $1.key }) {
                        for (_, cell) in row where !known.contains(cell) {
                            v.fail(
                                "matrix \(m) gives \(cell) (impact \(impact)), which is not in contract \(contractID)",
                                hint: "known: \(known.sorted().joined(separator: ", "))")
                        }
                    }
                } else {
                    v.fail(
                        "matrix '\(m)' is not in priority_matrices",
                        hint: "known: \(matrices.keys.sorted().joined(separator: ", "))")
                }
            }
            let policy = Policy(
                name: name, conditions: conditions, contract: contractID, priority: priority, matrix: matrix)
            for earlier in book.policies {
                let at = ConfigError(
                    file: item.file, line: item.line, column: item.column, field: item.path, reason: "", hint: nil)
                if policy.isShadowed(by: earlier) {
                    var w = at
                    w.reason =
                        "policy \(name) is never reached: policy \(earlier.name) before it matches all it matches"
                    warnings.append(w)
                    break
                } else if !policy.conditions.isEmpty && Set(policy.conditions.keys) == Set(earlier.conditions.keys)
                    && policy.overlaps(earlier)
                {
                    // Peers on the same attributes whose values meet: likely a mistake. A specific
                    // policy before a broader one on other attributes is the usual order.
                    var w = at
                    w.reason =
                        "policy \(name) overlaps policy \(earlier.name): an incident both match goes to \(earlier.name)"
                    warnings.append(w)
                }
            }
            written[name] = item
            book.policies.append(policy)
        }
        return book
    }

    /// The `ola:` of every line and team: `{ calendar, pause_on, targets, warn_at, escalations }`.
    /// Targets may name only priorities some contract has.
    static func olas(_ main: MainSettings, calendars: [String: BusinessCalendar], contracts: [Contract]) -> OLABook {
        let priorities = Set(contracts.flatMap { $0.versions.flatMap { $0.priorities.map(\.name) } })
        var book = OLABook()
        for (unit, value, notify) in main.olaValues {
            guard
                let m = value.mapping(
                    known: ConfigKeys.ola, what: "{ calendar, pause_on, targets, warn_at, escalations }")
            else { continue }
            var calendar = BusinessCalendar.twentyFourSeven(zone: .utc)
            if let c = m["calendar"], let name = c.string("a calendar name") {
                if let found = calendars[name] {
                    calendar = found
                } else if name != "24x7" {
                    c.fail(
                        "calendar '\(name)' is not defined in calendars/",
                        hint: "known calendars: \((["24x7"] + calendars.keys.sorted()).joined(separator: ", "))")
                }
            }
            var targets: [String: Int64] = [:]
            for (priority, v) in m.required("targets", hint: "e.g. targets: { P1: 30m, P2: 2h }")?.entries(
                "targets by priority") ?? []
            {
                if !contracts.isEmpty && !priorities.contains(priority) {
                    v.fail(
                        "priority \(priority) is in no contract",
                        hint: "known: \(priorities.sorted().joined(separator: ", "))")
                }
                if let d = v.duration() { targets[priority] = d.resolved(dayLength: calendar.dayLength) }
            }
            let terms = OLATerms(
                unit: unit, calendar: calendar, pauseOn: Set(m["pause_on"]?.strings("a list of statuses") ?? []),
                targets: targets, warnAt: ContractLoader.warnings(m).sorted(),
                escalations: ContractLoader.escalations(m, notifyTargets: main.notifyTargets).sorted { $0.at < $1.at },
                notify: notify)
            let name = String(unit.drop { $0 != ":" }.dropFirst())
            if unit.hasPrefix("line:") { book.lines[name] = terms } else { book.teams[name] = terms }
        }
        return book
    }

    /// `127.0.0.1:9464`, `[::1]:9464` or `localhost:9464` as host and port.
    static func listenAddress(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (1...65_535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains(" ") else { return nil }
        return (host, port)
    }

    /// What slad.yaml sets; the defaults when it is missing.
    struct MainSettings {
        var stateDirectory: String?
        var sources: [SourceConfig] = []
        var webhooks: [WebhookConfig] = []
        /// Webhook names contracts may notify; nil when slad.yaml defines no webhooks (names unchecked).
        var notifyTargets: Set<String>?
        var allowedLateness: Int64 = 5
        var catchUpWindow: Int64 = 86_400
        var control = ControlConfig()
        var sealAfter: Int64 = 3 * 86_400
        var metricsListen: (host: String, port: Int)?
        var alertmanager: AlertmanagerConfig?
        var maintenance: [MaintenanceWindow] = []
        var teams: [String: TeamRoute] = [:]
        var store: StoreConfig?
        /// `ola:` of each line and team, resolved once the calendars are loaded, with the
        /// unit's webhooks.
        var olaValues: [(unit: String, value: YAMLValue, notify: [String])] = []
        /// `policies:` and `priority_matrices:`, resolved once the contracts are loaded.
        var policyValue: YAMLValue?
        var matrixValue: YAMLValue?
    }

    /// slad.yaml (optional: defaults apply without it).
    static func mainFile(_ directory: String, _ diagnostics: Diagnostics) -> MainSettings {
        var main = MainSettings()
        let path = join(directory, "slad.yaml")
        guard FileManager.default.fileExists(atPath: path),
            let root = YAMLFile.load(path: path, displayName: path, diagnostics: diagnostics),
            let f = root.mapping(known: mainKeys, what: "the main configuration")
        else { return main }
        main.stateDirectory = f["state_dir"]?.string("a folder")
        if let v = f["control"] { main.control = Self.control(v) }
        if let m = f["metrics"]?.mapping(known: ConfigKeys.metrics, what: "{ listen }"), let v = m["listen"],
            let text = v.string("HOST:PORT")
        {
            main.metricsListen = Self.listenAddress(text)
            if main.metricsListen == nil {
                v.fail("'\(text)' is not HOST:PORT", hint: "e.g. 127.0.0.1:9464, or [::1]:9464")
            }
        }
        if let v = f["alertmanager"] { main.alertmanager = alertmanager(v, directory: directory) }
        if let v = f["maintenance"] { main.maintenance = maintenance(v) }
        if let v = f["store"] { main.store = store(v, directory: directory) }
        if let v = f["allowed_lateness"], let d = v.duration() {
            if d.days > 0 || d.seconds > 3600 {
                v.fail("allowed_lateness above 1h delays every breach", hint: "e.g. 5s")
            }
            main.allowedLateness = d.seconds
        }
        if let v = f["catch_up_window"], let d = v.duration() { main.catchUpWindow = d.resolved(dayLength: 86_400) }
        if let r = f["reports"]?.mapping(known: ConfigKeys.reports, what: "{ seal_after }"),
            let v = r["seal_after"], let d = v.duration()
        {
            main.sealAfter = d.resolved(dayLength: 86_400)
            if main.sealAfter > 366 * 86_400 {
                v.fail("seal_after above a year leaves finance without final figures", hint: "e.g. 3d")
            }
        }
        main.sources = sources(f["sources"], directory: directory)
        if let w = f["webhooks"]?.entries("webhooks by name") {
            var targets = Set<String>()
            for (name, value) in w {
                if name == "journal" {
                    value.fail("'journal' is the journal sink's name; name the webhook otherwise")
                }
                if let hook = webhook(name, value, directory: directory) {
                    main.webhooks.append(hook)
                    targets.insert(name)
                }
            }
            main.notifyTargets = targets
        }
        // After the webhooks: a team's routes name them.
        for (team, value) in f["teams"]?.entries("teams by the name events carry") ?? [] {
            guard let m = value.mapping(known: ConfigKeys.team, what: "{ notify, lead, ola }") else { continue }
            let route = TeamRoute(
                notify: m["notify"].flatMap { ContractLoader.checkTargets($0, main.notifyTargets) } ?? [],
                lead: m["lead"].flatMap { ContractLoader.checkTargets($0, main.notifyTargets) } ?? [])
            main.teams[team] = route
            if let ola = m["ola"] { main.olaValues.append(("team:\(team)", ola, route.notify)) }
        }
        main.policyValue = f["policies"]
        main.matrixValue = f["priority_matrices"]
        for (line, value) in f["lines"]?.entries("support lines by the level events carry") ?? [] {
            guard let m = value.mapping(known: ConfigKeys.line, what: "{ notify, ola }") else { continue }
            let notify = m["notify"].flatMap { ContractLoader.checkTargets($0, main.notifyTargets) } ?? []
            if let ola = m["ola"] {
                main.olaValues.append(("line:\(line)", ola, notify))
            } else {
                m.parent.fail("line \(line) has no ola", hint: "e.g. ola: { targets: { P1: 30m, P2: 2h } }")
            }
        }
        return main
    }

    /// `sources: [{ name, path, format }]`; a relative path is relative to the configuration folder.
    static func sources(_ value: YAMLValue?, directory: String) -> [SourceConfig] {
        var sources: [SourceConfig] = []
        for item in value?.list("a list of sources") ?? [] {
            guard let s = item.mapping(known: ConfigKeys.source, what: "{ name, path, format }"),
                let name = s.required("name")?.identifier("a source name"),
                let path = s.required("path")?.string("a path")
            else { continue }
            let format = s["format"]?.string("jsonl") ?? "jsonl"
            if sources.contains(where: { $0.name == name }) { s["name"]!.fail("source '\(name)' is defined twice") }
            sources.append(
                SourceConfig(name: name, path: path.hasPrefix("/") ? path : join(directory, path), format: format))
        }
        return sources
    }

    /// `calendars/*.yaml`, each built into its table; `24x7` is built in.
    static func calendars(_ folder: String, _ diagnostics: Diagnostics) -> [String: BusinessCalendar] {
        var calendars: [String: BusinessCalendar] = [:]
        for file in yamlFiles(in: folder) {
            let name = String(file.dropLast(5))
            let path = join(folder, file)
            guard let root = YAMLFile.load(path: path, displayName: path, diagnostics: diagnostics) else { continue }
            if name == "24x7" {
                root.fail("24x7 is built in and cannot be redefined", hint: "rename the file")
                continue
            }
            if let def = CalendarLoader.load(root, name: name, directory: folder) {
                calendars[name] = BusinessCalendar(def)
            }
        }
        return calendars
    }

    /// `contracts.d/*.yaml`; an id used twice is an error against the second file.
    static func contracts(
        _ folder: String, calendars: [String: BusinessCalendar], notifyTargets: Set<String>?,
        _ diagnostics: Diagnostics
    ) -> (contracts: [Contract], files: [String: String]) {
        let lookup: ContractLoader.CalendarLookup = { name, zone in
            name == "24x7" ? .twentyFourSeven(zone: zone ?? .utc) : calendars[name]
        }
        let calendarNames = ["24x7"] + calendars.keys.sorted()
        var contracts: [Contract] = []
        var firstFile: [String: String] = [:]
        // No contracts is a valid set-up (a fresh install prices nothing until the site adds its
        // own): check-config and the daemon say so, neither refuses it.
        let files = yamlFiles(in: folder)
        for file in files {
            let path = join(folder, file)
            guard let root = YAMLFile.load(path: path, displayName: path, diagnostics: diagnostics),
                let contract = ContractLoader.load(
                    root, calendars: lookup, calendarNames: calendarNames, notifyTargets: notifyTargets)
            else { continue }
            if let other = firstFile[contract.id] {
                root.fail("contract id '\(contract.id)' is already used by \(other)")
                continue
            }
            firstFile[contract.id] = path
            contracts.append(contract)
        }
        return (contracts, firstFile)
    }

    /// `sources/*.yaml` source mappings (they name contracts and their priorities).
    static func mappings(_ folder: String, contracts: [String: Contract], _ diagnostics: Diagnostics) -> [String:
        SourceMapping]
    {
        var mappings: [String: SourceMapping] = [:]
        for file in yamlFiles(in: folder) {
            let path = join(folder, file)
            let name = String(file.dropLast(5))
            guard let root = YAMLFile.load(path: path, displayName: path, diagnostics: diagnostics),
                let mapping = SourceMappingLoader.load(root, name: name, contracts: contracts)
            else { continue }
            mappings[name] = mapping
        }
        return mappings
    }

    /// `*.yaml` files of a folder in name order; none when it does not exist.
    static func yamlFiles(in directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".yaml") && !$0.hasPrefix(".") }.sorted()
    }
}
