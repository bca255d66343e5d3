import Foundation
import Logging
import SLAAPI
import SLAConfig
import SLAControl
import SLACore
import SLAIngest
import SLAReport
import SLAStore

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's engine loop: one thread owns the engine. It reads sources in batches, decides
/// due thresholds, and between batches runs what other threads post to its ``LoopMailbox``
/// (control requests, reloads, pushed events).
///
/// `@unchecked Sendable`: the loop's state is touched by its own thread only; other threads
/// reach it through the mailbox, which runs their jobs on that thread.
final class EngineLoop: @unchecked Sendable {
    private(set) var config: SladConfiguration
    let store: any DaemonStore
    /// A read-only connection for the loop's own reads (outbox depths): WAL readers never wait
    /// for the committer, and the control socket's breach queries use a connection of their own.
    let reader: any DaemonStore
    var ingest: Ingest
    let notifier: Notifier
    let committer: Committer
    let board: StatusBoard
    let mailbox: LoopMailbox<EngineLoop>
    let metrics: SladMetrics
    let monthWatch: MonthWatch
    let logger: Logger
    private var watcher: FolderWatcher
    private let batchLines: Int
    /// The most incidents whose state one batch writes when state is settled (``recordState(of:into:)``).
    private let stateSlice: Int
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
    /// What sealing computed in earlier idle turns; new with each configuration.
    private var sealMemo = ReportBook.SealMemo()
    /// What the loop measures and remembers from one turn to the next.
    private var turn = Turn()
    /// Declared maintenance windows (`maintenance:`) whose events are in the ledger, by start event id.
    private var maintenanceEntered: Set<String> = []
    /// Per contract id: its versions whose takeover of open incidents is entered, and when
    /// each took effect. Incidents a later batch opens or reopens before that instant are
    /// taken over as they come (``submit(_:)``).
    private var takeoversEntered: [String: [(version: String, at: Instant)]] = [:]
    /// Incidents touched while a backlog was read whose stored state is not written yet
    /// (``settleState(_:backlog:)``), and since when the oldest has waited.
    private var deferredState: Set<String> = []
    private var deferredSince: ContinuousClock.Instant?
    /// How many incidents' state, and for how long, may wait while a backlog is read.
    static let maxDeferredState = 250_000
    static let maxStateDelay = Duration.seconds(5)

    init(
        config: SladConfiguration, store: any DaemonStore, reader: any DaemonStore, ingest: Ingest, notifier: Notifier,
        mailbox: LoopMailbox<EngineLoop>, board: StatusBoard, metrics: SladMetrics, monthWatch: MonthWatch,
        batchLines: Int, stateSlice: Int = DaemonOptions.defaultStateSlice, exitWhenIdle: Bool, logger: Logger
    ) throws {
        self.config = config
        self.store = store
        self.reader = reader
        self.ingest = ingest
        self.notifier = notifier
        self.mailbox = mailbox
        self.board = board
        self.metrics = metrics
        self.monthWatch = monthWatch
        self.batchLines = batchLines
        self.stateSlice = max(1, stateSlice)
        self.exitWhenIdle = exitWhenIdle
        self.logger = logger
        watcher = FolderWatcher(patterns: config.sources.map(\.path))
        committer = Committer(
            store: StoreCommits(store: store), logger: logger, giveUp: { mailbox.stopRequested },
            health: { error in
                // Published from the commit thread: the engine may be waiting for it, and the
                // status must say why while it does.
                let since = ISO8601.format(Instant(wallMilliseconds() / 1000), in: .utc)
                board.publish { $0.storeError = error.map { "\($0) (since \(since))" } }
                ServiceManager.notify(
                    "STATUS=" + (error.map { "store does not take writes: \($0); retrying" } ?? "store writable again"))
            }
        ) { batch in
            if !batch.notifications.isEmpty { notifier.wake() }
        }
        sourceStats = try store.sourceStats()
        quarantine = try store.quarantineCounts()
    }

