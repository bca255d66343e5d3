import Foundation
import GRDB
import SLAAPI
import SLAControl
import SLACore
import SLAStore
import ServiceLifecycle
import ServiceLifecycleTestKit
import Synchronization
import Testing

@testable import SLADaemon

@Suite("Hostile input: what replay refuses, the daemon refuses; problems are said, not hidden")
struct HostileInputTests {
    @Test("an event dated 1900 or without its incident is quarantined with its reason, not applied; the rest goes in")
    func outOfRange() async throws {
        let setup = try TestSetup()
        try setup.append([
            #"{"id":"old","time":"1900-01-01T00:00:00Z","type":"incident.opened","incident":"OLD","contract":"gold","priority":"P1"}"#,
            #"{"id":"far","time":"2150-01-01T00:00:00Z","type":"incident.opened","incident":"FAR","contract":"gold","priority":"P1"}"#,
            #"{"id":"anon","time":"2026-11-02T09:00:00Z","type":"incident.opened","contract":"gold","priority":"P1"}"#,
            eventLine("ok", "incident.opened", incident: "INC-1", secondsFromNow: -60),
        ])
        var options = setup.options()
        options.exitWhenIdle = true
        try await Daemon.run(config: try setup.configuration(), options: options, logger: testLogger)
        let store = try SLAStore(path: setup.state.appendingPathComponent("slad.sqlite").path, readOnly: true)
        #expect(try store.events().map(\.event.id) == ["ok"])
        #expect(
            try store.quarantineCounts() == [
                "time_out_of_range: outside 1990–2099": 2, "missing_incident: an incident event without incident": 1,
            ])
        #expect(try store.sealedReports(contract: "gold").allSatisfy { $0.month >= "2026-01" })
    }

    @Test("an id that comes again with other content is a conflict, counted apart from duplicates; the first stands")
    func conflictingDuplicate() async throws {
        let setup = try TestSetup()
        let (loop, _, notifier) = try await setup.loop()
        let first = eventLine("c1", "incident.opened", incident: "INC-7", secondsFromNow: -600)
        let same = first
        let other = first.replacingOccurrences(of: #""priority":"P1""#, with: #""priority":"P2""#)
        #expect(other != first)
        _ = loop.answer(.events, body: Array((first + "\n" + same + "\n" + other).utf8))
        loop.publish(positions: true, sinks: false)
        let api = try #require(loop.board.snapshot.sources.first { $0.name == "api" })
        #expect((api.events, api.duplicates, api.conflicts) == (1, 1, 1))
        let stored = try SLAStore(path: setup.state.appendingPathComponent("slad.sqlite").path, readOnly: true)
        #expect(try stored.events().map(\.event.priority) == ["P1"])
        #expect(try stored.sourceStats()["api"]?.conflicts == 1)
        await notifier.stop()
    }

    @Test("a folder where the log should be is said in the status, the STATUS line and the log, not skipped in silence")
    func folderAtLogPath() async throws {
        let setup = try TestSetup()
        try FileManager.default.removeItem(at: setup.log)
        try FileManager.default.createDirectory(at: setup.log, withIntermediateDirectories: false)
        let (loop, _, notifier) = try await setup.loop()
        loop.run(caughtUp: [])
        loop.publish(positions: true, sinks: false)
        let source = try #require(loop.board.snapshot.sources.first { $0.name == "events" })
        #expect(source.error == "\(setup.log.path) is a folder, not a log file")
        #expect(loop.statusLine().hasSuffix("; source events: \(setup.log.path) is a folder, not a log file"))
        let metrics = String(decoding: loop.metrics.render(nowMilliseconds: 0), as: UTF8.self)
        #expect(metrics.contains(#"slad_source_readable{source="events"} 0"#))
        await notifier.stop()
    }

    @Test("a second daemon on the same state folder refuses to start and names the process that holds it")
    func secondDaemon() async throws {
        let setup = try TestSetup()
        let options = setup.options()
        let config = try setup.configuration()
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await Daemon.run(config: config, options: options, logger: testLogger) }
                for _ in 0..<400 where !ControlEndpoint.someoneServes(options.socketPath) {
                    try await Task.sleep(for: .milliseconds(10))
                }
                var second = options
                second.socketPath = setup.folder.appendingPathComponent("second.sock").path
                await #expect {
                    try await Daemon.run(config: config, options: second, logger: testLogger)
                } throws: { error in
                    let e = error as? DaemonError
                    return e?.message == "slad: another slad uses this state folder; one writer per store"
                        && e?.fields["holder_pid"] == String(getpid())
                }
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
        // Released with the first daemon: a next one starts.
        var again = options
        again.exitWhenIdle = true
        try await Daemon.run(config: config, options: again, logger: testLogger)
    }

    @Test("a store damaged on disk stops the start with an error that names the store file and the row")
    func damagedStore() async throws {
        let setup = try TestSetup()
        try setup.append([eventLine("d1", "incident.opened", incident: "INC-1", secondsFromNow: -60)])
        var options = setup.options()
        options.exitWhenIdle = true
        let config = try setup.configuration()
        try await Daemon.run(config: config, options: options, logger: testLogger)
        let path = setup.state.appendingPathComponent("slad.sqlite").path
        try Self.flipByteOfLedger(path)
        await #expect {
            try await Daemon.run(config: config, options: options, logger: testLogger)
        } throws: { error in
            let e = error as? DaemonError
            return e?.message == "slad: cannot start the engine" && e?.fields["store"] == path
                && e?.fields["error"]?.contains("ledger row 1: its events are damaged (its checksum does not match")
                    == true
        }
    }

    /// Flips one bit near the end of the first ledger row, as a disk would.
    static func flipByteOfLedger(_ path: String) throws {
        let raw = try DatabaseQueue(path: path)
        try raw.write { db in
            var bytes = [UInt8](try Data.fetchOne(db, sql: "SELECT events FROM ledger")!)
            bytes[bytes.count - 3] ^= 0x01
            try db.execute(sql: "UPDATE ledger SET events = ?", arguments: [Data(bytes)])
        }
        try raw.close()
    }
}
