import Foundation
import SLAConfig
import SLACore
import SLAIngest
import SLAPostgres
import SLAReport
import SLAStore
import TestSupport
import Testing

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The `slad` binary built with the tests (`SLAD_BIN`, else the default debug path).
let sladBinary: String = {
    if let path = ProcessInfo.processInfo.environment["SLAD_BIN"] { return path }
    return repositoryRoot.appendingPathComponent(".build/debug/slad").path
}()

@Suite("Reports from the PostgreSQL store against the SQLite store", .serialized)
struct ReportEqualityTests {
    /// The real Volvo log through its shipped mapping and the example contracts, committed in
    /// batches of 2,000 rows into both stores: every month's report in every format, the OLA
    /// report, sealing and the sealed months' reports are the same bytes from either.
    @Test("every month of the real Volvo log reports the same bytes from both stores, before and after sealing")
    func sameReports() async throws {
        let config = try ConfigLoader.load(directory: repositoryRoot.appendingPathComponent("etc/slad").path)
        let packed = repositoryRoot.appendingPathComponent("Tests/Fixtures/real/volvo-it-bpic2013-incidents.csv.gz")
        let csv = try PostgresCluster.run(["gzip", "-dc", packed.path])
        try #require(csv.status == 0, "cannot unpack \(packed.path): \(csv.output.prefix(500))")
        let mapped = SnapshotMapper.read(
            bytes: Array(csv.output.utf8), mapping: try #require(config.mappings["volvo-bpic2013"]))
        #expect(mapped.errors.isEmpty && mapped.events.count > 60_000)
        let events = mapped.events + config.maintenance.flatMap(\.events)
        var engine = IngestEngine(contracts: config.contracts)
        var batches: [Batch] = []
        for start in stride(from: 0, to: events.count, by: 2_000) {
            let slice = Array(events[start..<min(start + 2_000, events.count)])
            let (fresh, touched) = engine.add(slice)
            var batch = Batch()
            batch.events = fresh.map { ($0, "volvo") }
            for incident in touched.sorted() {
                let (verdict, rejections) = engine.evaluate(incident: incident, asOf: slice.map(\.time).max()!)
                if let verdict { batch.incidents.append(verdict) } else { batch.unevaluated.append(incident) }
                batch.rejections += rejections
            }
            batches.append(batch)
        }
        let months = Set(mapped.events.map { config.contracts[0].month(of: $0.time) }).sorted()
        #expect(months.count > 12)

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("slad-pgrep-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let sqlite = try SLAStore(path: folder.appendingPathComponent("slad.sqlite").path)
        try await withStore { _, location in
            let store = try await PostgresStore.open(location, logger: testLogger)
            let token = try await withLease(location)
            for batch in batches {
                try sqlite.commit(batch)
                try await store.commit(batch, token: token)
            }
            let waiting = WaitingPostgresStore(store: store, token: { token })
            // The report code waits for its store: it runs on a thread of its own.
            let differences = try await PostgresCluster.offPool {
                try Self.differences(config: config, months: months, sqlite: sqlite, postgres: waiting)
            }
            #expect(differences.compared > months.count * 5)
            #expect(differences.sealed > 12)
            #expect(differences.found == [], "the first differences")
            try await store.close()

            // `slad report` reads the store of slad.yaml's store: when no --state is given.
            let configFolder = folder.appendingPathComponent("etc")
            try FileManager.default.copyItem(at: repositoryRoot.appendingPathComponent("etc/slad"), to: configFolder)
            let main = configFolder.appendingPathComponent("slad.yaml")
            try (try String(contentsOf: main, encoding: .utf8) + "store: \(location)\n").write(
                to: main, atomically: true, encoding: .utf8)
            // The month most incidents were opened in.
            let openings = Dictionary(
                grouping: mapped.events.filter { $0.type == .opened }, by: { config.contracts[0].month(of: $0.time) })
            let month = try #require(openings.max { $0.value.count < $1.value.count }?.key)
            var outputs: [String] = []
            for state in [["--state", folder.path], []] {
                let ran = try await PostgresCluster.offPool {
                    try PostgresCluster.run(
                        [
                            sladBinary, "report", "--config", configFolder.path, "--month", "\(month)", "--format",
                            "csv",
                            "--as-of", "2014-05-13T18:53:20+02:00",
                        ] + state)
                }
                #expect(ran.status == 0, "\(ran.output.prefix(2_000))")
                outputs.append(ran.output)
            }
            #expect(outputs[0].count > 10_000 && outputs[0].hasPrefix("contract,month,state,"))
            #expect(outputs[1] == outputs[0])
        }
    }

    /// Reports every month in every format from both stores, seals due months in both, and
    /// reports again; returns what was compared and the first differences.
    static func differences(
        config: SladConfiguration, months: [YearMonth], sqlite: SLAStore, postgres: WaitingPostgresStore
    ) throws -> (compared: Int, sealed: Int, found: [String]) {
        let books = [sqlite as any ReportStore, postgres].map {
            ReportBook(store: $0, contracts: config.contracts, sealAfter: config.sealAfter)
        }
        var found: [String] = []
        var compared = 0
        func compare(_ what: String, _ make: (ReportBook) throws -> [UInt8]) throws {
            let (a, b) = (try make(books[0]), try make(books[1]))
            compared += 1
            if a != b && found.count < 5 {
                let (x, y) = (String(decoding: a, as: UTF8.self), String(decoding: b, as: UTF8.self))
                let (l, r) = (x.split(whereSeparator: \.isNewline), y.split(whereSeparator: \.isNewline))
                let k = (0..<min(l.count, r.count)).first { l[$0] != r[$0] } ?? min(l.count, r.count)
                found.append(
                    "\(what), line \(k + 1): SQLite \(k < l.count ? String(l[k]) : "(end)") | PostgreSQL \(k < r.count ? String(r[k]) : "(end)")"
                )
            }
        }
        let asOf = Instant(1_400_000_000)
        func everyMonth(_ pass: String) throws {
            for month in months {
                for format in ReportFormat.allCases {
                    try compare("\(pass) \(month) \(format)") {
                        ReportRenderer.render(try $0.document(month: month, asOf: asOf), as: format)
                    }
                }
                try compare("\(pass) \(month) OLA") {
                    try $0.unitReport(month: month, asOf: asOf).render(.csv)
                }
            }
        }
        try everyMonth("unsealed")
        let sealed = try books.map { try $0.sealDue(nowMilliseconds: 1_400_000_000_000).sealed }
        if sealed[0] != sealed[1] { found.append("sealed: SQLite \(sealed[0]) | PostgreSQL \(sealed[1])") }
        for c in config.contracts {
            let (a, b) = (try sqlite.sealedReports(contract: c.id), try postgres.sealedReports(contract: c.id))
            if a != b { found.append("sealed reports of \(c.id) differ") }
            if try sqlite.adjustments(contract: c.id) != postgres.adjustments(contract: c.id) {
                found.append("adjustments of \(c.id) differ")
            }
        }
        try everyMonth("sealed")
        return (compared, sealed[0].count, found)
    }
}
