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
    func evaluate(thresholds: [Threshold], asOf: Instant) -> Evaluation {
        var elapsed: Int64 = 0
        var crossed = [Bool](repeating: false, count: thresholds.count)
        var found: [(crossing: Crossing, threshold: Int)] = []
        for (i, phase) in phases.enumerated() {
            let end = i + 1 < phases.count ? phases[i + 1].start : max(asOf, phase.start)
            guard let target = phase.target else { continue }
            for (k, threshold) in thresholds.enumerated() where !crossed[k] {
                if elapsed > threshold.at.ceilingOf(target) {
                    crossed[k] = true
                    found.append(
                        (Crossing(threshold: threshold, at: phase.start, target: target, priority: phase.priority), k))
                }
            }
            guard phase.running else { continue }
            let gained = phase.calendar.elapsed(from: phase.start, to: end)
            for (k, threshold) in thresholds.enumerated() where !crossed[k] {
                let limit = threshold.at.ceilingOf(target)
                if elapsed + gained > limit, let at = phase.calendar.adding(business: limit - elapsed, to: phase.start)
                {
                    crossed[k] = true
                    found.append((Crossing(threshold: threshold, at: at, target: target, priority: phase.priority), k))
                }
            }
            elapsed += gained
        }
        // Phases can apply a crossing at a later phase start than an in-phase one
        // of another threshold; report them in time order, then threshold order.
        found.sort { ($0.crossing.at, $0.threshold) < ($1.crossing.at, $1.threshold) }
        let crossings = found.map(\.crossing)
        var upcoming: [Crossing] = []
        if let last = phases.last, last.running, !isStopped, let target = last.target {
            for (k, threshold) in thresholds.enumerated() where !crossed[k] {
                let limit = threshold.at.ceilingOf(target)
                if let at = last.calendar.adding(business: limit - elapsed, to: max(asOf, last.start)) {
                    upcoming.append(Crossing(threshold: threshold, at: at, target: target, priority: last.priority))
                }
            }
        }
        return Evaluation(elapsed: elapsed, crossings: crossings, upcoming: upcoming)
    }
}
