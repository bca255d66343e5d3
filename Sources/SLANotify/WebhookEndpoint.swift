import Foundation
import SLACore

/// A webhook receiver named in slad.yaml, with its secret already read.
///
/// Which notifications reach it: the contract names it (`notify:` for
/// warnings and breaches, an escalation's `notify:` for that escalation), and
/// its own `kinds` and `contracts` filters, when set, narrow that further.
public struct WebhookEndpoint: Sendable, Hashable {
    /// Body formats: ours (Standard Webhooks envelope), Slack-compatible, PagerDuty Events v2.
    public enum Format: String, Sendable, Hashable, CaseIterable {
        /// `{"type": "sla.breach", "timestamp": …, "data": {…}}`, signed.
        case standard
        /// `{"text": …}` for Slack (and Mattermost, Rocket.Chat) incoming webhooks.
        case slack
        /// PagerDuty Events API v2; the secret is the integration's routing key.
        case pagerduty
    }

    /// The name contracts use.
    public var name: String
    /// Where to POST.
    public var url: String
    /// The signing key (or the PagerDuty routing key); nil sends unsigned.
    public var secret: WebhookSecret?
    /// Per request.
    public var timeoutMilliseconds: Int64 = 5_000
    /// Only these kinds (nil: all).
    public var kinds: Set<NotificationKind>?
    /// Only these contracts (nil: all).
    public var contracts: Set<String>?
    /// The body format.
    public var format: Format = .standard
    /// Requests in flight at once.
    public var maxConcurrency: Int = 4
    /// After this long undelivered (from the decision), a notification is marked failed.
    public var maxAgeMilliseconds: Int64 = 86_400_000
    /// Backoff between attempts.
    public var retry = RetryPolicy()

    /// An endpoint with defaults for everything but name and URL.
    public init(name: String, url: String, secret: WebhookSecret? = nil) {
        self.name = name
        self.url = url
        self.secret = secret
    }

    /// Whether the endpoint's own filters let `n` through.
    public func accepts(_ n: SLANotification) -> Bool {
        (kinds?.contains(n.kind) ?? true) && (contracts?.contains(n.contract) ?? true)
    }
}

/// Key bytes that never print: `description` and `debugDescription` are redacted,
/// so a secret cannot reach a log line, an error or the status API by accident.
public struct WebhookSecret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The key.
    public let bytes: [UInt8]

    /// A secret from the text of a secret file: `whsec_<base64>` (the Standard
    /// Webhooks form) is decoded; anything else is used as is, minus surrounding whitespace.
    public init?(fileText: String) {
        let trimmed = fileText.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { return nil }
        if trimmed.hasPrefix("whsec_") {
            guard let decoded = Data(base64Encoded: String(trimmed.dropFirst(6))), !decoded.isEmpty else { return nil }
            bytes = Array(decoded)
        } else {
            bytes = Array(trimmed.utf8)
        }
    }

    /// Redacted.
    public var description: String { "<secret>" }
    /// Redacted.
    public var debugDescription: String { "<secret>" }
}

/// How long to wait before the next attempt: exponential with a cap and jitter,
/// so a receiver coming back is not hit by every sender at once.
public struct RetryPolicy: Sendable, Hashable {
    /// The first delay.
    public var initialMilliseconds: Int64 = 1_000
    /// Growth per attempt.
    public var factor: Int64 = 2
    /// The longest delay.
    public var capMilliseconds: Int64 = 300_000

    /// The default policy: 1 s, 2 s, 4 s, … up to 5 min, each scaled by a jitter in [0.5, 1).
    public init() {}

    /// The delay after `attempts` failed attempts, with `jitter` in [0, 1) from the caller
    /// (a random number in the daemon, fixed values in tests).
    public func delayMilliseconds(afterAttempts attempts: Int, jitter: Double) -> Int64 {
        var delay = initialMilliseconds
        for _ in 1..<max(1, attempts) {
            delay = delay > capMilliseconds / factor ? capMilliseconds : delay * factor
        }
        delay = min(delay, capMilliseconds)
        // Half fixed, half random ("equal jitter"): never below half the step, spread over the rest.
        return delay / 2 + Int64(Double(delay / 2) * min(max(jitter, 0), 0.999_999))
    }
}
