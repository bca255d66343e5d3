import Foundation
import GRDB
import Logging
import PostgresNIO
import SLAConfig
import SLACore
import SLAPostgres
import SLAStore
import TestSupport
import Testing

@Suite("The PostgreSQL store against the SQLite store", .serialized)
struct StoreEqualityTests {
    @Test("the same batches leave the same durable state in both stores, batch after batch")
    func sameDump() async throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        let batches = HistoryBatches.make(seed: seed, incidents: 30, batches: 40)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("slad-pgeq-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let sqlite = try SLAStore(path: folder.appendingPathComponent("slad.sqlite").path)
        try await withStore { _, location in
            let store = try await PostgresStore.open(location, logger: testLogger)
            do {
                let token = try await withLease(location)
                var rejected = 0
                for (k, batch) in batches.enumerated() {
                    try sqlite.commit(batch)
                    try await store.commit(batch, token: token)
                    rejected += batch.rejections.count
                    try await expectSameReads(sqlite, store, after: "batch \(k) (seed \(seed))")
                    let (expected, got) = (try sqlite.canonicalDump(), try await store.canonicalDump())
                    guard got != expected else { continue }
                    // The whole dumps differ; the first differing line says where.
                    let (a, b) = (expected.split(separator: "\n"), got.split(separator: "\n"))
                    let k2 = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
                    Issue.record(
                        """
                        after batch \(k) (seed \(seed)) the dumps differ at line \(k2 + 1):
                        SQLite:     \(k2 < a.count ? String(a[k2]) : "(end)")
                        PostgreSQL: \(k2 < b.count ? String(b[k2]) : "(end)")
                        """)
                    break
                }
                // The live snapshot of a stop, stored in both and read back whole, at the ledger's
                // last row only (its row is that batch's, so the row before holds none).
                var live = LiveEngine(
                    engine: IngestEngine(contracts: [HistoryBatches.contract]), nowMilliseconds: 1_790_000_000_000)
                for batch in batches { _ = live.ingest(batch.events.map(\.event), nowMilliseconds: 1_790_000_000_000) }
                var stop = Batch()
                stop.liveSnapshot = live.snapshot(nowMilliseconds: 1_790_000_000_000, fingerprint: "f")
                try sqlite.commit(stop)
                try await store.commit(stop, token: token)
                let rows = try #require(
                    try await DatabaseQueue(path: folder.appendingPathComponent("slad.sqlite").path).read {
                        try Int64.fetchOne($0, sql: "SELECT max(seq) FROM ledger")
                    })
                for row in [rows, rows - 1] {
                    let (a, b) = (
                        try sqlite.liveSnapshot(atLedgerRow: row), try await store.liveSnapshot(atLedgerRow: row)
                    )
                    #expect(a == b && (a == stop.liveSnapshot) == (row == rows), "row \(row) of \(rows) (seed \(seed))")
                }
                // The histories hold what the comparison is about.
                let dump = try await store.canonicalDump()
                #expect(rejected > 0 && dump.contains("# breaches\nINC-") && dump.contains("svc"), "seed \(seed)")
                #expect(dump.contains("waiting\\ncustomer") && dump.contains("helpdesk\\|b"), "seed \(seed)")
                // The daemon's own calls, which wait on their thread: the ledger a page at a time, breaches.
                let waiting = WaitingPostgresStore(store: store, token: { token })
                let waited = try await PostgresCluster.offPool {
                    try Self.differences(sqlite, waiting, contract: HistoryBatches.contract)
                }
                #expect(waited == [], "seed \(seed)")
                // Every outcome of a delivery attempt, the same in both, then the orphans of a sink dropped.
                for sink in ["journal", "ops", "finance"] {
                    let (a, b) = (
                        try sqlite.pendingDeliveries(sink: sink, limit: 100),
                        try await store.pendingDeliveries(sink: sink, limit: 100)
                    )
                    #expect(a == b && !a.isEmpty, "pending deliveries to \(sink) (seed \(seed))")
                    for (j, d) in a.enumerated() {
                        let at = 50_000 + Int64(j)
                        let outcome: DeliveryOutcome =
                            switch j % 4 {
                            case 0: .delivered(atMilliseconds: at)
                            case 1: .retry(atMilliseconds: at + 1_000, error: "HTTP 503 from \(sink)")
                            case 2: .failed(atMilliseconds: at, error: "gave up after 24h")
                            default: .skipped(atMilliseconds: at, reason: "kinds: breach only")
                            }
                        try sqlite.recordDelivery(seq: d.seq, attempts: j + 1, outcome: outcome)
                        try await store.recordDelivery(seq: d.seq, attempts: j + 1, outcome: outcome, token: token)
                    }
                }
                let orphans = try sqlite.failOrphanDeliveries(knownSinks: ["journal", "ops"], nowMilliseconds: 99_000)
                #expect(orphans["finance", default: 0] > 0, "seed \(seed)")
                #expect(
                    try await store.failOrphanDeliveries(
                        knownSinks: ["journal", "ops"], nowMilliseconds: 99_000, token: token) == orphans)
                try await expectSameReads(sqlite, store, after: "the deliveries' outcomes (seed \(seed))")
                // Another node takes over; a batch under the old token is refused and writes nothing.
                try await withConnections(location, 1) { c in
                    try await LeaderLease.release(on: c[0], token: token, logger: testLogger)
                    #expect(
                        try await LeaderLease.acquire(on: c[0], holder: "other", ttl: .seconds(600), logger: testLogger)
                            == token + 1)
                }
                await #expect(throws: StaleFencingToken.self) {
                    try await store.commit(batches[0], token: token)
                }
                #expect(try await store.canonicalDump() == dump)
                let pending = try #require(try await store.pendingDeliveries(sink: "journal", limit: 1).first)
                await #expect(throws: StaleFencingToken.self) {
                    try await store.recordDelivery(
                        seq: pending.seq, attempts: 9, outcome: .delivered(atMilliseconds: 1), token: token)
                }
                await #expect(throws: StaleFencingToken.self) {
                    _ = try await store.failOrphanDeliveries(knownSinks: [], nowMilliseconds: 1, token: token)
                }
                try await store.close()
            } catch {
                try? await store.close()
                throw error
            }
            // Notifications and their deliveries, row for row.
            let query =
                """
                SELECT sink, notification, state, next_attempt_ms, done_ms, attempts, coalesce(last_error, '-')
                FROM deliveries ORDER BY notification, sink
                """
            let expected = try await DatabaseQueue(path: folder.appendingPathComponent("slad.sqlite").path).read { db in
                try Row.fetchAll(db, sql: query).map { r in
                    "\(r[0] as String) \(r[1] as String) \(r[2] as String) \(r[3] as Int64) \((r[4] as Int64?).map(String.init) ?? "-") \(r[5] as Int64) \(r[6] as String)"
                }
            }
            try await withConnections(location, 1) { c in
                var got: [String] = []
                let rows = try await c[0].query(
                    PostgresQuery(
                        unsafeSQL: query.replacingOccurrences(
                            of: "ORDER BY notification, sink",
                            with: "ORDER BY notification COLLATE \"C\", sink COLLATE \"C\"")),
                    logger: testLogger)
                for try await (sink, n, state, next, done, attempts, error) in rows.decode(
                    (String, String, String, Int64, Int64?, Int32, String).self)
                {
                    got.append("\(sink) \(n) \(state) \(next) \(done.map(String.init) ?? "-") \(attempts) \(error)")
                }
                #expect(got == expected, "seed \(seed)")
                #expect(got.contains { $0.hasPrefix("journal n0 delivered 5 5 1 -") })
                #expect(
                    got.contains { $0.hasPrefix("finance ") && $0.hasSuffix(" no webhook named finance in slad.yaml") })
                var tokens: Set<Int64> = []
                for try await t in try await c[0].query("SELECT DISTINCT token FROM outbox", logger: testLogger)
                    .decode(Int64.self)
                {
                    tokens.insert(t)
                }
                #expect(tokens == [1])
            }
        }
    }
}

