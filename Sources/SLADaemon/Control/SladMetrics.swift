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
        func gauge(_ name: String, _ value: Int, _ dimensions: [(String, String)] = []) {
            registry.makeGauge(descriptor: Self.described(name), labels: dimensions).set(Int64(value))
        }
        gauge("slad_incidents_open", s.counts.open)
        gauge("slad_incidents_at_risk", s.counts.atRisk)
        gauge("slad_incidents_breached", s.counts.breached)
        gauge("slad_timers_armed", s.armed)
        gauge("slad_ledger_events", s.events)
        gauge("slad_config_generation", s.generation)
        gauge("slad_uptime_seconds", Int(max(0, now - board.startedMilliseconds) / 1000))
        gauge("slad_store_writable", s.storeError == nil ? 1 : 0)
        for source in s.sources {
            gauge("slad_source_readable", source.error == nil ? 1 : 0, [("source", source.name)])
            gauge("slad_source_lag_bytes", Int(source.lagBytes), [("source", source.name)])
            gauge("slad_source_offset_bytes", Int(source.offsetBytes), [("source", source.name)])
        }
        gauge("slad_build_info", 1, [("version", SladVersion.current)])
        for sink in s.sinks {
            gauge("slad_outbox_pending", sink.pending, [("sink", sink.name)])
            count("slad_deliveries_failed_total", to: sink.failed, [("sink", sink.name)])
        }
        return registry.emitToBuffer()
    }

    /// Brings a counter up to `value`, a count the status board keeps since start.
    private func count(_ name: String, to value: Int, _ dimensions: [(String, String)]) {
        let key = name + dimensions.map { "\u{0}\($0.0)=\($0.1)" }.joined()
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
        "slad_incidents_open": "Open incidents.",
        "slad_incidents_at_risk": "Open incidents past a warning threshold, not breached.",
        "slad_incidents_breached": "Open incidents with a breached clock.",
        "slad_timers_armed": "Deadlines armed in the timer wheel.",
        "slad_ledger_events": "Events in the ledger.",
        "slad_config_generation": "Configuration generation in force (1 at start, +1 per reload).",
        "slad_uptime_seconds": "Seconds since slad started.",
        "slad_store_writable": "1 while the store takes writes, 0 while commits fail (and are retried).",
        "slad_source_readable": "1 when every file of a source can be read, 0 when one cannot (see slactl status).",
        "slad_source_lag_bytes": "Bytes written to a source's files and not yet read.",
        "slad_source_offset_bytes": "Bytes read from a source's files.",
        "slad_outbox_pending": "Notifications waiting for delivery, by sink.",
        "slad_deliveries_failed_total": "Notifications given up (past their maximum age) since start, by sink.",
        "slad_build_info": "Always 1; the version of slad running, as a label.",
    ]

    /// A metric's name with its help text.
    static func described(_ name: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help[name] ?? "")
    }
}
