/// Which promise a clock measures.
public enum Metric: Hashable, Sendable, Comparable, CustomStringConvertible {
    case reaction
    case resolution
    /// An explicit commitment (`promise.made`), by promise name.
    case promise(String)
    /// A contract's availability (its error budget), for burn alerts; no incident clock.
    case availability
    /// One hold of a support line or team against its OLA: `line:L1#2`, `team:G97#1`.
    case ola(String)

    /// Whether the clock is an internal OLA, not a promise to the customer.
    public var isOLA: Bool {
        if case .ola = self { return true }
        return false
    }

    /// `reaction`, `resolution` or `promise:NAME`.
    public var description: String {
        switch self {
        case .reaction: "reaction"
        case .resolution: "resolution"
        case .promise(let name): "promise:\(name)"
        case .availability: "availability"
        case .ola(let name): "ola:\(name)"
        }
    }

    /// Parses the text `description` produces.
    public init?(parsing text: String) {
        switch text {
        case "reaction": self = .reaction
        case "resolution": self = .resolution
        case "availability": self = .availability
        default:
            if text.hasPrefix("ola:") {
                self = .ola(String(text.dropFirst("ola:".count)))
                return
            }
            guard text.hasPrefix("promise:") else { return nil }
            self = .promise(String(text.dropFirst("promise:".count)))
        }
    }
}

/// What crossing a threshold means.
public enum ThresholdKind: String, Sendable, Codable, Hashable {
    /// Early warning (e.g. 50 %, 80 % of the target).
    case warning
    /// 100 %: the promise is broken.
    case breach
    /// A further level (e.g. 200 %) with its own recipients.
    case escalation
}

/// A threshold a clock can pass.
public struct Threshold: Sendable, Hashable {
    /// What passing it means.
    public var kind: ThresholdKind
    /// The share of the target at which it is passed.
    public var at: Percentage
    /// Webhook names to notify (escalations).
    public var notify: [String]

    /// Creates a threshold.
    public init(kind: ThresholdKind, at: Percentage, notify: [String] = []) {
        self.kind = kind
        self.at = at
        self.notify = notify
    }
}

extension Percentage {
    /// 100 %.
    public static let hundred = Percentage(millionths: 1_000_000)
}

/// The moment a clock passed a threshold, in event time.
public struct Crossing: Sendable, Hashable {
    /// The threshold passed.
    public var threshold: Threshold
    /// When it was passed.
    public var at: Instant
    /// The target in force when it was passed, in business seconds.
    public var target: Int64
    /// The priority in force when it was passed.
    public var priority: String

    /// Creates a crossing.
    public init(threshold: Threshold, at: Instant, target: Int64, priority: String) {
        self.threshold = threshold
        self.at = at
        self.target = target
        self.priority = priority
    }
}

/// One stretch of a clock's life with constant settings.
struct ClockPhase {
    var start: Instant
    var running: Bool
    /// Business seconds allowed; nil when the priority has no such target.
    var target: Int64?
    var calendar: BusinessCalendar
    var priority: String
}

/// The life of one SLA clock as phases, and the arithmetic over them.
///
/// A clock's elapsed time grows only in running phases, measured in the
/// calendar of each phase; its target can change between phases (priority
/// change). A threshold is crossed at the first instant elapsed time exceeds
/// its share of the target then in force, so a clock stopped exactly at its
/// deadline has met it.
struct ClockTrack {
    private(set) var phases: [ClockPhase] = []
    private(set) var stoppedAt: Instant?

    var isStopped: Bool { stoppedAt != nil }
    var isRunning: Bool { phases.last?.running ?? false }

    /// Starts the clock (the first phase).
    mutating func start(at t: Instant, target: Int64?, calendar: BusinessCalendar, priority: String) {
        phases = []
        // A clock usually stops (a second phase) and may pause or change priority first: room
        // for that at once, instead of a reallocation per added phase.
        phases.reserveCapacity(4)
        phases.append(ClockPhase(start: t, running: true, target: target, calendar: calendar, priority: priority))
    }

    /// Changes whether time runs; no-op when unchanged or stopped.
    ///
    /// A phase never starts before the one it follows: a clock that began to run at the next
    /// whole second after its event (``SLAEvent/runsFrom``) and is paused or stopped by an event
    /// of that same second changes at its start, having run for nothing.
    mutating func setRunning(_ running: Bool, at t: Instant) {
        guard !isStopped, var last = phases.last, last.running != running else { return }
        last.start = max(t, last.start)
        last.running = running
        phases.append(last)
    }

    /// Re-targets (priority change): elapsed time is kept, the target changes.
    mutating func retarget(_ target: Int64?, calendar: BusinessCalendar, priority: String, at t: Instant) {
        guard !isStopped, var last = phases.last else { return }
        last.start = max(t, last.start)
        last.target = target
        last.calendar = calendar
        last.priority = priority
        phases.append(last)
    }

