import Dispatch
import Logging
import SLAConfig
import SLACore
import SLAStore
import Synchronization

/// The PostgreSQL store for code that runs on threads of its own and waits for its answers,
/// as it waits for SQLite's: the reports (``ReportStore``), and the daemon's engine and
/// committer. Each call runs on the store's connection and blocks the calling thread until
/// the answer is in; calls from several threads take turns.
///
/// Never call it from an event loop or a Swift concurrency task: the answer is computed by a
/// task, which a blocked pool thread may be needed for.
public final class WaitingPostgresStore: ReportStore {
    /// The store the calls go to.
    public let store: PostgresStore
    /// The fencing token writes go under: the lease keeper's current one; nil when this node
    /// does not lead, and then a write is refused before it is tried.
    private let token: @Sendable () -> Int64?
    /// Hears a write refused as stale: another node leads now.
    private let lost: @Sendable (StaleFencingToken) -> Void
    private let turn = Mutex(())
    private let commits = Atomic<Int>(0)

    /// Calls to `store`; writes under the token `token` gives at the time, and `lost` hears
    /// when one was refused as stale.
    public init(
        store: PostgresStore, token: @escaping @Sendable () -> Int64?,
        lost: @escaping @Sendable (StaleFencingToken) -> Void = { _ in }
    ) {
        self.store = store
        self.token = token
        self.lost = lost
    }

    /// Connects to `location` and waits for it: a reader (`slad report`) with `migrate: false`,
    /// which writes nothing and so needs no token.
    public static func open(
        _ location: PostgresLocation, logger: Logger, migrate: Bool, token: @escaping @Sendable () -> Int64? = { nil }
    ) throws -> WaitingPostgresStore {
        let store = try answer { try await PostgresStore.open(location, logger: logger, migrate: migrate) }
        return WaitingPostgresStore(store: store, token: token)
    }

    /// Closes the store's connection.
    public func close() throws { try wait { try await $0.close() } }

    /// Runs `body` as a task and waits for its answer on this thread.
    func wait<T: Sendable>(_ body: @escaping @Sendable (PostgresStore) async throws -> T) throws -> T {
        try turn.withLock { _ in try call(body) }
    }

    /// ``wait(_:)`` for a caller that holds the turn already.
    private func call<T: Sendable>(_ body: @escaping @Sendable (PostgresStore) async throws -> T) throws -> T {
        try Self.answer(closed: { [store] in store.isConnectionClosed }) { [store] in try await body(store) }
    }

