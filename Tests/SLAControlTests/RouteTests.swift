import SLACore
import Testing

@testable import SLAControl

@Suite("routing and access of the control API (no sockets)")
struct RouteTests {
    func route(_ method: String, _ uri: String) -> Result<Route, RouteError> { Router.route(method: method, uri: uri) }

    @Test("every endpoint routes, with its parameters")
    func routes() throws {
        #expect(try route("GET", "/v1/status").get() == .status)
        #expect(try route("GET", "/v1/units").get() == .units(month: nil, kind: nil, format: "json"))
        #expect(
            try route("GET", "/v1/units?month=2026-10&kind=team&format=csv").get()
                == .units(month: YearMonth(year: 2026, month: 10), kind: "team", format: "csv"))
        #expect(try route("GET", "/metrics").get() == .metrics)
        #expect(try route("GET", "/v1/contracts").get() == .contracts)
        #expect(try route("GET", "/v1/contracts/acme%2Dgold").get() == .contract(id: "acme-gold"))
        #expect(try route("GET", "/v1/incidents/INC%201").get() == .incident(id: "INC 1"))
        #expect(try route("POST", "/v1/reload").get() == .reload)
        #expect(try route("POST", "/v1/events").get() == .events)
        var q = IncidentQuery()
        q.state = .atRisk
        q.contract = "acme"
        q.limit = 20
        q.cursor = IncidentCursor(breachMilliseconds: 1_700_000_000_000, incident: "INC:7")
        #expect(
            try route("GET", "/v1/incidents?state=at_risk&contract=acme&limit=20&cursor=1700000000000%3AINC%3A7").get()
                == .incidents(q))
        #expect(
            try route("GET", "/v1/breaches?since=2026-10-01&contract=x").get()
                == .breaches(since: Instant(1_790_812_800), contract: "x", limit: Router.maxLimit))
        #expect(
            try route("GET", "/v1/breaches?since=2026-10-01T03:00:00%2B03:00").get()
                == .breaches(since: Instant(1_790_812_800), contract: nil, limit: Router.maxLimit))
    }

    @Test("errors: 404 unknown, 405 wrong method, 400 bad parameters")
    func errors() {
        func status(_ m: String, _ u: String) -> Int? {
            if case .failure(let e) = route(m, u) { return e.status }
            return nil
        }
        #expect(status("GET", "/v1/nothing") == 404)
        #expect(status("GET", "/v1/units?kind=desk") == 400)
        #expect(status("GET", "/v1/units?month=October") == 400)
        #expect(status("GET", "/v1/units?format=charges-csv") == 400)
        #expect(status("POST", "/v1/units") == 405)
        #expect(status("GET", "/") == 404)
        #expect(status("GET", "/v1/contracts/") == 404)
        #expect(status("GET", "/v1/contracts/a/b") == 404)
        #expect(status("DELETE", "/v1/status") == 405)
        #expect(status("GET", "/v1/reload") == 405)
        #expect(status("POST", "/v1/incidents") == 405)
        #expect(status("GET", "/v1/incidents?state=late") == 400)
        #expect(status("GET", "/v1/incidents?limit=1001") == 400)
        #expect(status("GET", "/v1/incidents?limit=abc") == 400)
        #expect(status("GET", "/v1/incidents?cursor=nocolon") == 400)
        #expect(status("GET", "/v1/incidents?sort=asc") == 400)
        #expect(status("GET", "/v1/incidents?state=%zz") == 400)
        #expect(status("GET", "/v1/breaches?since=last-week") == 400)
        #expect(status("GET", "/v1/contracts/%ff") == 404)
    }

    @Test("writes need the admin group; reads the status group, the daemon's user or root")
    func access() {
        let policy = AccessPolicy(daemonUID: 990, statusGID: 1001, adminGID: 1002)
        func grants(_ uid: UInt32, _ groups: Set<UInt32>) -> (Bool, Bool) {
            let g = policy.grants(PeerCredentials(pid: 1, uid: uid, gid: groups.first ?? 100), groups: groups)
            return (g.read, g.write)
        }
        #expect(grants(0, []) == (true, true))
        #expect(grants(990, [990]) == (true, false))
        #expect(grants(1500, [100, 1001]) == (true, false))
        #expect(grants(1501, [100, 1002]) == (true, true))
        #expect(grants(1502, [100]) == (false, false))
        #expect(Route.reload.access == .write && Route.events.access == .write && Route.status.access == .read)
        let none = AccessPolicy(daemonUID: 990, statusGID: nil, adminGID: nil)
        #expect(!none.grants(PeerCredentials(pid: 1, uid: 5, gid: 5), groups: [5]).read)
        #expect(
            none.refusal(.write, peer: PeerCredentials(pid: 1, uid: 4_000_000, gid: 5)).contains(
                "admin_group is not set"))
    }
}

@Suite("control pipeline on an embedded channel")
struct EmbeddedPipelineTests {
    struct Echo: ControlResponder {
        func respond(to request: ControlRequest, reply: @escaping @Sendable (ControlResponse) -> Void) {
            reply(ControlResponse(status: 200, contentType: "text/plain", body: Array(request.route.name.utf8)))
        }
    }

    func answer(_ raw: String, uid: UInt32 = 0, limits: ControlLimits = ControlLimits()) -> String {
        let policy = AccessPolicy(daemonUID: 0, statusGID: nil, adminGID: nil)
        return String(
            decoding: ControlServer.answer(
                raw: Array(raw.utf8), peer: PeerCredentials(pid: 1, uid: uid, gid: uid), policy: policy,
                limits: limits, responder: Echo()), as: UTF8.self)
    }

    @Test("pipelined requests are answered in order, each once; an unknown route is a 404")
    func pipelined() {
        let out = answer(
            "GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/nothing HTTP/1.1\r\nHost: x\r\n\r\n"
                + "GET /v1/contracts HTTP/1.1\r\nHost: x\r\n\r\n")
        let statuses = out.components(separatedBy: "HTTP/1.1 ").dropFirst().map { String($0.prefix(3)) }
        #expect(statuses == ["200", "404", "200"], "\(out)")
        #expect(out.contains("\r\n\r\nstatus") && out.contains("\r\n\r\ncontracts"))
    }

    @Test("a body over the limit is refused with 413 before it is read; bytes that are not HTTP get a 400")
    func refusals() {
        var small = ControlLimits()
        small.maxBodyBytes = 10
        let big = answer(
            "POST /v1/events HTTP/1.1\r\nHost: x\r\ncontent-length: 100\r\n\r\n" + String(repeating: "x", count: 100),
            limits: small)
        #expect(big.hasPrefix("HTTP/1.1 413"), "\(big)")
        #expect(answer("\u{0}\u{1} not http\r\n\r\n").hasPrefix("HTTP/1.1 400"))
    }

    @Test("a peer outside every group is refused with 403 on a read route")
    func outsider() {
        #expect(answer("GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n", uid: 4242).hasPrefix("HTTP/1.1 403"))
    }
}