    /// Stops the clock for good at `t`.
    mutating func stop(at t: Instant) {
        guard !isStopped, !phases.isEmpty else { return }
        setRunning(false, at: t)
        stoppedAt = t
    }

    /// Reopens a stopped clock: time runs again from `t`, elapsed is kept.
    mutating func resume(at t: Instant, running: Bool) {
        guard isStopped, var last = phases.last else { return }
        stoppedAt = nil
        last.start = max(t, last.start)
        last.running = running
        phases.append(last)
    }

    struct Evaluation {
        var elapsed: Int64
        var crossings: [Crossing]
        /// For a clock still running at `asOf`: when each remaining threshold falls due.
        var upcoming: [Crossing]
    }

    /// Elapsed time and crossings up to `asOf`.
    ///
    /// Every evaluation of an incident evaluates each of its clocks (an incident with OLA
    /// holds has several): the work areas are on the stack, and each result array is made
    /// once at its final size, not grown.
    func evaluate(thresholds: [Threshold], asOf: Instant) -> Evaluation {
        let count = thresholds.count
        return withUnsafeTemporaryAllocation(of: Bool.self, capacity: count) { crossed in
            crossed.initialize(repeating: false)
            // The threshold of each crossing, which orders crossings of one instant.
            return withUnsafeTemporaryAllocation(of: Int.self, capacity: count) { keys in
                evaluate(thresholds, asOf: asOf, crossed: crossed, keys: keys)
            }
        }
    }

    private func evaluate(
        _ thresholds: [Threshold], asOf: Instant, crossed: UnsafeMutableBufferPointer<Bool>,
        keys: UnsafeMutableBufferPointer<Int>
    ) -> Evaluation {
        var elapsed: Int64 = 0
        var crossings: [Crossing] = []
        var inOrder = true
        // Plain loops over indices, no closure: a local variable a closure changes is checked
        // for exclusive access at every use.
        for i in phases.indices {
            let start = phases[i].start
            let end = i + 1 < phases.count ? phases[i + 1].start : max(asOf, start)
            guard let target = phases[i].target else { continue }
            for k in 0..<thresholds.count where !crossed[k] {
                if elapsed > thresholds[k].at.ceilingOf(target) {
                    Self.cross(
                        k, Crossing(threshold: thresholds[k], at: start, target: target, priority: phases[i].priority),
                        into: &crossings, capacity: thresholds.count, inOrder: &inOrder, crossed: crossed, keys: keys)
                }
            }
            guard phases[i].running else { continue }
            let gained = phases[i].calendar.elapsed(from: start, to: end)
            for k in 0..<thresholds.count where !crossed[k] {
                let limit = thresholds[k].at.ceilingOf(target)
                if elapsed + gained > limit, let at = phases[i].calendar.adding(business: limit - elapsed, to: start) {
                    Self.cross(
                        k, Crossing(threshold: thresholds[k], at: at, target: target, priority: phases[i].priority),
                        into: &crossings, capacity: thresholds.count, inOrder: &inOrder, crossed: crossed, keys: keys)
                }
            }
            elapsed += gained
        }
        // Phases can apply a crossing at a later phase start than an in-phase one
        // of another threshold; report them in time order, then threshold order.
        if !inOrder {
            let order = crossings.indices.sorted { (crossings[$0].at, keys[$0]) < (crossings[$1].at, keys[$1]) }
            crossings = order.map { crossings[$0] }
        }
        var upcoming: [Crossing] = []
        if let last = phases.last, last.running, !isStopped, let target = last.target,
            crossings.count < thresholds.count
        {
            upcoming.reserveCapacity(thresholds.count - crossings.count)
            for k in 0..<thresholds.count where !crossed[k] {
                let limit = thresholds[k].at.ceilingOf(target)
                if let at = last.calendar.adding(business: limit - elapsed, to: max(asOf, last.start)) {
                    upcoming.append(Crossing(threshold: thresholds[k], at: at, target: target, priority: last.priority))
                }
            }
        }
        return Evaluation(elapsed: elapsed, crossings: crossings, upcoming: upcoming)
    }

    /// Records that threshold `k` was crossed: `crossings` is made once at its final size;
    /// `inOrder` turns false when one comes before the one recorded last.
    private static func cross(
        _ k: Int, _ crossing: Crossing, into crossings: inout [Crossing], capacity: Int, inOrder: inout Bool,
        crossed: UnsafeMutableBufferPointer<Bool>, keys: UnsafeMutableBufferPointer<Int>
    ) {
        if crossings.isEmpty { crossings.reserveCapacity(capacity) }
        if let last = crossings.last, (crossing.at, k) < (last.at, keys[crossings.count - 1]) { inOrder = false }
        keys[crossings.count] = k
        crossed[k] = true
        crossings.append(crossing)
    }
}