    /// `body`'s answer, waited for on this thread.
    ///
    /// The body runs on ``waits``, a thread of its own, not on the cooperative pool: a caller
    /// that blocks a pool thread (the daemon's start-up does, restoring the engine) would
    /// otherwise wait for a task that needs that thread, forever on a one-core machine.
    static func answer<T: Sendable>(
        closed: @Sendable () -> Bool = { false }, _ body: @escaping @Sendable () async throws -> T
    ) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Result<T, any Error>?>(nil)
        Task(executorPreference: waits) {
            let r: Result<T, any Error>
            do { r = .success(try await body()) } catch { r = .failure(error) }
            result.withLock { $0 = r }
            done.signal()
        }
        // postgres-nio never answers a statement sent on a connection the server has closed
        // (a session ended by idle_in_transaction_session_timeout while this process was
        // stopped, pg_terminate_backend between two statements of a transaction). A call whose
        // connection has been closed for half a second is given up; the next call connects again.
        var closedFor = 0
        while done.wait(timeout: .now() + .milliseconds(100)) == .timedOut {
            closedFor = closed() ? closedFor + 1 : 0
            if closedFor >= 5 { throw ConnectionLost() }
        }
        return try result.withLock { $0! }.get()
    }

    /// A call given up because the server closed its connection before answering.
    public struct ConnectionLost: Error, CustomStringConvertible {
        /// What happened.
        public var description: String { "the PostgreSQL server closed the connection before answering" }
    }

    /// The executor the waited-for calls run on.
    static let waits = QueueExecutor(label: "slad.postgres.waits")

    /// The token to write under, or the refusal of a node that does not lead.
    func leaderToken() throws -> Int64 {
        guard let token = token() else {
            throw StaleFencingToken(token: 0, reason: "this node does not hold the lease: only the leader writes")
        }
        return token
    }

    /// A write under the token of the moment, waited for; a stale refusal is told to `lost`.
    func write<T: Sendable>(_ body: @escaping @Sendable (PostgresStore, Int64) async throws -> T) throws -> T {
        let token = try leaderToken()
        do {
            return try wait { try await body($0, token) }
        } catch let stale as StaleFencingToken {
            lost(stale)
            throw stale
        }
    }

    // MARK: ReportStore

    /// Batches committed through this object.
    public var committedBatches: Int { commits.load(ordering: .acquiring) }

    /// ``PostgresStore/serviceEvents()``, waited for.
    public func serviceEvents() throws -> [SLAEvent] { try wait { try await $0.serviceEvents() } }

    /// ``PostgresStore/firstIncident(contract:)``, waited for.
    public func firstIncident(contract: String) throws -> Instant? {
        try wait { try await $0.firstIncident(contract: contract) }
    }

    /// ``PostgresStore/lastSealedMonths()``, waited for.
    public func lastSealedMonths() throws -> [String: String] { try wait { try await $0.lastSealedMonths() } }

    /// ``PostgresStore/sealedReports(contract:)``, waited for.
    public func sealedReports(contract: String) throws -> [SealedReport] {
        try wait { try await $0.sealedReports(contract: contract) }
    }

    /// ``PostgresStore/sealedBody(contract:month:)``, waited for.
    public func sealedBody(contract: String, month: String) throws -> [UInt8]? {
        try wait { try await $0.sealedBody(contract: contract, month: month) }
    }

    /// ``PostgresStore/adjustments(contract:)``, waited for.
    public func adjustments(contract: String) throws -> [RecordedAdjustment] {
        try wait { try await $0.adjustments(contract: contract) }
    }

    /// ``PostgresStore/seal(_:currency:carrying:token:)`` under the token of the moment,
    /// waited for; refused when this node does not lead.
    @discardableResult
    public func seal(_ report: SealedReport, currency: String, carrying: [RecordedAdjustment]) throws -> Bool {
        try write { try await $0.seal(report, currency: currency, carrying: carrying, token: $1) }
    }

    /// The report query's incidents as verdicts, read a page at a time through a cursor in one
    /// read-only transaction, so that the whole read sees one state of the store.
    public func forEachReportVerdict(
        contract: String, from: Instant, to: Instant, _ body: (inout IncidentVerdict) throws -> Void
    ) throws {
        // One turn for the whole read: its pages come from one cursor on the connection.
        try turn.withLock { _ in
            try call { try await $0.beginReportRead(contract: contract, from: from, to: to) }
            do {
                var rows = ClockRows()
                var v = IncidentVerdict(
                    incident: "", contract: contract, service: nil, openedAt: Instant(0), openingPriority: "",
                    priority: "", status: .open, handoffs: 0, covered: false, clocks: [], asOf: Instant(0))
                while true {
                    let page = try call { try await $0.nextReportRows(2_000) }
                    for r in page {
                        try Self.fill(
                            &v, from: r, rows: &rows, droppingDecidedBefore: Instant(r.openedAt) < from ? from : nil)
                        try body(&v)
                    }
                    if page.count < 2_000 { break }
                }
            } catch {
                try? call { try await $0.endReportRead() }
                throw error
            }
            try call { try await $0.endReportRead() }
        }
    }

    /// Everything goes into `parts[0]`, read on this thread: the server does the filtering,
    /// and one connection answers one query at a time.
    public func forEachReportVerdict<Part: Sendable>(
        contract: String, from: Instant, to: Instant, parts: inout [Part],
        _ body: @Sendable (inout Part, inout IncidentVerdict) throws -> Void
    ) throws {
        precondition(!parts.isEmpty, "at least one part")
        try forEachReportVerdict(contract: contract, from: from, to: to) { try body(&parts[0], &$0) }
    }
}

extension WaitingPostgresStore: DaemonStore {
    /// ``PostgresStore/commit(_:token:)`` under the token of the moment, waited for.
    public func commit(_ batch: Batch) throws {
        try write { try await $0.commit(batch, token: $1) }
        commits.add(1, ordering: .releasing)
    }

    /// Nothing: the server keeps its own log.
    public func checkpoint() {}

    /// Nothing: the server keeps its own log.
    public func checkpointAll() {}

    /// ``PostgresStore/sourceStats()``, waited for.
    public func sourceStats() throws -> [String: SourceStats] { try wait { try await $0.sourceStats() } }

    /// ``PostgresStore/quarantineCounts()``, waited for.
    public func quarantineCounts() throws -> [String: Int] { try wait { try await $0.quarantineCounts() } }

    /// ``PostgresStore/stateBehind()``, waited for.
    public func stateBehind() throws -> Int64? { try wait { try await $0.stateBehind() } }

    /// ``PostgresStore/liveSnapshot(atLedgerRow:)``, waited for.
    public func liveSnapshot(atLedgerRow ledgerRow: Int64) throws -> LiveSnapshot? {
        try wait { try await $0.liveSnapshot(atLedgerRow: ledgerRow) }
    }

    /// The incidents named after ledger row `seq`, read a page of the ledger at a time.
    public func incidents(inLedgerAfter seq: Int64) throws -> Set<String> {
        var out = Set<String>()
        try forEachEventRun(after: seq) { _, _, events in
            for e in events { if let i = e.incident { out.insert(i) } }
        }
        return out
    }

    /// ``PostgresStore/offsets()``, waited for.
    public func offsets() throws -> [SourceOffset] { try wait { try await $0.offsets() } }

