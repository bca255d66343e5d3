import Dispatch
import SLAAPI
import SLAConfig
import SLAControl
import SLACore
import SLAPostgres
import SLAStore

/// What a standby answers on its control socket while another node leads:
/// - its status (role `standby`, the leader's name and token as last read, the events it has
///   followed) and its metrics (`slad_leader 0`);
/// - what is read from the shared store alone, as the leader answers it: breaches, monthly
///   reports, OLA figures;
/// - incidents (the listing, one incident, its explanation), from the engine it has followed;
/// - for the rest, 503 `not_leader`, naming the leader to ask instead: contracts (their
///   month-to-date figures are the leader's), reload. Pushed events are refused the same
///   way, so a sender knows to send them there.
struct StandbyResponder: ControlResponder {
    let keeper: LeaseKeeper
    let follower: LedgerFollower
    let reader: any DaemonStore
    let config: SladConfiguration
    let startedMilliseconds: Int64
    let reads = DispatchQueue(label: "slad.standby.reads")

    /// The lease as this node last read it: who leads, under which token.
    var leader: (holder: String?, token: Int64?) {
        switch keeper.role {
        case .standby(let holder, let token): (holder, token)
        case .leader(let token): (keeper.holder, token)
        }
    }

    func respond(to request: ControlRequest, reply: @escaping @Sendable (ControlResponse) -> Void) {
        let now = wallMilliseconds()
        let (holder, token) = leader
        switch request.route {
        case .status:
            reply(
                .json(
                    StatusReport(
                        version: SladVersion.current,
                        startedAt: ISO8601.format(Instant(startedMilliseconds / 1000), in: .utc),
                        uptimeSeconds: max(0, (now - startedMilliseconds) / 1000), configGeneration: 1,
                        events: follower.progress.events,
                        armedTimers: 0, incidents: IncidentCounts(), sources: [], quarantine: [], outbox: [],
                        role: "standby", leaseHolder: holder, fencingToken: token)))
        case .metrics:
            let (events, row) = follower.progress
            let text = """
                # HELP slad_leader 1 on the node that leads the nodes of a shared PostgreSQL store, 0 elsewhere.
                # TYPE slad_leader gauge
                slad_leader 0.0
                # HELP slad_standby_followed_events Events of the shared ledger this standby has read into its engine.
                # TYPE slad_standby_followed_events gauge
                slad_standby_followed_events \(events).0
                # HELP slad_standby_followed_row The last ledger row this standby has read; a takeover reads the rows after it.
                # TYPE slad_standby_followed_row gauge
                slad_standby_followed_row \(row).0
                # HELP slad_build_info Always 1.
                # TYPE slad_build_info gauge
                slad_build_info{version="\(SladVersion.current)"} 1.0

                """
            reply(
                ControlResponse(
                    status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(text.utf8)))
        case .breaches, .report, .units:
            let (route, reader, config) = (request.route, reader, config)
            reads.async {
                reply(SladResponder.read(route, from: reader, contracts: config.contracts, sealAfter: config.sealAfter))
            }
        case .incidents, .incident, .explanation:
            // From the engine the node has followed, on the follower's thread.
            let (route, config) = (request.route, config)
            let taken = follower.withEngine { engine in
                let answers = IncidentAnswers(engine: engine, contracts: config.contracts)
                switch route {
                case .incidents(let q):
                    // The standings the leader keeps up with its timers, computed once for now.
                    let now = wallMilliseconds()
                    var live = LiveEngine(
                        engine: engine, nowMilliseconds: now, allowedLateness: config.allowedLateness,
                        catchUpWindow: config.catchUpWindow)
                    live.teams = config.teams
                    _ = live.catchUp(nowMilliseconds: now)
                    reply(IncidentAnswers.page(q, of: live, contracts: config.contracts))
                case .incident(let id): reply(answers.detail(id))
                case .explanation(let id, let asOf):
                    reply(answers.explanation(id, asOf: asOf ?? Instant(wallMilliseconds() / 1000)))
                default: reply(.error(RouteError(500, "internal", "route \(route.name) is not about incidents")))
                }
            }
            if !taken { reply(Self.notLeader(holder)) }
        default:
            reply(Self.notLeader(holder))
        }
    }

    /// Where to send what a standby does not answer.
    static func notLeader(_ holder: String?) -> ControlResponse {
        let who = holder.map { "the leader is \($0)" } ?? "no leader is known yet"
        return .error(
            RouteError(
                503, "not_leader",
                "this node stands by (\(who)): send requests and events to the leader's control socket"))
    }
}
