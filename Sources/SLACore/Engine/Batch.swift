/// Everything one ingest batch changes, written in one transaction.
public struct Batch: Sendable {
    /// New events with the source they came from (already-known ids are ignored by the store).
    public var events: [(event: SLAEvent, source: String)] = []
    /// Lines that could not be decoded.
    public var quarantine: [QuarantineRecord] = []
    /// Offsets reached by this batch.
    public var offsets: [SourceOffset] = []
    /// New state of every incident the batch touched.
    public var incidents: [IncidentVerdict] = []
    /// Incidents the batch touched that have no verdict (never opened, unknown contract).
    public var unevaluated: [String] = []
    /// Engine rejections of the touched incidents (they replace the previous ones).
    public var rejections: [Rejection] = []

    /// Warnings, breaches, escalations and retractions decided with this batch.
    ///
    /// Each new one gets a delivery row per sink (the journal, and every webhook
    /// it names), pending unless listed in `journaled`.
    public var notifications: [SLANotification] = []
    /// Notifications already written to the journal when decided (id → wall-clock ms):
    /// their journal delivery is recorded as done in the same transaction.
    public var journaled: [String: Int64] = [:]
    /// Per source: lines read, new events, duplicate events, quarantined lines in this batch.
    public var stats: [String: SourceStats] = [:]
    /// Whether, with this batch, the stored incident state starts to lag the ledger or
    /// catches up with it (``StateMark``).
    public var stateMark: StateMark = .unchanged
    /// The live engine's state as the daemon stops (stored as ``LiveSnapshot/encoded()``),
    /// with the ledger's last row at the commit, in place of the one stored before.
    public var liveSnapshot: LiveSnapshot?

    /// How a batch changes whether the stored incident state (verdicts, breach rows,
    /// rejections) is current with the ledger. While the daemon reads a backlog it leaves the
    /// state of touched incidents to a later batch, which writes each incident once however
    /// often it was touched; the store remembers from which ledger row on the state lags, so a
    /// restart after a crash derives it again.
    public enum StateMark: Sendable {
        /// As before this batch.
        case unchanged
        /// The state of this batch's incidents, and of later ones until ``current``, is not
        /// written.
        case behindFromHere
        /// Every incident's state is written, with this batch's.
        case current
    }

    /// An empty batch.
    public init() {}

    /// Whether the batch changes nothing.
    public var isEmpty: Bool { events.isEmpty && quarantine.isEmpty && offsets.isEmpty && notifications.isEmpty }

    /// Whether the batch holds decisions only (timer firings): no events, offsets, state or stats.
    public var holdsOnlyDecisions: Bool {
        events.isEmpty && quarantine.isEmpty && offsets.isEmpty && incidents.isEmpty && unevaluated.isEmpty
            && rejections.isEmpty && stats.isEmpty && stateMark == .unchanged
    }
}
