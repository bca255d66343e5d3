import Foundation
import SLAAPI
import SLACore
import SLAStore
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("hostile days (real daemon, real files, a real full disk)", .serialized)
struct HostileDaysTests {
    @Test(
        "a store of 60 000 ledger rows (batches, runs of a source) restarts in seconds: reading the ledger is linear in its events, not in its rows"
    )
    func restartAfterManyRows() throws {
        let work = try makeTemporaryDirectory("slad-rows")
        let log = work.appendingPathComponent("events.jsonl")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let config = try daemonConfig(pattern: log.path)
        let state = work.appendingPathComponent("state")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        // Events of two sources taking turns: each is a ledger row of its own, as months of
        // tailing a quiet log in small batches make them.
        var batch = Batch()
        for n in 0..<60_000 {
            let type: EventType = n % 2 == 0 ? .serviceDown : .serviceUp
            let event = SLAEvent(id: "s-\(n)", time: Instant(1_793_600_000 + Int64(n)), type: type, service: "portal")
            batch.events.append((event: event, source: n % 2 == 0 ? "a" : "b"))
        }
        try SLAStore(path: state.appendingPathComponent("slad.sqlite").path).commit(batch)
        // The bound is loose on purpose (a busy machine, a debug build): reading 60 000 rows
        // takes about a second; copying the events read so far once per row, as once, took
        // minutes here.
        let started = Date()
        let again = try startSlad(["run", "--config", config.path, "--state", state.path, "--exit-when-idle"])
        again.waitUntilExit()
        #expect(again.terminationStatus == 0)
        #expect(Date().timeIntervalSince(started) < 60, "restart took \(Date().timeIntervalSince(started)) s")
    }

    @Test(
        "a history reaching back to 1990 is sealed a month at a time: the daemon answers and stops at once meanwhile"
    )
    func longHistory() throws {
        let work = try makeTemporaryDirectory("slad-history")
        let log = work.appendingPathComponent("events.jsonl")
        let config = work.appendingPathComponent("config")
        try FileManager.default.createDirectory(
            at: config.appendingPathComponent("contracts.d"), withIntermediateDirectories: true)
        // A contract without a validity: every month from the first incident on is sealed.
        try """
        id: old
        customer: Old Customer
        calendar: 24x7
        fee: { amount: "100.00", currency: EUR }
        priorities:
          P1: { reaction: 1h, resolution: 1d }
        """.write(to: config.appendingPathComponent("contracts.d/old.yaml"), atomically: true, encoding: .utf8)
        try "sources:\n  - { name: app, path: \"\(log.path)\", format: jsonl }\nreports:\n  seal_after: 1d\n".write(
            to: config.appendingPathComponent("slad.yaml"), atomically: true, encoding: .utf8)
        try append(
            log,
            [
                #"{"id":"first","time":"1990-01-03T09:00:00Z","type":"incident.opened","incident":"I-1990","contract":"old","priority":"P1"}"#,
                #"{"id":"done","time":"1990-01-03T09:30:00Z","type":"incident.resolved","incident":"I-1990"}"#,
            ])
        let socket = work.appendingPathComponent("slad.sock").path
        let state = work.appendingPathComponent("state")
        let daemon = try startSlad(
            ["run", "--config", config.path, "--state", state.path, "--socket", socket],
            stderr: work.appendingPathComponent("stderr"))
        defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
        // Some 440 months to seal: while they are, the status answers and counts the sealing.
        #expect(waitUntil(20) { (try? curl(socket, "/v1/status", maxTime: 2).status) == 200 })
        #expect(
            waitUntil(20) {
                let text = (try? String(contentsOf: work.appendingPathComponent("stderr"), encoding: .utf8)) ?? ""
                return text.contains("slad: report sealed")
            })
        #expect(try curl(socket, "/v1/status", maxTime: 2).status == 200, "the daemon answers while it seals")
        // SIGTERM is honoured at once, not after the history is sealed (bound loose for a busy machine).
        let asked = Date()
        kill(daemon.processIdentifier, SIGTERM)
        #expect(waitUntil(15) { !daemon.isRunning }, "slad did not stop within 15 s of SIGTERM")
        #expect(Date().timeIntervalSince(asked) < 15)
        let sealed = try SLAStore(path: state.appendingPathComponent("slad.sqlite").path, readOnly: true)
            .sealedReports(contract: "old")
        #expect(sealed.first?.month == "1990-01", "sealing goes in month order from the first incident")
    }

    @Test(
        "a full disk: the status says the store does not take writes and why, nothing is lost, and it all goes in once there is room"
    )
    func fullDisk() throws {
        guard getuid() == 0 else {
            Issue.record("the full-disk test mounts a small tmpfs and must run as root (CI does)")
            return
        }
        let work = try makeTemporaryDirectory("slad-enospc")
        let state = work.appendingPathComponent("state")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        #expect(try runProgram(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", state.path]).status == 0)
        defer { _ = try? runProgram(["umount", "-l", state.path]) }
        let log = work.appendingPathComponent("events.jsonl")
        try writeLog(log, incidents: 20_000)
        let config = try daemonConfig(pattern: log.path)
        let socket = work.appendingPathComponent("slad.sock").path
        let daemon = try startSlad(
            ["run", "--config", config.path, "--state", state.path, "--socket", socket, "--batch-lines", "2000"],
            stderr: work.appendingPathComponent("stderr"))
        defer {
            daemon.terminate()
            daemon.waitUntilExit()
        }
        var said = ""
        #expect(
            try waitUntil(60) {
                let r = try curl(socket, "/v1/status", maxTime: 2)
                said = json(r.body)["store_error"] as? String ?? ""
                return r.status == 200 && !said.isEmpty
            }, "the status never said the store fails")
        #expect(said.contains("full"), "store_error: \(said)")
        let cli = try runProgram([slactlBinary, "status", "--socket", socket])
        #expect(cli.stdout.contains("store: does not take writes"), "\(cli.stdout)")
        let metrics = try curl(socket, "/metrics")
        #expect(metrics.body.contains("slad_store_writable 0"))
        // Room again: the same batch goes in, then the rest, each event once.
        #expect(try runProgram(["mount", "-o", "remount,size=512m", state.path]).status == 0)
        #expect(
            try waitUntil(120) {
                let r = try curl(socket, "/v1/status", maxTime: 2)
                let doc = json(r.body)
                return doc["store_error"] == nil && doc["events"] as? Int == 100_000
            }, "ingest did not resume and complete")
        #expect(try curl(socket, "/metrics").body.contains("slad_store_writable 1"))
        let stderr = (try? String(contentsOf: work.appendingPathComponent("stderr"), encoding: .utf8)) ?? ""
        #expect(stderr.contains("slad: the store takes writes again"))
    }
}
