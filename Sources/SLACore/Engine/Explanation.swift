/// Why an incident's clocks stand where they do: every stretch of each clock with the event
/// that began it, the working time it counted, each threshold's instant and the penalty
/// arithmetic. What a disputed penalty is settled with (`slactl incident ID --explain`,
/// `slad replay --explain ID`).
public struct Explanation: Sendable {
    /// One stretch of a clock with constant settings.
    public struct Stretch: Sendable {
        /// When it began.
        public var from: Instant
        /// When it ended; nil for the last one (it lasts to the evaluation instant).
        public var to: Instant?
        /// `running`, `paused` or `stopped`.
        public var state: String
        /// The priority in force.
        public var priority: String
        /// Its target, business seconds; nil when the priority has none (time does not count).
        public var target: Int64?
        /// The calendar time is counted in.
        public var calendar: String
        /// Business seconds it counted.
        public var counted: Int64
        /// The event that began it: `TYPE ID` and the status it set, if any.
        public var cause: String
        /// The working time it counted, stretch by stretch of the calendar.
        public var intervals: [(from: Instant, to: Instant)]
        /// The contract version in force.
        public var version: String
    }

    /// A threshold of a clock: passed at `at`, or due then if the clock keeps running.
    public struct ThresholdLine: Sendable {
        /// `warning`, `breach` or `escalation`.
        public var kind: String
        /// Its share of the target.
        public var percent: Percentage
        /// When it was passed, or falls due.
        public var at: Instant
        /// Whether it was passed.
        public var passed: Bool
    }

    /// What a breach costs, and how.
    public struct Penalty: Sendable {
        /// When the target was used up: it dates the breach into its month.
        public var breachedAt: Instant
        /// The month the breach is charged to (contract zone).
        public var month: YearMonth
        /// The priority in force at the breach, whose penalty applies.
        public var priority: String
        /// The target in force at the breach.
        public var target: Int64
        /// The clock's business seconds up to its stop or the evaluation instant.
        public var elapsed: Int64
        /// Started hours past the target.
        public var hours: Int64
        /// The rule, e.g. `5000.00 + 1 h × 500.00`.
        public var rule: String
        /// The amount.
        public var amount: Money
        /// The contract version whose penalties apply: the one judging the incident at the breach.
        public var version: String
        /// That version's content hash.
        public var versionHash: String
    }

    /// One clock.
    public struct Clock: Sendable {
        /// Which clock.
        public var metric: Metric
        /// Its verdict.
        public var verdict: ClockVerdict
        /// Its stretches, in time order.
        public var stretches: [Stretch]
        /// Thresholds passed and to come, in time order.
        public var thresholds: [ThresholdLine]
        /// The breach's penalty, if it breached.
        public var penalty: Penalty?
    }

    /// The incident's verdict.
    public var verdict: IncidentVerdict
    /// The contract it is judged by.
    public var contract: Contract
    /// Every clock.
    public var clocks: [Clock]
}

extension IncidentEvaluator {
    /// The explanation of `incident`'s verdict under `contract` as of `asOf`, from its events
    /// (any order); nil when it has no verdict (never opened, no priority).
    public static func explain(incident: String, events: [SLAEvent], contract: Contract, asOf: Instant)
        -> Explanation?
    {
        guard let verdict = evaluate(incident: incident, events: events, contract: contract, asOf: asOf).verdict
        else { return nil }
        let sorted = events.sorted(by: SLAEvent.canonicalOrder)
        guard let openIndex = sorted.firstIndex(where: { $0.type == .opened }),
            let priority = sorted[openIndex].priority
        else { return nil }
        // The fold again, noting after each event how each clock stands: every change of
        // state (running, paused, stopped), priority, target or calendar begins a stretch.
        var state = IncidentState(open: sorted[openIndex], priority: priority, contract: contract)
        var marks: [Metric: [Mark]] = [:]
        func note(_ time: Instant, _ cause: String) {
            for (metric, track) in [(Metric.reaction, state.reaction), (.resolution, state.resolution)] {
                guard let last = track.phases.last else { continue }
                let mark = Mark(
                    from: time, state: track.isStopped ? "stopped" : (last.running ? "running" : "paused"),
                    priority: last.priority, target: last.target, calendar: last.calendar, cause: cause,
                    version: state.contract.version)
                if let previous = marks[metric]?.last, previous.same(as: mark) { continue }
                marks[metric, default: []].append(mark)
            }
        }
        /// Each version that takes the incident over by `t` begins a stretch of its own.
        var pending = contract.takeovers(openedAt: sorted[openIndex].time)
        func takeOver(until t: Instant) {
            while let v = pending.first, let at = v.effective, at <= t {
                pending.removeFirst()
                state.takeOver(until: at)
                if state.contract === v { note(at, "contract version \(v.version) took effect") }
            }
        }
        note(sorted[openIndex].time, Self.cause(sorted[openIndex]))
        for e in sorted[(openIndex + 1)...] {
            takeOver(until: e.time)
            _ = withUnsafePointer(to: e) { state.apply($0) }
            note(e.time, Self.cause(e))
        }
        takeOver(until: verdict.asOf)
        let clocks = verdict.clocks.map { clock -> Explanation.Clock in
            let stretches: [Explanation.Stretch]
            switch clock.metric {
            case .reaction, .resolution, .availability:
                stretches = Self.stretches(marks[clock.metric] ?? [], asOf: verdict.asOf)
            case .ola(let name):
                stretches =
                    state.holds.first { $0.name == name }.map {
                        Self.stretches($0.track, asOf: verdict.asOf, version: state.contract.version)
                    } ?? []
            case .promise(let name):
                let made = state.promises[name]
                let start = made?.made ?? verdict.openedAt
                let end = made?.keptAt
                stretches = [
                    Explanation.Stretch(
                        from: start, to: end, state: "running", priority: clock.priority, target: clock.target,
                        calendar: "24x7", counted: clock.elapsed, cause: "promise.made",
                        intervals: [(start, end ?? max(start, verdict.asOf))], version: state.contract.version)
                ]
            }
            let passed = clock.crossings.map {
                Explanation.ThresholdLine(
                    kind: $0.threshold.kind.rawValue, percent: $0.threshold.at, at: $0.at, passed: true)
            }
            let upcoming = clock.upcoming.map {
                Explanation.ThresholdLine(
                    kind: $0.threshold.kind.rawValue, percent: $0.threshold.at, at: $0.at, passed: false)
            }
            var penalty: Explanation.Penalty?
            // An OLA breach is internal: nothing to charge.
            if let breach = clock.breach, !clock.metric.isOLA {
                let hours = (max(0, clock.elapsed - breach.target) + 3599) / 3600
                let judge = contract.judging(openedAt: verdict.openedAt, at: breach.at)
                let price = StatementBuilder.price(
                    clock.metric, priority: breach.priority, hours: hours, contract: judge)
                penalty = Explanation.Penalty(
                    breachedAt: breach.at, month: contract.month(of: breach.at), priority: breach.priority,
                    target: breach.target, elapsed: clock.elapsed, hours: hours, rule: price.rule, amount: price.amount,
                    version: judge.version, versionHash: judge.versionHash)
            }
            return Explanation.Clock(
                metric: clock.metric, verdict: clock, stretches: stretches, thresholds: passed + upcoming,
                penalty: penalty)
        }
        return Explanation(verdict: verdict, contract: contract, clocks: clocks)
    }

