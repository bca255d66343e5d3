import Foundation
import SLACore

/// slad.yaml's policies for native events: an `incident.opened` that names no contract gets
/// the contract (and the priority) of the first policy its attributes match, as a mapped
/// source's opening row does (docs/semantics.md §11).
///
/// A native event's attributes are its `attributes` object (`{"category": "network",
/// "impact": "1"}`), and its `service`, `team`, `level` and `assignee` under their own names.
/// Only openings that name no contract are read for them (a second read of the line), so
/// events that name theirs cost nothing more.
///
/// What the opening picks is written into the event, so the ledger keeps the contract and
/// priority the incident was opened with: a replay of the ledger, or a later change of the
/// policies, never moves an incident to another contract. Later events of the incident are
/// native events: a priority change is their `priority`, not re-derived from attributes.
extension PolicyBook {
    /// `event` with the contract and priority the policies pick when it is an opening that
    /// names no contract; else `event` as it is. `line` is the event's line, read again for
    /// its `attributes`; errors are located at `source`:`number`.
    public func apply(
        to event: SLAEvent, line: UnsafeRawBufferPointer, source: String, number: Int
    ) -> Result<SLAEvent, LineError> {
        guard !isEmpty, event.type == .opened, event.contract == nil else { return .success(event) }
        func fail(_ field: String?, _ reason: String) -> Result<SLAEvent, LineError> {
            .failure(LineError(source: source, line: number, field: field, reason: reason))
        }
        var attributes: [String: String] = [:]
        // The line already decoded as an object: only `attributes` can still be wrong.
        let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any]
        if let value = object?["attributes"], !(value is NSNull) {
            guard let map = value as? [String: Any] else { return fail("attributes", "expected an object") }
            for (name, v) in map {
                guard let text = v as? String else {
                    return fail("attributes.\(name)", "expected a string")
                }
                attributes[name] = text
            }
        }
        func attribute(_ name: String) -> String? {
            if let value = attributes[name] { return value }
            switch name {
            case "service": return event.service
            case "team": return event.team
            case "level": return event.level
            case "assignee": return event.assignee
            default: return nil
            }
        }
        guard let policy = match(attribute) else { return fail("attributes", noMatchReason(attribute)) }
        guard let priority = policy.priority(attribute, source: event.priority) else {
            return policy.matrix != nil
                ? fail("attributes", policy.matrixGapReason(attribute))
                : fail("priority", "missing: policy \(policy.name) gives no priority and the event names none")
        }
        var picked = event
        picked.contract = policy.contract
        picked.priority = priority
        return .success(picked)
    }
}
