import Dispatch
import Foundation
import Logging
import SLACore
import Synchronization

/// A place notifications go: the journal, or one webhook endpoint.
public protocol Deliverer: Sendable {
    /// The sink's name in the outbox (`journal`, or the endpoint's name).
    var sink: String { get }
    /// Attempts in flight at once.
    var maxConcurrency: Int { get }
    /// Backoff between attempts.
    var retry: RetryPolicy { get }
    /// After this long undelivered a notification is failed.
    var maxAgeMilliseconds: Int64 { get }
    /// Why this sink does not take `n` (its filters), nil when it does.
    func refusal(_ n: SLANotification) -> String?
    /// Attempts each delivery (concurrently where the sink can), one result per delivery, in order.
    func attempt(_ deliveries: [PendingDelivery]) -> [Result<Void, DeliveryError>]
}

/// Why one attempt failed, in words safe to log (no secrets, no URLs).
public struct DeliveryError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The reason.
    public var description: String

    /// An error saying `description`.
    public init(_ description: String) { self.description = description }
}

/// Counters per sink since start.
public struct SinkStats: Sendable, Hashable {
    /// Delivered notifications.
    public var delivered = 0
    /// Failed attempts that will be retried.
    public var retries = 0
    /// Notifications given up after the maximum age.
    public var failed = 0
    /// Notifications the sink's filters exclude.
    public var skipped = 0

    /// Zero counts.
    public init() {}
}

/// Drains one sink's deliveries from the queue on its own thread, so a dead or
/// slow endpoint only ever delays itself. Woken when the outbox gains work;
/// otherwise sleeps until the next retry is due.
public final class SinkWorker: Sendable {
    private let deliverer: any Deliverer
    private let queue: any DeliveryQueue
    private let logger: Logger
    private let now: @Sendable () -> Int64
    private let random: @Sendable () -> Double
    private let signal = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    private let state = Mutex<(started: Bool, stopping: Bool, stats: SinkStats)>((false, false, SinkStats()))

    /// A worker for `deliverer`'s sink over `queue`; `now` is wall-clock ms, `random` a number in [0, 1).
    public init(
        deliverer: any Deliverer, queue: any DeliveryQueue, logger: Logger, now: @escaping @Sendable () -> Int64,
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.deliverer = deliverer
        self.queue = queue
        self.logger = logger
        self.now = now
        self.random = random
    }

    /// The sink's name.
    public var sink: String { deliverer.sink }
    /// Counters since start.
    public var stats: SinkStats { state.withLock { $0.stats } }

    /// Starts the worker thread.
    public func start() {
        state.withLock { $0.started = true }
        let thread = Thread { [self] in
            loop()
            done.signal()
        }
        thread.name = "slad.deliver.\(deliverer.sink)"
        thread.start()
    }

    /// There may be new work.
    public func wake() { signal.signal() }

    /// Asks the worker to stop once the attempts in flight finish (each is bounded by its timeout).
    public func requestStop() {
        state.withLock { $0.stopping = true }
        signal.signal()
    }

    /// Stops (see ``requestStop()``) and waits up to `timeoutMilliseconds` for the thread to end.
    /// Returns whether it ended; calling it again after it ended, or on a worker never
    /// started (slad failing at start), returns true at once.
    @discardableResult
    public func stop(timeoutMilliseconds: Int) -> Bool {
        requestStop()
        guard state.withLock({ $0.started }) else { return true }
        guard done.wait(timeout: .now() + .milliseconds(timeoutMilliseconds)) == .success else { return false }
        done.signal()  // Leave the token for any later caller.
        return true
    }

    private var stopping: Bool { state.withLock { $0.stopping } }

    private func loop() {
        var failures = 0
        while !stopping {
            do {
                let pending = try queue.pending(sink: deliverer.sink, limit: 1_000)
                let (ready, wakeAt) = DeliveryPlan.select(pending, now: now(), limit: deliverer.maxConcurrency)
                if ready.isEmpty {
                    let wait = min(1_000, max(1, (wakeAt ?? .max) - now()))
                    _ = signal.wait(timeout: .now() + .milliseconds(Int(wait)))
                    continue
                }
                try deliver(ready)
                failures = 0
            } catch {
                // The store is unreachable (disk full, locked): nothing is lost, the rows stay pending.
                failures += 1
                logger.error(
                    "slad: delivery queue failed", metadata: ["sink": "\(deliverer.sink)", "error": "\(error)"])
                _ = signal.wait(timeout: .now() + .milliseconds(min(5_000, 100 * failures)))
            }
        }
    }

    private func deliver(_ ready: [PendingDelivery]) throws {
        var attempt: [PendingDelivery] = []
        for d in ready {
            if let reason = deliverer.refusal(d.notification) {
                try queue.record(
                    seq: d.seq, attempts: d.attempts, outcome: .skipped(atMilliseconds: now(), reason: reason))
                state.withLock { $0.stats.skipped += 1 }
            } else {
                attempt.append(d)
            }
        }
        guard !attempt.isEmpty else { return }
        let results = deliverer.attempt(attempt)
        for (d, result) in zip(attempt, results) {
            let at = now()
            let outcome: DeliveryOutcome
            switch result {
            case .success:
                outcome = .delivered(atMilliseconds: at)
            case .failure(let error):
                outcome = DeliveryPlan.afterFailure(
                    d, error: error.description, now: at, policy: deliverer.retry,
                    maxAgeMilliseconds: deliverer.maxAgeMilliseconds, jitter: random())
            }
            try queue.record(seq: d.seq, attempts: d.attempts + 1, outcome: outcome)
            let meta: Logger.Metadata = [
                "sink": "\(deliverer.sink)", "notification": "\(d.notification.id)", "attempts": "\(d.attempts + 1)",
            ]
            switch outcome {
            case .delivered:
                state.withLock { $0.stats.delivered += 1 }
            case .retry(let next, let error):
                state.withLock { $0.stats.retries += 1 }
                logger.warning(
                    "slad: delivery failed; will retry",
                    metadata: meta.merging(["error": "\(error)", "retry_in_ms": "\(next - at)"]) { a, _ in a })
            case .failed(_, let error):
                state.withLock { $0.stats.failed += 1 }
                logger.error(
                    "slad: delivery given up after the maximum age",
                    metadata: meta.merging(["error": "\(error)"]) { a, _ in a })
            case .skipped: break
            }
        }
    }
}

/// Delivers to the journal (the retry path; the daemon writes journal entries
/// inline when it decides, and only failed ones come here).
public struct JournalDeliverer: Deliverer {
    /// `journal`.
    public let sink = "journal"
    /// Up to 64 entries per round, sent one after another: the journal socket is local and fast.
    public let maxConcurrency = 64
    /// Retry quickly: journald restarts in seconds.
    public let retry: RetryPolicy
    /// A week: the journal coming back late is better than never.
    public let maxAgeMilliseconds: Int64 = 7 * 86_400_000
    private let journal = JournalSink()

    /// A journal deliverer.
    public init() {
        var retry = RetryPolicy()
        retry.initialMilliseconds = 200
        retry.capMilliseconds = 10_000
        self.retry = retry
    }

    /// The journal takes every notification.
    public func refusal(_ n: SLANotification) -> String? { nil }

    /// Sends each entry.
    public func attempt(_ deliveries: [PendingDelivery]) -> [Result<Void, DeliveryError>] {
        deliveries.map { d in
            do throws(JournalError) {
                try journal.send(d.notification)
                return .success(())
            } catch {
                return .failure(DeliveryError(error.description))
            }
        }
    }
}
