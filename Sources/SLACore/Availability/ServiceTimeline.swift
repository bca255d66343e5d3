/// Outages and maintenance windows of services, folded from service events.
public struct ServiceTimeline: Sendable {
    /// Downtime per service.
    public private(set) var down: [String: IntervalSet] = [:]
    /// Planned maintenance per service.
    public private(set) var maintenance: [String: IntervalSet] = [:]
    /// Since when each service still down at the end of the events has been down.
    public private(set) var downSince: [String: Instant] = [:]
    /// Since when each service still in maintenance at the end of the events has been.
    public private(set) var maintenanceSince: [String: Instant] = [:]

    /// Folds `events` (service and maintenance events, any order) up to `asOf`;
    /// an outage still open at `asOf` counts until `asOf`.
    public static func build(from events: [SLAEvent], asOf: Instant) -> (ServiceTimeline, [Rejection]) {
        var rejections: [Rejection] = []
        var outages = Windows(start: .serviceDown, end: .serviceUp)
        var maintenance = Windows(start: .maintenanceStarted, end: .maintenanceEnded)
        for e in events.sorted(by: SLAEvent.canonicalOrder) {
            guard let service = e.service else {
                rejections.append(
                    Rejection(event: e, reason: .missingService, detail: "\(e.type.rawValue) without service"))
                continue
            }
            if let rejection = outages.apply(e, service: service) ?? maintenance.apply(e, service: service) {
                rejections.append(rejection)
            }
        }
        let end = max(asOf, events.map(\.time).max() ?? asOf)
        var timeline = ServiceTimeline()
        timeline.down = outages.closed(at: end)
        timeline.maintenance = maintenance.closed(at: end)
        timeline.downSince = outages.open
        timeline.maintenanceSince = maintenance.open
        return (timeline, rejections)
    }

    /// Pairs start and end events of one kind of window per service.
    private struct Windows {
        let start: EventType
        let end: EventType
        var open: [String: Instant] = [:]
        var ranges: [String: [Range<Int64>]] = [:]

        init(start: EventType, end: EventType) {
            self.start = start
            self.end = end
        }

        /// Applies `e` if it is this window's kind; a repeated start is ignored, an end without start rejected.
        mutating func apply(_ e: SLAEvent, service: String) -> Rejection? {
            if e.type == start {
                if open[service] == nil { open[service] = e.time }
            } else if e.type == end {
                guard let from = open.removeValue(forKey: service) else {
                    return Rejection(
                        event: e, reason: .unmatchedEnd,
                        detail: "\(end.rawValue) for \(service) without \(start.rawValue)")
                }
                ranges[service, default: []].append(from.seconds..<e.time.seconds)
            }
            return nil
        }

        /// The windows per service, those still open closed at `end`.
        func closed(at end: Instant) -> [String: IntervalSet] {
            var all = ranges
            for (service, from) in open { all[service, default: []].append(from.seconds..<end.seconds) }
            return all.mapValues(IntervalSet.init)
        }
    }

    /// Union of the downtime of `services`.
    public func downtime(of services: [String]) -> IntervalSet {
        services.reduce(IntervalSet()) { $0.union(down[$1] ?? IntervalSet()) }
    }

    /// Whether one of `services` is down at `t`: inside an outage, or past the start of one
    /// still open.
    public func isDown(_ services: [String], at t: Instant) -> Bool {
        services.contains { service in
            downSince[service].map { $0 <= t } ?? false || (down[service]?.contains(t.seconds) ?? false)
        }
    }

    /// Whether one of `services` is in maintenance at `t`.
    public func isInMaintenance(_ services: [String], at t: Instant) -> Bool {
        services.contains { service in
            maintenanceSince[service].map { $0 <= t } ?? false
                || (maintenance[service]?.contains(t.seconds) ?? false)
        }
    }

    /// Union of the maintenance of `services`.
    public func maintenance(of services: [String]) -> IntervalSet {
        services.reduce(IntervalSet()) { $0.union(maintenance[$1] ?? IntervalSet()) }
    }
}
