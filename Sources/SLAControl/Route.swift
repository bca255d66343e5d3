import SLAAPI
import SLACore

/// What a request asks for, parsed and validated before it reaches the daemon.
public enum Route: Sendable, Hashable {
    case status
    case contracts
    case contract(id: String)
    case incidents(IncidentQuery)
    case incident(id: String)
    /// Why an incident's clocks stand where they do, as of `asOf` (default: now).
    case explanation(id: String, asOf: Instant?)
    case breaches(since: Instant?, contract: String?, limit: Int)
    /// A month's penalty report; `format` is `table`, `csv`, `json`, `html` or `charges-csv`.
    case report(month: YearMonth, contract: String?, format: String)
    /// The support lines' and teams' OLA figures of a month (default: the current one, UTC)
    /// and the holds running now; `kind` `line` or `team` keeps one kind.
    case units(month: YearMonth?, kind: String?, format: String)
    case metrics
    case reload
    case events
    /// Alertmanager's webhook: alerts to service outages (`alertmanager:` in slad.yaml).
    case alertmanager

    /// Who may ask.
    public var access: Access {
        switch self {
        case .reload, .events, .alertmanager: .write
        default: .read
        }
    }

    /// A short name for logs and metrics (no ids).
    public var name: String {
        switch self {
        case .status: "status"
        case .contracts, .contract: "contracts"
        case .incidents, .incident, .explanation: "incidents"
        case .breaches: "breaches"
        case .report: "reports"
        case .units: "units"
        case .metrics: "metrics"
        case .reload: "reload"
        case .events: "events"
        case .alertmanager: "alertmanager"
        }
    }
}

/// `GET /v1/incidents` parameters.
public struct IncidentQuery: Sendable, Hashable {
    /// Which standing to list.
    public var state: StandingFilter = .open
    /// Contract id.
    public var contract: String?
    /// Page size (1–1000).
    public var limit = 100
    /// Continue after this position.
    public var cursor: IncidentCursor?

    /// The defaults: open incidents, 100 per page.
    public init() {}
}

/// A failed request: the HTTP status and the JSON error body.
public struct RouteError: Error, Sendable, Hashable {
    /// HTTP status code.
    public var status: Int
    /// The JSON error body.
    public var error: APIError

    /// An error answer.
    public init(_ status: Int, _ code: String, _ message: String, details: [String]? = nil) {
        self.status = status
        error = APIError(code: code, message: message, details: details)
    }
}

/// Maps a method and a request target to a ``Route``.
public enum Router {
    /// Largest page of `/v1/incidents` and `/v1/breaches`.
    public static let maxLimit = 1000

    /// Parses `method` and `uri` (path and query string).
    public static func route(method: String, uri: String) -> Result<Route, RouteError> {
        let (path, query) = split(uri)
        guard let query else {
            return .failure(RouteError(400, "bad_request", "the query string is not valid percent-encoding"))
        }
        func only(_ allowed: String, _ route: Route) -> Result<Route, RouteError> {
            guard method == allowed else {
                return .failure(
                    RouteError(405, "method_not_allowed", "\(path) answers \(allowed) only, not \(method)"))
            }
            return .success(route)
        }
        func decoded(_ segment: String) -> String? { percentDecoded(segment) }
        // Fixed routes are matched as text on the path after its first segment (empty when the
        // target starts with "/"): monitoring polls them, so they are not split into strings.
        switch path.drop(while: { $0 != "/" }) {
        case "/metrics": return only("GET", .metrics)
        case "/v1/status": return only("GET", .status)
        case "/v1/contracts": return only("GET", .contracts)
        case "/v1/reload": return only("POST", .reload)
        case "/v1/events": return only("POST", .events)
        case "/v1/alertmanager": return only("POST", .alertmanager)
        case "/v1/incidents":
            return incidentQuery(query).flatMap { only("GET", .incidents($0)) }
        case "/v1/breaches":
            return breachQuery(query).flatMap { only("GET", $0) }
        case "/v1/units":
            return unitQuery(query).flatMap { only("GET", $0) }
        default:
            let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
            if parts.count == 3, parts[0] == "v1", !parts[2].isEmpty, let id = decoded(parts[2]) {
                if parts[1] == "reports" { return reportQuery(month: id, query).flatMap { only("GET", $0) } }
                if parts[1] == "contracts" { return only("GET", .contract(id: id)) }
                if parts[1] == "incidents" { return only("GET", .incident(id: id)) }
            }
            if parts.count == 4, parts[0] == "v1", parts[1] == "incidents", parts[3] == "explanation",
                !parts[2].isEmpty, let id = decoded(parts[2])
            {
                return explanationQuery(id: id, query).flatMap { only("GET", $0) }
            }
            return .failure(
                RouteError(
                    404, "not_found",
                    "no such endpoint: \(method) \(path) (see docs/api.md: /v1/status, /v1/contracts, /v1/incidents, /v1/incidents/ID/explanation, /v1/breaches, /v1/reports/YYYY-MM, /v1/units, /metrics, /v1/reload, /v1/events, /v1/alertmanager)"
                ))
        }
    }

    static func limit(_ query: [String: String]) -> Result<Int?, RouteError> {
        guard let text = query["limit"] else { return .success(nil) }
        guard let n = Int(text), (1...maxLimit).contains(n) else {
            return .failure(
                RouteError(400, "bad_request", "limit must be a number from 1 to \(maxLimit), not '\(text)'"))
        }
        return .success(n)
    }

