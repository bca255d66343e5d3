import Foundation
import Logging
import SLACore
import SLAPostgres
import SLAStore
import TestSupport
import Testing

@testable import SLADaemon

/// A standby's engine, followed while the leader commits, must end as the engine a restart
/// from the whole ledger builds: a takeover reads on from the followed row, and the rest of
/// the daemon cannot tell the difference.
@Suite("A standby follows the ledger", .serialized)
struct LedgerFollowerTests {
    static let logger = Logger(label: "slad.test.follow")

    @Test(
        "followed while batches commit, then read on from its row: the same engine as one read of the whole ledger (PostgreSQL)"
    )
    func postgres() async throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        try await PostgresCluster.with { cluster in
            let location = try await cluster.createDatabase("slad", logger: Self.logger)
            let writer = try await PostgresStore.open(location, logger: Self.logger)
            let reader = try await PostgresStore.open(location, logger: Self.logger, migrate: false)
            let lease = try await location.connect(logger: Self.logger)
            // postgres-nio wants its connections closed before they go, the test failed or not.
            func close() async {
                try? await writer.close()
                try? await reader.close()
                try? await lease.close()
            }
            do {
                let token = try #require(
                    try await LeaderLease.acquire(on: lease, holder: "test", ttl: .seconds(600), logger: Self.logger))
                try await check(
                    seed: seed, follow: WaitingPostgresStore(store: reader, token: { nil }),
                    commit: { try await writer.commit($0, token: token) })
            } catch {
                await close()
                throw error
            }
            await close()
        }
    }

    @Test(
        "followed while batches commit, then read on from its row: the same engine as one read of the whole ledger (SQLite)"
    )
    func sqlite() async throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        let folder = try makeTemporaryDirectory("slad-follow")
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("slad.sqlite").path
        let writer = try SLAStore(path: path)
        let reader = try SLAStore(path: path, readOnly: true)
        try await check(seed: seed, follow: reader, commit: { try writer.commit($0) })
    }

    /// Commits a seeded history while a follower reads it; the follower is first waited for
    /// until it caught up once (so that it followed something), then stopped wherever it is a
    /// few batches later; the rest of the history commits after that.
    func check(seed: UInt64, follow: any DaemonStore, commit: (Batch) async throws -> Void) async throws {
        let batches = HistoryBatches.make(seed: seed, incidents: 40, batches: 80)
        let follower = LedgerFollower(
            store: follow, contracts: [HistoryBatches.contract], pause: .milliseconds(5), logger: Self.logger)
        follower.start()
        let caughtUpAt = 10 + Int(seed % 20)
        let stopAt = caughtUpAt + 1 + Int(seed % 30)
        var followed: FollowedLedger?
        var committed = 0
        for (k, batch) in batches.enumerated() {
            try await commit(batch)
            committed += batch.events.count
            if k == caughtUpAt {
                let clock = ContinuousClock()
                let start = clock.now
                while follower.progress.events < committed, clock.now - start < .seconds(60) {
                    try await Task.sleep(for: .milliseconds(5))
                }
                #expect(follower.progress.events == committed, "seed \(seed): the follower never caught up")
            }
            if k == stopAt { followed = await follower.finish() }
        }
        let warm = try #require(followed)
        #expect(warm.through > 0, "seed \(seed)")
        // Read on from the followed row, as a takeover does; and the whole ledger, as a restart does.
        let (taken, restarted) = try await PostgresCluster.offPool {
            var taken = warm
            try taken.readOn(follow)
            var restarted = FollowedLedger(engine: IngestEngine(contracts: [HistoryBatches.contract]))
            try restarted.readOn(follow)
            return (Self.lines(taken), Self.lines(restarted))
        }
        #expect(restarted.count > 40, "seed \(seed): \(restarted.count) lines")
        if taken != restarted {
            let k =
                (0..<min(taken.count, restarted.count)).first { taken[$0] != restarted[$0] }
                ?? min(taken.count, restarted.count)
            Issue.record(
                """
                seed \(seed): the engine taken over from row \(warm.through) differs from the restarted one at line \(k + 1):
                taken over: \(k < taken.count ? taken[k] : "(end)")
                restarted:  \(k < restarted.count ? restarted[k] : "(end)")
                """)
        }
    }

    /// An engine as lines: its event count, then each incident with its events, every field,
    /// in arrival order.
    static func lines(_ ledger: FollowedLedger) -> [String] {
        ["\(ledger.engine.eventCount) events"]
            + ledger.engine.incidentIDs.sorted().map { incident in
                "\(incident): "
                    + ledger.engine.events(of: incident).map { String(describing: $0) }.joined(separator: " | ")
            }
    }
}
