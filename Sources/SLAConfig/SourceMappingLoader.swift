import SLACore

/// Loads `sources/NAME.yaml`: how a status-snapshot log maps onto events.
enum SourceMappingLoader {
    static let keys = [
        "format", "delimiter", "time_format", "timezone", "contract", "unknown_values", "fields", "priorities",
        "statuses", "attributes",
    ]
    static let fieldKeys = [
        "incident", "time", "status", "priority", "team", "level", "assignee", "service", "opened_time", "contract",
    ]

    /// One mapping file, every error reported against its line and field; nil when it has any.
    static func load(_ root: YAMLValue, name: String, contracts: [String: Contract]) -> SourceMapping? {
        guard let f = root.mapping(known: keys, what: "a source mapping (format, fields, statuses, …)") else {
            return nil
        }
        let before = root.diagnostics.count
        let format = self.format(f)
        let timeFormat = self.timeFormat(f)
        let zone = f["timezone"]?.timeZone() ?? .utc
        var contract: Contract?
        if let v = f["contract"], let id = v.string("a contract id") {
            contract = contracts[id]
            if contract == nil {
                v.fail(
                    "contract '\(id)' is not defined in contracts.d/",
                    hint: closest(to: id, in: contracts.keys.sorted()).map { "did you mean '\($0)'?" })
            }
        }
        let fields = self.fields(f)
        let priorities = self.priorities(f, contract: contract)
        let statuses = self.statuses(f)
        let unknown = Set(f["unknown_values"]?.strings("a list of values") ?? [])
        var attributes: [String: String] = [:]
        for (attribute, v) in f["attributes"]?.entries("attribute → column, for policies") ?? [] {
            if let column = v.string("a column name") { attributes[attribute] = column }
        }
        guard root.diagnostics.count == before, let fields else { return nil }
        var mapping = SourceMapping(
            name: name, format: format, timeFormat: timeFormat, zone: zone, contract: contract?.id, fields: fields,
            priorities: priorities, statuses: statuses, unknownValues: unknown)
        mapping.attributes = attributes
        return mapping
    }

    /// `format: csv` (with `delimiter`, one ASCII character) or `jsonl`.
    static func format(_ f: Fields) -> SourceMapping.Format {
        guard let v = f.required("format", hint: "csv or jsonl"), let text = v.string("csv or jsonl") else {
            return .csv(delimiter: UInt8(ascii: ","))
        }
        switch text {
        case "csv":
            var delimiter = UInt8(ascii: ",")
            if let d = f["delimiter"], let s = d.string("one character") {
                if s.utf8.count == 1 {
                    delimiter = s.utf8.first!
                } else {
                    d.fail("the delimiter must be one ASCII character")
                }
            }
            return .csv(delimiter: delimiter)
        case "jsonl": return .jsonl
        default:
            v.fail("format '\(text)' is not supported", hint: "use csv or jsonl")
            return .csv(delimiter: UInt8(ascii: ","))
        }
    }

    /// `time_format: iso8601` or a pattern of `%Y %m %d %H %M %S`.
    static func timeFormat(_ f: Fields) -> SourceMapping.TimeFormat {
        guard let v = f["time_format"], let text = v.string("iso8601 or a pattern like \"%d-%m-%Y %H:%M\"") else {
            return .iso8601
        }
        if text == "iso8601" { return .iso8601 }
        if validPattern(text) { return .pattern(text) }
        v.fail("'\(text)' is not a time pattern", hint: "use %Y %m %d %H %M %S and literal characters, or iso8601")
        return .iso8601
    }

    /// `fields`: the columns holding each event field; incident, time and status are required,
    /// and a contract must come from somewhere (the mapping's `contract` or a column).
    static func fields(_ f: Fields) -> SourceMapping.Fields? {
        guard let v = f.required("fields", hint: "column names: incident, time, status, …"),
            let m = v.mapping(known: fieldKeys, what: "column names")
        else { return nil }
        let incident = m.required("incident")?.string("a column name")
        let time = m.required("time")?.string("a column name")
        var status: [String]?
        if let s = m.required("status") {
            if case .sequence = s.node {
                status = s.strings("column names")
            } else {
                status = s.string("a column name").map { [$0] }
            }
        }

        guard let incident, let time, let status, !status.isEmpty else { return nil }
        return SourceMapping.Fields(
            incident: incident, time: time, status: status, priority: m["priority"]?.string("a column name"),
            team: m["team"]?.string("a column name"), level: m["level"]?.string("a column name"),
            assignee: m["assignee"]?.string("a column name"), service: m["service"]?.string("a column name"),
            openedTime: m["opened_time"]?.string("a column name"), contract: m["contract"]?.string("a column name"))
    }

    /// `priorities`: source value → priority, each a priority of the mapping's contract.
    static func priorities(_ f: Fields, contract: Contract?) -> [String: String] {
        var priorities: [String: String] = [:]
        for (raw, value) in f["priorities"]?.entries("source value → priority") ?? [] {
            guard let p = value.string("a priority name") else { continue }
            if let contract, contract.terms(for: p) == nil {
                value.fail(
                    "priority '\(p)' is not in contract \(contract.id)",
                    hint: "known: \(contract.priorities.map(\.name).joined(separator: ", "))")
            }
            priorities[raw] = p
        }
        return priorities
    }

    /// `statuses`: source status → resolved, closed, `{ status, acknowledge }` or `{ skip }`.
    static func statuses(_ f: Fields) -> [String: SourceMapping.StatusRule] {
        var statuses: [String: SourceMapping.StatusRule] = [:]
        for (raw, value) in f.required("statuses", hint: "source status → active, resolved, closed or skip")?.entries()
            ?? []
        {
            if case .scalar = value.node {
                switch value.string() {
                case "resolved": statuses[raw] = .resolved
                case "closed": statuses[raw] = .closed
                case let other?:
                    value.fail(
                        "'\(other)' is not a status meaning",
                        hint: "resolved, closed, { status: NAME, acknowledge: true } or { skip: REASON }")
                case nil: break
                }
                continue
            }
            guard
                let m = value.mapping(
                    known: ConfigKeys.status, what: "{ status, acknowledge } or { skip }")
            else { continue }
            if let skip = m["skip"] {
                if m["status"] != nil { value.fail("a status is either skipped or active, not both") }
                if let reason = skip.string("a reason") { statuses[raw] = .skip(reason: reason) }
            } else if let status = m.required("status")?.identifier("a workflow status") {
                statuses[raw] = .active(status: status, acknowledge: m["acknowledge"]?.bool() ?? false)
            }
        }
        return statuses
    }

    /// Only `%Y %m %d %H %M %S` directives.
    static func validPattern(_ text: String) -> Bool {
        let u = Array(text.utf8)
        var i = 0
        var any = false
        while i < u.count {
            if u[i] == UInt8(ascii: "%") {
                guard i + 1 < u.count, "YmdHMS".utf8.contains(u[i + 1]) else { return false }
                any = true
                i += 2
            } else {
                i += 1
            }
        }
        return any
    }
}
