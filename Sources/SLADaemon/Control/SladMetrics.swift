import Prometheus
import SLAAPI
import SLACore
import Synchronization

/// Prometheus text for `/metrics`: counters kept by the loop and the socket, gauges set from
/// the status board when scraped. The registry is the daemon's own, not a process-wide
/// metrics system, so that several daemons (tests) live in one process.
final class SladMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let events: Prometheus.Counter
    private let quarantined: Prometheus.Counter
    private let board: StatusBoard

    init(board: StatusBoard) {
        self.board = board
        events = registry.makeCounter(descriptor: Self.described("slad_events_total"))
        quarantined = registry.makeCounter(descriptor: Self.described("slad_lines_quarantined_total"))
    }

    /// Counts events new to the ledger and lines quarantined.
    func ingested(events newEvents: Int, quarantined lines: Int) {
        if newEvents > 0 { events.increment(by: Int64(newEvents)) }
        if lines > 0 { quarantined.increment(by: Int64(lines)) }
    }

    /// Counts a decided notification.
    func notified(_ kind: NotificationKind) {
        registry.makeCounter(descriptor: Self.described("slad_notifications_total"), labels: [("kind", kind.rawValue)])
            .increment()
    }

    /// Counts an answer of the control socket.
    func answered(route: String, status: Int) {
        // Cached: this runs for every request, and a registry lookup per request is not free.
        let key = AnswerKey(route: route, status: status)
        let counter = answerCounters.withLock { cache in
            if let known = cache[key] { return known }
            let made = registry.makeCounter(
                descriptor: Self.described("slad_control_requests_total"),
                labels: [("route", route), ("status", String(status))])
            cache[key] = made
            return made
        }
        counter.increment()
    }

    private let answerCounters = Mutex<[AnswerKey: Prometheus.Counter]>([:])

    private struct AnswerKey: Hashable {
        let route: String
        let status: Int
    }

    /// The exposition text.
    func render(nowMilliseconds now: Int64) -> [UInt8] {
        let s = board.snapshot
        var set: [String: Prometheus.Gauge] = [:]
        func gauge(_ name: String, _ value: Double, _ dimensions: [(String, String)] = []) {
            let made = registry.makeGauge(descriptor: Self.described(name), labels: dimensions)
            made.set(value)
            set[Self.key(name, dimensions)] = made
        }
        func gauge(_ name: String, _ value: Int, _ dimensions: [(String, String)] = []) {
            let made = registry.makeGauge(descriptor: Self.described(name), labels: dimensions)
            made.set(Int64(value))
            set[Self.key(name, dimensions)] = made
        }
        for (group, counts) in s.groups {
            let labels = [("contract", group.contract), ("priority", group.priority)]
            gauge("slad_incidents_open", counts.open, labels)
            gauge("slad_incidents_at_risk", counts.atRisk, labels)
            gauge("slad_incidents_breached", counts.breached, labels)
        }
        for (contract, m) in s.months.sorted(by: { $0.key < $1.key }) {
            gauge(
                "slad_month_penalties_minor", Int(m.penaltiesMinor), [("contract", contract), ("currency", m.currency)])
            gauge("slad_month_breaches", m.breaches, [("contract", contract)])
            for (metric, tally) in [("reaction", m.reaction), ("resolution", m.resolution)] {
                gauge("slad_month_clocks_met", tally.met, [("contract", contract), ("metric", metric)])
                gauge("slad_month_clocks_breached", tally.breached, [("contract", contract), ("metric", metric)])
                if tally.met + tally.breached > 0 {
                    gauge(
                        "slad_month_attainment_ratio", Double(tally.met) / Double(tally.met + tally.breached),
                        [("contract", contract), ("metric", metric)])
                }
            }
            guard let a = m.availability else { continue }
            let labels = [("contract", contract)]
            gauge("slad_availability_target_ratio", Self.ratio(a.target), labels)
            gauge("slad_month_availability_ratio", Self.ratio(a.achieved), labels)
            gauge("slad_availability_counted", a.counting ? 1 : 0, labels)
            gauge("slad_availability_down", a.down ? 1 : 0, labels)
            gauge("slad_error_budget_allowed_seconds", Int(a.allowedSeconds), labels)
            gauge("slad_error_budget_spent_seconds", Int(a.spentSeconds), labels)
        }
        gauge("slad_timers_armed", s.armed)
        gauge("slad_ledger_events", s.events)
        gauge("slad_config_generation", s.generation)
        gauge("slad_uptime_seconds", Int(max(0, now - board.startedMilliseconds) / 1000))
        gauge("slad_store_writable", s.storeError == nil ? 1 : 0)
        gauge("slad_leader", s.role.name == "leader" ? 1 : 0)
        if let token = s.role.token { gauge("slad_fencing_token", Int(token)) }
        for source in s.sources {
            gauge("slad_source_readable", source.error == nil ? 1 : 0, [("source", source.name)])
            gauge("slad_source_lag_bytes", Int(source.lagBytes), [("source", source.name)])
            gauge("slad_source_offset_bytes", Int(source.offsetBytes), [("source", source.name)])
        }
        gauge("slad_build_info", 1, [("version", SladVersion.current)])
        for sink in s.sinks {
            gauge("slad_outbox_pending", sink.pending, [("sink", sink.name)])
            count("slad_deliveries_total", to: sink.delivered, [("sink", sink.name)])
            count("slad_deliveries_failed_total", to: sink.failed, [("sink", sink.name)])
            count("slad_deliveries_skipped_total", to: sink.skipped, [("sink", sink.name)])
        }
        let process = ProcessFigures.read()
        gauge("process_resident_memory_bytes", Int(process.residentBytes))
        gauge("process_virtual_memory_bytes", Int(process.virtualBytes))
        gauge("process_open_fds", process.openFiles)
        gauge("process_max_fds", Int(process.maxFiles))
        gauge("process_start_time_seconds", Double(board.startedMilliseconds) / 1000)
        let cpu = registry.makeCounter(descriptor: Self.described("process_cpu_seconds_total"))
        let grown = cpuCounted.withLock { seen in
            defer { seen = max(seen, process.cpuSeconds) }
            return max(0, process.cpuSeconds - seen)
        }
        if grown > 0 { cpu.increment(by: grown) }
        // A series whose contract, source or sink is gone (a reload) leaves the exposition.
        let stale = shown.withLock { before in
            defer { before = set }
            return before.filter { set[$0.key] == nil }.map(\.value)
        }
        for gone in stale { registry.unregisterGauge(gone) }
        return registry.emitToBuffer()
    }

    /// A percentage as the API writes it (`99.9`) as a ratio (`0.999`), through its exact
    /// millionths: `99.9 / 100` in floating point is `0.9990000000000001`.
    private static func ratio(_ percent: String) -> Double {
        Double(Percentage(parsing: percent + "%")?.millionths ?? 1_000_000) / 1_000_000
    }

    /// The CPU time `process_cpu_seconds_total` was last brought up to.
    private let cpuCounted = Mutex<Double>(0)

    /// The gauges the last exposition set, by name and labels.
    private let shown = Mutex<[String: Prometheus.Gauge]>([:])

    private static func key(_ name: String, _ dimensions: [(String, String)]) -> String {
        name + dimensions.map { "\u{0}\($0.0)=\($0.1)" }.joined()
    }

    /// Brings a counter up to `value`, a count the status board keeps since start.
    private func count(_ name: String, to value: Int, _ dimensions: [(String, String)]) {
        let key = Self.key(name, dimensions)
        let grown = counted.withLock { seen in
            defer { seen[key] = max(seen[key] ?? 0, value) }
            return max(0, value - (seen[key] ?? 0))
        }
        let counter = registry.makeCounter(descriptor: Self.described(name), labels: dimensions)
        if grown > 0 { counter.increment(by: Int64(grown)) }
    }

    /// What each counter brought up to a board's count (``count(_:to:_:)``) last said.
    private let counted = Mutex<[String: Int]>([:])

    /// Each metric's `# HELP` text.
    static let help: [String: String] = [
        "slad_events_total": "Events new to the ledger.",
        "slad_lines_quarantined_total": "Source lines quarantined (not turned into events).",
        "slad_notifications_total": "Warnings, breaches, escalations and retractions decided, by kind.",
        "slad_control_requests_total": "Control socket answers, by route and HTTP status.",
        "slad_incidents_open": "Open incidents, by contract and current priority.",
        "slad_incidents_at_risk": "Open incidents past a warning threshold, not breached, by contract and priority.",
        "slad_incidents_breached": "Open incidents with a breached clock, by contract and priority.",
        "slad_month_penalties_minor":
            "This month's penalties so far (contract zone; capped; without corrections of sealed months), in minor units of the currency.",
        "slad_month_breaches": "Breaches charged this month so far.",
        "slad_month_clocks_met": "Clocks that met their target this month, by metric.",
        "slad_month_clocks_breached": "Clocks that breached this month, by metric.",
        "slad_month_attainment_ratio": "Met over decided clocks this month, by metric (absent while none is decided).",
        "slad_availability_target_ratio": "The availability the contract promises (0.999 for 99.9 %).",
        "slad_month_availability_ratio": "Availability achieved this month so far.",
        "slad_availability_counted":
            "1 while the instant counts for availability (calendar open, no excluded maintenance); the denominator of burn rates.",
        "slad_availability_down":
            "1 while a service of the contract is down and the instant counts; the numerator of burn rates.",
        "slad_error_budget_allowed_seconds": "Downtime the availability target allows this month.",
        "slad_error_budget_spent_seconds": "Downtime counted this month so far.",
        "process_resident_memory_bytes": "Resident memory size in bytes.",
        "process_virtual_memory_bytes": "Virtual memory size in bytes.",
        "process_open_fds": "Number of open file descriptors.",
        "process_max_fds": "Maximum number of open file descriptors.",
        "process_start_time_seconds": "Start time of the process since the Unix epoch in seconds.",
        "process_cpu_seconds_total": "Total user and system CPU time spent in seconds.",
        "slad_timers_armed": "Deadlines armed in the timer wheel.",
        "slad_ledger_events": "Events in the ledger.",
        "slad_config_generation": "Configuration generation in force (1 at start, +1 per reload).",
        "slad_uptime_seconds": "Seconds since slad started.",
        "slad_store_writable": "1 while the store takes writes, 0 while commits fail (and are retried).",
        "slad_leader":
            "1 on the node that leads the nodes of a shared PostgreSQL store, 0 on a node with a store of its own.",
        "slad_fencing_token": "The leader's fencing token: one more at every change of leader.",
        "slad_source_readable": "1 when every file of a source can be read, 0 when one cannot (see slactl status).",
        "slad_source_lag_bytes": "Bytes written to a source's files and not yet read.",
        "slad_source_offset_bytes": "Bytes read from a source's files.",
        "slad_outbox_pending": "Notifications waiting for delivery, by sink.",
        "slad_deliveries_total": "Notifications delivered since start, by sink.",
        "slad_deliveries_failed_total": "Notifications given up (past their maximum age) since start, by sink.",
        "slad_deliveries_skipped_total":
            "Notifications a sink does not take (its kinds or contracts leave them out) since start, by sink.",
        "slad_build_info": "Always 1; the version of slad running, as a label.",
    ]

    /// A metric's name with its help text.
    static func described(_ name: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help[name] ?? "")
    }
}
