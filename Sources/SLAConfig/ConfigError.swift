/// One problem in the configuration: where it is and what to do about it.
///
/// Printed as `file:line:column: field.path: reason (hint)` so that editors and
/// people can jump to it.
public struct ConfigError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The file, as given to the loader (relative paths stay relative).
    public var file: String
    /// The 1-based line, when known.
    public var line: Int?
    /// The 1-based column, when known.
    public var column: Int?
    /// Dotted field path, e.g. `priorities.P1.reaction`; empty for the whole file.
    public var field: String
    /// What is wrong.
    public var reason: String
    /// What to write instead, when there is an obvious fix.
    public var hint: String?

    /// Creates an error.
    public init(file: String, line: Int? = nil, column: Int? = nil, field: String, reason: String, hint: String? = nil)
    {
        self.file = file
        self.line = line
        self.column = column
        self.field = field
        self.reason = reason
        self.hint = hint
    }

    /// `file:line:column: field: reason; hint`.
    public var description: String {
        var out = file
        if let line { out += ":\(line)" }
        if let column { out += ":\(column)" }
        out += ": "
        if !field.isEmpty { out += "\(field): " }
        out += reason
        if let hint { out += "; \(hint)" }
        return out
    }
}

/// Every error found while loading, in file then line order.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    /// The errors, in the order found.
    public var errors: [ConfigError]

    /// Wraps a list of errors.
    public init(_ errors: [ConfigError]) { self.errors = errors }

    /// One error per line.
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
