import Foundation
import SLACore
import SLANotify
import Testing

/// A breach as the live engine decides it: INC-1042 on acme-gold, P1, resolution 4h, 4h12m elapsed.
func sampleBreach(kind: NotificationKind = .breach, late: Bool = false) -> SLANotification {
    SLANotification(
        id: "INC-1042/resolution/\(kind.rawValue)/100%", kind: kind, incident: "INC-1042", contract: "acme-gold",
        metric: .resolution, priority: "P1", percent: Percentage(millionths: 1_000_000), target: 14_400,
        due: Instant(1_793_700_000), decidedAtMilliseconds: 1_793_700_000_123, late: late, notify: ["ops"],
        customer: "ACME Corp", elapsed: 15_120, deadline: Instant(1_793_700_000))
}

@Suite("notification text and journal fields")
struct NotificationTextTests {
    @Test("the sentence people read, per kind")
    func messages() {
        #expect(
            NotificationText.message(sampleBreach())
                == "INC-1042 (acme-gold, P1) breached resolution: 4h target, 4h12m elapsed")
        var warning = sampleBreach(kind: .warning)
        warning.percent = Percentage(millionths: 800_000)
        warning.elapsed = 11_520
        #expect(
            NotificationText.message(warning)
                == "INC-1042 (acme-gold, P1) at 80% of resolution: 4h target, 3h12m elapsed, breach at 2026-11-03T10:00:00Z"
        )
        #expect(
            NotificationText.message(sampleBreach(kind: .retraction))
                == "INC-1042 (acme-gold, P1) breach of resolution retracted: later events show the clock stopped in time"
        )
        #expect(
            NotificationText.message(sampleBreach(late: true))
                == "INC-1042 (acme-gold, P1) breached resolution: 4h target, 4h12m elapsed (late: due 2026-11-03T10:00:00Z, decided after the fact)"
        )
    }

    @Test("journal fields: every SLA_* field, fixed MESSAGE_ID and PRIORITY per kind")
    func fields() {
        let fields = Dictionary(uniqueKeysWithValues: NotificationText.journalFields(sampleBreach()))
        #expect(fields["PRIORITY"] == "3")
        #expect(fields["MESSAGE_ID"] == "9b2d4e1f5a6c47d8b0e3f1a2c4d6e822")
        #expect(fields["SYSLOG_IDENTIFIER"] == "slad")
        #expect(fields["SLA_CONTRACT"] == "acme-gold")
        #expect(fields["SLA_CUSTOMER"] == "ACME Corp")
        #expect(fields["SLA_INCIDENT"] == "INC-1042")
        #expect(fields["SLA_METRIC"] == "resolution")
        #expect(fields["SLA_PRIORITY"] == "P1")
        #expect(fields["SLA_TARGET_SEC"] == "14400")
        #expect(fields["SLA_ELAPSED_SEC"] == "15120")
        #expect(fields["SLA_DEADLINE"] == "2026-11-03T10:00:00Z")
        #expect(fields["SLA_NOTIFICATION_ID"] == "INC-1042/resolution/breach/100%")
        let ids = [NotificationKind.warning, .breach, .escalation, .retraction].map(NotificationText.messageID)
        #expect(Set(ids).count == 4)
        for id in ids + [NotificationText.catchUpMessageID] {
            #expect(id.count == 32 && id.allSatisfy(\.isHexDigit))
        }
        #expect(NotificationText.priority(.escalation) == 2 && NotificationText.priority(.warning) == 4)
    }

    @Test("the catalog ships an entry for every MESSAGE_ID")
    func catalog() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("systemd/slad.catalog"), encoding: .utf8)
        for kind in [NotificationKind.warning, .breach, .escalation, .retraction] {
            #expect(text.contains("-- \(NotificationText.messageID(kind))\n"), "no catalog entry for \(kind)")
        }
        #expect(text.contains("-- \(NotificationText.catchUpMessageID)\n"))
    }
}