    /// How a clock stood from an event on.
    struct Mark {
        var from: Instant
        var state: String
        var priority: String
        var target: Int64?
        var calendar: BusinessCalendar
        var cause: String
        var version: String

        func same(as other: Mark) -> Bool {
            (state, priority, target, calendar.id, version)
                == (other.state, other.priority, other.target, other.calendar.id, other.version)
        }
    }

    /// What an event did, as a stretch's cause: `TYPE ID` and the status or priority it set.
    private static func cause(_ e: SLAEvent) -> String {
        var because = "\(e.type.rawValue) \(e.id)"
        if let s = e.status { because += " status=\(s)" }
        if e.type == .updated, let p = e.priority { because += " priority=\(p)" }
        return because
    }

    /// The stretches of an OLA hold, from its phases: a hold is begun and changed by the
    /// incident's handoffs, statuses and priority, each a phase of its track; its stop (a
    /// handoff away, the resolution) is the last.
    private static func stretches(_ track: ClockTrack, asOf: Instant, version: String) -> [Explanation.Stretch] {
        var marks = track.phases.map { (phase: $0, stopped: false) }
        if let stop = track.stoppedAt, var last = marks.last?.phase {
            // A clock already paused gains no phase when it stops.
            if last.start == stop && !last.running {
                marks[marks.count - 1].stopped = true
            } else {
                last.start = stop
                last.running = false
                marks.append((last, true))
            }
        }
        return marks.indices.compactMap { k in
            let (phase, stopped) = marks[k]
            let end = k + 1 < marks.count ? marks[k + 1].phase.start : nil
            if let end, end <= phase.start { return nil }
            let counts = phase.running && phase.target != nil && !stopped
            let intervals = counts ? phase.calendar.workingIntervals(from: phase.start, to: end ?? asOf) : []
            return Explanation.Stretch(
                from: phase.start, to: end, state: stopped ? "stopped" : (phase.running ? "running" : "paused"),
                priority: phase.priority, target: phase.target, calendar: phase.calendar.id,
                counted: intervals.reduce(0) { $0 + $1.to.seconds - $1.from.seconds },
                cause: k == 0 ? "held" : (stopped ? "left" : "held, changed"), intervals: intervals, version: version)
        }
    }

    /// A clock's marks as stretches; one that lasted no time (several changes in one second)
    /// is left out.
    private static func stretches(_ marks: [Mark], asOf: Instant) -> [Explanation.Stretch] {
        marks.indices.compactMap { k in
            let mark = marks[k]
            let end = k + 1 < marks.count ? marks[k + 1].from : nil
            if let end, end <= mark.from { return nil }
            let counts = mark.state == "running" && mark.target != nil
            let intervals = counts ? mark.calendar.workingIntervals(from: mark.from, to: end ?? asOf) : []
            return Explanation.Stretch(
                from: mark.from, to: end, state: mark.state, priority: mark.priority, target: mark.target,
                calendar: mark.calendar.id, counted: intervals.reduce(0) { $0 + $1.to.seconds - $1.from.seconds },
                cause: mark.cause, intervals: intervals, version: mark.version)
        }
    }
}