    /// Loads the ledger and saved offsets; returns the restart catch-up decisions.
    func restore(warm: FollowedLedger? = nil) throws -> [SLANotification] {
        let caughtUp = try ingest.restore(warm: warm, fingerprint: snapshotFingerprint)
        // A daemon stopped (killed) while reading a backlog left the state of the incidents it
        // touched to a batch it never committed: derived again from their events.
        if let after = try store.stateBehind() {
            var batch = Batch()
            recordState(of: try store.incidents(inLedgerAfter: after), into: &batch)
            batch.stateMark = .current
            logger.note(
                "slad: stored state of incidents left unwritten by the last run derived again",
                ["incidents": String(batch.incidents.count + batch.unevaluated.count)])
            submit(&batch)
        }
        // Before READY: a report or breach list asked at once already reads the takeovers.
        enterVersionTakeovers()
        committer.drain()
        publish(positions: true, sinks: true)
        return caughtUp
    }

    /// Decided notifications go to the journal at once (this thread, no commit in the way);
    /// the commit records that, and webhooks go out once it is durable. `backlog`: more lines
    /// are already read, so the touched incidents' state may wait (``settleState(_:backlog:)``).
    func submit(_ batch: inout Batch, backlog: Bool = false) {
        let takeovers = lateTakeovers(batch.incidents)
        settleState(&batch, backlog: backlog && takeovers.isEmpty)
        if !batch.notifications.isEmpty { batch.journaled = notifier.journalNow(batch.notifications) }
        for n in batch.notifications { metrics.notified(n.kind) }
        metrics.ingested(events: batch.events.count, quarantined: batch.quarantine.count)
        for (name, s) in batch.stats { sourceStats[name, default: SourceStats()].add(s) }
        for q in batch.quarantine { quarantine[q.reason, default: 0] += 1 }
        committer.submit(batch)
        // The committer holds the batch alone from here: it is freed where the committer says.
        batch = Batch()
        if !takeovers.isEmpty {
            var more = applied(takeovers, source: "config")
            submit(&more)
        }
    }

    /// At exit, after the last commit: the engine's state (every event of the ledger, hundreds
    /// of megabytes for a large store) is left to the kernel, which takes it back with the
    /// process at once, instead of being freed object by object. The stores and sockets still
    /// close as usual.
    func leaveEngineStateToExit() {
        _ = Unmanaged.passRetained(LeftAtExit(ingest.live))
        ingest.live = LiveEngine(engine: IngestEngine(contracts: []), nowMilliseconds: 0)
    }

    // MARK: - The loop

    /// Why each source cannot be read, as last logged.
    private var sourceProblems: [String: String] = [:]
    /// What the loop carries from one turn to the next: the clocks it compares, when it last
    /// did its periodic work, and where the engine thread waited.
    private struct Turn {
        let clock = ContinuousClock()
        var lastWall = wallMilliseconds()
        var lastMonotonic = ContinuousClock.now
        var lastStatusLog = ContinuousClock.now
        var lastPositions = ContinuousClock.now
        var lastPing = ContinuousClock.now
        var lastStatusLine = ""
        var readSinceStatus = false
        /// The batch read and decoded on another core while the engine applied the previous one.
        var ahead: SourceRead?
        var readTime = Duration.zero
        /// Waiting for the read ahead, and for room at the committer: which stage held ingest back.
        var waitRead = Duration.zero
        var waitCommit = Duration.zero
    }

    /// Runs until ``LoopMailbox/requestStop()`` (or, with `exitWhenIdle`, until every source is
    /// read), then stops: the last batch committed, the mailbox closed.
    func run(caughtUp: [SLANotification]) {
        ServiceManager.notify("READY=1\nSTATUS=" + statusLine())
        if !caughtUp.isEmpty {
            notifier.catchUpSummary(caughtUp)
            submitDecisions(caughtUp)
        }
        turn = Turn()
        let watchdog = ServiceManager.watchdogInterval()
        while !mailbox.stopRequested && !committer.failed {
            // The watchdog is fed from this loop, not from a timer: a stuck engine stops the
            // pings and systemd restarts slad.
            if let watchdog, turn.clock.now - turn.lastPing >= watchdog {
                ServiceManager.notify("WATCHDOG=1")
                turn.lastPing = turn.clock.now
            }
            mailbox.run(self)
            noticeWallClockStep()
            publishPeriodically()
            submitDecisions(ingest.live.advance(toMilliseconds: wallMilliseconds()))
            if readAndApplyBatch() { continue }
            committer.drain()
            // More months to seal: back to the top of the loop at once, after the other work.
            if sealDueMonths() { continue }
            if exitWhenIdle { break }
            waitForWork()
        }
        finish()
    }

