import SLAAPI
import SLAControl
import SLACore
import SLAIngest

/// The requests of the control socket that need the engine, answered on the loop's thread.
extension EngineLoop {

    /// Answers a request that needs the engine.
    func answer(_ route: Route, body: [UInt8]) -> ControlResponse {
        switch route {
        case .contracts:
            let months = board.snapshot.months
            return .json(ContractList(contracts: config.contracts.map { contractView($0, month: months[$0.id]) }))
        case .contract(let id):
            guard let c = config.contracts.first(where: { $0.id == id }) else {
                return .error(RouteError(404, "not_found", "no contract '\(id)' (GET /v1/contracts lists them)"))
            }
            return .json(contractView(c, month: board.snapshot.months[c.id]))
        case .incidents(let q):
            return IncidentAnswers.page(q, of: ingest.live, contracts: config.contracts)
        case .incident(let id):
            return IncidentAnswers(engine: ingest.live.engine, contracts: config.contracts).detail(id)
        case .explanation(let id, let asOf):
            return IncidentAnswers(engine: ingest.live.engine, contracts: config.contracts)
                .explanation(id, asOf: asOf ?? Instant(wallMilliseconds() / 1000))
        case .reload:
            switch reload() {
            case .success(let r): return .json(r)
            case .failure(let e): return .error(e)
            }
        case .events:
            return push(body)
        case .alertmanager:
            return alertmanager(body)
        case .status, .metrics, .breaches, .report, .units:
            return .error(RouteError(500, "internal", "route \(route.name) is not answered by the engine loop"))
        }
    }

    private func contractView(_ c: Contract, month: MonthToDate?) -> ContractView {
        func percent(_ p: Percentage) -> String { String(p.description.dropLast()) }
        return ContractView(
            id: c.id, customer: c.customer, services: c.services, timeZone: c.zone.identifier, calendar: c.calendar.id,
            validFrom: c.validFrom?.description, validTo: c.validTo?.description, feeMinor: c.fee.minorUnits,
            currency: c.currency.code, availabilityTarget: c.availability.map { percent($0.target) },
            priorities: c.priorities.map {
                PriorityView(
                    name: $0.name, reactionSeconds: $0.reaction, resolutionSeconds: $0.resolution,
                    calendar: $0.calendar.id, businessDaySeconds: $0.calendar.dayLength)
            }, warnAt: c.warnAt.map(percent), notify: c.notify,
            incidents: ingest.live.counts(contract: c.id), monthToDate: month)
    }

    /// `POST /v1/events`: every line is validated first; one bad line rejects the body (nothing applied,
    /// so a corrected resend is simple), else the events are applied and committed before the answer.
    private func push(_ body: [UInt8]) -> ControlResponse {
        let decoder = JSONLEventDecoder(source: "api", policies: config.policies)
        var events: [SLAEvent] = []
        var errors: [String] = []
        var number = 0
        for var line in body.split(separator: 0x0A, omittingEmptySubsequences: false) {
            number += 1
            if line.last == 0x0D { line = line.dropLast() }
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            switch line.withUnsafeBytes({ decoder.decode(bytes: $0, number: number) }) {
            case .success(let e):
                if let refused = e.refusal {
                    errors.append("line \(number): \(refused.field): \(refused.reason)")
                } else {
                    events.append(e)
                }
            case .failure(let e): errors.append("line \(number): \(e.field.map { "\($0): " } ?? "")\(e.reason)")
            }
        }
        guard errors.isEmpty else {
            return .error(
                RouteError(
                    422, "invalid_events",
                    "\(errors.count) line\(errors.count == 1 ? " is" : "s are") not a valid event; nothing was applied",
                    details: Array(errors.prefix(100))))
        }
        guard !events.isEmpty else {
            return .error(RouteError(400, "empty_body", "the body holds no events (JSON Lines, one event per line)"))
        }
        return commit(events, source: "api").map { .json($0) } ?? Self.storeUnavailable
    }

    /// `POST /v1/alertmanager`: the notification's alerts, mapped to their services, become
    /// service events, committed before the answer (Alertmanager retries what is not 2xx).
    private func alertmanager(_ body: [UInt8]) -> ControlResponse {
        guard let mapping = config.alertmanager?.mapping else {
            return .error(
                RouteError(404, "not_configured", "slad.yaml has no alertmanager: section (docs/prometheus.md)"))
        }
        let alerts: [AlertmanagerMapping.Alert]
        do {
            alerts = try AlertmanagerPayload.alerts(body)
        } catch {
            return .error(RouteError(422, "invalid_alerts", "not an Alertmanager notification: \(error)"))
        }
        let (events, unmapped) = mapping.events(for: alerts)
        guard var result = commit(events, source: "alertmanager") else { return Self.storeUnavailable }
        result.unmapped = unmapped
        return .json(result)
    }

    private static let storeUnavailable = ControlResponse.error(
        RouteError(503, "store_unavailable", "the store does not take writes; see slad's log"))

    /// Applies `events` as one batch of `source` and waits for its commit; nil when the store fails.
    private func commit(_ events: [SLAEvent], source: String) -> EventsResult? {
        var batch = applied(events, source: source)
        let accepted = batch.events.count
        submit(&batch)
        committer.drain()
        return committer.failed ? nil : EventsResult(accepted: accepted, duplicates: events.count - accepted)
    }

}
