import SLACore

/// One notification waiting for one sink (the journal or a webhook endpoint).
public struct PendingDelivery: Sendable, Hashable {
    /// Position in the outbox: deliveries go out in this order per incident.
    public var seq: Int64
    /// `journal` or the webhook endpoint's name.
    public var sink: String
    /// What to deliver.
    public var notification: SLANotification
    /// Attempts made so far.
    public var attempts: Int
    /// Not before this wall-clock time (ms).
    public var nextAttemptMilliseconds: Int64

    /// Creates a pending delivery.
    public init(seq: Int64, sink: String, notification: SLANotification, attempts: Int, nextAttemptMilliseconds: Int64)
    {
        self.seq = seq
        self.sink = sink
        self.notification = notification
        self.attempts = attempts
        self.nextAttemptMilliseconds = nextAttemptMilliseconds
    }
}

/// What became of an attempt, as the store records it.
public enum DeliveryOutcome: Sendable, Hashable {
    /// The sink took it (a 2xx answer, or the journal accepted the entry).
    case delivered(atMilliseconds: Int64)
    /// Try again at the given time; the error says why this attempt failed.
    case retry(atMilliseconds: Int64, error: String)
    /// Given up after the endpoint's maximum age: logged at error level and counted.
    case failed(atMilliseconds: Int64, error: String)
    /// Not for this sink (its kinds/contracts filters exclude it).
    case skipped(atMilliseconds: Int64, reason: String)
}

/// Where deliveries wait: the store's outbox in the daemon, an array in tests.
public protocol DeliveryQueue: Sendable {
    /// Pending deliveries of `sink`, oldest first, at most `limit`.
    func pending(sink: String, limit: Int) throws -> [PendingDelivery]
    /// Records the outcome of an attempt (`attempts` counts it).
    func record(seq: Int64, attempts: Int, outcome: DeliveryOutcome) throws
}

/// Which deliveries may go now. Pure: time comes in as a value.
public enum DeliveryPlan {
    /// From `pending` (oldest first), the head of each incident's queue that is
    /// due at `now`, at most `limit`; and the earliest time a head becomes due
    /// otherwise. A later notification of an incident never overtakes an earlier
    /// one that is still being retried: receivers see each incident in order.
    public static func select(_ pending: [PendingDelivery], now: Int64, limit: Int)
        -> (ready: [PendingDelivery], wakeAt: Int64?)
    {
        var seen = Set<String>()
        var ready: [PendingDelivery] = []
        var wakeAt: Int64?
        for d in pending where seen.insert(d.notification.incident).inserted {
            if d.nextAttemptMilliseconds <= now {
                if ready.count < limit { ready.append(d) }
            } else {
                wakeAt = min(wakeAt ?? .max, d.nextAttemptMilliseconds)
            }
        }
        return (ready, wakeAt)
    }

    /// The outcome of a failed attempt: retry after the policy's delay, or failed once
    /// `maxAge` has passed since the notification was decided.
    public static func afterFailure(
        _ d: PendingDelivery, error: String, now: Int64, policy: RetryPolicy, maxAgeMilliseconds: Int64, jitter: Double
    ) -> DeliveryOutcome {
        if now - d.notification.decidedAtMilliseconds >= maxAgeMilliseconds {
            return .failed(atMilliseconds: now, error: error)
        }
        let delay = policy.delayMilliseconds(afterAttempts: d.attempts + 1, jitter: jitter)
        return .retry(atMilliseconds: now + delay, error: error)
    }
}
