import Dispatch
import Foundation
import Logging
import SLACore
import SLAStore
import Synchronization

/// The ledger's events marked into an engine, in row order, through row `through`: what a
/// restore builds, and what a standby keeps up to date so that its takeover reads only the
/// rows committed since (``LedgerFollower``).
struct FollowedLedger: Sendable {
    var engine: IngestEngine
    /// The last ledger row marked; 0 before the first.
    var through: Int64 = 0

    private struct Stopped: Error {}

    /// Marks the rows after ``through`` into the engine, in row order, as one restore would
    /// from the first row: a ledger followed in steps ends as the same engine. `stop` is asked
    /// before each row, with the engine as marked so far; once it says so, the rows after the
    /// last one marked are left for later.
    ///
    /// Two cores: a reader thread reads and decodes the rows and hashes their ids while this
    /// one marks the rows before (decoding was half of a restart's ledger read). The reader is
    /// waited for before this returns, so the store's read has ended.
    mutating func readOn(_ store: any DaemonStore, until stop: (IngestEngine) -> Bool = { _ in false }) throws {
        let pipe = RunPipe(depth: 2)
        let after = through
        let reader = Thread {
            do {
                try store.forEachEventRun(after: after) { seq, source, events in
                    let run = RunPipe.Run(
                        seq: seq, events: events, idHashes: events.map { IngestEngine.identityHash($0.id) })
                    guard pipe.put(run) else { throw Stopped() }
                }
                pipe.finish(nil)
            } catch is Stopped {
                pipe.finish(nil)
            } catch {
                pipe.finish(error)
            }
        }
        reader.name = "slad.ledger-read"
        reader.start()
        defer { pipe.closeAndWait() }
        while let run = try pipe.take() {
            if stop(engine) { return }
            _ = engine.mark(events: run.events, idHashes: run.idHashes)
            through = run.seq
        }
    }
}

/// Ledger rows handed from the thread that reads them to the one that marks them, at most
/// `depth` waiting (a row is thousands of events).
private final class RunPipe: @unchecked Sendable {
    // @unchecked: every field is read and written under `condition`.
    struct Run {
        var seq: Int64
        var events: [SLAEvent]
        var idHashes: [UInt64]
    }

    private let condition = NSCondition()
    private let depth: Int
    private var runs: [Run] = []
    /// Set by the reader: no more rows, and why (nil: the ledger's end, or told to stop).
    private var finished = false
    private var failure: (any Error)?
    /// Set by the marker: it takes no more rows.
    private var closed = false

    init(depth: Int) { self.depth = depth }

    /// Adds a row, waiting for room; false once the marker closed the pipe.
    func put(_ run: Run) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while runs.count >= depth && !closed { condition.wait() }
        guard !closed else { return false }
        runs.append(run)
        condition.broadcast()
        return true
    }

    /// The reader's end.
    func finish(_ error: (any Error)?) {
        condition.lock()
        finished = true
        failure = error
        condition.broadcast()
        condition.unlock()
    }

    /// The next row; nil after the last; throws what the reader could not read.
    func take() throws -> Run? {
        condition.lock()
        defer { condition.unlock() }
        while runs.isEmpty && !finished { condition.wait() }
        if !runs.isEmpty {
            condition.broadcast()
            return runs.removeFirst()
        }
        if let failure { throw failure }
        return nil
    }

    /// Takes no more rows and waits for the reader to end.
    func closeAndWait() {
        condition.lock()
        closed = true
        runs = []
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }
}

/// Keeps a standby's engine up with the ledger the leader commits, so that a takeover reads
/// only the last rows instead of the whole ledger (docs/ha.md, "Warm standbys").
///
/// It reads on a thread of its own, from a connection of its own: marking a large ledger is
/// seconds of work, which must not hold up the lease keeper's tasks on the cooperative pool,
/// and a read of the control socket (a report's cursor) must not share its transaction.
/// Ledger rows are numbered in commit order, because only the lease holder writes them and it
/// commits one batch at a time, so reading on after the last row seen misses none.
final class LedgerFollower: Sendable {
    private struct State {
        var stop = false
        var jobs: [@Sendable (IngestEngine) -> Void] = []
        var followed: FollowedLedger?
        var events = 0
        var through: Int64 = 0
    }

    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let store: any DaemonStore
    private let contracts: [Contract]
    private let pause: Duration
    private let logger: Logger

    /// A follower of `store`'s ledger, with an engine of `contracts` (the configuration's, as
    /// the restore's engine has), looking for new rows every `pause` once it is caught up.
    init(store: any DaemonStore, contracts: [Contract], pause: Duration = .milliseconds(200), logger: Logger) {
        self.store = store
        self.contracts = contracts
        self.pause = pause
        self.logger = logger
    }

    /// The events followed so far, and the last ledger row among them.
    var progress: (events: Int, through: Int64) { state.withLock { ($0.events, $0.through) } }

    /// Runs `job` on the follower's thread with the engine as followed so far, between two
    /// rows; false, and `job` does not run, once the follower was told to stop.
    func withEngine(_ job: @escaping @Sendable (IngestEngine) -> Void) -> Bool {
        let taken = state.withLock { s in
            guard !s.stop else { return false }
            s.jobs.append(job)
            return true
        }
        if taken { wake.signal() }
        return taken
    }

    /// Starts following, on a thread of its own.
    func start() {
        let thread = Thread { [self] in follow() }
        thread.name = "slad.follow"
        thread.start()
    }

    /// Stops following, without waiting for the thread.
    func stop() {
        state.withLock { $0.stop = true }
        wake.signal()
    }

    /// Stops following and hands over the engine as followed so far, once the row being read
    /// is marked.
    func finish() async -> FollowedLedger {
        stop()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                self.finished.wait()
                done.resume()
            }
        }
        return state.withLock { $0.followed.take()! }
    }

    private func follow() {
        var followed = FollowedLedger(engine: IngestEngine(contracts: contracts))
        var failing = false
        let millis = Int(pause / .milliseconds(1))
        func runJobs(_ engine: IngestEngine) -> Bool {
            let (jobs, stop) = state.withLock { s in
                defer { s.jobs = [] }
                return (s.jobs, s.stop)
            }
            for job in jobs { job(engine) }
            return stop
        }
        while !runJobs(followed.engine) {
            do {
                try followed.readOn(store) { runJobs($0) }
                if failing {
                    logger.note("slad: the standby follows the ledger again", ["row": String(followed.through)])
                    failing = false
                }
            } catch {
                // The connection is replaced at the next call; until then the engine stays as
                // it is, at a row boundary, and a takeover reads on from there.
                if !failing {
                    logger.note(
                        "slad: the standby cannot follow the ledger; trying again",
                        ["row": String(followed.through), "error": "\(error)"], level: .warning)
                }
                failing = true
            }
            let (events, through) = (followed.engine.eventCount, followed.through)
            state.withLock {
                $0.events = events
                $0.through = through
            }
            _ = wake.wait(timeout: .now() + .milliseconds(millis))
        }
        // Jobs taken before the stop are answered before the engine goes.
        _ = runJobs(followed.engine)
        // Moved, not copied: a second reference left on this thread would make the leader's
        // first change copy the whole engine.
        var handed: FollowedLedger? = consume followed
        state.withLock { swap(&$0.followed, &handed) }
        finished.signal()
    }
}
