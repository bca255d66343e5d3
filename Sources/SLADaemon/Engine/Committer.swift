import Dispatch
import Foundation
import Logging
import SLACore
import SLAStore
import Synchronization

/// Where batches become durable: the store.
protocol BatchCommitting: Sendable {
    /// Writes `batch` in one transaction.
    func commit(_ batch: Batch) throws
}

/// Any store commits as the committer needs.
struct StoreCommits: BatchCommitting {
    let store: any DaemonStore

    func commit(_ batch: Batch) throws { try store.commit(batch) }
}

/// Commits batches in order on its own thread with up to `depth` batches handed over and
/// not yet committed, so that reading, decoding and evaluating the next batches overlaps the
/// SQLite write of the previous ones. Order is kept, so a crash leaves the store at a batch
/// boundary.
///
/// Two batches rather than one: with one, the engine waits for each commit before handing
/// over the next batch, and while it waits the reading thread is often done, leaving a core
/// idle.
final class Committer: Sendable {
    private let store: any BatchCommitting
    private let logger: Logger
    private let queue = DispatchQueue(label: "slad.commit")
    private let group = DispatchGroup()
    private let slots: DispatchSemaphore
    /// Committed batches are freed here: freeing tens of thousands of events takes time on
    /// the commit thread, which is the one ingest waits for.
    private let releaser = DispatchQueue(label: "slad.commit.release", qos: .utility)
    private let state = Mutex<(time: Duration, failed: Bool)>((.zero, false))
    private let giveUp: @Sendable () -> Bool
    private let committed: @Sendable (Batch) -> Void
    private let retryDelay: @Sendable (Int) -> Void
    private let health: @Sendable (String?) -> Void

    /// A committer to `store`; `committed` runs after each batch is durable. A commit that
    /// fails is retried (after `retryDelay(attempt)`) until it succeeds or `giveUp` says so;
    /// `health` hears why the store fails (on the commit thread, while the engine may be
    /// waiting for room), and nil once a commit succeeds again.
    init(
        store: any BatchCommitting, depth: Int = 2, logger: Logger, giveUp: @escaping @Sendable () -> Bool,
        retryDelay: @escaping @Sendable (Int) -> Void = { attempt in
            usleep(useconds_t(min(5_000_000, 100_000 * attempt)))
        },
        health: @escaping @Sendable (String?) -> Void = { _ in },
        committed: @escaping @Sendable (Batch) -> Void
    ) {
        self.store = store
        self.logger = logger
        self.giveUp = giveUp
        self.retryDelay = retryDelay
        self.health = health
        slots = DispatchSemaphore(value: depth)
        self.committed = committed
    }

    /// Time spent committing so far.
    var commitTime: Duration { state.withLock { $0.time } }
    /// A commit kept failing until a stop was requested.
    var failed: Bool { state.withLock { $0.failed } }

    /// Hands over the next batch, once fewer than `depth` wait for their commit.
    func submit(_ batch: Batch) {
        slots.wait()
        group.enter()
        let held = Held(batch)
        queue.async { [self] in
            defer {
                slots.signal()
                group.leave()
                releaser.async { held.value = nil }
            }
            commitUntilDurable(held.value!)
        }
    }

    /// Waits until every submitted batch is committed (or given up).
    func drain() { group.wait() }

    /// Never drops a batch: the same batch is retried until the store takes it (a full disk
    /// that is cleared), or until a stop gives up on it.
    private func commitUntilDurable(_ batch: Batch) {
        let start = ContinuousClock.now
        var attempt = 0
        while true {
            do {
                try store.commit(batch)
                if attempt > 0 {
                    logger.note("slad: the store takes writes again", ["attempts": String(attempt + 1)])
                    health(nil)
                }
                break
            } catch {
                attempt += 1
                logger.note(
                    "slad: store commit failed; retrying", ["error": "\(error)", "attempt": String(attempt)],
                    level: .error)
                if attempt == 1 { health("\(error)") }
                if giveUp() {
                    state.withLock { $0.failed = true }
                    return
                }
                retryDelay(attempt)
            }
        }
        let elapsed = ContinuousClock.now - start
        state.withLock { $0.time += elapsed }
        committed(batch)
    }

    /// A batch handed from the engine thread to the commit thread and on to the releaser.
    ///
    /// `@unchecked Sendable`: one thread at a time uses it, in the order the queues run.
    private final class Held: @unchecked Sendable {
        var value: Batch?
        init(_ value: Batch) { self.value = value }
    }
}
