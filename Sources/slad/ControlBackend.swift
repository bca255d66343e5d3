import Foundation
import Metrics
import Prometheus
import SLAControl
import SLACore
import SLAReport
import SLAStore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// slad's version, as the status API and `--version` show it.
let sladVersion = "0.6.0"

/// What `GET /v1/status` shows, published by the engine loop and read by the
/// control socket's threads without waiting for the loop.
///
/// The encoded document is cached per (version, second): at thousands of status
/// requests a second, each change is encoded once.
final class StatusBoard: Sendable {
    struct Snapshot: Sendable {
        var counts = IncidentCounts()
        var events = 0
        var armed = 0
        var generation = 1
        var sources: [SourceStatus] = []
        var quarantine: [String: Int] = [:]
        var sinks: [SinkStatus] = []
    }

    private struct State {
        var snapshot = Snapshot()
        var version = 0
        var cache: (version: Int, second: Int64, bytes: [UInt8])?
    }

    let startedMilliseconds: Int64
    private let state = Mutex(State())

    init(startedMilliseconds: Int64) { self.startedMilliseconds = startedMilliseconds }

    /// Changes the snapshot.
    func publish(_ change: (inout Snapshot) -> Void) {
        state.withLock {
            change(&$0.snapshot)
            $0.version += 1
        }
    }

    var snapshot: Snapshot { state.withLock { $0.snapshot } }

    /// The status document as of `now` (ms).
    func statusBytes(nowMilliseconds now: Int64) -> [UInt8] {
        let second = now / 1000
        let (version, snapshot, cached): (Int, Snapshot, [UInt8]?) = state.withLock {
            if let c = $0.cache, c.version == $0.version, c.second == second {
                return ($0.version, $0.snapshot, c.bytes)
            }
            return ($0.version, $0.snapshot, nil)
        }
        if let cached { return cached }
        let report = StatusReport(
            version: sladVersion, startedAt: ISO8601.format(Instant(startedMilliseconds / 1000), in: .utc),
            uptimeSeconds: max(0, (now - startedMilliseconds) / 1000), configGeneration: snapshot.generation,
            events: snapshot.events, armedTimers: snapshot.armed, incidents: snapshot.counts, sources: snapshot.sources,
            quarantine: snapshot.quarantine.map { QuarantineCount(reason: $0.key, count: $0.value) }
                .sorted { ($1.count, $0.reason) < ($0.count, $1.reason) },
            outbox: snapshot.sinks)
        let bytes = APIJSON.encode(report)
        state.withLock { $0.cache = (version, second, bytes) }
        return bytes
    }
}

/// Work the control socket hands to the engine loop: everything that reads or
/// changes the engine runs on the loop's thread, between batches, so the engine
/// needs no lock. A post wakes the loop at once (an eventfd in its poll).
final class LoopMailbox: Sendable {
    typealias Job = @Sendable (EngineLoop) -> Void
    private let jobs = Mutex<(queue: [Job], closed: Bool)>(([], false))
    /// A self-pipe: the read end is polled by the loop beside inotify, a post writes a byte.
    private let pipeEnds: (read: Int32, write: Int32)
    var wakeDescriptor: Int32 { pipeEnds.read }

    init() {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 {
            for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        }
        pipeEnds = (fds[0], fds[1])
    }

    deinit {
        Glibc.close(pipeEnds.read)
        Glibc.close(pipeEnds.write)
    }

    /// Queues `job`; false once the loop has stopped.
    func post(_ job: @escaping Job) -> Bool {
        let accepted = jobs.withLock { state -> Bool in
            guard !state.closed else { return false }
            state.queue.append(job)
            return true
        }
        if accepted {
            var one: UInt8 = 1
            _ = write(pipeEnds.write, &one, 1)
        }
        return accepted
    }

    /// Runs what is queued (on the loop's thread).
    func run(_ loop: EngineLoop) {
        var drain = [UInt8](repeating: 0, count: 256)
        while read(pipeEnds.read, &drain, drain.count) > 0 {}
        let queued = jobs.withLock { state -> [Job] in
            defer { state.queue = [] }
            return state.queue
        }
        for job in queued { job(loop) }
    }

    /// Refuses new work; what is queued still runs once more.
    func close(_ loop: EngineLoop) {
        jobs.withLock { $0.closed = true }
        run(loop)
    }
}

/// Prometheus text for `/metrics`: counters kept by the loop and the socket,
/// gauges set from the status board when scraped.
final class SladMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let events: Metrics.Counter
    let quarantined: Metrics.Counter
    private let board: StatusBoard

    init(board: StatusBoard) {
        self.board = board
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        events = Metrics.Counter(label: "slad_events_total")
        quarantined = Metrics.Counter(label: "slad_lines_quarantined_total")
    }

    /// Counts a decided notification.
    func notified(_ kind: NotificationKind) {
        Metrics.Counter(label: "slad_notifications_total", dimensions: [("kind", kind.rawValue)]).increment()
    }

    /// Counts an answer of the control socket.
    func answered(route: String, status: Int) {
        // Cached: this runs for every request, and a factory lookup per request is not free.
        let key = AnswerKey(route: route, status: status)
        let counter = answerCounters.withLock { cache in
            if let known = cache[key] { return known }
            let made = Metrics.Counter(
                label: "slad_control_requests_total", dimensions: [("route", route), ("status", String(status))])
            cache[key] = made
            return made
        }
        counter.increment()
    }

    private let answerCounters = Mutex<[AnswerKey: Metrics.Counter]>([:])

    private struct AnswerKey: Hashable {
        let route: String
        let status: Int
    }

    /// The exposition text.
    func render(nowMilliseconds now: Int64) -> [UInt8] {
        let s = board.snapshot
        func gauge(_ name: String, _ value: Int, _ dimensions: [(String, String)] = []) {
            Metrics.Gauge(label: name, dimensions: dimensions).record(value)
        }
        gauge("slad_incidents_open", s.counts.open)
        gauge("slad_incidents_at_risk", s.counts.atRisk)
        gauge("slad_incidents_breached", s.counts.breached)
        gauge("slad_timers_armed", s.armed)
        gauge("slad_ledger_events", s.events)
        gauge("slad_config_generation", s.generation)
        gauge("slad_uptime_seconds", Int(max(0, now - board.startedMilliseconds) / 1000))
        for source in s.sources {
            gauge("slad_source_lag_bytes", Int(source.lagBytes), [("source", source.name)])
            gauge("slad_source_offset_bytes", Int(source.offsetBytes), [("source", source.name)])
        }
        for sink in s.sinks {
            gauge("slad_outbox_pending", sink.pending, [("sink", sink.name)])
            gauge("slad_deliveries_failed", sink.failed, [("sink", sink.name)])
        }
        return registry.emitToBuffer()
    }
}

/// Answers the control socket: status and metrics at once from the board,
/// breaches from a read-only store connection on its own queue, the rest on
/// the engine loop.
struct SladResponder: ControlResponder {
    let board: StatusBoard
    let mailbox: LoopMailbox
    let metrics: SladMetrics
    let reader: SLAStore
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
            reads.async {
                do {
                    let (rows, truncated) = try reader.breaches(since: since, contract: contract, limit: limit)
                    reply(.json(BreachList(breaches: rows, truncated: truncated)))
                } catch {
                    reply(.error(RouteError(500, "store_error", "reading breaches failed: \(error)")))
                }
            }
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
