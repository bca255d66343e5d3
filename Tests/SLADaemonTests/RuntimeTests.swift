import Foundation
import SLAAPI
import SLAControl
import SLACore
import SLAStore
import ServiceLifecycle
import ServiceLifecycleTestKit
import Synchronization
import Testing

@testable import SLADaemon

#if canImport(Glibc)
import Glibc
#endif

@Suite("LoopMailbox")
struct LoopMailboxTests {
    final class Owner: Sendable {
        let seen = Mutex<[Int]>([])
    }

    /// Whether the mailbox's wake descriptor is readable now (what the loop's poll sees).
    func woken(_ mailbox: LoopMailbox<Owner>) -> Bool {
        var fd = pollfd(fd: mailbox.wakeDescriptor, events: Int16(POLLIN), revents: 0)
        return poll(&fd, 1, 0) == 1
    }

    @Test("jobs run in the order posted, on the thread that runs the mailbox, and each post wakes the loop")
    func order() {
        let mailbox = LoopMailbox<Owner>()
        let owner = Owner()
        #expect(!woken(mailbox))
        for i in 0..<5 { #expect(mailbox.post { $0.seen.withLock { $0.append(i) } }) }
        #expect(woken(mailbox))
        #expect(owner.seen.withLock { $0 } == [])
        mailbox.run(owner)
        #expect(owner.seen.withLock { $0 } == [0, 1, 2, 3, 4])
        #expect(!woken(mailbox), "running the mailbox drains its wake-ups")
        mailbox.run(owner)
        #expect(owner.seen.withLock { $0 } == [0, 1, 2, 3, 4], "a job runs once")
    }

    @Test("a stop request wakes the loop; after close, what was queued runs once and new posts are refused")
    func stopAndClose() {
        let mailbox = LoopMailbox<Owner>()
        let owner = Owner()
        #expect(!mailbox.stopRequested)
        mailbox.requestStop()
        #expect(mailbox.stopRequested)
        #expect(woken(mailbox))
        #expect(mailbox.post { $0.seen.withLock { $0.append(1) } })
        mailbox.close(owner)
        #expect(owner.seen.withLock { $0 } == [1])
        #expect(!mailbox.post { $0.seen.withLock { $0.append(2) } })
        mailbox.run(owner)
        #expect(owner.seen.withLock { $0 } == [1])
    }
}

@Suite("Committer")
struct CommitterTests {
    /// The real store, failing the first `failures` commits as a full disk would.
    final class FlakyStore: BatchCommitting {
        let store: SLAStore
        let failures: Int
        let attempts = Mutex(0)
        init(_ store: SLAStore, failures: Int) {
            self.store = store
            self.failures = failures
        }
        func commit(_ batch: Batch) throws {
            let n = attempts.withLock {
                $0 += 1
                return $0
            }
            if n <= failures { throw CocoaError(.fileWriteOutOfSpace) }
            try store.commit(batch)
        }
    }

    static func batch(_ n: Int) -> Batch {
        var batch = Batch()
        batch.offsets = [SourceOffset(source: "s", fingerprint: "f", path: "/x", inode: 1, offset: Int64(n), line: n)]
        return batch
    }

    @Test("batches commit in the order submitted, two in flight at most, each reported once it is durable")
    func order() throws {
        let folder = try makeTemporaryDirectory()
        let store = try SLAStore(path: folder.appendingPathComponent("slad.sqlite").path)
        let durable = Mutex<[Int]>([])
        let committer = Committer(store: StoreCommits(store: store), logger: testLogger, giveUp: { false }) { batch in
            durable.withLock { $0.append(batch.offsets[0].line) }
        }
        for n in 1...200 { committer.submit(Self.batch(n)) }
        committer.drain()
        #expect(durable.withLock { $0 } == Array(1...200))
        #expect(try store.offsets().map(\.line) == [200])
        #expect(!committer.failed)
    }

    @Test("a failing commit is retried with the same batch until the store takes it; nothing after it commits first")
    func retry() throws {
        let folder = try makeTemporaryDirectory()
        let flaky = FlakyStore(try SLAStore(path: folder.appendingPathComponent("slad.sqlite").path), failures: 3)
        let delays = Mutex<[Int]>([])
        let durable = Mutex<[Int]>([])
        let committer = Committer(
            store: flaky, logger: testLogger, giveUp: { false },
            retryDelay: { attempt in delays.withLock { $0.append(attempt) } }
        ) { batch in durable.withLock { $0.append(batch.offsets[0].line) } }
        for n in 1...3 { committer.submit(Self.batch(n)) }
        committer.drain()
        #expect(delays.withLock { $0 } == [1, 2, 3])
        #expect(durable.withLock { $0 } == [1, 2, 3])
        #expect(flaky.attempts.withLock { $0 } == 6)
        #expect(try flaky.store.offsets().map(\.line) == [3])
        #expect(!committer.failed)
    }

