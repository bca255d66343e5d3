import SLACore

/// How a notification reads for people (journal `MESSAGE`, chat summaries) and
/// which fixed identities it carries (journal `MESSAGE_ID`, `PRIORITY`).
public enum NotificationText {
    /// One fixed 128-bit id per kind, so `journalctl MESSAGE_ID=…` and the
    /// catalog (systemd/slad.catalog) find every entry of that kind.
    public static func messageID(_ kind: NotificationKind) -> String {
        switch kind {
        case .warning: "3f0c6a6b1d8e4b7aa1c95e2f7d4b0a11"
        case .breach: "9b2d4e1f5a6c47d8b0e3f1a2c4d6e822"
        case .escalation: "c1e7a9b3d5f24e6081a3b5c7d9e1f333"
        case .retraction: "5d8f0b2e4a6c48e1a3c5e7f9b1d3a544"
        case .burn: "7a1c3e5b9d0f42a6b8c0d2e4f6a8b066"
        }
    }

    /// The catch-up summary a restart writes when thresholds came due while slad was down.
    public static let catchUpMessageID = "e4a6c8f0b2d44f6a8c0e2a4c6e8f0b55"

    /// syslog priority: escalation 2 (crit), breach and burn 3 (err), warning 4 (warning), retraction 5 (notice).
    public static func priority(_ kind: NotificationKind) -> Int {
        switch kind {
        case .escalation: 2
        case .breach, .burn: 3
        case .warning: 4
        case .retraction: 5
        }
    }

    /// Business seconds as people say them: `4h`, `4h12m`, `45m`, `1h0m30s`, `0s`.
    public static func duration(_ seconds: Int64) -> String { formatSeconds(max(0, seconds)) }

    /// A burn rate carried as a percentage (1440 % → `14.4`).
    public static func burnRate(_ p: Percentage) -> String { BurnAlert.rateText(tenths: p.millionths / 100_000) }

    /// An instant in UTC, ISO 8601 with `Z`.
    public static func utc(_ instant: Instant) -> String { ISO8601.format(instant, in: .utc) }

    /// The sentence: "INC-1042 (acme-gold, P1) breached resolution: 4h target, 4h12m elapsed".
    public static func message(_ n: SLANotification) -> String {
        let head = "\(n.incident) (\(n.contract), \(n.priority))"
        let figures = "\(duration(n.target)) target, \(duration(n.elapsed)) elapsed"
        var text: String
        switch n.kind {
        case .breach:
            text = "\(head) breached \(n.metric): \(figures)"
        case .warning:
            text = "\(head) at \(n.percent) of \(n.metric): \(figures)"
            if let deadline = n.deadline { text += ", breach at \(utc(deadline))" }
        case .escalation:
            text = "\(head) escalated at \(n.percent) of \(n.metric): \(figures)"
        case .retraction:
            text = "\(head) breach of \(n.metric) retracted: later events show the clock stopped in time"
        case .burn:
            // The burn rate is the percent's multiple of 100 %; priority is the severity, target
            // and elapsed the month's allowed and spent downtime.
            text =
                "\(n.contract) (\(n.customer)) availability budget burning ×\(burnRate(n.percent)) (\(n.priority)): \(duration(n.elapsed)) of \(duration(n.target)) allowed downtime spent this month"
        }
        if n.late { text += " (late: due \(utc(n.due)), decided after the fact)" }
        return text
    }

    /// The journal entry's fields, `MESSAGE` first.
    public static func journalFields(_ n: SLANotification) -> [(String, String)] {
        var fields: [(String, String)] = [
            ("MESSAGE", message(n)),
            ("PRIORITY", String(priority(n.kind))),
            ("MESSAGE_ID", messageID(n.kind)),
            ("SYSLOG_IDENTIFIER", "slad"),
            ("SLA_NOTIFICATION_ID", n.id),
            ("SLA_KIND", n.kind.rawValue),
            ("SLA_CONTRACT", n.contract),
            ("SLA_CUSTOMER", n.customer),
            ("SLA_INCIDENT", n.incident),
            ("SLA_METRIC", n.metric.description),
            ("SLA_PRIORITY", n.priority),
            ("SLA_PERCENT", n.percent.description),
            ("SLA_TARGET_SEC", String(n.target)),
            ("SLA_ELAPSED_SEC", String(n.elapsed)),
            ("SLA_DUE", utc(n.due)),
            ("SLA_LATE", n.late ? "1" : "0"),
        ]
        if let deadline = n.deadline { fields.append(("SLA_DEADLINE", utc(deadline))) }
        return fields
    }
}