    /// Commits decisions (thresholds that came due) on their own.
    func submitDecisions(_ notifications: [SLANotification]) {
        guard !notifications.isEmpty else { return }
        var batch = Batch()
        batch.notifications = notifications
        submit(&batch)
    }

    /// Deadlines are wall-clock instants; a step of the wall clock (NTP, date -s) is noticed by
    /// comparing it with the monotonic clock, and logged. Backwards, the wheel is rebuilt so
    /// nothing armed for the old time fires early.
    private func noticeWallClockStep() {
        let wall = wallMilliseconds()
        let monotonic = turn.clock.now
        let drift = (wall - turn.lastWall) - Int64((monotonic - turn.lastMonotonic) / .milliseconds(1))
        if abs(drift) > 1_000 {
            logger.note("slad: wall clock stepped", ["by_ms": String(drift)])
            if drift < 0 { submitDecisions(ingest.live.resetClock(nowMilliseconds: wall)) }
        }
        turn.lastWall = wall
        turn.lastMonotonic = monotonic
    }

    /// Source positions cost a stat per file: published after each batch read, and every second;
    /// outbox depths a query: every second. The status line goes to systemd when it changed,
    /// and to the log every 10 s.
    private func publishPeriodically() {
        let now = turn.clock.now
        let secondPassed = now - turn.lastPositions > .seconds(1)
        if secondPassed { turn.lastPositions = now }
        publish(positions: turn.readSinceStatus || secondPassed, sinks: secondPassed)
        turn.readSinceStatus = false
        if secondPassed {
            enterStartedMaintenance()
            enterVersionTakeovers()
            let line = statusLine()
            if line != turn.lastStatusLine {
                ServiceManager.notify("STATUS=" + line)
                turn.lastStatusLine = line
            }
        }
        monthWatch.refreshIfDue(
            contracts: config.contracts, generation: generation, commits: store.committedBatches)
        if now - turn.lastStatusLog > .seconds(10) {
            turn.lastStatusLog = now
            logStatus()
        }
    }

    /// Puts the events of declared maintenance windows that have started into the ledger: a
    /// window enters once its start has come, so one cancelled (taken out of slad.yaml) before
    /// it starts never counts. Their ids make a second entry (after a restart) a duplicate.
    private func enterStartedMaintenance() {
        let now = Instant(wallMilliseconds() / 1000)
        let due = config.maintenance.filter { $0.from <= now }.map(\.events).filter {
            !maintenanceEntered.contains($0[0].id)
        }
        guard !due.isEmpty else { return }
        var batch = applied(Array(due.joined()), source: "config")
        let entered = batch.events.count
        submit(&batch)
        for events in due { maintenanceEntered.insert(events[0].id) }
        if entered > 0 { logger.note("slad: declared maintenance entered", ["events": String(entered)]) }
    }

    /// When a contract version that applies to open incidents takes effect, each incident of
    /// the contract still open and without events since then gets an empty update at that
    /// instant, from source `config`. It changes nothing the events say (a replay without it
    /// judges the same), but it makes the incident's stored verdict, taken as of its last
    /// event, include the version's takeover, which reports and breach lists read. Its id names
    /// contract, version and incident, so entering it again (after a restart) is a duplicate.
    private func enterVersionTakeovers() {
        let now = Instant(wallMilliseconds() / 1000)
        var events: [SLAEvent] = []
        for c in config.contracts {
            for v in c.laterVersions where v.appliesToOpen {
                guard let at = v.effective, at <= now,
                    !(takeoversEntered[c.id] ?? []).contains(where: { $0.version == v.version })
                else { continue }
                takeoversEntered[c.id, default: []].append((v.version, at))
                for incident in ingest.live.openIncidents(contract: c.id) {
                    if let e = takeover(of: incident, contract: c.id, version: v.version, at: at) { events.append(e) }
                }
            }
        }
        guard !events.isEmpty else { return }
        var batch = applied(events, source: "config")
        submit(&batch)
        logger.note("slad: contract versions took over open incidents", ["incidents": String(events.count)])
    }