    @Test("a stop gives up on a commit that keeps failing, and says so")
    func giveUp() throws {
        let folder = try makeTemporaryDirectory()
        let flaky = FlakyStore(try SLAStore(path: folder.appendingPathComponent("slad.sqlite").path), failures: 1_000)
        let stop = Atomic<Bool>(false)
        let committer = Committer(
            store: flaky, logger: testLogger, giveUp: { stop.load(ordering: .relaxed) },
            retryDelay: { attempt in if attempt == 5 { stop.store(true, ordering: .relaxed) } }
        ) { _ in Issue.record("nothing is durable") }
        committer.submit(Self.batch(1))
        committer.drain()
        #expect(committer.failed)
        #expect(flaky.attempts.withLock { $0 } == 6)
        #expect(try flaky.store.offsets().isEmpty)
    }
}

@Suite("Engine loop, driven directly")
struct EngineLoopTests {
    @Test("a batch read ahead but not committed when slad stops is read again after the restart, once")
    func readAheadRestart() async throws {
        let setup = try TestSetup()
        try setup.append(
            (1...6).map { eventLine("e\($0)", "incident.opened", incident: "INC-\($0)", secondsFromNow: -60) })
        do {
            let (loop, _, notifier) = try await setup.loop()
            // The first batch is applied and committed; the second is read ahead, then dropped.
            var first = loop.ingest.apply(loop.ingest.sources.read(maxLines: 2))
            let ahead = ReadAhead(loop.ingest.sources, maxLines: 2).wait()
            #expect(ahead.decoded.map(\.event.id) == ["e3", "e4"])
            loop.submit(&first)
            loop.committer.drain()
            await notifier.stop()
        }
        let (loop, _, notifier) = try await setup.loop()
        #expect(loop.ingest.live.engine.incidentIDs.sorted() == ["INC-1", "INC-2"])
        let rest = loop.ingest.sources.read(maxLines: 100)
        #expect(rest.decoded.map(\.event.id) == ["e3", "e4", "e5", "e6"])
        var batch = loop.ingest.apply(rest)
        loop.submit(&batch)
        loop.committer.drain()
        #expect(loop.ingest.live.engine.eventCount == 6)
        await notifier.stop()
    }

    @Test(
        "pushed events are applied and durable before the answer; a resend counts as duplicates; a bad line applies nothing"
    )
    func push() async throws {
        let setup = try TestSetup()
        let (loop, _, notifier) = try await setup.loop()
        let lines = [
            eventLine("p1", "incident.opened", incident: "INC-9", secondsFromNow: -3_600),
            eventLine("p2", "incident.acknowledged", incident: "INC-9", secondsFromNow: -2_000),
        ]
        let body = Array(lines.joined(separator: "\n").utf8)
        func decoded<T: Decodable>(_ response: ControlResponse, as: T.Type) throws -> T {
            try APIJSON.decode(T.self, from: response.body)
        }
        let first = loop.answer(.events, body: body)
        #expect(first.status == 200)
        #expect(try decoded(first, as: EventsResult.self) == EventsResult(accepted: 2, duplicates: 0))
        let stored = try SLAStore(path: setup.state.appendingPathComponent("slad.sqlite").path, readOnly: true)
        #expect(try stored.events().map(\.event.id).sorted() == ["p1", "p2"])
        let again = loop.answer(.events, body: body)
        #expect(try decoded(again, as: EventsResult.self) == EventsResult(accepted: 0, duplicates: 2))
        let bad = loop.answer(.events, body: Array((lines[0] + "\n{\"id\":\"x\"").utf8))
        #expect(bad.status == 422)
        #expect(try stored.events().count == 2)

        // The incident as the API shows it: acknowledged after 26m40s, its 15m reaction breached.
        let detail = try decoded(loop.answer(.incident(id: "INC-9"), body: []), as: IncidentDetail.self)
        #expect(detail.incident.contract == "gold")
        #expect(detail.clocks.map(\.metric) == ["reaction", "resolution"])
        #expect(detail.clocks.map(\.outcome) == ["breached", "running"])
        #expect(detail.events.map(\.id) == ["p1", "p2"])
        let missing = loop.answer(.incident(id: "INC-404"), body: [])
        #expect(missing.status == 404)
        await notifier.stop()
    }

