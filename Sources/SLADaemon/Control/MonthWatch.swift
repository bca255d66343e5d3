import Dispatch
import Logging
import SLAAPI
import SLACore
import SLAReport
import SLAStore
import Synchronization

/// Keeps each contract's month so far (penalties, clocks decided, availability budget) on the
/// status board, computed from the store on a queue of its own with its own connection, so
/// that neither the engine nor a scrape waits for it. A burn alert that starts is announced as
/// an `availability.burn` notification (journal and webhooks, through the engine's outbox);
/// its end is logged.
///
/// The figures are computed again when the store committed since the last look (at most every
/// ten times as long as the last computation took, and at least every two seconds), and every
/// 30 seconds regardless, because availability moves with the clock alone.
final class MonthWatch: Sendable {
    private let reader: any DaemonStore
    private let board: StatusBoard
    private let logger: Logger
    private let mailbox: LoopMailbox<EngineLoop>
    private let queue = DispatchQueue(label: "slad.month-to-date")
    private struct State {
        var busy = false
        var lastStart: ContinuousClock.Instant?
        var lastCommits = -1
        var lastGeneration = 0
        var lastDuration = Duration.zero
        var burning: Set<BurnKey> = []
    }
    private let state = Mutex(State())
    private struct BurnKey: Hashable, Comparable {
        var contract: String
        var long: Int64
        var rate: String
        static func < (a: BurnKey, b: BurnKey) -> Bool { (a.contract, a.long) < (b.contract, b.long) }
    }

    init(reader: any DaemonStore, board: StatusBoard, mailbox: LoopMailbox<EngineLoop>, logger: Logger) {
        self.reader = reader
        self.board = board
        self.mailbox = mailbox
        self.logger = logger
    }

    /// Starts a computation with `contracts` when one is due and none runs; a new configuration
    /// `generation` (a reload) makes it due.
    func refreshIfDue(contracts: [Contract], generation: Int, commits: Int) {
        let now = ContinuousClock.now
        let go = state.withLock { s -> Bool in
            guard !s.busy else { return false }
            let since = s.lastStart.map { now - $0 } ?? .seconds(3600)
            let due =
                generation != s.lastGeneration || since >= .seconds(30)
                || (commits != s.lastCommits && since >= max(.seconds(2), s.lastDuration * 10))
            guard due else { return false }
            s.busy = true
            s.lastStart = now
            s.lastCommits = commits
            s.lastGeneration = generation
            return true
        }
        guard go else { return }
        queue.async { [self] in
            let started = ContinuousClock.now
            let asOf = Instant(wallMilliseconds() / 1000)
            do {
                let months = try ReportBook(store: reader, contracts: contracts, sealAfter: .max).monthToDate(
                    asOf: asOf)
                board.publish { $0.months = Dictionary(uniqueKeysWithValues: months.map { ($0.contract, $0) }) }
                announceBurns(months, contracts: contracts)
            } catch {
                logger.note("slad: computing the month so far failed", ["error": "\(error)"], level: .error)
            }
            let took = ContinuousClock.now - started
            state.withLock {
                $0.busy = false
                $0.lastDuration = took
            }
        }
    }

    /// Announces each burn alert that started firing, once (its id is the contract, the rate
    /// and the first second of downtime in its long window, so a restart during the burn finds
    /// it in the outbox), and logs each that stopped.
    private func announceBurns(_ months: [MonthToDate], contracts: [Contract]) {
        var now: [BurnKey: (MonthToDate, BurnAlertView)] = [:]
        for m in months {
            for alert in m.availability?.burning ?? [] {
                now[BurnKey(contract: m.contract, long: alert.longSeconds, rate: alert.rate)] = (m, alert)
            }
        }
        let before = state.withLock { s in
            defer { s.burning = Set(now.keys) }
            return s.burning
        }
        let decided = wallMilliseconds()
        let started = now.keys.sorted().filter { !before.contains($0) }.compactMap { key -> SLANotification? in
            let (m, alert) = now[key]!
            guard let contract = contracts.first(where: { $0.id == m.contract }), let budget = m.availability else {
                return nil
            }
            // The alert is known by its long window; its rate comes with it.
            let rateTenths = BurnAlert.all.first { $0.long == alert.longSeconds }?.rateTenths ?? 10
            return SLANotification(
                id: "availability/\(m.contract)/burn/\(alert.rate)/\(alert.sinceSecond)", kind: .burn, incident: "",
                contract: m.contract, metric: .availability, priority: alert.severity,
                percent: Percentage(millionths: rateTenths * 100_000), target: budget.allowedSeconds,
                due: Instant(decided / 1000), decidedAtMilliseconds: decided, late: false, notify: contract.notify,
                customer: contract.customer, elapsed: budget.spentSeconds)
        }
        let known = (try? reader.knownNotifications(started.map(\.id))) ?? []
        let fresh = started.filter { !known.contains($0.id) }
        if !fresh.isEmpty { _ = mailbox.post { loop in loop.submitDecisions(fresh) } }
        for key in before.subtracting(now.keys).sorted() {
            logger.note("slad: availability budget no longer burning", ["contract": key.contract, "rate": key.rate])
        }
    }
}
