import Foundation
import SLAConfig
import SLAControl
import SLACore
import SLAIngest
import SLAReport
import SLAStore

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's engine loop: one thread owns the engine. It reads sources in
/// batches, decides due thresholds, and between batches answers what the
/// control socket asks of the engine (incidents, contracts, reload, pushed events).
final class EngineLoop {
    private(set) var config: SladConfiguration
    let store: SLAStore
    /// A read-only connection for the loop's own reads (outbox depths): WAL readers never wait
    /// for the committer, and the control socket's breach queries use a connection of their own.
    let reader: SLAStore
    var ingest: Ingest
    let notifier: Notifier
    let committer: Committer
    let board: StatusBoard
    let mailbox = LoopMailbox()
    let metrics: SladMetrics
    private var watcher: FolderWatcher
    private let batchLines: Int
    private let exitWhenIdle: Bool
    private var generation = 1
    /// Per source counters since the store was created, and quarantined lines per reason.
    private var sourceStats: [String: SourceStats] = [:]
    private var quarantine: [String: Int] = [:]
    private var published = (counts: IncidentCounts(), events: -1, armed: -1)
    /// Bytes not yet read over all sources, as of the last published positions.
    private var sourceLag: Int64 = 0
    /// When to look for months due to be sealed next (Unix ms); checked once the sources are read.
    private var nextSealCheck: Int64 = 0

    init(
        config: SladConfiguration, store: SLAStore, reader: SLAStore, ingest: Ingest, notifier: Notifier,
        batchLines: Int, exitWhenIdle: Bool
    ) throws {
        self.config = config
        self.store = store
        self.reader = reader
        self.ingest = ingest
        self.notifier = notifier
        self.batchLines = batchLines
        self.exitWhenIdle = exitWhenIdle
        board = StatusBoard(startedMilliseconds: wallMilliseconds())
        metrics = SladMetrics(board: board)
        watcher = FolderWatcher(patterns: config.sources.map(\.path))
        committer = Committer(store: store) { batch in
            if !batch.notifications.isEmpty { notifier.wake() }
        }
        sourceStats = try store.sourceStats()
        quarantine = try store.quarantineCounts()
    }

    /// Loads the ledger and saved offsets; returns the restart catch-up decisions.
    func restore() throws -> [SLANotification] {
        let caughtUp = try ingest.restore()
        publish(positions: true, sinks: true)
        return caughtUp
    }

    /// Binds the control socket and serves it.
    func startControl(path: String, reader: SLAStore, activated: Int32? = nil) throws -> ControlServer {
        let c = config.control
        var limits = ControlLimits()
        limits.maxConnections = c.maxConnections
        limits.maxBodyBytes = c.maxBodyBytes
        limits.requestTimeoutMilliseconds = c.requestTimeoutMilliseconds
        limits.idleTimeoutMilliseconds = c.idleTimeoutMilliseconds
        let policy = AccessPolicy(
            daemonUID: geteuid(), statusGID: c.statusGroup.flatMap(AccessPolicy.groupID),
            adminGID: c.adminGroup.flatMap(AccessPolicy.groupID), statusGroup: c.statusGroup,
            adminGroup: c.adminGroup)
        let metrics = metrics
        let server = ControlServer(
            policy: policy, limits: limits,
            responder: SladResponder(board: board, mailbox: mailbox, metrics: metrics, reader: reader),
            threads: max(1, min(4, ProcessInfo.processInfo.activeProcessorCount)),
            observe: { route, status in metrics.answered(route: route, status: status) })
        // Socket activation: systemd made the socket (mode, group, path) and keeps it across restarts.
        if let activated {
            try server.adopt(descriptor: activated)
            return server
        }
        // A bare file name (`--socket slad.sock`) lives in the working folder, which exists.
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        if Self.someoneServes(path) {
            throw ControlServerError("another process serves \(path) (a second slad?)")
        }
        try server.bind(path: path, mode: c.socketMode, groupID: policy.statusGID)
        return server
    }