    /// Writes the state of touched incidents now, or, while a backlog is read, leaves it to a
    /// later batch: a time-ordered log touches each incident a few times, days of its time
    /// apart, and each write rewrites the incident's row at its place in the B-trees, which is
    /// most of a commit's cost. Waiting, each incident is written once per wait, evaluated as
    /// of its last event then. The wait ends after ``maxStateDelay``, at
    /// ``maxDeferredState`` incidents, when the read reaches the end of the sources, and with
    /// any other batch (a push, decisions, a reload), so the store's state lags the ledger only
    /// while a backlog is read. The store remembers the lag (``Batch/StateMark``) for a restart
    /// after a crash (``restore()``).
    private func settleState(_ batch: inout Batch, backlog: Bool) {
        let now = turn.clock.now
        let touched = batch.incidents.count + batch.unevaluated.count
        if backlog, deferredState.count + touched <= Self.maxDeferredState,
            now - (deferredSince ?? now) < Self.maxStateDelay
        {
            if deferredState.isEmpty {
                batch.stateMark = .behindFromHere
                deferredSince = now
            }
            for v in batch.incidents { deferredState.insert(v.incident) }
            deferredState.formUnion(batch.unevaluated)
            batch.incidents = []
            batch.unevaluated = []
            batch.rejections = []
            return
        }
        guard !deferredState.isEmpty else { return }
        for v in batch.incidents { deferredState.remove(v.incident) }
        for incident in batch.unevaluated { deferredState.remove(incident) }
        recordState(of: deferredState, into: &batch)
        deferredState = []
        deferredSince = nil
        batch.stateMark = .current
    }

    /// Puts the stored state of `incidents` into `batch`, as ``Ingest/recordVerdicts(of:into:)``,
    /// but at most `stateSlice` of them (``DaemonOptions/defaultStateSlice`` by default): the others, in name order, are
    /// committed first in batches of their own of that many. A verdict takes about 700 bytes
    /// while its batch lives, and the state settled at the end of a backlog is up to
    /// ``maxDeferredState`` incidents (180 MB of verdicts at once; the commit holds two
    /// batches). Written ahead of the batch that marks the state current, they change nothing
    /// a restart relies on: until that batch commits, the store still says the state lags, and
    /// a restart derives it again.
    private func recordState(of incidents: some Sequence<String>, into batch: inout Batch) {
        let sorted = incidents.sorted()
        var start = 0
        while sorted.count - start > stateSlice {
            var part = Batch()
            ingest.recordVerdicts(ofSorted: sorted[start..<start + stateSlice], into: &part)
            committer.submit(part)
            start += stateSlice
        }
        ingest.recordVerdicts(ofSorted: sorted[start...], into: &batch)
    }

    /// Commits the state that waits for the end of a backlog (``settleState(_:backlog:)``).
    private func writeDeferredState() {
        guard !deferredState.isEmpty else { return }
        var batch = Batch()
        submit(&batch)
    }

    /// The takeovers of entered versions that the open incidents of `verdicts` still lack: a
    /// late event can open or reopen an incident before a version took effect after the
    /// version's takeover was entered.
    private func lateTakeovers(_ verdicts: [IncidentVerdict]) -> [SLAEvent] {
        guard !takeoversEntered.isEmpty else { return [] }
        var events: [SLAEvent] = []
        for v in verdicts where v.standing != nil {
            // A stored verdict is as of its incident's last event: one at or after `at` already
            // judges under the version, and the incident's events need not be read.
            for (version, at) in takeoversEntered[v.contract] ?? [] where v.asOf < at {
                if let e = takeover(of: v.incident, contract: v.contract, version: version, at: at) { events.append(e) }
            }
        }
        return events
    }

