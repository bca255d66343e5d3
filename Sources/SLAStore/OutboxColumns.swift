import SLACore

/// The outbox's and the deliveries' columns as both stores keep them (this SQLite store and
/// the PostgreSQL one), so that a notification and a delivery's outcome mean the same in either.
package enum OutboxColumns {
    /// The outbox columns a notification is made from, in ``notification(_:)``'s order, for a
    /// query that names the outbox `o`.
    package static let select = """
        o.id, o.kind, o.incident, o.contract, o.metric, o.priority, o.percent, o.target, o.due_at, o.decided_at_ms,
        o.late, o.notify, o.customer, o.elapsed, o.deadline
        """

    /// An outbox row's values, as read from either store.
    package struct Row {
        package var id: String
        package var kind: String
        package var incident: String
        package var contract: String
        package var metric: String
        package var priority: String
        package var percent: String
        package var target: Int64
        package var due: Int64
        package var decidedAtMilliseconds: Int64
        package var late: Bool
        package var notify: String
        package var customer: String
        package var elapsed: Int64
        package var deadline: Int64?

        package init(
            id: String, kind: String, incident: String, contract: String, metric: String, priority: String,
            percent: String, target: Int64, due: Int64, decidedAtMilliseconds: Int64, late: Bool, notify: String,
            customer: String, elapsed: Int64, deadline: Int64?
        ) {
            (self.id, self.kind, self.incident, self.contract, self.metric) = (id, kind, incident, contract, metric)
            (self.priority, self.percent, self.target, self.due) = (priority, percent, target, due)
            (self.decidedAtMilliseconds, self.late, self.notify) = (decidedAtMilliseconds, late, notify)
            (self.customer, self.elapsed, self.deadline) = (customer, elapsed, deadline)
        }
    }

    /// The notification a row holds; nil when its kind, metric or percentage is not one this
    /// build knows (a row a newer slad wrote).
    package static func notification(_ r: Row) -> SLANotification? {
        guard let kind = NotificationKind(rawValue: r.kind), let metric = Metric(parsing: r.metric),
            let percent = Percentage(parsing: r.percent)
        else { return nil }
        return SLANotification(
            id: r.id, kind: kind, incident: r.incident, contract: r.contract, metric: metric, priority: r.priority,
            percent: percent, target: r.target, due: Instant(r.due), decidedAtMilliseconds: r.decidedAtMilliseconds,
            late: r.late, notify: r.notify.isEmpty ? [] : r.notify.split(separator: ",").map(String.init),
            customer: r.customer, elapsed: r.elapsed, deadline: r.deadline.map(Instant.init))
    }

    /// A delivery row's columns after an attempt: `state`, the next attempt time (nil: keep the
    /// one stored), the time it ended and the error or reason.
    package static func outcome(
        _ outcome: DeliveryOutcome
    ) -> (state: String, next: Int64?, done: Int64?, error: String?) {
        switch outcome {
        case .delivered(let at): ("delivered", nil, at, nil)
        case .retry(let at, let error): ("pending", at, nil, error)
        case .failed(let at, let error): ("failed", nil, at, error)
        case .skipped(let at, let reason): ("skipped", nil, at, reason)
        }
    }

    /// Why a pending delivery to a sink no longer configured is failed.
    package static func orphanReason(_ sink: String) -> String { "no webhook named \(sink) in slad.yaml" }
}
