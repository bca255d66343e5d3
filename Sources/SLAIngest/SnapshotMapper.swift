import Foundation
import SLACore

/// The result of reading a mapped source.
public struct MappedSource: Sendable {
    /// Events derived from the rows, in row order.
    public var events: [SLAEvent]
    /// Rows read (without the header).
    public var rows: Int
    /// Rows skipped on purpose, by reason (e.g. `no_change`, a status marked `skip`).
    public var skipped: [String: Int]
    /// Rows that could not be mapped, each with line, field and reason.
    public var errors: [LineError]
}

/// Turns status-snapshot rows into events by comparing each row with the
/// previous row of the same incident.
public struct SnapshotMapper {
    /// The mapping in use.
    public let mapping: SourceMapping
    private var incidents: [String: IncidentSnapshot] = [:]

    private struct IncidentSnapshot {
        enum Phase { case open, resolved, closed }
        var phase: Phase
        var status: String?
        var acknowledged: Bool
        var priority: String?
        var team: String?
        var level: String?
        var assignee: String?
        /// The policy that picked the contract, when one did: it keeps deriving the priority.
        var policy: Policy?
    }

    /// What became of one row.
    public enum Outcome: Equatable {
        /// The row produced these events.
        case events([SLAEvent])
        /// The row was skipped on purpose.
        case skipped(reason: String)
        /// The row was rejected.
        case rejected(field: String?, reason: String)
    }

    /// Creates a mapper with no incidents seen yet.
    public init(mapping: SourceMapping) { self.mapping = mapping }

    /// Maps one row; `value` returns a field's text by column name (nil when absent or unknown).
    /// Event ids are `PREFIX:LINE:KIND` with the mapping's name as the default prefix.
    public mutating func map(line: Int, idPrefix: String? = nil, value: (String) -> String?) -> Outcome {
        let row: Row
        switch read(value) {
        case .success(let r): row = r
        case .failure(let rejection): return .rejected(field: rejection.field, reason: rejection.reason)
        }
        if case .skip(let reason) = row.rule { return .skipped(reason: reason) }
        let prefix = "\(idPrefix ?? mapping.name):\(line)"
        let event = { (kind: String, type: EventType) in
            SLAEvent(
                id: "\(prefix):\(kind)", time: row.time, type: type, incident: row.incident,
                fractional: row.fractional)
        }
        guard let state = incidents[row.incident] else { return first(row, value: value, event: event) }
        return later(row, state: state, value: value, event: event)
    }

    /// The fields of one row, read and mapped.
    private struct Row {
        var incident: String
        var time: Instant
        var rule: SourceMapping.StatusRule
        /// `time` dropped a fraction of a second.
        var fractional = false
        var priority: String? = nil
        var team: String? = nil
        var level: String? = nil
        var assignee: String? = nil
    }

    private struct Rejection: Error {
        var field: String?
        var reason: String
    }

    /// Reads a row's fields; a missing incident or time, a time not in the format, an unmapped
    /// status or priority rejects it.
    private func read(_ value: (String) -> String?) -> Result<Row, Rejection> {
        let m = mapping
        guard let incident = value(m.fields.incident), !incident.isEmpty else {
            return .failure(Rejection(field: m.fields.incident, reason: "missing incident id"))
        }
        guard let timeText = value(m.fields.time) else {
            return .failure(Rejection(field: m.fields.time, reason: "missing time"))
        }
        guard let (time, fractional) = parseTime(timeText) else {
            return .failure(Rejection(field: m.fields.time, reason: "'\(timeText)' does not match the time format"))
        }
        let statusKey = m.fields.status.map { value($0) ?? "" }.joined(separator: "/")
        guard let rule = m.statuses[statusKey] else {
            return .failure(
                Rejection(field: m.fields.status.joined(separator: "/"), reason: "status '\(statusKey)' is not mapped"))
        }
        // A skipped row is read no further.
        if case .skip = rule {
            return .success(Row(incident: incident, time: time, rule: rule, fractional: fractional))
        }
        var priority: String?
        if let field = m.fields.priority, let raw = value(field) {
            guard let mapped = m.priorities[raw] else {
                return .failure(Rejection(field: field, reason: "priority '\(raw)' is not mapped"))
            }
            priority = mapped
        }
        return .success(
            Row(
                incident: incident, time: time, rule: rule, fractional: fractional, priority: priority,
                team: m.fields.team.flatMap(value),
                level: m.fields.level.flatMap(value), assignee: m.fields.assignee.flatMap(value)))
    }

