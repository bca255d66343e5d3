import ArgumentParser
import Foundation
import Logging
import SLAConfig
import SLAControl
import SLACore
import SLAIngest
import SLANotify
import SLAStore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Set by SIGTERM/SIGINT; the loop finishes its batch and stops.
let stopRequested = Atomic<Bool>(false)
/// Set by SIGHUP; the loop reloads the configuration between batches.
let reloadRequested = Atomic<Bool>(false)

/// Thousands of control connections need thousands of descriptors: the soft limit goes up to the hard one.
func raiseDescriptorLimit() {
    var limit = rlimit()
    guard getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
    limit.rlim_cur = limit.rlim_max
    _ = setrlimit(RLIMIT_NOFILE_VALUE, &limit)
}

#if canImport(Glibc)
let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
#endif

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Tail the configured sources, apply events to the engine, persist every batch.")

    @OptionGroup var options: ConfigOptions

    @Option(help: "State folder (default: $STATE_DIRECTORY, else state_dir of slad.yaml, else ./state).")
    var state: String?

    @Option(help: "Lines per batch (one transaction each).")
    var batchLines: Int = 20_000

    @Option(help: "Lines longer than this many bytes are quarantined.")
    var maxLineBytes: Int = 1 << 20

    @Flag(help: "Exit once every source has been read to its end (tests, benchmarks, one-off imports).")
    var exitWhenIdle = false

    @Option(
        help:
            "Control socket path (default: control.socket of slad.yaml, else $RUNTIME_DIRECTORY/slad.sock, else /run/slad/slad.sock)."
    )
    var socket: String?

    @Flag(help: "Decode JSONL with Foundation's JSONDecoder (the benchmark baseline) instead of the fast decoder.")
    var referenceDecoder = false

    func validate() throws {
        guard batchLines > 0 else { throw ValidationError("--batch-lines must be positive") }
        guard maxLineBytes >= 256 else { throw ValidationError("--max-line-bytes must be at least 256") }
    }

    func run() throws {
        let config = try options.load()
        let stateDir = resolveStateDirectory(config)
        try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
        let storePath = (stateDir as NSString).appendingPathComponent("slad.sqlite")
        let store = try SLAStore(path: storePath)
        let ingest = Ingest(
            config: config, store: store, maxLineBytes: maxLineBytes, reference: referenceDecoder)
        let notifier: Notifier
        do {
            notifier = try Notifier(config: config, store: store, logger: logger)
        } catch let error as NotifierError {
            log("slad: cannot start notifications", ["error": error.description], level: .error)
            throw ExitCode(1)
        }
        raiseDescriptorLimit()
        // From here the notifier's HTTP client runs. The engine loop stops it when it ends;
        // every way out before the loop runs stops it here.
        var loopOwnsNotifier = false
        defer { if !loopOwnsNotifier { notifier.stop() } }
        let loop: EngineLoop
        let caughtUp: [SLANotification]
        let server: ControlServer
        let socketPath = resolveSocketPath(config)
        let activated = ServiceManager.activatedSocket()
        do {
            loop = try EngineLoop(
                config: config, store: store, reader: SLAStore(path: storePath, readOnly: true), ingest: ingest,
                notifier: notifier, batchLines: batchLines, exitWhenIdle: exitWhenIdle)
            caughtUp = try loop.restore()
        } catch {
            log("slad: cannot start the engine", ["error": "\(error)"], level: .error)
            throw ExitCode(1)
        }
        do {
            server = try loop.startControl(
                path: socketPath, reader: SLAStore(path: storePath, readOnly: true), activated: activated)
        } catch {
            log("slad: cannot serve the control socket", ["socket": socketPath, "error": "\(error)"], level: .error)
            throw ExitCode(1)
        }
        log(
            "slad: started",
            [
                "state": stateDir, "events": String(loop.ingest.live.engine.eventCount),
                "sources": String(config.sources.count),
                "socket": activated == nil ? socketPath : "fd \(activated!) from systemd",
                "late_notifications": String(caughtUp.count),
            ])
        // A launcher may hand slad a blocked signal mask (systemd-socket-activate, test runners);
        // the stop and reload signals must reach their handlers.
        var wanted = sigset_t()
        sigemptyset(&wanted)
        for s in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&wanted, s) }
        pthread_sigmask(SIG_UNBLOCK, &wanted, nil)
        signal(SIGTERM) { _ in stopRequested.store(true, ordering: .relaxed) }
        signal(SIGINT) { _ in stopRequested.store(true, ordering: .relaxed) }
        signal(SIGHUP) { _ in reloadRequested.store(true, ordering: .relaxed) }
        // Ready only now: configuration, store, sources, the control socket and the signal handlers are up.
        ServiceManager.notify("READY=1\nSTATUS=" + loop.statusLine())
        loopOwnsNotifier = true
        loop.run(caughtUp: caughtUp)
        server.stop()
        loop.leaveEngineStateToExit()
        if loop.committer.failed { throw ExitCode(1) }
    }

    /// The first folder of a `$…_DIRECTORY` variable systemd sets (colon-separated), nil when unset.
    func systemdDirectory(_ variable: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty else { return nil }
        return value.split(separator: ":").first.map(String.init) ?? value
    }

    /// `--socket`, else `control.socket`, else `$RUNTIME_DIRECTORY/slad.sock`, else /run/slad/slad.sock.
    func resolveSocketPath(_ config: SladConfiguration) -> String {
        if let socket { return socket }
        if let path = config.control.socket { return path }
        if let dir = systemdDirectory("RUNTIME_DIRECTORY") {
            return (dir as NSString).appendingPathComponent("slad.sock")
        }
        return "/run/slad/slad.sock"
    }

    func resolveStateDirectory(_ config: SladConfiguration) -> String {
        if let state { return state }
        if let dir = systemdDirectory("STATE_DIRECTORY") { return dir }
        if let dir = config.stateDirectory {
            return dir.hasPrefix("/") ? dir : (config.directory as NSString).appendingPathComponent(dir)
        }
        return "state"
    }
}

