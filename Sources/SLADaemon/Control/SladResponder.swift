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
        case .breaches, .report, .units:
            // The contracts in force come from the loop (a reload may change them); the answer is
            // computed on the reads queue with its own connection, so the engine never waits for it.
            let route = request.route
            let posted = mailbox.post { loop in
                let (contracts, sealAfter) = (loop.config.contracts, loop.config.sealAfter)
                reads.async { reply(Self.read(route, from: reader, contracts: contracts, sealAfter: sealAfter)) }
            }
            if !posted { reply(.error(RouteError(503, "stopping", "slad is stopping; try again once it is back"))) }
        default:
            let route = request.route
            let body = request.body
            let posted = mailbox.post { loop in reply(loop.answer(route, body: body)) }
            if !posted { reply(.error(RouteError(503, "stopping", "slad is stopping; try again once it is back"))) }
        }
    }

    /// The answer to a request read from the store alone, with `contracts` in force: breaches,
    /// a month's report, the OLA figures. A standby answers these too.
    static func read(_ route: Route, from reader: any DaemonStore, contracts: [Contract], sealAfter: Int64)
        -> ControlResponse
    {
        let book = ReportBook(store: reader, contracts: contracts, sealAfter: sealAfter)
        switch route {
        case .breaches(let since, let contract, let limit):
            return breaches(reader, since: since, contract: contract, limit: limit, contracts: contracts)
        case .report(let month, let contract, let format):
            return report(book, month: month, contract: contract, format: ReportFormat(rawValue: format) ?? .json)
        case .units(let month, let kind, let format):
            return units(book, month: month, kind: kind, format: ReportFormat(rawValue: format) ?? .json)
        default:
            return .error(RouteError(500, "internal", "route \(route.name) is not read from the store"))
        }
    }

    /// `GET /v1/breaches`: the verdicts the reports use, advanced to now with `contracts`.
    private static func breaches(
        _ reader: any DaemonStore, since: Instant?, contract: String?, limit: Int, contracts: [Contract]
    ) -> ControlResponse {
        let byID = Dictionary(uniqueKeysWithValues: contracts.map { ($0.id, $0) })
        do {
            let (rows, truncated) = try reader.breaches(
                since: since, contract: contract, limit: limit, asOf: Instant(wallMilliseconds() / 1000),
                contracts: byID)
            return .json(
                BreachList(breaches: rows.map { BreachView($0, contract: byID[$0.contract]) }, truncated: truncated))
        } catch {
            return .error(RouteError(500, "store_error", "reading breaches failed: \(error)"))
        }
    }

    /// `GET /v1/units`: the OLA figures of `month` (this month when nil) as of now, of one
    /// kind of unit or all.
    private static func units(_ book: ReportBook, month: YearMonth?, kind: String?, format: ReportFormat)
        -> ControlResponse
    {
        let now = Instant(wallMilliseconds() / 1000)
        do {
            var report = try book.unitReport(month: month ?? ZoneRules.utc.month(of: now), asOf: now, now: true)
            if let kind { report.units.removeAll { $0.kind != kind } }
            return ControlResponse(status: 200, contentType: format.contentType, body: report.render(format))
        } catch {
            return .error(RouteError(500, "store_error", "reading the OLA figures failed: \(error)"))
        }
    }

    /// `GET /v1/reports/MONTH`: the month's statement as of now, in `format`.
    private static func report(_ book: ReportBook, month: YearMonth, contract: String?, format: ReportFormat)
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
