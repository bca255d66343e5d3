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

    /// An empty batch.
    public init() {}

    /// Whether the batch changes nothing.
    public var isEmpty: Bool { events.isEmpty && quarantine.isEmpty && offsets.isEmpty && notifications.isEmpty }

    /// Whether the batch holds decisions only (timer firings): no events, offsets, state or stats.
    public var holdsOnlyDecisions: Bool {
        events.isEmpty && quarantine.isEmpty && offsets.isEmpty && incidents.isEmpty && unevaluated.isEmpty
            && rejections.isEmpty && stats.isEmpty
    }
}