/// Commits batches in order on its own thread with up to `depth` batches handed over and
/// not yet committed, so that reading, decoding and evaluating the next batches overlaps the
/// SQLite write of the previous ones. Order is kept, so a crash leaves the store at a batch
/// boundary as before.
///
/// Two batches rather than one: with one, the engine waited for each commit before handing
/// over the next batch, and while it waited the reading thread was often done, leaving a
/// core idle (measured: docs/benchmarks.md).
final class Committer: Sendable {
    private let store: SLAStore
    private let queue = DispatchQueue(label: "slad.commit")
    private let group = DispatchGroup()
    private let slots: DispatchSemaphore
    private let releaser = DispatchQueue(label: "slad.commit.release", qos: .utility)
    private let state = Mutex<(time: Duration, failed: Bool)>((.zero, false))
    private let committed: @Sendable (Batch) -> Void

    /// A committer to `store`; `committed` runs after each batch is durable.
    init(store: SLAStore, depth: Int = 2, committed: @escaping @Sendable (Batch) -> Void) {
        self.store = store
        slots = DispatchSemaphore(value: depth)
        self.committed = committed
    }

    /// Time spent committing so far.
    var commitTime: Duration { state.withLock { $0.time } }
    /// A commit kept failing until a stop was requested.
    var failed: Bool { state.withLock { $0.failed } }

    /// Hands over the next batch, once fewer than `depth` wait for their commit.
    func submit(_ batch: Batch) {
        slots.wait()
        group.enter()
        let held = Held(batch)
        queue.async { [self] in
            defer {
                slots.signal()
                group.leave()
                // A committed batch is freed on another thread: freeing its tens of thousands
                // of events was a tenth of this thread's time, and this thread is the one
                // ingest waits for (measured: docs/benchmarks.md).
                releaser.async { held.value = nil }
            }
            let batch = held.value!
            let start = ContinuousClock.now
            var attempt = 0
            while true {
                do {
                    try store.commit(batch)
                    break
                } catch {
                    // Never drop a batch: the same batch is retried until the store takes it (e.g. disk full).
                    attempt += 1
                    log(
                        "slad: store commit failed; retrying", ["error": "\(error)", "attempt": String(attempt)],
                        level: .error)
                    if stopRequested.load(ordering: .relaxed) {
                        state.withLock { $0.failed = true }
                        return
                    }
                    usleep(useconds_t(min(5_000_000, 100_000 * attempt)))
                }
            }
            let elapsed = ContinuousClock.now - start
            state.withLock { $0.time += elapsed }
            committed(batch)
        }
    }

    /// Waits until every submitted batch is committed (or given up).
    func drain() { group.wait() }

    /// A batch handed from the engine thread to the commit thread and on to the releaser.
    private final class Held: @unchecked Sendable {
        // @unchecked: one thread at a time uses it, in the order the queues run.
        var value: Batch?
        init(_ value: Batch) { self.value = value }
    }
}

/// Wall-clock time in milliseconds since the epoch: SLA deadlines are wall-clock instants.
func wallMilliseconds() -> Int64 {
    wallNanoseconds() / 1_000_000
}

/// Wall-clock time, nanoseconds since the Unix epoch.
func wallNanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

/// slad's logger: native journal entries when stderr is the journal (under systemd),
/// else one `message key=value …` line per record on stderr.
let logger: Logger = {
    let journal = JournalLogHandler.stderrIsJournal(environment: ProcessInfo.processInfo.environment)
    LoggingSystem.bootstrap { label in
        journal ? JournalLogHandler(label: label) as any LogHandler : LineLogHandler()
    }
    return Logger(label: "slad")
}()

/// One log record: a constant message, data in metadata.
func log(_ message: String, _ metadata: [String: String] = [:], level: Logger.Level = .info) {
    logger.log(level: level, "\(message)", metadata: metadata.mapValues { .string($0) })
}

struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Print the store's durable state canonically (ledger, incidents, verdicts, quarantine, offsets).")

    @Option(help: "State folder holding slad.sqlite.")
    var state: String = "state"

    func run() throws {
        let path = (state as NSString).appendingPathComponent("slad.sqlite")
        guard FileManager.default.fileExists(atPath: path) else {
            printError("\(path): no store here")
            throw ExitCode(1)
        }
        print(try SLAStore(path: path, readOnly: true).canonicalDump(), terminator: "")
    }
}
