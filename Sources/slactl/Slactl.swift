import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SLAAPI
import SLACore

#if canImport(Glibc)
import Glibc
#endif

@main
struct Slactl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slactl",
        abstract: "Ask the running slad over its control socket.",
        discussion: """
            Exit codes: 0 done; 1 slad answered with an error; 2 not found; 3 slad cannot be reached; \
            4 access refused (ask for the status or admin group); 64 bad usage.
            The socket is --socket, else $SLAD_SOCKET, else /run/slad/slad.sock.
            """,
        version: SladVersion.current,
        subcommands: [
            Status.self, Contracts.self, Incidents.self, Incident.self, Breaches.self, Report.self, Lines.self,
            Teams.self, Reload.self, Push.self,
        ])
}

/// Options every command takes.
struct Connection: ParsableArguments {
    @Option(help: "Control socket (default: $SLAD_SOCKET, else /run/slad/slad.sock).")
    var socket: String?

    @Flag(help: "Print slad's JSON answer instead of a table.")
    var json = false

    @Flag(help: "Show times in UTC (default: each contract's zone, or TZ when set).")
    var utc = false

    mutating func validate() throws {
        // Before any time is shown: Render reads TZ once.
        if utc { setenv("TZ", "UTC", 1) }
    }

    var socketPath: String {
        socket ?? ProcessInfo.processInfo.environment["SLAD_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "/run/slad/slad.sock"
    }
}

/// Exit codes (documented in `slactl --help` and docs/slactl.md).
enum Exit {
    static let failed: Int32 = 1
    static let notFound: Int32 = 2
    static let unreachable: Int32 = 3
    static let forbidden: Int32 = 4
}

/// One request to slad: the body on 2xx, else a message and an exit code.
enum Client {
    static func call(_ connection: Connection, _ method: HTTPMethod, _ path: String, body: [UInt8]? = nil) async throws
        -> [UInt8]
    {
        let socket = connection.socketPath
        guard let url = URL(httpURLWithSocketPath: socket, uri: path) else {
            fail("'\(socket)' is not a usable socket path", code: Exit.unreachable)
        }
        if let problem = probe(socket) { fail(problem, code: Exit.unreachable) }
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = method
        if let body {
            request.body = .bytes(ByteBuffer(bytes: body))
            request.headers.add(name: "content-type", value: "application/x-ndjson")
        }
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        } catch {
            fail(unreachable(socket, error), code: Exit.unreachable)
        }
        let bytes = Array(buffer: try await response.body.collect(upTo: 1 << 30))
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            let e = try? APIJSON.decode(APIError.self, from: bytes)
            var message = "slad: \(e?.message ?? "HTTP \(status)")"
            for d in e?.details ?? [] { message += "\n  \(d)" }
            fail(message, code: status == 404 ? Exit.notFound : status == 403 ? Exit.forbidden : Exit.failed)
        }
        return bytes
    }

    /// Tries to connect once, so that a missing socket or a refused connection is reported at once
    /// (the HTTP client would keep retrying until its deadline), with what to do about it.
    static func probe(_ socket: String) -> String? {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(socket.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            return "cannot reach \(socket): the path is too long for a Unix socket"
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes + [0]) }
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
        if ok { return nil }
        switch errno {
        case ENOENT:
            return "cannot reach \(socket): no such socket. Is slad running? systemctl status slad"
        case EACCES, EPERM:
            return
                "cannot reach \(socket): permission denied. Ask for membership of slad's status group (control.status_group), or use sudo"
        case ECONNREFUSED:
            return
                "cannot reach \(socket): nothing listens there (a stale socket). Is slad running? systemctl status slad"
        default:
            return "cannot reach \(socket): \(String(cString: strerror(errno))). Is slad running? systemctl status slad"
        }
    }

    static func unreachable(_ socket: String, _ error: any Error) -> String {
        "cannot reach \(socket): \(error). Is slad running? systemctl status slad"
    }

    static func fail(_ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(code)
    }

    /// Prints `bytes` as JSON (`--json`) or decodes them for `render`.
    static func show<T: Decodable>(
        _ connection: Connection, _ bytes: [UInt8], as type: T.Type, render: (T) -> String
    ) throws {
        if connection.json {
            FileHandle.standardOutput.write(Data(bytes))
            return
        }
        let value = try APIJSON.decode(type, from: bytes)
        print(render(value), terminator: "")
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open, at-risk and breached incidents; sources, lag, quarantine; outbox per sink.")
    @OptionGroup var connection: Connection

    func run() async throws {
        let bytes = try await Client.call(connection, .GET, "/v1/status")
        try Client.show(connection, bytes, as: StatusReport.self, render: Render.status)
    }
}

