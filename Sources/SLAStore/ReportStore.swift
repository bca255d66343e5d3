import SLACore

/// What monthly reports read from a store, and the seal they write: the SQLite store
/// (`SLAStore`) and the PostgreSQL one answer alike, so a report is byte for byte the same from
/// either.
///
/// Calls wait for their answer on the calling thread: make them from a thread or queue of
/// one's own, never from an event loop or a Swift concurrency task.
public protocol ReportStore: Sendable {
    /// Batches committed through this store object (a report cache's generation).
    var committedBatches: Int { get }

    /// Every service and maintenance event (those without an incident), in time order.
    func serviceEvents() throws -> [SLAEvent]

    /// The earliest instant with data for a contract: its first incident's opening.
    func firstIncident(contract: String) throws -> Instant?

    /// The last sealed month (`YYYY-MM`) of each contract with a sealed report.
    func lastSealedMonths() throws -> [String: String]

    /// The sealed reports of a contract, by month, without their bodies.
    func sealedReports(contract: String) throws -> [SealedReport]

    /// The stored report of a sealed month.
    func sealedBody(contract: String, month: String) throws -> [UInt8]?

    /// Adjustments carried for a contract's sealed months, by applied month then sealed month.
    func adjustments(contract: String) throws -> [RecordedAdjustment]

    /// Seals a month with the adjustments its report carries, in one transaction; a month
    /// sealed already stays as it was. Returns whether this call sealed it.
    @discardableResult
    func seal(_ report: SealedReport, currency: String, carrying: [RecordedAdjustment]) throws -> Bool

    /// Calls `body` with the stored verdict of each of `contract`'s incidents that can matter for
    /// `[from, to)`, in incident order (the ids' bytes): opened before `to`, and with a clock
    /// decided in the period or not yet. Clocks decided before `from` are left out of an
    /// incident opened before it. One verdict value is refilled for every incident: copy it to
    /// keep it.
    func forEachReportVerdict(
        contract: String, from: Instant, to: Instant, _ body: (inout IncidentVerdict) throws -> Void
    ) throws

    /// ``forEachReportVerdict(contract:from:to:_:)`` with the verdicts spread over `parts`:
    /// `body` gets the part a verdict belongs to, and may be called from several threads at
    /// once, each with a part of its own.
    func forEachReportVerdict<Part: Sendable>(
        contract: String, from: Instant, to: Instant, parts: inout [Part],
        _ body: @Sendable (inout Part, inout IncidentVerdict) throws -> Void
    ) throws
}

extension SLAStore: ReportStore {}
