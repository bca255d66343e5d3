/// How a status-snapshot log maps onto slad events: one row per change of a
/// ticket, as helpdesk audit exports are written.
///
/// Rows are compared with the previous row of the same incident; what changed
/// becomes events. The first row of an incident opens it.
public struct SourceMapping: Sendable {
    /// The file format of a mapped source.
    public enum Format: Sendable, Equatable {
        /// RFC 4180 CSV with a header row, split on `delimiter`.
        case csv(delimiter: UInt8)
        /// One JSON object per line whose values are strings.
        case jsonl
    }

    /// How times are written.
    public enum TimeFormat: Sendable, Equatable {
        /// ISO 8601 / RFC 3339 (offset optional).
        case iso8601
        /// A strftime-like pattern of `%Y %m %d %H %M %S` and literal characters.
        case pattern(String)
    }

    /// What a source status means.
    public enum StatusRule: Sendable, Equatable {
        /// Work goes on in workflow status `status`; `acknowledge` marks the first reaction.
        case active(status: String, acknowledge: Bool)
        /// The incident is resolved (a later active row reopens it).
        case resolved
        /// The incident is closed for good.
        case closed
        /// Rows in this status are skipped on purpose, counted under `reason`.
        case skip(reason: String)
    }

    /// Column (or JSON key) names of the mapped fields.
    public struct Fields: Sendable, Equatable {
        /// The incident id.
        public var incident: String
        /// When the row was written.
        public var time: String
        /// One or more columns joined with `/` to form the source status.
        public var status: [String]
        /// The source priority, mapped through ``SourceMapping/priorities``.
        public var priority: String?
        /// The team; a change is a handoff.
        public var team: String?
        /// The support level; a change is a handoff.
        public var level: String?
        /// The person; a change is a handoff.
        public var assignee: String?
        /// The affected service.
        public var service: String?
        /// When the incident was opened, when the log records it apart from the row time.
        public var openedTime: String?
        /// The contract, when it varies per row (else ``SourceMapping/contract``).
        public var contract: String?

        /// Creates the field names; only incident, time and status are required.
        public init(
            incident: String, time: String, status: [String], priority: String? = nil, team: String? = nil,
            level: String? = nil, assignee: String? = nil, service: String? = nil, openedTime: String? = nil,
            contract: String? = nil
        ) {
            self.incident = incident
            self.time = time
            self.status = status
            self.priority = priority
            self.team = team
            self.level = level
            self.assignee = assignee
            self.service = service
            self.openedTime = openedTime
            self.contract = contract
        }
    }

    /// The mapping's name (its file name), used in event ids and quarantine records.
    public var name: String
    /// The file format.
    public var format: Format
    /// How times are written.
    public var timeFormat: TimeFormat
    /// The zone of times written without an offset.
    public var zone: ZoneRules
    /// The contract every incident of this source is under, unless a field names it.
    public var contract: String?
    /// Column names.
    public var fields: Fields
    /// Source priority value → contract priority name.
    public var priorities: [String: String]
    /// Source status (columns joined with `/`) → meaning.
    public var statuses: [String: StatusRule]
    /// Values that mean "unknown" (e.g. `?`): treated as absent.
    public var unknownValues: Set<String>
    /// Attribute name → column, for policies (`category: category`, `impact: impact`, …); the
    /// mapped fields `service`, `team`, `level`, `assignee` are attributes of their own.
    public var attributes: [String: String] = [:]
    /// slad.yaml's policies: they pick the contract (and priority) of an incident whose
    /// opening row names no contract, when the mapping has no fixed one.
    public var policies = PolicyBook()

    /// Creates a mapping.
    public init(
        name: String, format: Format, timeFormat: TimeFormat, zone: ZoneRules, contract: String?, fields: Fields,
        priorities: [String: String], statuses: [String: StatusRule], unknownValues: Set<String> = []
    ) {
        self.name = name
        self.format = format
        self.timeFormat = timeFormat
        self.zone = zone
        self.contract = contract
        self.fields = fields
        self.priorities = priorities
        self.statuses = statuses
        self.unknownValues = unknownValues
    }
}