    /// The empty update that takes open `incident` over to `version` at `at`; nil unless the
    /// incident was opened before `at` and has no event since (one after it already judges
    /// under the version).
    private func takeover(of incident: String, contract: String, version: String, at: Instant) -> SLAEvent? {
        let times = ingest.live.engine.events(of: incident).map(\.time)
        guard let first = times.min(), first < at, let last = times.max(), last < at else { return nil }
        return SLAEvent(
            id: "config:version:\(contract):\(version):\(incident)", time: at, type: .updated, incident: incident)
    }

    /// A batch of `events` applied to the engine as lines of `source` (pushed, Alertmanager,
    /// declared maintenance): new events, duplicates and conflicts counted under that source.
    func applied(_ events: [SLAEvent], source: String) -> Batch {
        var batch = Batch()
        // The source's counters exist before apply adds its events, duplicates and conflicts.
        batch.stats[source] = SourceStats()
        batch.stats[source]!.lines = events.count
        ingest.apply(events.map { ($0, source) }, to: &batch)
        return batch
    }

    /// Applies the next batch of the sources, if there is one; false when nothing was read.
    ///
    /// The batch after it is read and decoded on another core while the engine applies this
    /// one, and waited for here, so nothing else of the loop meets the sources busy. A batch
    /// read ahead and not applied when slad stops was not committed: its lines are read again
    /// after the restart.
    private func readAndApplyBatch() -> Bool {
        let readStart = turn.clock.now
        let read = turn.ahead ?? ingest.sources.read(maxLines: batchLines)
        turn.ahead = nil
        // A source still searching an over-long line has more at once: no idle turn yet.
        guard !read.isEmpty else { return read.scanning }
        let next = ReadAhead(ingest.sources, maxLines: batchLines)
        var batch = ingest.apply(read)
        let applied = turn.clock.now
        turn.ahead = next.wait()
        let arrived = turn.clock.now
        turn.waitRead += arrived - applied
        turn.readTime += arrived - readStart
        submit(&batch, backlog: !(turn.ahead?.isEmpty ?? true))
        turn.waitCommit += turn.clock.now - arrived
        turn.readSinceStatus = true
        return true
    }

    /// Sleeps until new lines, a mailbox post or the next deadline, whichever comes first
    /// (at most 200 ms, so the periodic work still runs).
    private func waitForWork() {
        let next = ingest.live.nextWakeupMilliseconds.map { $0 * 1_000_000 - wallNanoseconds() } ?? 200_000_000
        watcher.wait(nanoseconds: max(0, min(200_000_000, next)), alsoWatching: mailbox.wakeDescriptor)
    }

    /// What a ``LiveSnapshot`` holds only for: this build, the live engine's lateness and
    /// catch-up window (fixed at start, whatever a reload read), and the configuration in force.
    var snapshotFingerprint: String {
        // A configuration not read from files has no fingerprint: its snapshot matches nothing.
        guard !config.fingerprint.isEmpty else { return "unread configuration " + UUID().uuidString }
        return
            "\(SladVersion.current) lateness=\(ingest.live.allowedLateness) window=\(ingest.live.catchUpWindow) config=\(config.fingerprint)"
    }

    /// Commits what is in flight, answers what is queued, and logs where the time went.
    private func finish() {
        if mailbox.stopRequested { ServiceManager.notify("STOPPING=1\nSTATUS=stopping: saving offsets") }
        writeDeferredState()
        committer.drain()
        mailbox.close(self)
        committer.drain()
        if !committer.failed {
            // The next start arms its timers from this instead of evaluating every incident.
            var batch = Batch()
            batch.liveSnapshot = ingest.live.snapshot(
                nowMilliseconds: wallMilliseconds(), fingerprint: snapshotFingerprint)
            committer.submit(batch)
            committer.drain()
        }
        store.checkpointAll()
        logger.note(
            "slad: stopped",
            [
                "events": String(ingest.live.engine.eventCount),
                // Where the incidents stand as slad stops: what the next start resumes from.
                "open": String(ingest.live.status.open),
                "at_risk": String(ingest.live.status.atRisk),
                "breached": String(ingest.live.status.breached),
                "armed": String(ingest.live.armedCount),
                "read_decode_evaluate_ms": String(turn.readTime / .milliseconds(1)),
                "commit_ms": String(committer.commitTime / .milliseconds(1)),
                "wait_read_ms": String(turn.waitRead / .milliseconds(1)),
                "wait_commit_ms": String(turn.waitCommit / .milliseconds(1)),
            ])
    }