    /// An incident's first row opens it (at the row's time, or an earlier `opened_time`).
    private mutating func first(
        _ row: Row, value: (String) -> String?, event: (String, EventType) -> SLAEvent
    ) -> Outcome {
        let m = mapping
        var contract = m.fields.contract.flatMap(value) ?? m.contract
        var policy: Policy?
        // No contract named: the first policy that matches the opening picks it.
        if contract == nil && !m.policies.isEmpty {
            guard let matched = m.policies.match({ attribute($0, value) }) else {
                return .rejected(field: nil, reason: m.policies.noMatchReason { attribute($0, value) })
            }
            policy = matched
            contract = matched.contract
        }
        let derived = policy.flatMap { p in p.priority({ attribute($0, value) }, source: row.priority) }
        guard let priority = policy == nil ? row.priority : derived else {
            if let policy, policy.matrix != nil {
                return .rejected(
                    field: m.attributes["impact"], reason: policy.matrixGapReason { attribute($0, value) })
            }
            return .rejected(field: m.fields.priority, reason: "first row without a priority")
        }
        var open = event("open", .opened)
        if let field = m.fields.openedTime, let text = value(field) {
            guard let (opened, fractional) = parseTime(text) else {
                return .rejected(field: field, reason: "'\(text)' does not match the time format")
            }
            // A log may stamp the open after its own first row; the earlier one is the truth.
            if opened < row.time || (opened == row.time && !fractional) {
                open.time = opened
                open.fractional = fractional
            }
        }
        open.contract = contract
        open.priority = priority
        open.service = m.fields.service.flatMap(value)
        open.team = row.team
        open.level = row.level
        open.assignee = row.assignee
        var state = IncidentSnapshot(
            phase: .open, status: nil, acknowledged: false, priority: priority, team: row.team, level: row.level,
            assignee: row.assignee, policy: policy)
        if case .active(let status, _) = row.rule {
            open.status = status
            state.status = status
        }
        var events = [open]
        settle(row.rule, &state, &events, event)
        incidents[row.incident] = state
        return .events(events)
    }

    /// A later row: what differs from the incident's last row becomes one update; a resolved
    /// incident that is active again is reopened; rows after the close are refused.
    private mutating func later(
        _ row: Row, state: IncidentSnapshot, value: (String) -> String?, event: (String, EventType) -> SLAEvent
    ) -> Outcome {
        var state = state
        var row = row
        // The contract stays the one the opening's policy picked; the priority follows the row:
        // the first policy of that contract that matches it gives it (a fixed one, or its
        // matrix's for the row's impact and urgency).
        if let anchored = state.policy,
            let current = mapping.policies.policies.first(where: {
                $0.contract == anchored.contract && $0.matches { attribute($0, value) }
            }), current.priority != nil || current.matrix != nil
        {
            row.priority = current.priority({ attribute($0, value) }, source: nil) ?? state.priority
        }
        if state.phase == .closed {
            if case .closed = row.rule, row.priority == state.priority || row.priority == nil {
                return .skipped(reason: "no_change")
            }
            return .rejected(field: nil, reason: "row after the incident was closed")
        }
        var events: [SLAEvent] = []
        var update = event("upd", .updated)
        var changed = false
        // A value that differs from the last row's becomes part of one update.
        func take(
            _ value: String?, _ known: WritableKeyPath<IncidentSnapshot, String?>,
            _ field: WritableKeyPath<SLAEvent, String?>
        ) {
            guard let value, value != state[keyPath: known] else { return }
            update[keyPath: field] = value
            state[keyPath: known] = value
            changed = true
        }
        take(row.priority, \.priority, \.priority)
        take(row.team, \.team, \.team)
        take(row.level, \.level, \.level)
        take(row.assignee, \.assignee, \.assignee)
        if case .active(let status, _) = row.rule {
            if state.phase == .resolved {
                var reopen = event("reo", .reopened)
                reopen.status = status
                events.append(reopen)
                state.phase = .open
                state.status = status
            } else if status != state.status {
                update.status = status
                state.status = status
                changed = true
            }
        }
        settle(row.rule, &state, &events, event)
        if changed { events.insert(update, at: 0) }
        incidents[row.incident] = state
        return events.isEmpty ? .skipped(reason: "no_change") : .events(events)
    }

    /// A row's attributes for policies: the mapping's `attributes` columns, and the mapped
    /// fields under their own names.
    private func attribute(_ name: String, _ value: (String) -> String?) -> String? {
        let m = mapping
        if let column = m.attributes[name] { return value(column) }
        switch name {
        case "service": return m.fields.service.flatMap(value)
        case "team": return m.fields.team.flatMap(value)
        case "level": return m.fields.level.flatMap(value)
        case "assignee": return m.fields.assignee.flatMap(value)
        default: return nil
        }
    }

    /// The transitions a status rule makes on any row, first or later: the first
    /// acknowledgement, a resolve of an open incident, a close.
    private func settle(
        _ rule: SourceMapping.StatusRule, _ state: inout IncidentSnapshot, _ events: inout [SLAEvent],
        _ event: (String, EventType) -> SLAEvent
    ) {
        switch rule {
        case .active(_, let acknowledge):
            if acknowledge && !state.acknowledged {
                state.acknowledged = true
                events.append(event("ack", .acknowledged))
            }
        case .resolved:
            if state.phase == .open {
                state.phase = .resolved
                events.append(event("res", .resolved))
            }
        case .closed:
            state.phase = .closed
            events.append(event("clo", .closed))
        case .skip:
            break
        }
    }

