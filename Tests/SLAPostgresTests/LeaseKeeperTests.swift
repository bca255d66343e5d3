import Foundation
import Logging
import PostgresNIO
import SLAConfig
import SLAPostgres
import Synchronization
import TestSupport
import Testing

/// Changes of role as announced, in order.
final class Changes: Sendable {
    private let list = Mutex<[String]>([])
    func append(_ s: String) { list.withLock { $0.append(s) } }
    var all: [String] { list.withLock { $0 } }
}

/// Three keepers of one lease, each on its own task, and every change of role they announced.
final class Nodes: Sendable {
    let keepers: [LeaseKeeper]
    private let tasks = Mutex<[Task<Void, Never>?]>([])
    let changes = Changes()

    init(_ location: PostgresLocation, count: Int, terms: LeaseKeeper.Terms) {
        let changes = self.changes
        keepers = (0..<count).map { k in
            let name = "node-\(k)"
            return LeaseKeeper(location: location, holder: name, terms: terms, logger: testLogger) { role in
                changes.append("\(name): \(role)")
            }
        }
        tasks.withLock { $0 = keepers.map { _ in nil } }
    }

    func start(_ k: Int) {
        let keeper = keepers[k]
        tasks.withLock { $0[k] = Task { await keeper.run(handOver: false) } }
    }

    /// Stops keeper `k`'s task and waits for it to end.
    func stop(_ k: Int) async {
        let task = tasks.withLock { t in
            defer { t[k] = nil }
            return t[k]
        }
        task?.cancel()
        await task?.value
    }

    /// The keepers that would write now.
    var writers: [Int] { keepers.indices.filter { keepers[$0].token != nil } }

    /// The leader's changes of role announced since `mark`.
    func leadersSince(_ mark: Int) -> [String] {
        changes.all[mark...].filter { $0.contains(": leader") }
    }
}

@Suite("Lease keepers on a real PostgreSQL", .serialized)
struct LeaseKeeperTests {
    @Test(
        "three keepers: one leads; a cut connection keeps its tenure; a dead leader's tenure goes to another after it expires"
    )
    func threeKeepers() async throws {
        try await withStore { _, location in
            try await withConnections(location, 1) { admin in
                let admin = admin[0]
                // A ten-second tenure: renewals starved for seconds on a busy machine still come in
                // time, so only the test's own moves change the leader.
                let nodes = Nodes(
                    location, count: 3, terms: .init(ttl: .seconds(10), retryEvery: .milliseconds(50)))
                for k in 0..<3 { nodes.start(k) }
                // At no moment may two keepers hold a token they would write under.
                let watching = Task {
                    var most = 0
                    while !Task.isCancelled {
                        most = max(most, nodes.writers.count)
                        try? await Task.sleep(for: .milliseconds(5))
                    }
                    return most
                }
                try await eventually("a leader") { nodes.writers.count == 1 }
                let first = nodes.writers[0]
                let token = try #require(nodes.keepers[first].token)
                #expect(token == 1)

                // Its connection cut: it connects again and renews under the same token.
                let before = try #require(try await LeaderLease.holder(on: admin, logger: testLogger))
                #expect(before.holder == "node-\(first)")
                let mark = nodes.changes.all.count
                for try await _ in try await admin.query(
                    "SELECT pg_terminate_backend(\(before.backendPID))", logger: testLogger)
                {}
                try await eventually("a renewal from a new connection") {
                    let now = try await LeaderLease.holder(on: admin, logger: testLogger)!
                    return now.backendPID != before.backendPID
                }
                let after = try #require(try await LeaderLease.holder(on: admin, logger: testLogger))
                #expect(after.holder == "node-\(first)" && after.token == token)
                #expect(nodes.leadersSince(mark) == [])

                // It dies without a word: another takes over with the next token once the tenure expired.
                await nodes.stop(first)
                try await eventually("a new leader") { nodes.writers.count == 1 && nodes.writers != [first] }
                let second = nodes.writers[0]
                #expect(nodes.keepers[second].token == token + 1)
                #expect(nodes.leadersSince(mark) == ["node-\(second): leader (token \(token + 1))"])
                let third = try #require((0..<3).first { $0 != first && $0 != second })
                try await eventually("the third node to see the new leader") {
                    nodes.keepers[third].role == .standby(holder: "node-\(second)", token: token + 1)
                }

                // Back from the dead (a new run, a new name in the lease): it stands by.
                nodes.start(first)
                try await eventually("the restarted node to stand by") {
                    nodes.keepers[first].role == .standby(holder: "node-\(second)", token: token + 1)
                }
                watching.cancel()
                #expect(await watching.value == 1)
                for k in 0..<3 { await nodes.stop(k) }
            }
        }
    }

    @Test("a leader that stops cleanly hands over at once, without waiting for its tenure to expire")
    func handOver() async throws {
        try await withStore { _, location in
            let changes = Changes()
            let keepers = ["a", "b"].map { name in
                LeaseKeeper(
                    location: location, holder: name, terms: .init(ttl: .seconds(600), retryEvery: .milliseconds(50)),
                    logger: testLogger
                ) { role in changes.append("\(name): \(role)") }
            }
            let a = Task { await keepers[0].run() }
            try await eventually("a to lead") { keepers[0].token == 1 }
            let b = Task { await keepers[1].run() }
            try await eventually("b to stand by") { keepers[1].role == .standby(holder: "a", token: 1) }
            a.cancel()
            await a.value
            // A ten-minute tenure: only the hand-over lets b lead within the test's patience.
            try await eventually("b to lead") { keepers[1].token == 2 }
            b.cancel()
            await b.value
            #expect(
                changes.all == [
                    "a: leader (token 1)", "b: standby (leader a, token 1)", "a: standby (no leader known)",
                    "b: leader (token 2)", "b: standby (no leader known)",
                ])
        }
    }
}
