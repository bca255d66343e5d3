/// An operational-level agreement: the internal target of one support line (L1…L4) or team
/// for each stretch it holds an incident, in its own calendar and with its own pauses.
///
/// A hold of a unit begins when the incident comes to it (opened there, handed to it, reopened
/// while it holds it) and ends when the incident leaves it, is resolved or is closed; each
/// hold is a clock of its own (`ola:line:L1#2`, the line's second hold). An OLA breach costs
/// no money: it is an internal target, notified to the unit, never charged to the customer.
///
/// A class, as ``Contract`` is: every hold of every evaluation refers to its unit's terms, and a
/// reference is one retain where a struct of these fields was six.
public final class OLATerms: Sendable {
    /// `line:NAME` or `team:NAME`.
    public let unit: String
    /// The calendar time held is counted in.
    public let calendar: BusinessCalendar
    /// Workflow statuses that stop the clock while the incident is in them.
    public let pauseOn: Set<String>
    /// Business seconds allowed per hold, by priority; a priority without one counts no time.
    public let targets: [String: Int64]
    /// Warnings, the breach and escalations, as a contract's clocks have them.
    public let thresholds: [Threshold]
    /// Webhooks that hear about the unit's OLA warnings and breaches.
    public let notify: [String]
    /// The names of the unit's first holds (`line:L1#1` …), made once: an evaluation names
    /// each hold again.
    private let firstHoldNames: [String]

    /// A support line or a team.
    public enum Kind: Sendable { case line, team }

    /// Terms of one unit.
    public init(
        unit: String, calendar: BusinessCalendar, pauseOn: Set<String>, targets: [String: Int64],
        warnAt: [Percentage], escalations: [Escalation], notify: [String]
    ) {
        self.unit = unit
        self.calendar = calendar
        self.pauseOn = pauseOn
        self.targets = targets
        thresholds = Contract.thresholds(warnAt: warnAt, escalations: escalations)
        self.notify = notify
        firstHoldNames = (1...8).map { "\(unit)#\($0)" }
    }

    /// The name of the unit's `n`th hold of an incident (from 1): `line:L1#2`.
    public func holdName(_ n: Int) -> String {
        n >= 1 && n <= firstHoldNames.count ? firstHoldNames[n - 1] : "\(unit)#\(n)"
    }
}

/// The OLAs of every support line and team (`lines:` and `teams:` in slad.yaml).
public struct OLABook: Sendable {
    /// By line name, as events carry it in `level`.
    public var lines: [String: OLATerms]
    /// By team name, as events carry it in `team`.
    public var teams: [String: OLATerms]

    /// A book.
    public init(lines: [String: OLATerms] = [:], teams: [String: OLATerms] = [:]) {
        self.lines = lines
        self.teams = teams
    }

    /// No OLAs at all.
    public static let none = OLABook()

    /// Whether there are none.
    public var isEmpty: Bool { lines.isEmpty && teams.isEmpty }

    /// The terms of the unit a hold clock belongs to: `line:L1#2` → the terms of line L1.
    public func terms(ofHold name: String) -> OLATerms? {
        let unit = name.firstIndex(of: "#").map { String(name[..<$0]) } ?? name
        if unit.hasPrefix("line:") { return lines[String(unit.dropFirst(5))] }
        if unit.hasPrefix("team:") { return teams[String(unit.dropFirst(5))] }
        return nil
    }
}