    @Test("the status board answers what the loop published, without the loop")
    func status() async throws {
        let setup = try TestSetup()
        try setup.append([eventLine("s1", "incident.opened", incident: "INC-1", secondsFromNow: -3_600)])
        let (loop, _, notifier) = try await setup.loop()
        // exitWhenIdle: a turn reads and applies the line, the next publishes and finds nothing more.
        loop.run(caughtUp: [])
        let reader = try SLAStore(path: setup.state.appendingPathComponent("slad.sqlite").path, readOnly: true)
        let responder = SladResponder(board: loop.board, mailbox: loop.mailbox, metrics: loop.metrics, reader: reader)
        let answer = Mutex<ControlResponse?>(nil)
        responder.respond(
            to: ControlRequest(route: .status, body: [], peer: PeerCredentials(pid: 1, uid: 0, gid: 0)),
            reply: { r in answer.withLock { $0 = r } })
        let status = try APIJSON.decode(StatusReport.self, from: try #require(answer.withLock { $0 }).body)
        #expect(status.events == 1)
        #expect(status.incidents == IncidentCounts(open: 1, atRisk: 0, breached: 1))
        #expect(status.sources.map(\.name) == ["events"])
        #expect(status.sources.first?.lagBytes == 0)
        await notifier.stop()
    }
}

@Suite("Daemon as a service group")
struct DaemonLifecycleTests {
    @Test("graceful shutdown stops the group: the engine finishes its batch, offsets are saved, the socket closes")
    func gracefulShutdown() async throws {
        let setup = try TestSetup()
        try setup.append(
            (1...50).map { eventLine("g\($0)", "incident.opened", incident: "INC-\($0)", secondsFromNow: -60) })
        let options = setup.options()
        let config = try setup.configuration()
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await Daemon.run(config: config, options: options, logger: testLogger) }
                // Serving, and caught up with the file (the socket is bound before the first read).
                let storePath = setup.state.appendingPathComponent("slad.sqlite").path
                var caughtUp = false
                for _ in 0..<400 where !caughtUp {
                    try await Task.sleep(for: .milliseconds(50))
                    caughtUp =
                        ControlEndpoint.someoneServes(options.socketPath)
                        && (try? SLAStore(path: storePath, readOnly: true).events().count) == 50
                }
                #expect(caughtUp)
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
        #expect(!ControlEndpoint.someoneServes(options.socketPath), "the control socket closed")
        let store = try SLAStore(path: setup.state.appendingPathComponent("slad.sqlite").path, readOnly: true)
        #expect(try store.events().count == 50)
        let size = try FileManager.default.attributesOfItem(atPath: setup.log.path)[.size] as? Int
        #expect(try store.offsets().map(\.offset) == [Int64(size ?? -1)])
    }

    @Test(
        "a shutdown in the middle of a long file leaves the store at a batch boundary: every line before the saved offset is an event, none after"
    )
    func shutdownMidFile() async throws {
        let setup = try TestSetup()
        try setup.append(
            (1...20_000).map { eventLine("m\($0)", "incident.opened", incident: "INC-\($0)", secondsFromNow: -60) })
        var small = setup.options()
        small.batchLines = 500
        let options = small
        let config = try setup.configuration()
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await Daemon.run(config: config, options: options, logger: testLogger) }
                for _ in 0..<200 where !ControlEndpoint.someoneServes(options.socketPath) {
                    try await Task.sleep(for: .milliseconds(10))
                }
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
        let store = try SLAStore(path: setup.state.appendingPathComponent("slad.sqlite").path, readOnly: true)
        // Nothing committed yet (a stop before the first batch) is a boundary too.
        let offset = try store.offsets().first?.offset ?? 0
        let bytes = try Data(contentsOf: setup.log)
        let linesBefore = bytes.prefix(Int(offset)).filter { $0 == 0x0A }.count
        #expect(offset == 0 || bytes[Int(offset) - 1] == 0x0A, "the offset is at a line boundary")
        #expect(try store.events().count == linesBefore)
    }

    @Test("with exitWhenIdle the group stops by itself once the sources are read")
    func exitWhenIdle() async throws {
        let setup = try TestSetup()
        try setup.append([eventLine("i1", "incident.opened", incident: "INC-1", secondsFromNow: -60)])
        var options = setup.options()
        options.exitWhenIdle = true
        try await Daemon.run(config: try setup.configuration(), options: options, logger: testLogger)
        let store = try SLAStore(path: setup.state.appendingPathComponent("slad.sqlite").path, readOnly: true)
        #expect(try store.events().map(\.event.id) == ["i1"])
    }

    @Test("a control socket that cannot be bound stops the start with a clear error")
    func bindError() async throws {
        let setup = try TestSetup()
        var options = setup.options()
        options.socketPath = setup.log.path + "/not-a-folder/slad.sock"
        await #expect {
            try await Daemon.run(config: try setup.configuration(), options: options, logger: testLogger)
        } throws: { error in
            (error as? DaemonError)?.message == "slad: cannot serve the control socket"
        }
    }
}