    /// Seals the reports of months whose grace has passed, when one may have become due: at
    /// the first idle moment, after a reload, when a month's grace ends, and every 6 hours
    /// (history imported into months already past). A long history is sealed a few months per
    /// idle turn (about 50 ms of work), so reading, deciding, control requests and a stop go on
    /// meanwhile; true when months are left for the next turn. A failure is logged and retried
    /// later; it never stops ingest.
    private func sealDueMonths() -> Bool {
        let now = wallMilliseconds()
        guard now >= nextSealCheck else { return false }
        let book = ReportBook(
            store: store, contracts: config.contracts, sealAfter: config.sealAfter, memo: sealMemo)
        var more = true
        do {
            let step = try book.sealDue(nowMilliseconds: now, until: .now + .milliseconds(50))
            for sealed in step.sealed { logger.note("slad: report sealed", ["month": sealed]) }
            more = step.more
        } catch {
            logger.note("slad: sealing reports failed; retrying in an hour", ["error": "\(error)"], level: .error)
            nextSealCheck = now + 3_600_000
            return false
        }
        if more { return true }
        let next = min(now + 6 * 3_600_000, book.nextGraceEnd(afterMilliseconds: now) ?? .max)
        nextSealCheck = max(next, now + 1_000)
        return false
    }

    // MARK: - Status

    /// The one-line status systemd shows (`systemctl status slad`), with what is wrong.
    func statusLine() -> String {
        let s = ingest.live.status
        var line = "\(s.open) open, \(s.atRisk) at risk, \(s.breached) breached; source lag \(sourceLag) bytes"
        if let error = board.snapshot.storeError { line += "; store does not take writes: \(error)" }
        for (name, problem) in sourceProblems.sorted(by: { $0.key < $1.key }) { line += "; source \(name): \(problem)" }
        return line
    }

    /// Logs a source's problem when it appears or changes, and when it is gone.
    private func noteSourceProblems(_ now: [(name: String, error: String?)]) {
        for (name, error) in now where sourceProblems[name] != error {
            if let error {
                logger.note("slad: source cannot be read", ["source": name, "error": error], level: .error)
            } else {
                logger.note("slad: source readable again", ["source": name])
            }
            sourceProblems[name] = error
        }
    }

    private func logStatus() {
        let s = ingest.live.status
        var fields = ["open": String(s.open), "at_risk": String(s.atRisk), "breached": String(s.breached)]
        for p in ingest.positions() { fields["lag_bytes.\(p.name)"] = String(p.lag) }
        logger.note("slad: status", fields.merging(notifier.stats(), uniquingKeysWith: { a, _ in a }))
    }

    /// Publishes the engine's counts when they changed, and source positions and sinks when asked.
    func publish(positions: Bool, sinks publishSinks: Bool) {
        let counts = ingest.live.status
        let events = ingest.live.engine.eventCount
        let armed = ingest.live.armedCount
        let changed = counts != published.counts || events != published.events || armed != published.armed
        guard changed || positions || publishSinks else { return }
        published = (counts, events, armed)
        let sources = positions ? sourceStatuses() : nil
        let sinks = publishSinks ? sinkStatuses() : nil
        let quarantine = positions ? self.quarantine : nil
        let generation = generation
        let groups = ingest.live.countsByGroup
        board.publish { snap in
            snap.counts = counts
            snap.groups = groups
            snap.events = events
            snap.armed = armed
            snap.generation = generation
            if let sources { snap.sources = sources }
            if let sinks { snap.sinks = sinks }
            if let quarantine { snap.quarantine = quarantine }
        }
    }