@Suite("webhook signing and bodies")
struct WebhookTests {
    @Test("Standard Webhooks test vector")
    func vector() throws {
        let secret = try #require(WebhookSecret(fileText: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"))
        let signature = WebhookSignature.sign(
            id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: Array(#"{"test": 2432232314}"#.utf8),
            secret: secret)
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        #expect(
            WebhookSignature.verify(
                header: "v1,bm90LXRoaXM= \(signature)", id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330,
                body: Array(#"{"test": 2432232314}"#.utf8), secret: secret))
        #expect(
            !WebhookSignature.verify(
                header: signature, id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_331,
                body: Array(#"{"test": 2432232314}"#.utf8), secret: secret))
    }

    @Test("secrets: whsec_ decoded, raw text trimmed, empty or bad base64 refused, never printed")
    func secrets() throws {
        #expect(WebhookSecret(fileText: "  plain-key \n")?.bytes == Array("plain-key".utf8))
        #expect(WebhookSecret(fileText: "\n\n") == nil)
        #expect(WebhookSecret(fileText: "whsec_%%%") == nil)
        let secret = try #require(WebhookSecret(fileText: "hunter2"))
        #expect("\(secret)" == "<secret>")
        #expect(String(reflecting: secret) == "<secret>")
        var endpoint = WebhookEndpoint(name: "ops", url: "http://127.0.0.1:1/x", secret: secret)
        endpoint.kinds = [.breach]
        #expect(!"\(endpoint)".contains("hunter2"))
    }

    @Test("the standard body: deterministic, the same bytes on every attempt; only the signature moves")
    func standardBody() throws {
        let endpoint = WebhookEndpoint(name: "ops", url: "http://x/", secret: WebhookSecret(fileText: "k"))
        let a = WebhookRequest(sampleBreach(), for: endpoint, timestamp: 1_793_700_001)
        let b = WebhookRequest(sampleBreach(), for: endpoint, timestamp: 1_793_700_061)
        #expect(a.body == b.body)
        let header = { (r: WebhookRequest, name: String) in r.headers.first { $0.0 == name }?.1 }
        #expect(header(a, "webhook-id") == "INC-1042/resolution/breach/100%")
        #expect(header(a, "webhook-signature") != header(b, "webhook-signature"))
        let signature = try #require(header(a, "webhook-signature"))
        #expect(
            WebhookSignature.verify(
                header: signature, id: "INC-1042/resolution/breach/100%", timestamp: 1_793_700_001, body: a.body,
                secret: try #require(WebhookSecret(fileText: "k"))))
        let text = String(decoding: a.body, as: UTF8.self)
        #expect(
            text
                == #"{"data":{"contract":"acme-gold","customer":"ACME Corp","deadline":"2026-11-03T10:00:00Z","decided_at":"2026-11-03T10:00:00.123Z","due":"2026-11-03T10:00:00Z","elapsed":"4h12m","elapsed_sec":15120,"id":"INC-1042/resolution/breach/100%","incident":"INC-1042","kind":"breach","late":false,"metric":"resolution","percent":"100%","priority":"P1","summary":"INC-1042 (acme-gold, P1) breached resolution: 4h target, 4h12m elapsed","target":"4h","target_sec":14400},"timestamp":"2026-11-03T10:00:00.123Z","type":"sla.breach"}"#
        )
    }

    @Test("Slack and PagerDuty bodies; PagerDuty resolves the alert on retraction, one dedup key per clock")
    func otherFormats() throws {
        var slack = WebhookEndpoint(name: "chat", url: "http://x/")
        slack.format = .slack
        let s = try JSONSerialization.jsonObject(
            with: Data(WebhookRequest(sampleBreach(), for: slack, timestamp: 1).body))
        #expect(
            (s as? [String: String])?["text"]
                == ":red_circle: INC-1042 (acme-gold, P1) breached resolution: 4h target, 4h12m elapsed")
        var pd = WebhookEndpoint(name: "pd", url: "http://x/", secret: WebhookSecret(fileText: "R0UTINGKEY"))
        pd.format = .pagerduty
        let trigger = WebhookRequest(sampleBreach(), for: pd, timestamp: 1)
        let resolve = WebhookRequest(sampleBreach(kind: .retraction), for: pd, timestamp: 1)
        #expect(!trigger.headers.contains { $0.0 == "webhook-signature" })
        let t = try #require(try JSONSerialization.jsonObject(with: Data(trigger.body)) as? [String: Any])
        let r = try #require(try JSONSerialization.jsonObject(with: Data(resolve.body)) as? [String: Any])
        #expect(t["routing_key"] as? String == "R0UTINGKEY")
        #expect(t["event_action"] as? String == "trigger")
        #expect(r["event_action"] as? String == "resolve")
        #expect(t["dedup_key"] as? String == "slad/INC-1042/resolution")
        #expect(r["dedup_key"] as? String == t["dedup_key"] as? String)
        #expect((t["payload"] as? [String: Any])?["severity"] as? String == "error")
    }
}

@Suite("delivery scheduling (pure, no sleeps)")
struct DeliveryPlanTests {
    func pending(_ seq: Int64, _ incident: String, next: Int64 = 0, attempts: Int = 0) -> PendingDelivery {
        var n = sampleBreach()
        n.incident = incident
        n.id = "\(incident)/\(seq)"
        return PendingDelivery(
            seq: seq, sink: "ops", notification: n, attempts: attempts, nextAttemptMilliseconds: next)
    }

    @Test("one head per incident: a later notification never overtakes an earlier one being retried")
    func order() {
        let queue = [pending(1, "A", next: 5_000), pending(2, "A"), pending(3, "B"), pending(4, "C"), pending(5, "B")]
        let (ready, wakeAt) = DeliveryPlan.select(queue, now: 1_000, limit: 10)
        #expect(ready.map(\.seq) == [3, 4])
        #expect(wakeAt == 5_000)
        #expect(DeliveryPlan.select(queue, now: 1_000, limit: 1).ready.map(\.seq) == [3])
        #expect(DeliveryPlan.select(queue, now: 5_000, limit: 10).ready.map(\.seq) == [1, 3, 4])
    }

    @Test("backoff doubles from 1 s to the 5 min cap; jitter keeps it in [half, full)")
    func backoff() {
        let policy = RetryPolicy()
        let low = (1...12).map { policy.delayMilliseconds(afterAttempts: $0, jitter: 0) }
        let high = (1...12).map { policy.delayMilliseconds(afterAttempts: $0, jitter: 0.999_999) }
        #expect(low == [500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 150_000, 150_000, 150_000])
        #expect(high[0] == 999 && high[11] == 299_999)
        #expect(policy.delayMilliseconds(afterAttempts: 10_000, jitter: 0.5) == 225_000)
    }

    @Test("failed after the maximum age since the decision, retried before")
    func maxAge() {
        let d = pending(1, "A", attempts: 3)
        let decided = d.notification.decidedAtMilliseconds
        let retry = DeliveryPlan.afterFailure(
            d, error: "HTTP 500", now: decided + 1_000, policy: RetryPolicy(), maxAgeMilliseconds: 60_000, jitter: 0)
        #expect(retry == .retry(atMilliseconds: decided + 1_000 + 4_000, error: "HTTP 500"))
        let failed = DeliveryPlan.afterFailure(
            d, error: "HTTP 500", now: decided + 60_000, policy: RetryPolicy(), maxAgeMilliseconds: 60_000, jitter: 0)
        #expect(failed == .failed(atMilliseconds: decided + 60_000, error: "HTTP 500"))
    }
}
