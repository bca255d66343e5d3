import SLACore

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