struct Contracts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The contracts in force, or one contract's terms.")
    @OptionGroup var connection: Connection
    @Argument(help: "A contract id.") var id: String?

    func run() async throws {
        if let id {
            let bytes = try await Client.call(connection, .GET, "/v1/contracts/\(Path.escape(id))")
            try Client.show(connection, bytes, as: ContractView.self, render: Render.contract)
        } else {
            let bytes = try await Client.call(connection, .GET, "/v1/contracts")
            try Client.show(connection, bytes, as: ContractList.self, render: Render.contracts)
        }
    }
}

struct Incidents: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open incidents, least time left first (at risk: closest to breaching).")
    @OptionGroup var connection: Connection
    @Flag(help: "Only incidents past a warning threshold and not breached.") var atRisk = false
    @Flag(help: "Only incidents with a breached clock.") var breached = false
    @Option(help: "Only this contract's incidents.") var contract: String?
    @Option(help: "At most this many (1–1000).") var limit = 50
    @Option(help: "Continue after this cursor (printed under a full page).") var cursor: String?

    func validate() throws {
        if atRisk && breached { throw ValidationError("--at-risk and --breached exclude each other") }
        if !(1...1000).contains(limit) { throw ValidationError("--limit must be from 1 to 1000") }
    }

    func run() async throws {
        var query = [("state", atRisk ? "at_risk" : breached ? "breached" : "open"), ("limit", String(limit))]
        if let contract { query.append(("contract", contract)) }
        if let cursor { query.append(("cursor", cursor)) }
        let bytes = try await Client.call(connection, .GET, "/v1/incidents" + Path.query(query))
        try Client.show(connection, bytes, as: IncidentPage.self, render: Render.incidents)
    }
}

struct Incident: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "One incident: clocks and event timeline.")
    @OptionGroup var connection: Connection
    @Argument(help: "The incident id.") var id: String
    @Flag(
        help: """
            Explain the verdict: every stretch of each clock and the event that began it, the working time \
            counted, each threshold's instant and the penalty's arithmetic (what a disputed penalty is settled with).
            """)
    var explain = false
    @Option(help: "With --explain: as of this time (ISO 8601 with offset; default now).") var asOf: String?

    func validate() throws {
        if asOf != nil && !explain { throw ValidationError("--as-of goes with --explain") }
    }

    func run() async throws {
        if explain {
            let query = asOf.map { Path.query([("as_of", $0)]) } ?? ""
            let bytes = try await Client.call(
                connection, .GET, "/v1/incidents/\(Path.escape(id))/explanation" + query)
            try Client.show(connection, bytes, as: IncidentExplanation.self, render: \.text)
            return
        }
        let bytes = try await Client.call(connection, .GET, "/v1/incidents/\(Path.escape(id))")
        try Client.show(connection, bytes, as: IncidentDetail.self, render: Render.incident)
    }
}

struct Breaches: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Breached clocks, oldest first.")
    @OptionGroup var connection: Connection
    @Option(help: "Only breaches at or after this date or time (2026-10-01, 2026-10-01T09:00:00+03:00).")
    var since: String?
    @Option(help: "Only this contract's breaches.") var contract: String?
    @Option(help: "At most this many (1–1000).") var limit = 1000

    func run() async throws {
        var query = [("limit", String(limit))]
        if let since { query.append(("since", since)) }
        if let contract { query.append(("contract", contract)) }
        let bytes = try await Client.call(connection, .GET, "/v1/breaches" + Path.query(query))
        try Client.show(connection, bytes, as: BreachList.self, render: Render.breaches)
    }
}

/// `slactl lines` and `slactl teams`: the OLA picture of one kind of unit.
struct UnitOptions: ParsableArguments {
    @OptionGroup var connection: Connection
    @Option(help: "The month, YYYY-MM (default: the current month, UTC).") var month: String?
    @Option(help: "table, csv, json or html (--json means json).") var format: String = "table"

    func validate() throws {
        if let month, YearMonth(parsing: month) == nil {
            throw ValidationError("--month '\(month)' must be YYYY-MM, e.g. 2026-10")
        }
        if !["table", "csv", "json", "html"].contains(format) {
            throw ValidationError("--format must be one of table, csv, json, html, not '\(format)'")
        }
    }

    func show(kind: String) async throws {
        var query = [("kind", kind), ("format", connection.json ? "json" : format)]
        if let month { query.append(("month", month)) }
        let bytes = try await Client.call(connection, .GET, "/v1/units" + Path.query(query))
        FileHandle.standardOutput.write(Data(bytes))
    }
}

