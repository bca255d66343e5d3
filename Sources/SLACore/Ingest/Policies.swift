/// Impact × urgency → priority, the ITIL matrix, under a name policies refer to.
public struct PriorityMatrix: Sendable, Hashable {
    /// Its name (`priority_matrices:` key in slad.yaml).
    public var name: String
    /// Priority by impact, then urgency, as the source writes them.
    public var cells: [String: [String: String]]

    /// A matrix.
    public init(name: String, cells: [String: [String: String]]) {
        self.name = name
        self.cells = cells
    }

    /// The priority of an impact and an urgency; nil when the matrix has no such cell.
    public func priority(impact: String?, urgency: String?) -> String? {
        guard let impact, let urgency else { return nil }
        return cells[impact]?[urgency]
    }
}

/// A rule that picks the contract (and the priority) of an incident from its opening's fields:
/// a customer, a service, a category, a channel, anything the source maps to an attribute.
public struct Policy: Sendable, Hashable {
    /// Its name, for messages and the incident's record.
    public var name: String
    /// Each attribute it looks at and the values that match (any of them); none: matches all.
    public var conditions: [String: Set<String>]
    /// The contract it applies.
    public var contract: String
    /// A fixed priority, or nil when ``matrix`` (or the source's priority) gives it.
    public var priority: String?
    /// A matrix deriving the priority from the attributes `impact` and `urgency`.
    public var matrix: PriorityMatrix?

    /// A policy.
    public init(
        name: String, conditions: [String: Set<String>], contract: String, priority: String? = nil,
        matrix: PriorityMatrix? = nil
    ) {
        self.name = name
        self.conditions = conditions
        self.contract = contract
        self.priority = priority
        self.matrix = matrix
    }

    /// Whether `attribute` (a value by attribute name) meets every condition.
    public func matches(_ attribute: (String) -> String?) -> Bool {
        conditions.allSatisfy { field, values in attribute(field).map(values.contains) ?? false }
    }

    /// The priority the policy gives an incident whose attributes are `attribute`: its fixed
    /// one, else its matrix's for the incident's impact and urgency, else `source`.
    public func priority(_ attribute: (String) -> String?, source: String?) -> String? {
        if let priority { return priority }
        if let matrix { return matrix.priority(impact: attribute("impact"), urgency: attribute("urgency")) }
        return source
    }

    /// Whether every incident this policy matches is matched by `earlier` first.
    public func isShadowed(by earlier: Policy) -> Bool {
        earlier.conditions.allSatisfy { field, values in conditions[field].map { $0.isSubset(of: values) } ?? false }
    }

    /// Whether some incident could match both this policy and `other`.
    public func overlaps(_ other: Policy) -> Bool {
        conditions.allSatisfy { field, values in other.conditions[field].map { !$0.isDisjoint(with: values) } ?? true }
    }
}

/// The ordered policies of slad.yaml: the first that matches an incident's opening wins.
public struct PolicyBook: Sendable, Hashable {
    /// In the order written.
    public var policies: [Policy]

    /// A book.
    public init(policies: [Policy] = []) { self.policies = policies }

    /// Whether there are none.
    public var isEmpty: Bool { policies.isEmpty }

    /// The first policy that matches.
    public func match(_ attribute: (String) -> String?) -> Policy? {
        policies.first { $0.matches(attribute) }
    }

    /// Why an opening no policy matches is quarantined: `no_policy`, with the attributes the
    /// policies look at and the opening's values of them.
    public func noMatchReason(_ attribute: (String) -> String?) -> String {
        let seen = policies.flatMap { $0.conditions.keys }.reduce(into: [String]()) {
            if !$0.contains($1) { $0.append($1) }
        }.sorted().map { "\($0)=\(attribute($0) ?? "(none)")" }
        return "no_policy: no policy matches \(seen.joined(separator: ", "))"
    }
}

extension Policy {
    /// Why this policy's matrix gives an opening no priority: its impact and urgency have no cell.
    public func matrixGapReason(_ attribute: (String) -> String?) -> String {
        "policy \(name): matrix \(matrix?.name ?? "") has no priority for impact '\(attribute("impact") ?? "(none)")' and urgency '\(attribute("urgency") ?? "(none)")'"
    }
}