@Suite("The PostgreSQL store's connection", .serialized)
struct StoreConnectionTests {
    /// postgres-nio never answers a query sent on a connection the server closed: the store
    /// must replace it, not wait forever.
    @Test("a store whose connection the server cut connects again")
    func reconnects() async throws {
        try await withStore { cluster, _ in
            let location = try cluster.location(applicationName: "cut-me")
            let store = try await PostgresStore.open(location, logger: testLogger)
            let token = try await withLease(location)
            try await store.commit(HistoryBatches.make(seed: 1, incidents: 3, batches: 1)[0], token: token)
            let before = try await store.canonicalDump()
            try await withConnections(try cluster.location(), 1) { c in
                var cut = 0
                for try await n in try await c[0].query(
                    "SELECT count(pg_terminate_backend(pid))::bigint FROM pg_stat_activity WHERE application_name = 'cut-me'",
                    logger: testLogger
                ).decode(Int64.self) {
                    cut = Int(n)
                }
                #expect(cut == 1)
                try await eventually("the cut backend gone") {
                    var left: Int64 = -1
                    for try await n in try await c[0].query(
                        "SELECT count(*)::bigint FROM pg_stat_activity WHERE application_name = 'cut-me'",
                        logger: testLogger
                    ).decode(Int64.self) {
                        left = n
                    }
                    return left == 0
                }
            }
            // A call made before the client saw the cut fails; the next one is on a new connection.
            // Each is bounded: a call that never returns fails the test instead of hanging the suite.
            var answer = try? await answered(within: .seconds(30)) { try await store.canonicalDump() }
            if answer == nil { answer = try await answered(within: .seconds(30)) { try await store.canonicalDump() } }
            #expect(answer == before)
            try await store.close()
        }
    }
}

struct NoAnswer: Error, CustomStringConvertible {
    var limit: Duration
    var description: String { "no answer within \(limit)" }
}