struct Lines: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Support lines against their OLAs: the holds running now, and the month's figures.",
        discussion:
            "Per line and priority: holds decided in the month, met, breached, attainment, time held (median, p90), handed on, returns. See docs/reports.md."
    )
    @OptionGroup var options: UnitOptions

    func run() async throws { try await options.show(kind: "line") }
}

struct Teams: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Teams against their OLAs: the holds running now, and the month's figures.",
        discussion: "As slactl lines, per team. See docs/reports.md.")
    @OptionGroup var options: UnitOptions

    func run() async throws { try await options.show(kind: "team") }
}

struct Report: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A month's penalty report: sealed, final or provisional, as the report says.",
        discussion: "Formats: table (default), csv (RFC 4180), json, html (printable). See docs/reports.md.")
    @OptionGroup var connection: Connection
    @Option(help: "The month, YYYY-MM (default: the current month, UTC).") var month: String?
    @Option(help: "Only this contract.") var contract: String?
    @Option(help: "table, csv, json, html or charges-csv (--json means json).") var format: String = "table"
    @Flag(help: "Start a CSV with a UTF-8 byte order mark (for Excel).") var bom = false
    @Option(name: [.customShort("o"), .customLong("output")], help: "Write to this file instead of standard output.")
    var output: String?

    func validate() throws {
        if let month, YearMonth(parsing: month) == nil {
            throw ValidationError("--month '\(month)' must be YYYY-MM, e.g. 2026-10")
        }
        let formats = ["table", "csv", "json", "html", "charges-csv"]
        if !formats.contains(format) {
            throw ValidationError("--format must be one of \(formats.joined(separator: ", ")), not '\(format)'")
        }
        if bom && !format.hasSuffix("csv") { throw ValidationError("--bom goes with a CSV format") }
    }

    func run() async throws {
        let chosen = month ?? String(ISO8601.format(Instant(Int64(Date().timeIntervalSince1970)), in: .utc).prefix(7))
        var query = [("format", connection.json ? "json" : format)]
        if let contract { query.append(("contract", contract)) }
        var bytes = try await Client.call(connection, .GET, "/v1/reports/" + Path.escape(chosen) + Path.query(query))
        if bom && !connection.json { bytes = [0xEF, 0xBB, 0xBF] + bytes }
        guard let output else {
            FileHandle.standardOutput.write(Data(bytes))
            return
        }
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: output))
        } catch {
            Client.fail("\(output): cannot be written: \(error.localizedDescription)", code: Exit.failed)
        }
        FileHandle.standardError.write(Data("wrote \(bytes.count) bytes to \(output)\n".utf8))
    }
}

struct Reload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reload contracts, calendars and sources; a bad configuration keeps the running one.")
    @OptionGroup var connection: Connection

    func run() async throws {
        let bytes = try await Client.call(connection, .POST, "/v1/reload")
        try Client.show(connection, bytes, as: ReloadResult.self) { r in
            var out = "reloaded: generation \(r.configGeneration), \(r.contracts) contracts, \(r.sources) sources\n"
            if !r.restartRequired.isEmpty {
                out += "restart slad to apply: \(r.restartRequired.joined(separator: ", "))\n"
            }
            if !r.moneyChanges.isEmpty {
                out += "\nthe new terms change what these months not sealed yet owe:\n"
                out += Render.table(
                    ["CONTRACT", "MONTH", "BEFORE", "AFTER"],
                    r.moneyChanges.map {
                        [$0.contract, $0.month, "\($0.oldTotal) \($0.currency)", "\($0.newTotal) \($0.currency)"]
                    })
            }
            return out
        }
    }
}

struct Push: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send events (JSON Lines) to slad; all lines are checked first, one bad line sends none.")
    @OptionGroup var connection: Connection
    @Argument(help: "A JSON Lines file, or - for standard input.") var file: String

    func run() async throws {
        let data: Data
        if file == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let d = FileManager.default.contents(atPath: file) else {
                Client.fail("cannot read \(file)", code: Exit.failed)
            }
            data = d
        }
        let bytes = try await Client.call(connection, .POST, "/v1/events", body: Array(data))
        try Client.show(connection, bytes, as: EventsResult.self) {
            "accepted \($0.accepted) events, \($0.duplicates) already known\n"
        }
    }
}

enum Path {
    static let allowed: Set<UInt8> = Set(
        Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:".utf8))

    /// Percent-encodes a path segment or query value.
    static func escape(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            if allowed.contains(b) {
                out.unicodeScalars.append(Unicode.Scalar(b))
            } else {
                out += String(format: "%%%02X", b)
            }
        }
        return out
    }

    static func query(_ items: [(String, String)]) -> String {
        "?" + items.map { "\($0.0)=\(escape($0.1))" }.joined(separator: "&")
    }
}