    /// Parses a time in the mapping's format and zone; `fractional` when it dropped a fraction
    /// of a second (``SLAEvent/fractional``).
    public func parseTime(_ text: String) -> (instant: Instant, fractional: Bool)? {
        switch mapping.timeFormat {
        case .iso8601:
            return ISO8601.parse(text).map { ($0.instant(in: mapping.zone), $0.fractional) }
        case .pattern(let pattern):
            return TimePattern.parse(text, pattern: pattern).map { (mapping.zone.instant(fromLocal: $0), false) }
        }
    }

    /// Reads a whole mapped source.
    public static func read(bytes: [UInt8], mapping: SourceMapping) -> MappedSource {
        var mapper = SnapshotMapper(mapping: mapping)
        var result = MappedSource(events: [], rows: 0, skipped: [:], errors: [])
        func record(_ outcome: Outcome, line: Int) {
            switch outcome {
            case .events(let e): result.events += e
            case .skipped(let reason): result.skipped[reason, default: 0] += 1
            case .rejected(let field, let reason):
                result.errors.append(LineError(source: mapping.name, line: line, field: field, reason: reason))
            }
        }
        switch mapping.format {
        case .csv(let delimiter):
            var reader = CSVReader(bytes: bytes, delimiter: delimiter)
            guard let header = reader.next() else { return result }
            var index: [String: Int] = [:]
            for (i, name) in header.fields.enumerated() where index[name] == nil { index[name] = i }
            let f = mapping.fields
            let required = [f.incident, f.time] + f.status
            let optional = [f.priority, f.team, f.level, f.assignee, f.service, f.openedTime, f.contract].compactMap {
                $0
            }
            for name in required + optional where index[name] == nil {
                result.errors.append(
                    LineError(
                        source: mapping.name, line: header.line, field: name, reason: "column is not in the header"))
            }
            guard result.errors.isEmpty else { return result }
            for row in reader {
                result.rows += 1
                guard row.fields.count == header.fields.count else {
                    result.errors.append(
                        LineError(
                            source: mapping.name, line: row.line, field: nil,
                            reason: "\(row.fields.count) fields where the header has \(header.fields.count)"))
                    continue
                }
                let outcome = mapper.map(line: row.line) { name in
                    guard let i = index[name] else { return nil }
                    let v = row.fields[i]
                    return v.isEmpty || mapping.unknownValues.contains(v) ? nil : v
                }
                record(outcome, line: row.line)
            }
        case .jsonl:
            var line = 0
            for slice in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
                line += 1
                guard slice.contains(where: { $0 != 0x20 && $0 != 0x0D && $0 != 0x09 }) else { continue }
                result.rows += 1
                guard let object = try? JSONSerialization.jsonObject(with: Data(slice)) as? [String: Any] else {
                    result.errors.append(
                        LineError(source: mapping.name, line: line, field: nil, reason: "not a JSON object"))
                    continue
                }
                let outcome = mapper.map(line: line) { name in
                    guard let v = object[name] else { return nil }
                    let text = v as? String ?? "\(v)"
                    return text.isEmpty || mapping.unknownValues.contains(text) ? nil : text
                }
                record(outcome, line: line)
            }
        }
        return result
    }
}

/// `%Y-%m-%d %H:%M[:%S]`-style patterns, parsed without Foundation's formatters.
public enum TimePattern {
    /// Local seconds since 1970-01-01T00:00 for `text` in `pattern`, or nil when it does not match.
    public static func parse(_ text: String, pattern: String) -> Int64? {
        let t = Array(text.utf8)
        let p = Array(pattern.utf8)
        var i = 0
        var j = 0
        var year = 1970
        var month = 1
        var day = 1
        var hour = 0
        var minute = 0
        var second = 0
        func number(_ width: Int) -> Int? {
            guard i + width <= t.count else { return nil }
            var v = 0
            for k in i..<(i + width) {
                let d = t[k] &- 48
                guard d < 10 else { return nil }
                v = v * 10 + Int(d)
            }
            i += width
            return v
        }
        while j < p.count {
            if p[j] == UInt8(ascii: "%"), j + 1 < p.count {
                let width = p[j + 1] == UInt8(ascii: "Y") ? 4 : 2
                guard let v = number(width) else { return nil }
                switch p[j + 1] {
                case UInt8(ascii: "Y"): year = v
                case UInt8(ascii: "m"): month = v
                case UInt8(ascii: "d"): day = v
                case UInt8(ascii: "H"): hour = v
                case UInt8(ascii: "M"): minute = v
                case UInt8(ascii: "S"): second = v
                default: return nil
                }
                j += 2
            } else {
                guard i < t.count, t[i] == p[j] else { return nil }
                i += 1
                j += 1
            }
        }
        let date = LocalDate(year: year, month: month, day: day)
        guard i == t.count, date.isValid, hour < 24, minute < 60, second < 60 else { return nil }
        return date.daysSinceEpoch * 86_400 + Int64(hour * 3600 + minute * 60 + second)
    }
}
