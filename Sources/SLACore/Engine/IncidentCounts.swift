/// Open incidents by standing.
public struct IncidentCounts: Codable, Sendable, Hashable {
    /// Open incidents (any standing).
    public var open: Int
    /// Open incidents past a warning threshold, not breached.
    public var atRisk: Int
    /// Open incidents with a breached clock.
    public var breached: Int

    /// Counts.
    public init(open: Int = 0, atRisk: Int = 0, breached: Int = 0) {
        self.open = open
        self.atRisk = atRisk
        self.breached = breached
    }

    /// Adds `d` incidents of standing `s`.
    mutating func add(_ s: IncidentStanding, _ d: Int) {
        open += d
        if s == .atRisk { atRisk += d }
        if s == .breached { breached += d }
    }
}
