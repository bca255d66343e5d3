import SLACore

/// Where reading of one file of a source stands.
public struct SourceOffset: Sendable, Hashable {
    /// The configured source.
    public var source: String
    /// Identity of the file: a hash of its first line (survives renames, detects inode reuse).
    public var fingerprint: String
    /// Where the file was last seen.
    public var path: String
    /// Its inode when last seen.
    public var inode: UInt64
    /// Bytes consumed (always at a line boundary).
    public var offset: Int64
    /// Lines consumed.
    public var line: Int

    /// Creates an offset record.
    public init(source: String, fingerprint: String, path: String, inode: UInt64, offset: Int64, line: Int) {
        self.source = source
        self.fingerprint = fingerprint
        self.path = path
        self.inode = inode
        self.offset = offset
        self.line = line
    }
}

/// A line that was not turned into an event, kept with where it came from.
public struct QuarantineRecord: Sendable, Hashable {
    /// The configured source.
    public var source: String
    /// The file's fingerprint.
    public var fingerprint: String
    /// Byte offset of the line in the file.
    public var offset: Int64
    /// 1-based line number in the file.
    public var line: Int
    /// The field at fault, when one is.
    public var field: String?
    /// Why.
    public var reason: String
    /// The line itself, cut at 1 KiB.
    public var raw: String

    /// Creates a record; `raw` is cut to 1 KiB.
    public init(
        source: String, fingerprint: String, offset: Int64, line: Int, field: String?, reason: String, raw: String
    ) {
        self.source = source
        self.fingerprint = fingerprint
        self.offset = offset
        self.line = line
        self.field = field
        self.reason = reason
        self.raw = raw.utf8.count > 1024 ? String(decoding: raw.utf8.prefix(1024), as: UTF8.self) : raw
    }
}

/// Counters of one source.
public struct SourceStats: Sendable, Hashable {
    /// Lines read.
    public var lines = 0
    /// Events new to the ledger.
    public var events = 0
    /// Events whose identity was already in the ledger.
    public var duplicates = 0
    /// Lines quarantined.
    public var quarantined = 0

    /// Zero counters.
    public init() {}
}

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
