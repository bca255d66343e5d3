import Foundation
import Synchronization

/// Zone rules are costly to build (a scan of the zone's history) and never
/// change while the process runs: one table per zone name, shared.
public enum ZoneCache {
    private static let cache = Mutex<[String: ZoneRules]>([:])

    /// The rules of IANA zone `identifier`, or nil when the zone is unknown.
    public static func rules(for identifier: String) -> ZoneRules? {
        if identifier == "UTC" { return .utc }
        if let hit = cache.withLock({ $0[identifier] }) { return hit }
        guard identifier.contains("/") || identifier == "GMT", let tz = TimeZone(identifier: identifier) else {
            return nil
        }
        let rules = ZoneRules(timeZone: tz)
        cache.withLock { $0[identifier] = rules }
        return rules
    }
}