    /// The ledger a page of rows at a time, each page waited for, `body` called on this thread.
    public func forEachEventRun(_ body: (String, [SLAEvent]) throws -> Void) throws {
        try forEachEventRun(after: 0) { _, source, events in try body(source, events) }
    }

    /// The ledger from the row after `seq`, a page of rows at a time, each page waited for,
    /// `body` called on this thread.
    public func forEachEventRun(after seq: Int64, _ body: (Int64, String, [SLAEvent]) throws -> Void) throws {
        var last = seq
        while true {
            let from = last
            let page = try wait { try await $0.ledgerPage(after: from, limit: 64) }
            for run in page { try body(run.seq, run.source, run.events) }
            guard let end = page.last, page.count == 64 else { return }
            last = end.seq
        }
    }

    /// ``PostgresStore/outbox()``, waited for.
    public func outbox() throws -> [SLANotification] { try wait { try await $0.outbox() } }

    /// ``PostgresStore/knownNotifications(_:)``, waited for.
    public func knownNotifications(_ ids: [String]) throws -> Set<String> {
        try wait { try await $0.knownNotifications(ids) }
    }

    /// ``PostgresStore/pendingDeliveries(sink:limit:)``, waited for.
    public func pendingDeliveries(sink: String, limit: Int) throws -> [PendingDelivery] {
        try wait { try await $0.pendingDeliveries(sink: sink, limit: limit) }
    }

    /// ``PostgresStore/recordDelivery(seq:attempts:outcome:token:)`` under the token of the moment.
    public func recordDelivery(seq: Int64, attempts: Int, outcome: DeliveryOutcome) throws {
        try write { try await $0.recordDelivery(seq: seq, attempts: attempts, outcome: outcome, token: $1) }
    }

    /// ``PostgresStore/failOrphanDeliveries(knownSinks:nowMilliseconds:token:)`` under the token of the moment.
    public func failOrphanDeliveries(knownSinks: Set<String>, nowMilliseconds: Int64) throws -> [String: Int] {
        try write {
            try await $0.failOrphanDeliveries(knownSinks: knownSinks, nowMilliseconds: nowMilliseconds, token: $1)
        }
    }

    /// ``PostgresStore/pendingDeliveryCounts()``, waited for.
    public func pendingDeliveryCounts() throws -> [String: Int] { try wait { try await $0.pendingDeliveryCounts() } }

    /// Settled incidents' stored breaches and open incidents' breaches projected to `asOf`, as
    /// `SLAStore.breaches(since:contract:limit:asOf:contracts:)` lists them.
    public func breaches(
        since: Instant?, contract: String?, limit: Int, asOf: Instant, contracts: [String: Contract]
    ) throws -> (breaches: [StoredBreach], truncated: Bool) {
        let lower = since?.seconds ?? Int64.min
        let (settled, open) = try wait {
            (
                try await $0.settledBreaches(from: lower, contract: contract, limit: limit + 1),
                try await $0.unsettledIncidents(contract: contract)
            )
        }
        var found = settled
        var rows = ClockRows()
        var v = IncidentVerdict(
            incident: "", contract: "", service: nil, openedAt: Instant(0), openingPriority: "", priority: "",
            status: .open, handoffs: 0, covered: false, clocks: [], asOf: Instant(0))
        for (contract, r) in open {
            try Self.fill(&v, from: r, rows: &rows, droppingDecidedBefore: nil)
            v.contract = contract
            found += StoredBreach.projected(&v, from: lower, asOf: asOf, contracts: contracts)
        }
        found.sort(by: StoredBreach.precedes)
        return (Array(found.prefix(limit)), found.count > limit)
    }

    /// Fills the reused verdict `v` from a row of the incidents table.
    static func fill(
        _ v: inout IncidentVerdict, from r: PostgresStore.ReportRow, rows: inout ClockRows,
        droppingDecidedBefore before: Instant?
    ) throws {
        v.incident = r.incident
        v.service = r.service
        v.openedAt = Instant(r.openedAt)
        v.openingPriority = r.openingPriority
        v.priority = r.priority
        v.status = IncidentStatus(rawValue: r.status) ?? .open
        v.handoffs = Int(r.handoffs)
        v.covered = r.covered == 1
        v.asOf = Instant(r.asOf)
        let count = try r.clocks.withUnsafeReadableBytes { raw in
            try rows.fill(&v.clocks, from: raw.bindMemory(to: UInt8.self), droppingDecidedBefore: before) {
                PackedClocks.Malformed(incident: r.incident)
            }
        }
        v.clocks.removeSubrange(count...)
    }
}

/// Runs tasks' jobs on a serial Dispatch queue: an executor outside the cooperative pool.
final class QueueExecutor: TaskExecutor {
    private let queue: DispatchQueue

    init(label: String) { queue = DispatchQueue(label: label) }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }
}
