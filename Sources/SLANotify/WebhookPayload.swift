import Crypto
import Foundation
import SLACore

/// A webhook request ready to send: body and headers, signed per the Standard
/// Webhooks convention (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
public struct WebhookRequest: Sendable {
    /// The body.
    public var body: [UInt8]
    /// Headers, in a fixed order.
    public var headers: [(String, String)]

    /// Builds the request for `n` to `endpoint` at `timestamp` (seconds since the epoch).
    ///
    /// The body is deterministic for a notification (sorted keys, no wall-clock
    /// fields), so a retry carries the same bytes and the same `webhook-id`;
    /// only the timestamp and so the signature change between attempts.
    public init(_ n: SLANotification, for endpoint: WebhookEndpoint, timestamp: Int64) {
        body = WebhookBody.render(n, format: endpoint.format, routingKey: endpoint.secret)
        headers = [
            ("content-type", "application/json"),
            ("user-agent", "slad"),
            ("webhook-id", n.id),
            ("webhook-timestamp", String(timestamp)),
        ]
        if let secret = endpoint.secret, endpoint.format != .pagerduty {
            headers.append(
                ("webhook-signature", WebhookSignature.sign(id: n.id, timestamp: timestamp, body: body, secret: secret))
            )
        }
    }
}

/// Standard Webhooks signatures: HMAC-SHA256 over `id.timestamp.body`, base64, prefixed `v1,`.
public enum WebhookSignature {
    /// The `webhook-signature` header value.
    public static func sign(id: String, timestamp: Int64, body: [UInt8], secret: WebhookSecret) -> String {
        var content = Array("\(id).\(timestamp).".utf8)
        content += body
        let mac = HMAC<SHA256>.authenticationCode(for: content, using: SymmetricKey(data: secret.bytes))
        return "v1," + Data(mac).base64EncodedString()
    }

    /// Whether a header (possibly several space-separated signatures) holds a valid one.
    public static func verify(header: String, id: String, timestamp: Int64, body: [UInt8], secret: WebhookSecret)
        -> Bool
    {
        let expected = sign(id: id, timestamp: timestamp, body: body, secret: secret)
        return header.split(separator: " ").contains { $0 == expected }
    }
}

/// The JSON bodies, one shape per format.
public enum WebhookBody {
    /// Renders `n` as `format`; `routingKey` is used by PagerDuty only.
    public static func render(_ n: SLANotification, format: WebhookEndpoint.Format, routingKey: WebhookSecret?)
        -> [UInt8]
    {
        switch format {
        case .standard:
            return encode(
                Standard(type: "sla.\(n.kind.rawValue)", timestamp: utc(n.decidedAtMilliseconds), data: .init(n)))
        case .slack:
            let icon =
                switch n.kind {
                case .warning: ":warning:"
                case .breach: ":red_circle:"
                case .escalation: ":rotating_light:"
                case .retraction: ":white_check_mark:"
                case .burn: ":fire:"
                }
            return encode(Slack(text: "\(icon) \(NotificationText.message(n))"))
        case .pagerduty:
            let severity =
                switch n.kind {
                case .warning: "warning"
                case .breach: "error"
                case .escalation: "critical"
                case .retraction: "info"
                case .burn: n.priority == "page" ? "critical" : "warning"
                }
            return encode(
                PagerDuty(
                    routing_key: routingKey.map { String(decoding: $0.bytes, as: UTF8.self) } ?? "",
                    event_action: n.kind == .retraction ? "resolve" : "trigger",
                    // One alert per incident clock: a breach updates the warning's alert, a retraction
                    // resolves it; one per contract's availability for burn alerts.
                    dedup_key: n.kind == .burn ? "slad/\(n.contract)/availability" : "slad/\(n.incident)/\(n.metric)",
                    payload: .init(
                        summary: NotificationText.message(n), source: "slad", severity: severity,
                        timestamp: utc(n.decidedAtMilliseconds), component: n.contract, group: n.customer,
                        class: n.kind.rawValue, custom_details: .init(n))))
        }
    }

    static func utc(_ milliseconds: Int64) -> String {
        let seconds = Int64((Double(milliseconds) / 1000).rounded(.down))
        let ms = milliseconds - seconds * 1000
        let text = NotificationText.utc(Instant(seconds))
        return String(text.dropLast()) + String(format: ".%03dZ", ms)
    }

    static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Every field is a string, integer, boolean or null: encoding cannot fail.
        return Array((try? encoder.encode(value)) ?? Data("{}".utf8))
    }

    /// What a receiver needs to act and to link back: identity, who, which clock, the figures.
    struct Details: Encodable {
        var id, kind, contract, customer, incident, metric, priority, percent: String
        var target_sec, elapsed_sec: Int64
        var target, elapsed: String
        var due: String
        var deadline: String?
        var late: Bool
        var decided_at: String
        var summary: String

        init(_ n: SLANotification) {
            id = n.id
            kind = n.kind.rawValue
            contract = n.contract
            customer = n.customer
            incident = n.incident
            metric = n.metric.description
            priority = n.priority
            percent = n.percent.description
            target_sec = n.target
            elapsed_sec = n.elapsed
            target = NotificationText.duration(n.target)
            elapsed = NotificationText.duration(n.elapsed)
            due = NotificationText.utc(n.due)
            deadline = n.deadline.map(NotificationText.utc)
            late = n.late
            decided_at = WebhookBody.utc(n.decidedAtMilliseconds)
            summary = NotificationText.message(n)
        }

        func encode(to encoder: any Encoder) throws {
            // Explicit nulls: a receiver sees every key on every notification.
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(id, forKey: .id)
            try c.encode(kind, forKey: .kind)
            try c.encode(contract, forKey: .contract)
            try c.encode(customer, forKey: .customer)
            try c.encode(incident, forKey: .incident)
            try c.encode(metric, forKey: .metric)
            try c.encode(priority, forKey: .priority)
            try c.encode(percent, forKey: .percent)
            try c.encode(target_sec, forKey: .target_sec)
            try c.encode(elapsed_sec, forKey: .elapsed_sec)
            try c.encode(target, forKey: .target)
            try c.encode(elapsed, forKey: .elapsed)
            try c.encode(due, forKey: .due)
            try c.encode(deadline, forKey: .deadline)
            try c.encode(late, forKey: .late)
            try c.encode(decided_at, forKey: .decided_at)
            try c.encode(summary, forKey: .summary)
        }

        enum Key: String, CodingKey {
            case id, kind, contract, customer, incident, metric, priority, percent, target_sec, elapsed_sec, target
            case elapsed, due, deadline, late, decided_at, summary
        }
    }

    struct Standard: Encodable {
        var type: String
        var timestamp: String
        var data: Details
    }

    struct Slack: Encodable {
        var text: String
    }

    struct PagerDuty: Encodable {
        var routing_key: String
        var event_action: String
        var dedup_key: String
        var payload: Payload

        struct Payload: Encodable {
            var summary, source, severity, timestamp, component, group: String
            var `class`: String
            var custom_details: Details
        }
    }
}
