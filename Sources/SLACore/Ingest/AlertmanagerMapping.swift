/// Which Alertmanager alerts are which service's outage (`alertmanager.services` in slad.yaml).
///
/// Alertmanager posts the alerts of one group at a time: every alert of the group, firing and
/// recently resolved. A service is down while one of its alerts in the group fires, from the
/// earliest start among them; it is up again at the latest end once all of them are resolved.
/// Event ids are made from the service and those instants, so Alertmanager's repeated
/// notifications are duplicates the ledger drops, and a new outage is a new event.
public struct AlertmanagerMapping: Sendable, Hashable {
    /// One rule: alerts whose labels equal all of `match` belong to `service`, or to the value
    /// of their label `serviceLabel`. Rules are tried in order; the first match wins.
    public struct Rule: Sendable, Hashable {
        /// Labels an alert must carry, with these values.
        public var match: [String: String]
        /// The service, when fixed.
        public var service: String?
        /// The label that names the service, when not fixed.
        public var serviceLabel: String?

        /// A rule; exactly one of `service` and `serviceLabel`.
        public init(match: [String: String], service: String? = nil, serviceLabel: String? = nil) {
            self.match = match
            self.service = service
            self.serviceLabel = serviceLabel
        }

        /// The service of an alert with `labels`, nil when the rule does not take it.
        func service(of labels: [String: String]) -> String? {
            guard match.allSatisfy({ labels[$0.key] == $0.value }) else { return nil }
            if let service { return service }
            return serviceLabel.flatMap { labels[$0] }.flatMap { $0.isEmpty ? nil : $0 }
        }
    }

    /// The rules, in order.
    public var rules: [Rule]

    /// A mapping.
    public init(rules: [Rule]) { self.rules = rules }

    /// One alert of a notification.
    public struct Alert: Sendable, Hashable {
        /// `firing` or `resolved`.
        public var firing: Bool
        /// The alert's labels.
        public var labels: [String: String]
        /// When it started firing.
        public var startsAt: Instant
        /// When it was resolved (meaningful for resolved alerts).
        public var endsAt: Instant?

        /// An alert.
        public init(firing: Bool, labels: [String: String], startsAt: Instant, endsAt: Instant?) {
            self.firing = firing
            self.labels = labels
            self.startsAt = startsAt
            self.endsAt = endsAt
        }
    }

    /// The service events one notification says, in service order, and how many of its alerts
    /// no rule took.
    public func events(for alerts: [Alert]) -> (events: [SLAEvent], unmapped: Int) {
        var byService: [String: [Alert]] = [:]
        var unmapped = 0
        for alert in alerts {
            guard let service = rules.lazy.compactMap({ $0.service(of: alert.labels) }).first else {
                unmapped += 1
                continue
            }
            byService[service, default: []].append(alert)
        }
        var events: [SLAEvent] = []
        for (service, group) in byService.sorted(by: { $0.key < $1.key }) {
            let firing = group.filter(\.firing)
            if let since = firing.map(\.startsAt).min() {
                events.append(
                    SLAEvent(
                        id: "alertmanager:\(service):down:\(since.seconds)", time: since, type: .serviceDown,
                        service: service))
            } else if let until = group.compactMap(\.endsAt).max() {
                events.append(
                    SLAEvent(
                        id: "alertmanager:\(service):up:\(until.seconds)", time: until, type: .serviceUp,
                        service: service))
            }
        }
        return (events, unmapped)
    }
}
