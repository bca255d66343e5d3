import Foundation
import Logging
import SLAConfig
import SLACore
import SLAIngest
import SLAPostgres
import SLAStore
import TestSupport

/// Durable commits into PostgreSQL against the SQLite store (issue 25): the same batches, cut
/// from the realistic corpus as the daemon cuts a log (20,000 lines a batch, the state of every
/// incident a batch touched written with it), committed into a fresh SQLite store
/// (`synchronous = FULL`) and into a fresh database of a local PostgreSQL cluster (fsync and
/// synchronous commit on), the two in alternating order. After each round both stores' canonical
/// dumps must be equal. The engine's work is done once, before: this measures the stores.
///
/// Run: `swift build -c release --static-swift-stdlib --product SLABench && .build/release/SLABench store [--incidents N] [--runs N] [--seed N]`
func runStoreBenchmark(incidents: Int, runs: Int, seed: UInt64) async throws {
    let logger = Logger(label: "slad.bench.store")
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("slad-store-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    try Corpus(incidents: incidents, seed: seed).write(to: folder)
    let configuration = try ConfigLoader.load(directory: folder.appendingPathComponent("config").path)
    let text = try String(contentsOf: folder.appendingPathComponent("events.jsonl"), encoding: .utf8)
    let (events, errors) = JSONLEventDecoder(source: "corpus").decodeAll(text)
    precondition(errors.isEmpty, "the corpus decodes without an error")

    var engine = IngestEngine(contracts: configuration.contracts)
    var batches: [Batch] = []
    var start = 0
    while start < events.count {
        let slice = Array(events[start..<min(start + 20_000, events.count)])
        let (fresh, touched) = engine.add(slice)
        var batch = Batch()
        batch.events = fresh.map { ($0, "corpus") }
        for incident in touched.sorted() {
            let (verdict, rejections) = engine.evaluate(incident: incident, asOf: slice.last!.time)
            if let verdict { batch.incidents.append(verdict) } else { batch.unevaluated.append(incident) }
            batch.rejections += rejections
        }
        start += slice.count
        batch.offsets = [
            SourceOffset(
                source: "corpus", fingerprint: "f", path: "events.jsonl", inode: 1, offset: Int64(start), line: start)
        ]
        batch.stats["corpus"] = SourceStats()
        batch.stats["corpus"]!.lines = slice.count
        batch.stats["corpus"]!.events = fresh.count
        batches.append(batch)
    }
    let stateRows = batches.reduce(0) { $0 + $1.incidents.count }
    print(
        "store: \(incidents) incidents, \(events.count) events in \(batches.count) batches, \(stateRows) incident "
            + "states written (seed \(seed))")

    let cluster = try await PostgresCluster.start(durable: true)
    do {
        try await measure(cluster)
    } catch {
        await cluster.stop()
        throw error
    }
    await cluster.stop()

    func measure(_ cluster: PostgresCluster) async throws {
        let clock = ContinuousClock()
        func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
        var sqliteRates: [Double] = []
        var postgresRates: [Double] = []
        var ratios: [Double] = []
        for run in 0..<runs {
            let path = folder.appendingPathComponent("run\(run).sqlite").path
            let location = try await cluster.createDatabase("run\(run)", logger: logger)
            let postgres = try await PostgresStore.open(location, logger: logger)
            let lease = try await location.connect(logger: logger)
            let token = try await LeaderLease.acquire(on: lease, holder: "bench", ttl: .seconds(3600), logger: logger)!
            try await lease.close()
            var sqliteSeconds = 0.0
            var postgresSeconds = 0.0
            for side in run % 2 == 0 ? ["sqlite", "postgresql"] : ["postgresql", "sqlite"] {
                if side == "sqlite" {
                    let store = try SLAStore(path: path)
                    let t0 = clock.now
                    for batch in batches { try store.commit(batch) }
                    sqliteSeconds = seconds(clock.now - t0)
                } else {
                    let t0 = clock.now
                    for batch in batches { try await postgres.commit(batch, token: token) }
                    postgresSeconds = seconds(clock.now - t0)
                }
            }
            let same = try SLAStore(path: path, readOnly: true).canonicalDump() == (try await postgres.canonicalDump())
            try await postgres.close()
            guard same else {
                print("store: the two stores' dumps differ after run \(run + 1) (seed \(seed)); no figures printed")
                await cluster.stop()
                exit(1)
            }
            sqliteRates.append(Double(events.count) / sqliteSeconds)
            postgresRates.append(Double(events.count) / postgresSeconds)
            ratios.append(postgresSeconds / sqliteSeconds)
            print(
                String(
                    format: "  run %d: SQLite %.2f s, PostgreSQL %.2f s, dumps equal", run + 1, sqliteSeconds,
                    postgresSeconds))
        }
        func summary(_ values: [Double], _ format: String) -> String {
            let v = values.sorted()
            return String(format: "\(format) [\(format)–\(format)]", v[v.count / 2], v.first!, v.last!)
        }
        print("  SQLite:     \(summary(sqliteRates, "%.0f")) events/s")
        print("  PostgreSQL: \(summary(postgresRates, "%.0f")) events/s")
        print("  PostgreSQL time / SQLite time: \(summary(ratios, "%.2f")) (median [range] of \(runs) runs)")
    }
}
