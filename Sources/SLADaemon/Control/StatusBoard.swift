import SLAAPI
import SLACore
import Synchronization

/// What `GET /v1/status` shows, published by the engine loop and read by the
/// control socket's threads without waiting for the loop.
///
/// The encoded document is cached per (version, second): at thousands of status
/// requests a second, each change is encoded once.
final class StatusBoard: Sendable {
    struct Snapshot: Sendable {
        var counts = IncidentCounts()
        /// Open incidents by contract and priority.
        var groups: [(group: LiveEngine.StandingGroup, counts: IncidentCounts)] = []
        /// Each contract's month so far, by contract id (``MonthWatch``).
        var months: [String: MonthToDate] = [:]
        var events = 0
        var armed = 0
        var generation = 1
        var sources: [SourceStatus] = []
        var quarantine: [String: Int] = [:]
        var sinks: [SinkStatus] = []
        var storeError: String?
        /// This node's part: `single`, or `leader` with its lease holder name and token.
        var role = NodeRole.single
    }

    private struct State {
        var snapshot = Snapshot()
        var version = 0
        var cache: (version: Int, second: Int64, bytes: [UInt8])?
    }

    let startedMilliseconds: Int64
    private let state = Mutex(State())

    init(startedMilliseconds: Int64) { self.startedMilliseconds = startedMilliseconds }

    /// Changes the snapshot.
    func publish(_ change: (inout Snapshot) -> Void) {
        state.withLock {
            change(&$0.snapshot)
            $0.version += 1
        }
    }

    var snapshot: Snapshot { state.withLock { $0.snapshot } }

    /// The status document as of `now` (ms).
    func statusBytes(nowMilliseconds now: Int64) -> [UInt8] {
        let second = now / 1000
        let (version, snapshot, cached): (Int, Snapshot, [UInt8]?) = state.withLock {
            if let c = $0.cache, c.version == $0.version, c.second == second {
                return ($0.version, $0.snapshot, c.bytes)
            }
            return ($0.version, $0.snapshot, nil)
        }
        if let cached { return cached }
        let report = StatusReport(
            version: SladVersion.current, startedAt: ISO8601.format(Instant(startedMilliseconds / 1000), in: .utc),
            uptimeSeconds: max(0, (now - startedMilliseconds) / 1000), configGeneration: snapshot.generation,
            events: snapshot.events, armedTimers: snapshot.armed, incidents: snapshot.counts, sources: snapshot.sources,
            quarantine: snapshot.quarantine.map { QuarantineCount(reason: $0.key, count: $0.value) }
                .sorted { ($1.count, $0.reason) < ($0.count, $1.reason) },
            outbox: snapshot.sinks, storeError: snapshot.storeError, role: snapshot.role.name,
            leaseHolder: snapshot.role.holder, fencingToken: snapshot.role.token)
        let bytes = APIJSON.encode(report)
        state.withLock { $0.cache = (version, second, bytes) }
        return bytes
    }
}

/// A node's part among the nodes of its store.
struct NodeRole: Sendable {
    /// `single` or `leader`.
    var name: String
    /// The leader's name in the lease.
    var holder: String?
    /// The leader's fencing token.
    var token: Int64?

    /// A node with a store of its own.
    static let single = NodeRole(name: "single")
}
