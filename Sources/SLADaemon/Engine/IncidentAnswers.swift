import SLAAPI
import SLAControl
import SLACore

/// The answers about one incident, from an engine and the contracts in force: the leader's
/// live engine, or the engine a standby has followed (``LedgerFollower``).
struct IncidentAnswers {
    let engine: IngestEngine
    let contracts: [Contract]

    /// `GET /v1/incidents`: a page of `live`'s incidents by standing, each evaluated as of now.
    static func page(_ q: IncidentQuery, of live: LiveEngine, contracts: [Contract]) -> ControlResponse {
        if let contract = q.contract, !contracts.contains(where: { $0.id == contract }) {
            return .error(RouteError(404, "not_found", "no contract '\(contract)' (GET /v1/contracts lists them)"))
        }
        let (page, more) = live.list(q.state, contract: q.contract, after: q.cursor, limit: q.limit)
        let now = wallMilliseconds()
        let answers = IncidentAnswers(engine: live.engine, contracts: contracts)
        let items = page.compactMap { answers.summary($0.incident, nowMilliseconds: now)?.summary }
        return .json(IncidentPage(incidents: items, nextCursor: more ? page.last?.token : nil))
    }

    /// An incident's line, evaluated as of now, with its verdict.
    func summary(_ id: String, nowMilliseconds now: Int64) -> (
        summary: IncidentSummary, verdict: IncidentVerdict, rejections: [Rejection]
    )? {
        let (verdict, rejections) = engine.evaluate(incident: id, asOf: Instant(now / 1000))
        guard let verdict else { return nil }
        let next = verdict.firstBreach
        let open = verdict.status == .open
        return (
            IncidentSummary(
                id: id, contract: verdict.contract, priority: verdict.priority, status: verdict.status.rawValue,
                standing: verdict.standing?.rawValue, openedAt: ISO8601.format(verdict.openedAt, in: .utc),
                nextMetric: open ? next.map { "\($0.clock.metric)" } : nil,
                nextDeadline: open ? next.map { ISO8601.format($0.at, in: .utc) } : nil,
                secondsLeft: open ? next.map { $0.at.seconds - now / 1000 } : nil,
                timeZone: contracts.first { $0.id == verdict.contract }?.zone.identifier),
            verdict, rejections
        )
    }

    /// `GET /v1/incidents/ID`: the incident evaluated as of now, its clocks and its events.
    func detail(_ id: String) -> ControlResponse {
        guard engine.knows(incident: id) else {
            return .error(RouteError(404, "not_found", "no incident '\(id)' in the ledger"))
        }
        guard let (summary, verdict, rejections) = summary(id, nowMilliseconds: wallMilliseconds()) else {
            let events = engine.events(of: id)
            return .error(
                RouteError(
                    404, "not_evaluated",
                    "incident '\(id)' has \(events.count) events but no verdict (no opened event, or an unknown contract)"
                ))
        }
        let rejected = Dictionary(
            rejections.map { ($0.event.id, "\($0.reason): \($0.detail)") }, uniquingKeysWith: { a, _ in a })
        let contract = contracts.first { $0.id == verdict.contract }
        let clocks = verdict.clocks.map { c in
            ClockView(
                metric: "\(c.metric)", priority: c.priority, targetSeconds: c.target, elapsedSeconds: c.elapsed,
                remainingSeconds: c.target.map { $0 - c.elapsed }, outcome: c.outcome.rawValue,
                paused: c.outcome == .paused, deadline: c.deadline.map { ISO8601.format($0, in: .utc) },
                breachedAt: c.breach.map { ISO8601.format($0.at, in: .utc) },
                stoppedAt: c.stoppedAt.map { ISO8601.format($0, in: .utc) },
                businessDaySeconds: contract?.calendar(id: c.calendarID)?.dayLength)
        }
        let events = engine.events(of: id).sorted(by: SLAEvent.canonicalOrder).map { e in
            EventView(
                id: e.id, time: ISO8601.format(e.time, in: .utc), type: e.type.rawValue, priority: e.priority,
                status: e.status, assignee: e.assignee, team: e.team, level: e.level, rejected: rejected[e.id])
        }
        return .json(
            IncidentDetail(
                incident: summary, service: verdict.service, handoffs: verdict.handoffs, covered: verdict.covered,
                clocks: clocks, events: events))
    }

    /// `GET /v1/incidents/ID/explanation`: the incident's clocks stretch by stretch, as of `asOf`.
    func explanation(_ id: String, asOf: Instant) -> ControlResponse {
        let events = engine.events(of: id)
        guard !events.isEmpty else { return .error(RouteError(404, "not_found", "no incident '\(id)' in the ledger")) }
        guard let opened = events.filter({ $0.type == .opened }).min(by: SLAEvent.canonicalOrder),
            let contract = contracts.first(where: { $0.id == opened.contract }),
            let explained = IncidentEvaluator.explain(incident: id, events: events, contract: contract, asOf: asOf)
        else {
            return .error(
                RouteError(
                    404, "not_evaluated",
                    "incident '\(id)' has \(events.count) events but no verdict (no opened event, or an unknown contract)"
                ))
        }
        return .json(IncidentExplanation(explained))
    }
}
