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

/// Everything the daemon asks of its store: the SQLite file (`SLAStore`) or the PostgreSQL
/// database several nodes share. Calls wait for their answer on the calling thread, as
/// ``ReportStore``'s do.
public protocol DaemonStore: ReportStore {
    /// Writes `batch` in one transaction.
    func commit(_ batch: Batch) throws

    /// Moves what the store keeps aside into its main file, where it has such a thing (SQLite's
    /// write-ahead log); nothing elsewhere.
    func checkpoint()

    /// Moves all of it into the main file and empties it, waiting for readers and the writer
    /// where it must: at a clean stop, so that the main file alone holds everything (a backup
    /// taken after the stop) and the next start reads no log.
    func checkpointAll()

    /// Counters per source since the store was created.
    func sourceStats() throws -> [String: SourceStats]

    /// Quarantined lines per reason.
    func quarantineCounts() throws -> [String: Int]

    /// The last ledger row whose incidents' stored state is current, when later rows' is not;
    /// nil when every incident's state is current.
    func stateBehind() throws -> Int64?

    /// The incidents the events of the ledger rows after row `seq` name.
    func incidents(inLedgerAfter seq: Int64) throws -> Set<String>

    /// The live engine's state as stored when the daemon last stopped (``Batch/liveSnapshot``),
    /// when the ledger ended at row `ledgerRow` then; nil when none is stored, it was stored at
    /// another row, or it cannot be read.
    func liveSnapshot(atLedgerRow ledgerRow: Int64) throws -> LiveSnapshot?

    /// Saved offsets of every file of every source.
    func offsets() throws -> [SourceOffset]

    /// Calls `body` with each ledger row's source and events, in arrival order, a run at a time.
    func forEachEventRun(_ body: (String, [SLAEvent]) throws -> Void) throws

    /// Calls `body` with each ledger row's number, source and events, in arrival order, from
    /// the row after `seq` (0: from the first), a run at a time. Row numbers grow in commit
    /// order: a reader that went through row `seq` reads on from there.
    func forEachEventRun(after seq: Int64, _ body: (Int64, String, [SLAEvent]) throws -> Void) throws

    /// Every notification decided so far, in decision order.
    func outbox() throws -> [SLANotification]

    /// Which of `ids` the outbox holds already.
    func knownNotifications(_ ids: [String]) throws -> Set<String>

    /// Pending deliveries of one sink in outbox order, at most `limit`.
    func pendingDeliveries(sink: String, limit: Int) throws -> [PendingDelivery]

    /// Records an attempt's outcome.
    func recordDelivery(seq: Int64, attempts: Int, outcome: DeliveryOutcome) throws

    /// Fails pending deliveries to sinks no longer configured; counts them per sink.
    func failOrphanDeliveries(knownSinks: Set<String>, nowMilliseconds: Int64) throws -> [String: Int]

    /// Pending deliveries per sink (the outbox depth).
    func pendingDeliveryCounts() throws -> [String: Int]

    /// Breached clocks as of `asOf` with breach instants from `since` on, oldest first, at most
    /// `limit`; whether more matched.
    func breaches(
        since: Instant?, contract: String?, limit: Int, asOf: Instant, contracts: [String: Contract]
    ) throws -> (breaches: [StoredBreach], truncated: Bool)
}

extension SLAStore: DaemonStore {}
