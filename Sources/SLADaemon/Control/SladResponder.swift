import Dispatch
import SLAAPI
import SLAControl
import SLACore
import SLAReport
import SLAStore

/// Answers the control socket: status and metrics at once from the board,
/// breaches and reports from a read-only store connection on its own queue (with the
/// contracts the loop holds), the rest on the engine loop.
struct SladResponder: ControlResponder {
    let board: StatusBoard
    let mailbox: LoopMailbox<EngineLoop>
    let metrics: SladMetrics
    let reader: any DaemonStore
    let reads = DispatchQueue(label: "slad.control.reads")

    func respond(to request: ControlRequest, reply: @escaping @Sendable (ControlResponse) -> Void) {
        switch request.route {
        case .status:
            reply(
                ControlResponse(
                    status: 200, contentType: "application/json",
                    body: board.statusBytes(nowMilliseconds: wallMilliseconds())))
        case .metrics:
            reply(
                ControlResponse(
                    status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8",
                    body: metrics.render(nowMilliseconds: wallMilliseconds())))
        case .breaches(let since, let contract, let limit):
            // The verdicts the reports use, advanced to now with the contracts in force.
            let posted = mailbox.post { loop in
                let contracts = Dictionary(uniqueKeysWithValues: loop.config.contracts.map { ($0.id, $0) })
                reads.async {
                    do {
                        let (rows, truncated) = try reader.breaches(
                            since: since, contract: contract, limit: limit,
                            asOf: Instant(wallMilliseconds() / 1000), contracts: contracts)
                        reply(
                            .json(
                                BreachList(
                                    breaches: rows.map { BreachView($0, contract: contracts[$0.contract]) },
                                    truncated: truncated)))
                    } catch {
                        reply(.error(RouteError(500, "store_error", "reading breaches failed: \(error)")))
                    }
                }
            }
            if !posted { reply(.error(RouteError(503, "stopping", "slad is stopping; try again once it is back"))) }
        case .report(let month, let contract, let format):
            // The contracts in force come from the loop (a reload may change them); the report is
            // computed on the reads queue with its own connection, so the engine never waits for it.
            let posted = mailbox.post { loop in
                let contracts = loop.config.contracts
                let sealAfter = loop.config.sealAfter
                reads.async {
                    reply(
                        Self.report(
                            ReportBook(store: reader, contracts: contracts, sealAfter: sealAfter), month: month,
                            contract: contract, format: ReportFormat(rawValue: format) ?? .json))
                }
            }
            if !posted { reply(.error(RouteError(503, "stopping", "slad is stopping; try again once it is back"))) }
        case .units(let month, let kind, let format):
            let posted = mailbox.post { loop in
                let contracts = loop.config.contracts
                let sealAfter = loop.config.sealAfter
                reads.async {
                    let now = Instant(wallMilliseconds() / 1000)
                    do {
                        var report = try ReportBook(store: reader, contracts: contracts, sealAfter: sealAfter)
                            .unitReport(month: month ?? ZoneRules.utc.month(of: now), asOf: now, now: true)
                        if let kind { report.units.removeAll { $0.kind != kind } }
                        let chosen = ReportFormat(rawValue: format) ?? .json
                        reply(
                            ControlResponse(status: 200, contentType: chosen.contentType, body: report.render(chosen)))
                    } catch {
                        reply(.error(RouteError(500, "store_error", "reading the OLA figures failed: \(error)")))
                    }
                }
            }
            if !posted { reply(.error(RouteError(503, "stopping", "slad is stopping; try again once it is back"))) }
        default:
            let route = request.route
            let body = request.body
            let posted = mailbox.post { loop in reply(loop.answer(route, body: body)) }
            if !posted { reply(.error(RouteError(503, "stopping", "slad is stopping; try again once it is back"))) }
        }
    }

    static func report(_ book: ReportBook, month: YearMonth, contract: String?, format: ReportFormat)
        -> ControlResponse
    {
        do {
            let document = try book.document(
                month: month, contract: contract, asOf: Instant(wallMilliseconds() / 1000))
            return ControlResponse(
                status: 200, contentType: format.contentType, body: ReportRenderer.render(document, as: format))
        } catch let unknown as ReportBook.UnknownContract {
            return .error(RouteError(404, "not_found", unknown.description))
        } catch {
            return .error(RouteError(500, "store_error", "computing the report failed: \(error)"))
        }
    }
}

extension BreachView {
    /// A stored breach as the API shows it, with its contract's zone and day length.
    init(_ stored: StoredBreach, contract: Contract?) {
        self.init(
            incident: stored.incident, contract: stored.contract, metric: stored.metric, priority: stored.priority,
            targetSeconds: stored.targetSeconds, elapsedSeconds: stored.elapsedSeconds,
            breachedAt: ISO8601.format(stored.breachedAt, in: .utc), timeZone: contract?.zone.identifier,
            // A promise runs from made to due in wall time; the other clocks in their priority's calendar.
            businessDaySeconds: stored.metric.hasPrefix("promise")
                ? 86_400 : contract?.priorities.first { $0.name == stored.priority }?.calendar.dayLength)
    }
}