    /// Whether a live server answers on `path` (a stale socket file refuses the connection).
    static func someoneServes(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8.prefix(107)) + [0]
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
    }

    /// Decided notifications go to the journal at once (this thread, no commit in the way);
    /// the commit records that, and webhooks go out once it is durable.
    func submit(_ batch: inout Batch) {
        if !batch.notifications.isEmpty { batch.journaled = notifier.journalNow(batch.notifications) }
        for n in batch.notifications { metrics.notified(n.kind) }
        metrics.events.increment(by: batch.events.count)
        metrics.quarantined.increment(by: batch.quarantine.count)
        for (name, s) in batch.stats {
            sourceStats[name, default: SourceStats()].lines += s.lines
            sourceStats[name, default: SourceStats()].events += s.events
            sourceStats[name, default: SourceStats()].duplicates += s.duplicates
            sourceStats[name, default: SourceStats()].quarantined += s.quarantined
        }
        for q in batch.quarantine { quarantine[q.reason, default: 0] += 1 }
        committer.submit(batch)
        // The committer holds the batch alone from here: it is freed where the committer says.
        batch = Batch()
    }

    /// At exit, after the last commit: the engine's state (every event of the ledger, hundreds
    /// of megabytes for a large store) is left to the kernel, which takes it back with the
    /// process at once, instead of being freed object by object (about 0.1 s per million
    /// events, measured: docs/benchmarks.md). The stores and sockets still close as usual.
    func leaveEngineStateToExit() {
        _ = Unmanaged.passRetained(LeftAtExit(ingest.live))
        ingest.live = LiveEngine(engine: IngestEngine(contracts: []), nowMilliseconds: 0)
    }

    /// Runs until SIGTERM/SIGINT (or, with `exitWhenIdle`, until every source is read).
    func run(caughtUp: [SLANotification]) {
        let clock = ContinuousClock()
        var readTime = Duration.zero
        // Where the engine thread waited: for the read ahead, for room at the committer (the
        // stop line says which stage held ingest back).
        var waitRead = Duration.zero
        var waitCommit = Duration.zero
        notifier.start()
        if !caughtUp.isEmpty {
            notifier.catchUpSummary(caughtUp)
            var batch = Batch()
            batch.notifications = caughtUp
            submit(&batch)
        }
        var lastWall = wallMilliseconds()
        var lastMonotonic = clock.now
        var ahead: SourceRead?
        var lastStatusLog = clock.now
        var lastPositions = clock.now
        var readSinceStatus = false
        // The watchdog is fed from this loop, not from a timer: a stuck engine stops the pings
        // and systemd restarts slad.
        let watchdog = ServiceManager.watchdogInterval()
        var lastPing = clock.now
        var lastStatusLine = ""
        while !stopRequested.load(ordering: .relaxed) && !committer.failed {
            if let watchdog, clock.now - lastPing >= watchdog {
                ServiceManager.notify("WATCHDOG=1")
                lastPing = clock.now
            }
            mailbox.run(self)
            // A failed reload has logged its errors; the running configuration stays.
            if reloadRequested.exchange(false, ordering: .relaxed) { _ = reload() }
            // Deadlines are wall-clock instants; a step of the wall clock (NTP, date -s) is
            // noticed by comparing it with the monotonic clock, and logged.
            let wall = wallMilliseconds()
            let monotonic = clock.now
            let drift = (wall - lastWall) - Int64((monotonic - lastMonotonic) / .milliseconds(1))
            if abs(drift) > 1_000 {
                log("slad: wall clock stepped", ["by_ms": String(drift)])
                if drift < 0 {
                    // Backwards: rebuild the wheel so nothing armed for the old time fires early.
                    var batch = Batch()
                    batch.notifications = ingest.live.resetClock(nowMilliseconds: wall)
                    if !batch.notifications.isEmpty { submit(&batch) }
                }
            }
            lastWall = wall
            lastMonotonic = monotonic
            // Source positions cost a stat per file: after each batch read, and every second;
            // outbox depths a query: every second.
            let secondPassed = monotonic - lastPositions > .seconds(1)
            if secondPassed { lastPositions = monotonic }
            publish(positions: readSinceStatus || secondPassed, sinks: secondPassed)
            readSinceStatus = false
            if secondPassed {
                let line = statusLine()
                if line != lastStatusLine {
                    ServiceManager.notify("STATUS=" + line)
                    lastStatusLine = line
                }
            }
            if monotonic - lastStatusLog > .seconds(10) {
                lastStatusLog = monotonic
                logStatus()
            }
            // Thresholds that came due: decided on the events, written to the outbox.
            let due = ingest.live.advance(toMilliseconds: wall)
            if !due.isEmpty {
                var batch = Batch()
                batch.notifications = due
                submit(&batch)
            }
            let readStart = clock.now
            let read = ahead ?? ingest.sources.read(maxLines: batchLines)
            ahead = nil
            if read.isEmpty {
                committer.drain()
                sealDueMonths()
                if exitWhenIdle { break }
                // Sleep until new lines, a control request or the next deadline, whichever comes first.
                let next = ingest.live.nextWakeupMilliseconds.map { $0 * 1_000_000 - wallNanoseconds() } ?? 200_000_000
                watcher.wait(nanoseconds: max(0, min(200_000_000, next)), alsoWatching: mailbox.wakeDescriptor)
                continue
            }
            // The next batch is read and decoded on another core while the engine applies this
            // one; it is waited for here, so nothing else of the loop meets the sources busy.
            // A batch read ahead and not applied when slad stops was not committed: its lines
            // are read again after the restart.
            let next = ReadAhead(ingest.sources, maxLines: batchLines)
            var batch = ingest.apply(read)
            let applied = clock.now
            ahead = next.wait()
            let arrived = clock.now
            waitRead += arrived - applied
            readTime += arrived - readStart
            submit(&batch)
            waitCommit += clock.now - arrived
            readSinceStatus = true
        }
        ServiceManager.notify("STOPPING=1\nSTATUS=stopping: saving offsets")
        committer.drain()
        mailbox.close(self)
        committer.drain()
        notifier.stop()
        log(
            "slad: stopped",
            [
                "events": String(ingest.live.engine.eventCount),
                "read_decode_evaluate_ms": String(readTime / .milliseconds(1)),
                "commit_ms": String(committer.commitTime / .milliseconds(1)),
                "wait_read_ms": String(waitRead / .milliseconds(1)),
                "wait_commit_ms": String(waitCommit / .milliseconds(1)),
            ])
    }

    /// Seals the reports of months whose grace has passed, when one may have become due: at
    /// the first idle moment, after a reload, when a month's grace ends, and every 6 hours
    /// (history imported into months already past). A failure is logged and retried later;
    /// it never stops ingest.
    private func sealDueMonths() {
        let now = wallMilliseconds()
        guard now >= nextSealCheck else { return }
        let book = ReportBook(store: store, contracts: config.contracts, sealAfter: config.sealAfter)
        do {
            for sealed in try book.sealDue(nowMilliseconds: now) { log("slad: report sealed", ["month": sealed]) }
        } catch {
            log("slad: sealing reports failed; retrying in an hour", ["error": "\(error)"], level: .error)
            nextSealCheck = now + 3_600_000
            return
        }
        let next = min(now + 6 * 3_600_000, book.nextGraceEnd(afterMilliseconds: now) ?? .max)
        nextSealCheck = max(next, now + 1_000)
    }

    /// The one-line status systemd shows (`systemctl status slad`).
    func statusLine() -> String {
        let s = ingest.live.status
        return "\(s.open) open, \(s.atRisk) at risk, \(s.breached) breached; source lag \(sourceLag) bytes"
    }

    private func logStatus() {
        let s = ingest.live.status
        var fields = ["open": String(s.open), "at_risk": String(s.atRisk), "breached": String(s.breached)]
        for p in ingest.positions() { fields["lag_bytes.\(p.name)"] = String(p.lag) }
        log("slad: status", fields.merging(notifier.stats(), uniquingKeysWith: { a, _ in a }))
    }

    /// Publishes the engine's counts when they changed, and source positions and sinks when asked.
    private func publish(positions: Bool, sinks publishSinks: Bool) {
        let counts = ingest.live.status
        let events = ingest.live.engine.eventCount
        let armed = ingest.live.armedCount
        let changed = counts != published.counts || events != published.events || armed != published.armed
        guard changed || positions || publishSinks else { return }
        published = (counts, events, armed)
        var sources: [SourceStatus]?
        var sinks: [SinkStatus]?
        if positions {
            let current = ingest.positions()
            sourceLag = current.reduce(0) { $0 + $1.lag }
            sources = current.map { p in
                let st = sourceStats[p.name] ?? SourceStats()
                return SourceStatus(
                    name: p.name, path: p.path, offsetBytes: p.offset, lagBytes: p.lag, lines: st.lines,
                    events: st.events, duplicates: st.duplicates, quarantined: st.quarantined)
            }
            if let api = sourceStats["api"] {
                sources?.append(
                    SourceStatus(
                        name: "api", path: "POST /v1/events", lines: api.lines, events: api.events,
                        duplicates: api.duplicates, quarantined: api.quarantined))
            }
        }
        if publishSinks {
            let pending = (try? reader.pendingDeliveryCounts()) ?? [:]
            sinks = notifier.workers.map { w in
                let st = notifier.sinkStats(w)
                return SinkStatus(
                    name: w.sink, pending: pending[w.sink] ?? 0, delivered: st.delivered, failed: st.failed,
                    skipped: st.skipped)
            }
        }
        let quarantine = positions ? self.quarantine : nil
        let generation = generation
        board.publish { snap in
            snap.counts = counts
            snap.events = events
            snap.armed = armed
            snap.generation = generation
            if let sources { snap.sources = sources }
            if let sinks { snap.sinks = sinks }
            if let quarantine { snap.quarantine = quarantine }
        }
    }

    // MARK: - Control requests (on this thread)

    /// Answers a request that needs the engine.
    func answer(_ route: Route, body: [UInt8]) -> ControlResponse {
        switch route {
        case .contracts:
            return .json(ContractList(contracts: config.contracts.map(contractView)))
        case .contract(let id):
            guard let c = config.contracts.first(where: { $0.id == id }) else {
                return .error(RouteError(404, "not_found", "no contract '\(id)' (GET /v1/contracts lists them)"))
            }
            return .json(contractView(c))
        case .incidents(let q):
            if let contract = q.contract, !config.contracts.contains(where: { $0.id == contract }) {
                return .error(RouteError(404, "not_found", "no contract '\(contract)' (GET /v1/contracts lists them)"))
            }
            let (page, more) = ingest.live.list(q.state, contract: q.contract, after: q.cursor, limit: q.limit)
            let now = wallMilliseconds()
            let items = page.compactMap { summary($0.incident, nowMilliseconds: now)?.summary }
            return .json(IncidentPage(incidents: items, nextCursor: more ? page.last?.token : nil))
        case .incident(let id):
            return incidentDetail(id)
        case .reload:
            switch reload() {
            case .success(let r): return .json(r)
            case .failure(let e): return .error(e)
            }
        case .events:
            return push(body)
        case .status, .metrics, .breaches, .report:
            return .error(RouteError(500, "internal", "route \(route.name) is not answered by the engine loop"))
        }
    }

    private func contractView(_ c: Contract) -> ContractView {
        func percent(_ p: Percentage) -> String { String(p.description.dropLast()) }
        return ContractView(
            id: c.id, customer: c.customer, services: c.services, timeZone: c.zone.identifier, calendar: c.calendar.id,
            validFrom: c.validFrom?.description, validTo: c.validTo?.description, feeMinor: c.fee.minorUnits,
            currency: c.currency.code, availabilityTarget: c.availability.map { percent($0.target) },
            priorities: c.priorities.map {
                PriorityView(
                    name: $0.name, reactionSeconds: $0.reaction, resolutionSeconds: $0.resolution,
                    calendar: $0.calendar.id)
            }, warnAt: c.warnAt.map(percent), notify: c.notify,
            incidents: ingest.live.counts(contract: c.id))
    }

    /// An incident's line, evaluated as of now, with its verdict.
    private func summary(_ id: String, nowMilliseconds now: Int64) -> (
        summary: IncidentSummary, verdict: IncidentVerdict, rejections: [Rejection]
    )? {
        let (verdict, rejections) = ingest.live.engine.evaluate(incident: id, asOf: Instant(now / 1000))
        guard let verdict else { return nil }
        let next = verdict.firstBreach
        let open = verdict.status == .open
        return (
            IncidentSummary(
                id: id, contract: verdict.contract, priority: verdict.priority, status: verdict.status.rawValue,
                standing: verdict.standing?.rawValue, openedAt: ISO8601.format(verdict.openedAt, in: .utc),
                nextMetric: open ? next.map { "\($0.clock.metric)" } : nil,
                nextDeadline: open ? next.map { ISO8601.format($0.at, in: .utc) } : nil,
                secondsLeft: open ? next.map { $0.at.seconds - now / 1000 } : nil),
            verdict, rejections
        )
    }

    private func incidentDetail(_ id: String) -> ControlResponse {
        guard ingest.live.engine.knows(incident: id) else {
            return .error(RouteError(404, "not_found", "no incident '\(id)' in the ledger"))
        }
        guard let (summary, verdict, rejections) = summary(id, nowMilliseconds: wallMilliseconds()) else {
            let events = ingest.live.engine.events(of: id)
            return .error(
                RouteError(
                    404, "not_evaluated",
                    "incident '\(id)' has \(events.count) events but no verdict (no opened event, or an unknown contract)"
                ))
        }
        let rejected = Dictionary(
            rejections.map { ($0.event.id, "\($0.reason): \($0.detail)") }, uniquingKeysWith: { a, _ in a })
        let clocks = verdict.clocks.map { c in
            ClockView(
                metric: "\(c.metric)", priority: c.priority, targetSeconds: c.target, elapsedSeconds: c.elapsed,
                remainingSeconds: c.target.map { $0 - c.elapsed }, outcome: c.outcome.rawValue,
                paused: c.outcome == .paused, deadline: c.deadline.map { ISO8601.format($0, in: .utc) },
                breachedAt: c.breach.map { ISO8601.format($0.at, in: .utc) },
                stoppedAt: c.stoppedAt.map { ISO8601.format($0, in: .utc) })
        }
        let events = ingest.live.engine.events(of: id).sorted(by: SLAEvent.canonicalOrder).map { e in
            EventView(
                id: e.id, time: ISO8601.format(e.time, in: .utc), type: e.type.rawValue, priority: e.priority,
                status: e.status, assignee: e.assignee, team: e.team, level: e.level, rejected: rejected[e.id])
        }
        return .json(
            IncidentDetail(
                incident: summary, service: verdict.service, handoffs: verdict.handoffs, covered: verdict.covered,
                clocks: clocks, events: events))
    }

    /// `POST /v1/events`: every line is validated first; one bad line rejects the body (nothing applied,
    /// so a corrected resend is simple), else the events are applied and committed before the answer.
    private func push(_ body: [UInt8]) -> ControlResponse {
        let decoder = JSONLEventDecoder(source: "api")
        var events: [SLAEvent] = []
        var errors: [String] = []
        var number = 0
        for var line in body.split(separator: 0x0A, omittingEmptySubsequences: false) {
            number += 1
            if line.last == 0x0D { line = line.dropLast() }
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            switch line.withUnsafeBytes({ decoder.decode(bytes: $0, number: number) }) {
            case .success(let e): events.append(e)
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
        var batch = Batch()
        ingest.apply(events.map { ($0, "api") }, to: &batch)
        batch.stats["api", default: SourceStats()].lines += events.count
        let accepted = batch.events.count
        submit(&batch)
        committer.drain()
        if committer.failed {
            return .error(RouteError(503, "store_unavailable", "the store does not take writes; see slad's log"))
        }
        return .json(EventsResult(accepted: accepted, duplicates: events.count - accepted))
    }

    /// Loads the configuration folder again. A bad one changes nothing and every error is
    /// logged and returned; a good one replaces contracts, calendars and sources.
    func reload() -> Result<ReloadResult, RouteError> {
        ServiceManager.reloading()
        // Whatever the outcome, slad is ready again with a configuration in force.
        defer { ServiceManager.notify("READY=1\nSTATUS=" + statusLine()) }
        let new: SladConfiguration
        do {
            new = try ConfigLoader.load(directory: config.directory)
        } catch {
            for e in error.errors { log("slad: reload rejected", ["error": e.description], level: .error) }
            log(
                "slad: configuration not reloaded; the running one stays in force",
                ["errors": String(error.errors.count)], level: .error)
            return .failure(
                RouteError(
                    422, "invalid_config",
                    "the configuration in \(config.directory) has \(error.errors.count) error\(error.errors.count == 1 ? "" : "s"); the running one stays in force",
                    details: error.errors.map(\.description)))
        }
        var restart: [String] = []
        if new.webhooks != config.webhooks { restart.append("webhooks") }
        if new.control != config.control { restart.append("control") }
        if new.stateDirectory != config.stateDirectory { restart.append("state_dir") }
        if new.allowedLateness != config.allowedLateness { restart.append("allowed_lateness") }
        if new.catchUpWindow != config.catchUpWindow { restart.append("catch_up_window") }
        committer.drain()
        var batch = Batch()
        batch.notifications = ingest.live.replaceContracts(new.contracts, nowMilliseconds: wallMilliseconds())
        // Stored verdicts follow the new terms.
        ingest.recordVerdicts(of: ingest.live.engine.incidentIDs, into: &batch)
        do {
            try ingest.replaceSources(new)
        } catch {
            log("slad: reload could not read saved offsets", ["error": "\(error)"], level: .error)
        }
        watcher = FolderWatcher(patterns: new.sources.map(\.path))
        submit(&batch)
        // Settings that need a restart keep their running values.
        var applied = new
        applied.webhooks = config.webhooks
        applied.control = config.control
        applied.stateDirectory = config.stateDirectory
        applied.allowedLateness = config.allowedLateness
        applied.catchUpWindow = config.catchUpWindow
        config = applied
        generation += 1
        nextSealCheck = 0
        publish(positions: true, sinks: true)
        log(
            "slad: configuration reloaded",
            [
                "generation": String(generation), "contracts": String(new.contracts.count),
                "sources": String(new.sources.count), "restart_required": restart.joined(separator: ","),
            ])
        if !restart.isEmpty {
            log(
                "slad: some changed settings apply only after a restart",
                ["settings": restart.joined(separator: ",")], level: .warning)
        }
        return .success(
            ReloadResult(
                configGeneration: generation, contracts: new.contracts.count, sources: new.sources.count,
                restartRequired: restart))
    }
}

/// Holds what ``EngineLoop/leaveEngineStateToExit()`` leaves for the process's exit to reclaim.
private final class LeftAtExit<Value> {
    let value: Value
    init(_ value: Value) { self.value = value }
}
