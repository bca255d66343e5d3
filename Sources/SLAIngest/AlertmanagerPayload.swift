import Foundation
import SLACore

/// Alertmanager's webhook body (version 4): the alerts of one group.
/// https://prometheus.io/docs/alerting/latest/configuration/#webhook_config
public enum AlertmanagerPayload {
    /// Why a body is not an Alertmanager notification: the field and the reason.
    public struct Invalid: Error, Sendable, CustomStringConvertible {
        /// What is wrong.
        public var description: String
    }

    private struct Body: Decodable {
        var version: String?
        var alerts: [AlertBody]
    }

    private struct AlertBody: Decodable {
        var status: String
        var labels: [String: String]
        var startsAt: String
        var endsAt: String?
    }

    /// The alerts of `bytes`.
    public static func alerts(_ bytes: [UInt8]) throws(Invalid) -> [AlertmanagerMapping.Alert] {
        let body: Body
        do {
            body = try JSONDecoder().decode(Body.self, from: Data(bytes))
        } catch let DecodingError.keyNotFound(key, context) {
            throw Invalid(description: "\(path(context.codingPath + [key])): missing")
        } catch let DecodingError.typeMismatch(_, context) {
            throw Invalid(description: "\(path(context.codingPath)): \(context.debugDescription)")
        } catch {
            throw Invalid(description: "not a JSON Alertmanager notification")
        }
        if let version = body.version, version != "4" {
            throw Invalid(description: "version: \(version) is not supported (Alertmanager's webhook sends 4)")
        }
        var alerts: [AlertmanagerMapping.Alert] = []
        for (k, a) in body.alerts.enumerated() {
            guard a.status == "firing" || a.status == "resolved" else {
                throw Invalid(description: "alerts[\(k)].status: '\(a.status)' is neither firing nor resolved")
            }
            guard let starts = instant(a.startsAt) else {
                throw Invalid(description: "alerts[\(k)].startsAt: '\(a.startsAt)' is not an RFC 3339 time")
            }
            // A firing alert's endsAt is when Alertmanager would time it out (or the zero time): not an end.
            let ends = a.status == "resolved" ? a.endsAt.flatMap(instant) : nil
            if a.status == "resolved" && ends == nil {
                throw Invalid(description: "alerts[\(k)].endsAt: a resolved alert needs its end time")
            }
            alerts.append(.init(firing: a.status == "firing", labels: a.labels, startsAt: starts, endsAt: ends))
        }
        return alerts
    }

    private static func instant(_ text: String) -> Instant? {
        guard let p = ISO8601.parse(text), p.offset != nil else { return nil }
        return p.instant(in: .utc)
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().drop { $0 == "." }.description
    }
}
