import SLACore

/// `GET /v1/incidents/ID/explanation`: why each clock of an incident stands where it does, with
/// times in the contract's zone (docs/api.md). `text` renders it for people.
public struct IncidentExplanation: Codable, Sendable, Hashable {
    /// One stretch of a clock with constant settings.
    public struct Stretch: Codable, Sendable, Hashable {
        /// When it began.
        public var from: String
        /// When it ended; nil for the last one.
        public var to: String?
        /// `running`, `paused` or `stopped`.
        public var state: String
        /// The priority in force.
        public var priority: String
        /// Its target (business seconds); nil when the priority has none.
        public var targetSeconds: Int64?
        /// The calendar time is counted in.
        public var calendar: String
        /// Business seconds it counted.
        public var countedSeconds: Int64
        /// The event that began it.
        public var cause: String
        /// The working time it counted: `[from, to]` pairs.
        public var intervals: [[String]]
        /// The contract version in force.
        public var version: String
    }

    /// A version of the contract's terms.
    public struct Version: Codable, Sendable, Hashable {
        /// Its name.
        public var version: String
        /// When it takes effect; nil for the first.
        public var effective: String?
        /// Whether it takes incidents already open over.
        public var appliesToOpen: Bool
        /// SHA-256 of its terms as written.
        public var sha256: String
    }

    /// A threshold passed or to come.
    public struct Threshold: Codable, Sendable, Hashable {
        /// `warning`, `breach` or `escalation`.
        public var kind: String
        /// Share of the target, e.g. `80%`.
        public var percent: String
        /// When it was passed, or falls due.
        public var at: String
        /// Whether it was passed.
        public var passed: Bool
    }

    /// What a breach costs, and how.
    public struct Penalty: Codable, Sendable, Hashable {
        /// When the target was used up.
        public var breachedAt: String
        /// The month charged (`YYYY-MM`, contract zone).
        public var month: String
        /// The priority whose penalty applies.
        public var priority: String
        /// The target in force at the breach.
        public var targetSeconds: Int64
        /// The clock's business seconds.
        public var elapsedSeconds: Int64
        /// Started hours past the target.
        public var hoursLate: Int64
        /// The rule, e.g. `5000.00 + 1 h × 500.00`.
        public var rule: String
        /// The amount.
        public var amount: String
        /// ISO 4217 code.
        public var currency: String
        /// The contract version whose penalties apply.
        public var version: String
        /// Its SHA-256.
        public var versionSha256: String
    }

    /// One clock.
    public struct Clock: Codable, Sendable, Hashable {
        /// `reaction`, `resolution` or `promise:NAME`.
        public var metric: String
        /// `running`, `paused`, `met`, `breached`, `untracked`.
        public var outcome: String
        /// The priority in force at the end.
        public var priority: String
        /// The target in force at the end.
        public var targetSeconds: Int64?
        /// Business seconds counted.
        public var elapsedSeconds: Int64
        /// Its stretches.
        public var stretches: [Stretch]
        /// Thresholds passed and to come.
        public var thresholds: [Threshold]
        /// The breach's penalty.
        public var penalty: Penalty?
    }

    /// Incident id.
    public var incident: String
    /// Contract id.
    public var contract: String
    /// The contract's customer.
    public var customer: String
    /// The contract's zone, in which every time here is written.
    public var timeZone: String
    /// When it was opened.
    public var openedAt: String
    /// The priority it was opened with (the one its month counts it under).
    public var openingPriority: String
    /// The priority now.
    public var priority: String
    /// `open`, `resolved` or `closed`.
    public var status: String
    /// The instant it is explained as of.
    public var asOf: String
    /// The contract's versions, in effective order.
    public var versions: [Version]
    /// Every clock.
    public var clocks: [Clock]

    /// The wire form of `e`.
    public init(_ e: Explanation) {
        let zone = e.contract.zone
        func time(_ t: Instant) -> String { ISO8601.format(t, in: zone) }
        let v = e.verdict
        incident = v.incident
        contract = v.contract
        customer = e.contract.customer
        timeZone = zone.identifier
        openedAt = time(v.openedAt)
        openingPriority = v.openingPriority
        priority = v.priority
        status = v.status.rawValue
        asOf = time(v.asOf)
        versions = e.contract.versions.map {
            Version(
                version: $0.version, effective: $0.effective.map(time), appliesToOpen: $0.appliesToOpen,
                sha256: $0.versionHash)
        }
        clocks = e.clocks.map { c in
            Clock(
                metric: "\(c.metric)", outcome: c.verdict.outcome.rawValue, priority: c.verdict.priority,
                targetSeconds: c.verdict.target, elapsedSeconds: c.verdict.elapsed,
                stretches: c.stretches.map { s in
                    Stretch(
                        from: time(s.from), to: s.to.map(time), state: s.state, priority: s.priority,
                        targetSeconds: s.target, calendar: s.calendar, countedSeconds: s.counted, cause: s.cause,
                        intervals: s.intervals.map { [time($0.from), time($0.to)] }, version: s.version)
                },
                thresholds: c.thresholds.map {
                    Threshold(kind: $0.kind, percent: $0.percent.description, at: time($0.at), passed: $0.passed)
                },
                penalty: c.penalty.map { p in
                    Penalty(
                        breachedAt: time(p.breachedAt), month: p.month.description, priority: p.priority,
                        targetSeconds: p.target, elapsedSeconds: p.elapsed, hoursLate: p.hours, rule: p.rule,
                        amount: p.amount.amountText, currency: p.amount.currency.code, version: p.version,
                        versionSha256: p.versionHash)
                })
        }
    }

    /// The explanation for people: one block per clock, each stretch with the working time it
    /// counted, the thresholds, and the penalty's arithmetic, to the cent.
    public var text: String {
        var out = "\(incident): contract \(contract) (\(customer)), times in \(timeZone), as of \(asOf)\n"
        out += "opened \(openedAt) as \(openingPriority); now \(priority), \(status)\n"
        for v in versions {
            out += "terms: version \(v.version)" + (v.effective.map { " from \($0)" } ?? "")
            out += (v.appliesToOpen ? " (open incidents too)" : "") + ", sha256 \(v.sha256)\n"
        }
        for c in clocks {
            let target = c.targetSeconds.map { " of \(formatSeconds($0))" } ?? ""
            out += "\n\(c.metric): \(c.outcome), \(formatSeconds(c.elapsedSeconds))\(target) (\(c.priority))\n"
            for s in c.stretches {
                let target = s.targetSeconds.map { "target \(formatSeconds($0))" } ?? "no target"
                out +=
                    "  from \(s.from) \(s.state), \(s.priority) \(target), calendar \(s.calendar), version \(s.version): "
                out += "counted \(formatSeconds(s.countedSeconds)) (\(s.cause))\n"
                for i in s.intervals where i.count == 2 {
                    out += "    \(i[0]) – \(i[1])\n"
                }
            }
            for t in c.thresholds {
                out += "  \(t.kind) \(t.percent) \(t.passed ? "passed" : "due") at \(t.at)\n"
            }
            if let p = c.penalty {
                let late = max(0, p.elapsedSeconds - p.targetSeconds)
                out +=
                    "  penalty: breached at \(p.breachedAt), charged to \(p.month) under \(p.priority), version \(p.version): "
                out += "\(formatSeconds(p.elapsedSeconds)) − \(formatSeconds(p.targetSeconds)) = "
                out += "\(formatSeconds(late)) late, \(p.hoursLate) started h; \(p.rule) = \(p.amount) \(p.currency)\n"
            }
        }
        return out
    }
}
