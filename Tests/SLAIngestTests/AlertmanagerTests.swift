import SLACore
import SLAIngest
import Testing

@Suite("Alertmanager notifications to service events")
struct AlertmanagerTests {
    static let mapping = AlertmanagerMapping(rules: [
        .init(match: ["alertname": "PortalDown"], service: "portal"),
        .init(match: ["team": "web"], serviceLabel: "service"),
    ])

    /// A version 4 body of `alerts` (status, labels as JSON, startsAt, endsAt).
    static func body(_ alerts: [(String, String, String, String)]) -> [UInt8] {
        let items = alerts.map { status, labels, starts, ends in
            #"{"status":"\#(status)","labels":\#(labels),"annotations":{},"startsAt":"\#(starts)","endsAt":"\#(ends)","fingerprint":"f"}"#
        }
        return Array(
            #"{"version":"4","groupKey":"{}:{service=\"web\"}","status":"firing","receiver":"slad","groupLabels":{},"commonLabels":{},"commonAnnotations":{},"externalURL":"http://am","alerts":[\#(items.joined(separator: ","))]}"#
                .utf8)
    }

    static func lines(_ bytes: [UInt8]) throws -> [String] {
        let (events, unmapped) = mapping.events(for: try AlertmanagerPayload.alerts(bytes))
        return events.map { "\($0.id) \($0.type.rawValue) \($0.service ?? "-") \($0.time.seconds)" } + [
            "unmapped \(unmapped)"
        ]
    }

    @Test("firing: down from the earliest start of the service's firing alerts; others unmapped")
    func firing() throws {
        let bytes = Self.body([
            (
                "firing", #"{"alertname":"HTTPErrors","team":"web","service":"shop"}"#, "2026-12-06T10:05:00.5Z",
                "2026-12-06T10:20:00Z"
            ),
            (
                "firing", #"{"alertname":"Latency","team":"web","service":"shop"}"#, "2026-12-06T10:00:00.123456789Z",
                "0001-01-01T00:00:00Z"
            ),
            ("resolved", #"{"alertname":"PortalDown"}"#, "2026-12-06T09:00:00Z", "2026-12-06T09:30:00+01:00"),
            ("firing", #"{"alertname":"DiskFull","team":"db"}"#, "2026-12-06T10:00:00Z", "0001-01-01T00:00:00Z"),
            ("firing", #"{"alertname":"NoService","team":"web"}"#, "2026-12-06T10:00:00Z", "0001-01-01T00:00:00Z"),
        ])
        #expect(
            try Self.lines(bytes) == [
                "alertmanager:portal:up:1796545800 service.up portal 1796545800",
                "alertmanager:shop:down:1796551200 service.down shop 1796551200",
                "unmapped 2",
            ])
    }

    @Test("resolved: up at the latest end once every alert of the service is resolved; resends are the same events")
    func resolved() throws {
        let bytes = Self.body([
            (
                "resolved", #"{"alertname":"HTTPErrors","team":"web","service":"shop"}"#, "2026-12-06T10:05:00Z",
                "2026-12-06T10:40:00Z"
            ),
            (
                "resolved", #"{"alertname":"Latency","team":"web","service":"shop"}"#, "2026-12-06T10:00:00Z",
                "2026-12-06T10:30:00Z"
            ),
        ])
        #expect(try Self.lines(bytes) == ["alertmanager:shop:up:1796553600 service.up shop 1796553600", "unmapped 0"])
        #expect(try Self.lines(bytes) == Self.lines(bytes))
    }

    @Test("a body that is not a notification says which field is wrong")
    func invalid() {
        func reason(_ text: String) -> String {
            do {
                _ = try AlertmanagerPayload.alerts(Array(text.utf8))
                return "accepted"
            } catch {
                return error.description
            }
        }
        #expect(reason("nope") == "not a JSON Alertmanager notification")
        #expect(reason(#"{"version":"4"}"#) == "alerts: missing")
        #expect(
            reason(#"{"version":"3","alerts":[]}"#) == "version: 3 is not supported (Alertmanager's webhook sends 4)")
        #expect(
            reason(#"{"alerts":[{"status":"firing","labels":{}}]}"#) == "alerts[0].startsAt: missing")
        #expect(
            reason(#"{"alerts":[{"status":"pending","labels":{},"startsAt":"2026-12-06T10:00:00Z"}]}"#)
                == "alerts[0].status: 'pending' is neither firing nor resolved")
        #expect(
            reason(#"{"alerts":[{"status":"firing","labels":{},"startsAt":"yesterday"}]}"#)
                == "alerts[0].startsAt: 'yesterday' is not an RFC 3339 time")
        #expect(
            reason(#"{"alerts":[{"status":"resolved","labels":{},"startsAt":"2026-12-06T10:00:00Z"}]}"#)
                == "alerts[0].endsAt: a resolved alert needs its end time")
        #expect(reason(#"{"alerts":[]}"#) == "accepted")
    }
}