    static func unknown(_ query: [String: String], _ known: Set<String>) -> RouteError? {
        guard let bad = query.keys.sorted().first(where: { !known.contains($0) }) else { return nil }
        return RouteError(
            400, "bad_request", "unknown parameter '\(bad)' (known: \(known.sorted().joined(separator: ", ")))")
    }

    static func incidentQuery(_ query: [String: String]) -> Result<IncidentQuery, RouteError> {
        if let e = unknown(query, ["state", "contract", "limit", "cursor"]) { return .failure(e) }
        var q = IncidentQuery()
        if let state = query["state"] {
            guard let s = StandingFilter(rawValue: state) else {
                return .failure(
                    RouteError(400, "bad_request", "state must be open, at_risk or breached, not '\(state)'"))
            }
            q.state = s
        }
        q.contract = query["contract"]
        if let cursor = query["cursor"] {
            guard let c = IncidentCursor(token: cursor) else {
                return .failure(
                    RouteError(400, "bad_request", "cursor '\(cursor)' is not one this API handed out (next_cursor)"))
            }
            q.cursor = c
        }
        switch limit(query) {
        case .failure(let e): return .failure(e)
        case .success(let n): if let n { q.limit = n }
        }
        return .success(q)
    }

    static func breachQuery(_ query: [String: String]) -> Result<Route, RouteError> {
        if let e = unknown(query, ["since", "contract", "limit"]) { return .failure(e) }
        var since: Instant?
        if let text = query["since"] {
            // A date means its start in UTC; a time without an offset is read as UTC too.
            guard
                let t = ISO8601.parse(text).map({ $0.instant(in: .utc) })
                    ?? LocalDate(parsing: text).map({ Instant($0.daysSinceEpoch * 86_400) })
            else {
                return .failure(
                    RouteError(
                        400, "bad_request",
                        "since must be a date (2026-10-01) or an ISO 8601 time with offset (2026-10-01T00:00:00Z), not '\(text)'"
                    ))
            }
            since = t
        }
        switch limit(query) {
        case .failure(let e): return .failure(e)
        case .success(let n):
            return .success(.breaches(since: since, contract: query["contract"], limit: n ?? maxLimit))
        }
    }

    static func explanationQuery(id: String, _ query: [String: String]) -> Result<Route, RouteError> {
        if let e = unknown(query, ["as_of"]) { return .failure(e) }
        guard let text = query["as_of"] else { return .success(.explanation(id: id, asOf: nil)) }
        guard let time = ISO8601.parse(text), time.offset != nil else {
            return .failure(
                RouteError(
                    400, "bad_request",
                    "as_of must be an ISO 8601 time with an offset (2026-10-01T00:00:00+03:00), not '\(text)'"))
        }
        return .success(.explanation(id: id, asOf: time.instant(in: .utc)))
    }

    /// Report formats the control socket renders.
    public static let reportFormats = ["table", "csv", "json", "html", "charges-csv"]

    static func reportQuery(month: String, _ query: [String: String]) -> Result<Route, RouteError> {
        if let e = unknown(query, ["contract", "format"]) { return .failure(e) }
        guard let m = YearMonth(parsing: month) else {
            return .failure(RouteError(400, "bad_request", "the month must be YYYY-MM (e.g. 2026-10), not '\(month)'"))
        }
        let format = query["format"] ?? "json"
        guard reportFormats.contains(format) else {
            return .failure(
                RouteError(
                    400, "bad_request",
                    "format must be one of \(reportFormats.joined(separator: ", ")), not '\(format)'"))
        }
        return .success(.report(month: m, contract: query["contract"], format: format))
    }

    static func unitQuery(_ query: [String: String]) -> Result<Route, RouteError> {
        if let e = unknown(query, ["month", "kind", "format"]) { return .failure(e) }
        var month: YearMonth?
        if let text = query["month"] {
            guard let m = YearMonth(parsing: text) else {
                return .failure(
                    RouteError(400, "bad_request", "the month must be YYYY-MM (e.g. 2026-10), not '\(text)'"))
            }
            month = m
        }
        if let kind = query["kind"], kind != "line" && kind != "team" {
            return .failure(RouteError(400, "bad_request", "kind must be line or team, not '\(kind)'"))
        }
        let format = query["format"] ?? "json"
        guard ["table", "csv", "json", "html"].contains(format) else {
            return .failure(
                RouteError(400, "bad_request", "format must be one of table, csv, json, html, not '\(format)'"))
        }
        return .success(.units(month: month, kind: query["kind"], format: format))
    }

    /// Path and decoded query parameters (nil when the query is not valid percent-encoding).
    static func split(_ uri: String) -> (path: String, query: [String: String]?) {
        guard let q = uri.firstIndex(of: "?") else { return (uri, [:]) }
        var out: [String: String] = [:]
        for pair in uri[uri.index(after: q)...].split(separator: "&") where !pair.isEmpty {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let k = percentDecoded(String(kv[0])),
                let v = percentDecoded(kv.count > 1 ? String(kv[1]) : "")
            else { return (String(uri[..<q]), nil) }
            out[k] = v
        }
        return (String(uri[..<q]), out)
    }

    /// `%XX` and `+` decoded; nil for a broken escape or invalid UTF-8.
    static func percentDecoded(_ s: String) -> String? {
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let b = it.popFirst() {
            switch b {
            case UInt8(ascii: "+"): bytes.append(0x20)
            case UInt8(ascii: "%"):
                guard it.count >= 2, let hi = hex(it.removeFirst()), let lo = hex(it.removeFirst()) else { return nil }
                bytes.append(hi << 4 | lo)
            default: bytes.append(b)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    static func hex(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
