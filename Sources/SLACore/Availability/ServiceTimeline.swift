/// Outages and maintenance windows of services, folded from service events.
public struct ServiceTimeline: Sendable {
    /// Downtime per service.
    public private(set) var down: [String: IntervalSet] = [:]
    /// Planned maintenance per service.
    public private(set) var maintenance: [String: IntervalSet] = [:]

    /// Folds `events` (service and maintenance events, any order) up to `asOf`;
    /// an outage still open at `asOf` counts until `asOf`.
    public static func build(from events: [SLAEvent], asOf: Instant) -> (ServiceTimeline, [Rejection]) {
        var timeline = ServiceTimeline()
        var rejections: [Rejection] = []
        var openDown: [String: Instant] = [:]
        var openMaintenance: [String: Instant] = [:]
        var downRanges: [String: [Range<Int64>]] = [:]
        var maintenanceRanges: [String: [Range<Int64>]] = [:]
        for e in events.sorted(by: SLAEvent.canonicalOrder) {
            guard let service = e.service else {
                rejections.append(
                    Rejection(event: e, reason: .missingService, detail: "\(e.type.rawValue) without service"))
                continue
            }
            switch e.type {
            case .serviceDown:
                if openDown[service] == nil { openDown[service] = e.time }
            case .serviceUp:
                guard let start = openDown.removeValue(forKey: service) else {
                    rejections.append(
                        Rejection(
                            event: e, reason: .unmatchedEnd, detail: "service.up for \(service) without service.down"))
                    continue
                }
                downRanges[service, default: []].append(start.seconds..<e.time.seconds)
            case .maintenanceStarted:
                if openMaintenance[service] == nil { openMaintenance[service] = e.time }
            case .maintenanceEnded:
                guard let start = openMaintenance.removeValue(forKey: service) else {
                    rejections.append(
                        Rejection(
                            event: e, reason: .unmatchedEnd,
                            detail: "maintenance.ended for \(service) without maintenance.started"))
                    continue
                }
                maintenanceRanges[service, default: []].append(start.seconds..<e.time.seconds)
            default:
                continue
            }
        }
        let end = max(asOf, events.map(\.time).max() ?? asOf)
        for (service, start) in openDown { downRanges[service, default: []].append(start.seconds..<end.seconds) }
        for (service, start) in openMaintenance {
            maintenanceRanges[service, default: []].append(start.seconds..<end.seconds)
        }
        timeline.down = downRanges.mapValues(IntervalSet.init)
        timeline.maintenance = maintenanceRanges.mapValues(IntervalSet.init)
        return (timeline, rejections)
    }

    /// Union of the downtime of `services`.
    public func downtime(of services: [String]) -> IntervalSet {
        services.reduce(IntervalSet()) { $0.union(down[$1] ?? IntervalSet()) }
    }

    /// Union of the maintenance of `services`.
    public func maintenance(of services: [String]) -> IntervalSet {
        services.reduce(IntervalSet()) { $0.union(maintenance[$1] ?? IntervalSet()) }
    }
}