/// `body`'s answer, or an error once `limit` passed without one (the body is left running).
func answered<T: Sendable>(
    within limit: Duration, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let (results, sink) = AsyncStream<Result<T, any Error>>.makeStream()
    let work = Task {
        do { sink.yield(.success(try await body())) } catch { sink.yield(.failure(error)) }
    }
    let timer = Task {
        try? await Task.sleep(for: limit)
        sink.yield(.failure(NoAnswer(limit: limit)))
    }
    defer {
        timer.cancel()
        work.cancel()
    }
    for await result in results { return try result.get() }
    throw CancellationError()
}

/// Expects every read the daemon makes of its store to give the same answer from both.
func expectSameReads(_ sqlite: SLAStore, _ store: PostgresStore, after: String) async throws {
    var runs: (a: [String], b: [String]) = ([], [])
    var (a, b): ([(String, [SLAEvent])], [(String, [SLAEvent])]) = ([], [])
    try sqlite.forEachEventRun { a.append(($0, $1)) }
    try await store.forEachEventRun { b.append(($0, $1)) }
    runs = (a.map { "\($0.0) \($0.1)" }, b.map { "\($0.0) \($0.1)" })
    #expect(runs.a == runs.b, "ledger runs, after \(after)")
    #expect(try sqlite.stateBehind() == (try await store.stateBehind()), "state mark, after \(after)")
    for seq in [0, Int64(a.count / 2), Int64(a.count)] {
        #expect(
            try sqlite.incidents(inLedgerAfter: seq) == (try await store.incidents(inLedgerAfter: seq)),
            "incidents after ledger row \(seq), after \(after)")
    }
    let order: (SourceOffset, SourceOffset) -> Bool = { ($0.source, $0.fingerprint) < ($1.source, $1.fingerprint) }
    #expect(
        try sqlite.offsets().sorted(by: order) == (try await store.offsets()).sorted(by: order),
        "offsets, after \(after)")
    let outbox = try sqlite.outbox()
    #expect(outbox == (try await store.outbox()), "outbox, after \(after)")
    let ids = outbox.prefix(2).map(\.id) + ["n-none"]
    #expect(
        try sqlite.knownNotifications(ids) == (try await store.knownNotifications(ids)), "known ids, after \(after)")
    for sink in ["journal", "ops", "finance", "none"] {
        #expect(
            try sqlite.pendingDeliveries(sink: sink, limit: 3)
                == (try await store.pendingDeliveries(sink: sink, limit: 3)),
            "pending deliveries to \(sink), after \(after)")
    }
    #expect(
        try sqlite.pendingDeliveryCounts() == (try await store.pendingDeliveryCounts()),
        "pending counts, after \(after)")
    #expect(try sqlite.deliveryCounts() == (try await store.deliveryCounts()), "delivery counts, after \(after)")
    #expect(try sqlite.sourceStats() == (try await store.sourceStats()), "source counters, after \(after)")
    #expect(try sqlite.quarantineCounts() == (try await store.quarantineCounts()), "quarantine, after \(after)")
}

extension StoreEqualityTests {
    /// Where the daemon's waiting calls answer otherwise from the two stores.
    static func differences(_ sqlite: SLAStore, _ postgres: WaitingPostgresStore, contract: Contract) throws
        -> [String]
    {
        var found: [String] = []
        var (a, b): ([String], [String]) = ([], [])
        try sqlite.forEachEventRun { a.append("\($0) \($1)") }
        try postgres.forEachEventRun { b.append("\($0) \($1)") }
        if a != b || a.count < 65 { found.append("ledger runs: \(a.count) and \(b.count)") }
        for seq in [0, Int64(a.count / 3), Int64(a.count - 1)] {
            if try sqlite.incidents(inLedgerAfter: seq) != postgres.incidents(inLedgerAfter: seq) {
                found.append("incidents after ledger row \(seq)")
            }
        }
        let contracts = [contract.id: contract]
        var listed = 0
        for since in [nil, Instant(600)] {
            for filter in [nil, contract.id, "none"] {
                for (limit, asOf) in [(1_000, Instant(10_000_000)), (3, Instant(0))] {
                    let x = try sqlite.breaches(
                        since: since, contract: filter, limit: limit, asOf: asOf, contracts: contracts)
                    let y = try postgres.breaches(
                        since: since, contract: filter, limit: limit, asOf: asOf, contracts: contracts)
                    listed += x.breaches.count
                    if x.breaches != y.breaches || x.truncated != y.truncated {
                        found.append("breaches since \(since?.seconds ?? -1) of \(filter ?? "all") to \(limit)")
                    }
                }
            }
        }
        if listed == 0 { found.append("no breach listed at all") }
        return found
    }
}

/// Takes the lease of the store at `location` for the test's writes; returns the token.
func withLease(_ location: PostgresLocation) async throws -> Int64 {
    var token: Int64?
    try await withConnections(location, 1) { c in
        token = try await LeaderLease.acquire(on: c[0], holder: "test", ttl: .seconds(600), logger: testLogger)
    }
    return try #require(token)
}
