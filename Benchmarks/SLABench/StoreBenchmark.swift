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

    try await PostgresCluster.with(durable: true) { try await measure($0) }

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
        print("  SQLite:     \(medianAndRange(sqliteRates, "%.0f")) events/s")
        print("  PostgreSQL: \(medianAndRange(postgresRates, "%.0f")) events/s")
        print("  PostgreSQL time / SQLite time: \(medianAndRange(ratios, "%.2f")) (median [range] of \(runs) runs)")
    }
}

/// The whole daemon on each store (issue 25): the release `slad run --exit-when-idle` ingests
/// the realistic corpus into a fresh SQLite state folder, and, with `store:` naming a fresh
/// database of a local PostgreSQL cluster (fsync and synchronous commit on), into PostgreSQL;
/// then it starts again on the store it left (a restart to idle). The two stores alternate in
/// order from run to run. After each run, `slad report` of the corpus's month from each store
/// must give the same bytes, or nothing is printed.
///
/// Run: `make build && .build/release/SLABench store --daemon [--incidents N] [--runs N] [--seed N]`
func runDaemonStoreBenchmark(incidents: Int, runs: Int, seed: UInt64) async throws {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/time") else {
        print("needs GNU time: apt-get install time")
        exit(1)
    }
    let bin = shippedSlad()
    let logger = Logger(label: "slad.bench.store")
    let fm = FileManager.default
    let folder = fm.temporaryDirectory.appendingPathComponent("slad-daemon-store-bench-\(UUID().uuidString)")
    try fm.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? fm.removeItem(at: folder) }
    let events = try Corpus(incidents: incidents, seed: seed).write(to: folder)
    print("store --daemon: \(incidents) incidents, \(events) events, the release slad (seed \(seed))")
    try await PostgresCluster.with(durable: true) { try await measure($0) }

    func measure(_ cluster: PostgresCluster) async throws {
        typealias Side = (ingest: Double, restart: Double, ingestRSS: Int)
        var sides: [String: [Side]] = [:]
        for run in 0..<runs {
            let location = try await cluster.createDatabase("daemon\(run)", logger: logger)
            // The corpus's configuration with the store named; contracts and calendars shared.
            let pgConfig = folder.appendingPathComponent("config-pg\(run)")
            try fm.createDirectory(at: pgConfig, withIntermediateDirectories: true)
            let yaml = try String(contentsOf: folder.appendingPathComponent("config/slad.yaml"), encoding: .utf8)
            try (yaml + "store: \(location)\n").write(
                to: pgConfig.appendingPathComponent("slad.yaml"), atomically: true, encoding: .utf8)
            for shared in ["contracts.d", "calendars"] {
                try fm.createSymbolicLink(
                    atPath: pgConfig.appendingPathComponent(shared).path, withDestinationPath: "../config/\(shared)")
            }
            var reports: [String: Data] = [:]
            for side in run % 2 == 0 ? ["sqlite", "postgresql"] : ["postgresql", "sqlite"] {
                let state = folder.appendingPathComponent("state-\(side)\(run)")
                let config = side == "sqlite" ? folder.appendingPathComponent("config") : pgConfig
                let daemon = [
                    "run", "--config", config.path, "--state", state.path, "--socket",
                    folder.appendingPathComponent("slad-\(side)\(run).sock").path, "--exit-when-idle",
                ]
                let ingest = try timed(bin, daemon, expect: "events=\(events)")
                let restart = try timed(bin, daemon, expect: "events=\(events)")
                let out = folder.appendingPathComponent("report-\(side)\(run).csv")
                _ = try timed(
                    bin,
                    ["report", "--config", config.path]
                        + (side == "sqlite" ? ["--state", state.path] : [])
                        + [
                            "--month", Corpus.reportMonth, "--format", "csv", "--as-of", "2026-12-15T00:00:00Z", "-o",
                            out.path,
                        ], expect: "")
                reports[side] = try Data(contentsOf: out)
                sides[side, default: []].append((ingest.seconds, restart.seconds, ingest.rss))
            }
            guard let a = reports["sqlite"], a == reports["postgresql"], !a.isEmpty else {
                print("store --daemon: the reports from the two stores differ after run \(run + 1); no figures printed")
                await cluster.stop()
                exit(1)
            }
            let (s, p) = (sides["sqlite"]!.last!, sides["postgresql"]!.last!)
            print(
                String(
                    format:
                        "  run %d: ingest SQLite %.2f s, PostgreSQL %.2f s; restart SQLite %.2f s, PostgreSQL %.2f s; reports equal (%d bytes)",
                    run + 1, s.ingest, p.ingest, s.restart, p.restart, a.count))
        }
        let (s, p) = (sides["sqlite"]!, sides["postgresql"]!)
        print(
            "  ingest, events/s: SQLite \(medianAndRange(s.map { Double(events) / $0.ingest }, "%.0f")), PostgreSQL \(medianAndRange(p.map { Double(events) / $0.ingest }, "%.0f"))"
        )
        print(
            "  ingest, PostgreSQL time / SQLite time: \(medianAndRange(zip(p, s).map { $0.ingest / $1.ingest }, "%.2f"))"
        )
        print(
            "  restart to idle, s: SQLite \(medianAndRange(s.map(\.restart), "%.2f")), PostgreSQL \(medianAndRange(p.map(\.restart), "%.2f"))"
        )
        print(
            "  restart, PostgreSQL time / SQLite time: \(medianAndRange(zip(p, s).map { $0.restart / $1.restart }, "%.2f"))"
        )
        print(
            "  peak RSS at ingest, MB: SQLite \(medianAndRange(s.map { Double($0.ingestRSS >> 10) }, "%.0f")), PostgreSQL \(medianAndRange(p.map { Double($0.ingestRSS >> 10) }, "%.0f"))"
        )
        print("  (median [range] of \(runs) runs)")
    }
}