    /// Each source's position and lag (a stat per file), with its counters; pushed events as `api`.
    private func sourceStatuses() -> [SourceStatus] {
        let current = ingest.positions()
        sourceLag = current.reduce(0) { $0 + $1.lag }
        var sources = current.map { p in
            let st = sourceStats[p.name] ?? SourceStats()
            return SourceStatus(
                name: p.name, path: p.path, offsetBytes: p.offset, lagBytes: p.lag, lines: st.lines,
                events: st.events, duplicates: st.duplicates, quarantined: st.quarantined, conflicts: st.conflicts,
                error: p.error)
        }
        noteSourceProblems(current.map { ($0.name, $0.error) })
        if let api = sourceStats["api"] {
            sources.append(
                SourceStatus(
                    name: "api", path: "POST /v1/events", lines: api.lines, events: api.events,
                    duplicates: api.duplicates, quarantined: api.quarantined, conflicts: api.conflicts))
        }
        return sources
    }

    /// Each sink's pending deliveries (a query) and its counters.
    private func sinkStatuses() -> [SinkStatus] {
        let pending = (try? reader.pendingDeliveryCounts()) ?? [:]
        return notifier.workers.map { w in
            let st = notifier.sinkStats(w)
            return SinkStatus(
                name: w.sink, pending: pending[w.sink] ?? 0, delivered: st.delivered, failed: st.failed,
                skipped: st.skipped)
        }
    }

