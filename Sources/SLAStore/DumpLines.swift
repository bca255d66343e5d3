import SLACore

/// The lines of a store's canonical dump, the same whichever store prints them (the SQLite
/// store's `canonicalDump()` and the PostgreSQL store's), so that two dumps compare equal exactly
/// when the states do.
package enum DumpLines {
    /// Values joined by `|`: `∅` for NULL, texts with `\`, `|` and newlines escaped.
    package static func line(_ values: [String?]) -> String {
        values.map { $0.map(text) ?? "∅" }.joined(separator: "|")
    }

    /// A text as the dump writes it.
    package static func text(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "|", with: "\\|")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    /// One event of the ledger, with the source it came from, as it was stored before events
    /// moved into runs.
    package static func event(_ e: SLAEvent, source: String) -> String {
        line([
            e.id, source, String(e.time.seconds), e.type.rawValue, e.incident, e.contract, e.service, e.priority,
            e.status, e.assignee, e.team, e.level, e.due.map { String($0.seconds) }, e.promise,
        ])
    }

    /// One clock of `incident`, as it was stored before clocks moved into their incident's row.
    package static func clock(_ c: PackedClocks.Row, incident: String) -> String {
        line([
            incident, c.metric, c.priority, c.outcome, c.target.map(String.init), String(c.elapsed),
            c.stoppedAt.map(String.init), c.breachedAt.map(String.init), c.deadline.map(String.init),
            c.runningSince.map(String.init), c.calendar, c.breachPriority, c.breachTarget.map(String.init),
        ])
    }
}
