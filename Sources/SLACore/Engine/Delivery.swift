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