    // MARK: - Reload

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
            return .failure(rejectReload(error))
        }
        do {
            let conflicts = try ReportBook(store: reader, contracts: new.contracts, sealAfter: new.sealAfter)
                .sealedTermsConflicts()
            if !conflicts.isEmpty {
                return .failure(
                    rejectReload(
                        ConfigErrors(
                            conflicts.map {
                                ConfigError(
                                    file: new.contractFiles[$0.contract] ?? new.directory, field: "",
                                    reason: $0.description, hint: $0.hint)
                            })))
            }
        } catch {
            return .failure(RouteError(500, "store_error", "cannot read the sealed reports: \(error)"))
        }
        let restart = settingsNeedingRestart(new)
        writeDeferredState()
        committer.drain()
        let now = Instant(wallMilliseconds() / 1000)
        let moneyBefore = unsealedTotals(config.contracts, asOf: now)
        var batch = Batch()
        ingest.live.teams = new.teams
        batch.notifications = ingest.live.replaceContracts(new.contracts, nowMilliseconds: wallMilliseconds())
        // Stored verdicts follow the new terms.
        ingest.recordVerdicts(of: ingest.live.engine.incidentIDs, into: &batch)
        do {
            try ingest.replaceSources(new)
        } catch {
            logger.note("slad: reload could not read saved offsets", ["error": "\(error)"], level: .error)
        }
        watcher = FolderWatcher(patterns: new.sources.map(\.path))
        submit(&batch)
        committer.drain()
        let changes = Self.moneyChanges(moneyBefore, unsealedTotals(new.contracts, asOf: now))
        config = new.keepingRestartSettings(of: config)
        generation += 1
        nextSealCheck = 0
        sealMemo = ReportBook.SealMemo()
        takeoversEntered = [:]
        publish(positions: true, sinks: true)
        logger.note(
            "slad: configuration reloaded",
            [
                "generation": String(generation), "contracts": String(new.contracts.count),
                "sources": String(new.sources.count), "restart_required": restart.joined(separator: ","),
            ])
        if !restart.isEmpty {
            logger.note(
                "slad: some changed settings apply only after a restart",
                ["settings": restart.joined(separator: ",")], level: .warning)
        }
        for c in changes {
            logger.note(
                "slad: the reload changes the money of a month not sealed yet",
                [
                    "contract": c.contract, "month": c.month, "old_total": "\(c.oldTotal) \(c.currency)",
                    "new_total": "\(c.newTotal) \(c.currency)",
                ], level: .warning)
        }
        return .success(
            ReloadResult(
                configGeneration: generation, contracts: new.contracts.count, sources: new.sources.count,
                restartRequired: restart, moneyChanges: changes))
    }

    /// What each contract owes for each past month not sealed yet, by (contract, month); empty
    /// (and logged) when the store cannot say.
    private func unsealedTotals(_ contracts: [Contract], asOf: Instant) -> [String: UnsealedTotal] {
        do {
            let totals = try ReportBook(store: reader, contracts: contracts, sealAfter: config.sealAfter)
                .unsealedPastTotals(asOf: asOf)
            return Dictionary(totals.map { ("\($0.contract) \($0.month)", $0) }, uniquingKeysWith: { a, _ in a })
        } catch {
            logger.note("slad: could not compare the money of unsealed months", ["error": "\(error)"], level: .error)
            return [:]
        }
    }

    /// The months whose total differs between `before` and `after`, in contract and month order.
    static func moneyChanges(_ before: [String: UnsealedTotal], _ after: [String: UnsealedTotal]) -> [MoneyChange] {
        Set(before.keys).union(after.keys).sorted().compactMap { key in
            let old = before[key]
            let new = after[key]
            // A contract added or removed counts as owing nothing on the other side.
            guard let any = new ?? old, (old?.minorUnits ?? 0) != (new?.minorUnits ?? 0) else { return nil }
            func amount(_ t: UnsealedTotal?) -> String {
                Money(minorUnits: t?.minorUnits ?? 0, currency: t?.currency ?? any.currency).amountText
            }
            return MoneyChange(
                contract: any.contract, month: any.month.description, currency: any.currency.code,
                oldTotal: amount(old), newTotal: amount(new))
        }
    }

    /// Logs every error of a configuration that does not load; the running one stays.
    private func rejectReload(_ error: ConfigErrors) -> RouteError {
        for e in error.errors { logger.note("slad: reload rejected", ["error": e.description], level: .error) }
        logger.note(
            "slad: configuration not reloaded; the running one stays in force",
            ["errors": String(error.errors.count)], level: .error)
        return RouteError(
            422, "invalid_config",
            "the configuration in \(config.directory) has \(error.errors.count) error\(error.errors.count == 1 ? "" : "s"); the running one stays in force",
            details: error.errors.map(\.description))
    }

    /// Settings of `new` that differ from the running ones and apply only after a restart.
    private func settingsNeedingRestart(_ new: SladConfiguration) -> [String] {
        var restart: [String] = []
        if new.webhooks != config.webhooks { restart.append("webhooks") }
        if new.control != config.control { restart.append("control") }
        if new.stateDirectory != config.stateDirectory { restart.append("state_dir") }
        if new.allowedLateness != config.allowedLateness { restart.append("allowed_lateness") }
        if new.catchUpWindow != config.catchUpWindow { restart.append("catch_up_window") }
        return restart
    }
}

extension SladConfiguration {
    /// This configuration with the settings that apply only at start taken from `running`.
    func keepingRestartSettings(of running: SladConfiguration) -> SladConfiguration {
        var applied = self
        applied.webhooks = running.webhooks
        applied.control = running.control
        applied.stateDirectory = running.stateDirectory
        applied.allowedLateness = running.allowedLateness
        applied.catchUpWindow = running.catchUpWindow
        // The Alertmanager listener is bound at start, with its token: its mapping reloads.
        if applied.alertmanager != nil {
            applied.alertmanager?.listen = running.alertmanager?.listen
            applied.alertmanager?.token = running.alertmanager?.token
        }
        return applied
    }
}

extension SourceStats {
    /// Adds another batch's counters.
    mutating func add(_ other: SourceStats) {
        lines += other.lines
        events += other.events
        duplicates += other.duplicates
        quarantined += other.quarantined
        conflicts += other.conflicts
    }
}

/// Holds what ``EngineLoop/leaveEngineStateToExit()`` leaves for the process's exit to reclaim.
private final class LeftAtExit<Value> {
    let value: Value
    init(_ value: Value) { self.value = value }
}
