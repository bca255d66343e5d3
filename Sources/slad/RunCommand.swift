import ArgumentParser
import Foundation
import Logging
import SLAConfig
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
        let store = try SLAStore(path: (stateDir as NSString).appendingPathComponent("slad.sqlite"))
        var ingest = Ingest(
            config: config, store: store, maxLineBytes: maxLineBytes, reference: referenceDecoder)
        let notifier: Notifier
        do {
            notifier = try Notifier(config: config, store: store, logger: logger)
        } catch let error as NotifierError {
            log("slad: cannot start notifications", ["error": error.description], level: .error)
            throw ExitCode(1)
        }
        let caughtUp = try ingest.restore()
        log(
            "slad: started",
            [
                "state": stateDir, "events": String(ingest.live.engine.eventCount),
                "sources": String(config.sources.count),
                "late_notifications": String(caughtUp.count),
            ])

        signal(SIGTERM) { _ in stopRequested.store(true, ordering: .relaxed) }
        signal(SIGINT) { _ in stopRequested.store(true, ordering: .relaxed) }
        let watcher = FolderWatcher(patterns: config.sources.map(\.path))
        let clock = ContinuousClock()
        var readTime = Duration.zero
        let committer = Committer(store: store) { batch in
            if !batch.notifications.isEmpty { notifier.wake() }
        }
        notifier.start()
        // Decided notifications go to the journal at once (the engine loop's own thread, no
        // commit in the way); the commit records that, and webhooks go out once it is durable.
        func submit(_ batch: inout Batch) {
            if !batch.notifications.isEmpty { batch.journaled = notifier.journalNow(batch.notifications) }
            committer.submit(batch)
        }
        if !caughtUp.isEmpty {
            notifier.catchUpSummary(caughtUp)
            var batch = Batch()
            batch.notifications = caughtUp
            submit(&batch)
        }
        var lastWall = wallMilliseconds()
        var lastMonotonic = clock.now
        var lastStatus = clock.now
        while !stopRequested.load(ordering: .relaxed) && !committer.failed {
            // Deadlines are wall-clock instants; a step of the wall clock (NTP, date -s) is
            // noticed by comparing it with the monotonic clock, and logged.
            let wall = wallMilliseconds()
            let monotonic = clock.now
            let drift = (wall - lastWall) - Int64((monotonic - lastMonotonic) / .milliseconds(1))
            if abs(drift) > 1_000 {
                log("slad: wall clock stepped", ["by_ms": String(drift)])
                if drift < 0 {
                    // Backwards: rebuild the wheel so nothing armed for the old time fires early.
                    var batch = Batch()
                    batch.notifications = ingest.live.resetClock(nowMilliseconds: wall)
                    if !batch.notifications.isEmpty { submit(&batch) }
                }
            }
            lastWall = wall
            lastMonotonic = monotonic
            if monotonic - lastStatus > .seconds(10) {
                lastStatus = monotonic
                let s = ingest.live.status
                log(
                    "slad: status",
                    ["open": String(s.open), "at_risk": String(s.atRisk), "breached": String(s.breached)]
                        .merging(ingest.lag(), uniquingKeysWith: { a, _ in a })
                        .merging(notifier.stats(), uniquingKeysWith: { a, _ in a }))
            }
            // Thresholds that came due: decided on the events, written to the outbox.
            let due = ingest.live.advance(toMilliseconds: wall)
            if !due.isEmpty {
                var batch = Batch()
                batch.notifications = due
                submit(&batch)
            }
            let readStart = clock.now
            var batch = ingest.nextBatch(maxLines: batchLines)
            readTime += clock.now - readStart
            if batch.isEmpty {
                committer.drain()
                if exitWhenIdle { break }
                // Sleep until new lines or the next deadline, whichever comes first.
                let next = ingest.live.nextWakeupMilliseconds.map { $0 - wallMilliseconds() } ?? 200
                watcher.wait(milliseconds: Int32(max(0, min(200, next))))
                continue
            }
            submit(&batch)
        }
        committer.drain()
        notifier.stop()
        log(
            "slad: stopped",
            [
                "events": String(ingest.live.engine.eventCount),
                "read_decode_evaluate_ms": String(readTime / .milliseconds(1)),
                "commit_ms": String(committer.commitTime / .milliseconds(1)),
            ])
        if committer.failed { throw ExitCode(1) }
    }

    func resolveStateDirectory(_ config: SladConfiguration) -> String {
        if let state { return state }
        if let dir = ProcessInfo.processInfo.environment["STATE_DIRECTORY"], !dir.isEmpty {
            return dir.split(separator: ":").first.map(String.init) ?? dir
        }
        if let dir = config.stateDirectory {
            return dir.hasPrefix("/") ? dir : (config.directory as NSString).appendingPathComponent(dir)
        }
        return "state"
    }
}

/// Commits batches in order on its own thread with one batch in flight, so that
/// reading, decoding and evaluating the next batch overlaps the SQLite write of
/// the previous one (two cores, two stages). Order is kept, so a crash leaves
/// the store at a batch boundary as before.
final class Committer: Sendable {
    private let store: SLAStore
    private let queue = DispatchQueue(label: "slad.commit")
    private let group = DispatchGroup()
    private let state = Mutex<(time: Duration, failed: Bool)>((.zero, false))
    private let committed: @Sendable (Batch) -> Void

    /// A committer to `store`; `committed` runs after each batch is durable.
    init(store: SLAStore, committed: @escaping @Sendable (Batch) -> Void) {
        self.store = store
        self.committed = committed
    }

    /// Time spent committing so far.
    var commitTime: Duration { state.withLock { $0.time } }
    /// A commit kept failing until a stop was requested.
    var failed: Bool { state.withLock { $0.failed } }

    /// Waits for the batch in flight, then hands over the next one.
    func submit(_ batch: Batch) {
        group.wait()
        group.enter()
        queue.async { [self] in
            defer { group.leave() }
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
}

/// One source being tailed and decoded.
struct TailedSource {
    let config: SourceConfig
    let tailer: FileTailer
    let jsonl: JSONLEventDecoder
    let reference: ReferenceJSONLDecoder?
    let mapping: SourceMapping?
    /// Mapped sources: one mapper per source (incidents continue across rotated files), a header per file.
    var mapper: SnapshotMapper?
    var headers: [String: [String: Int]] = [:]
}

/// The ingest side of the daemon: sources → decoded events → engine → batches.
struct Ingest {
    let store: SLAStore
    var live: LiveEngine
    var sources: [TailedSource]
    let maxLineBytes: Int
    let useReference: Bool

    init(config: SladConfiguration, store: SLAStore, maxLineBytes: Int, reference: Bool) {
        self.store = store
        self.maxLineBytes = maxLineBytes
        useReference = reference
        live = LiveEngine(
            engine: IngestEngine(contracts: config.contracts), nowMilliseconds: wallMilliseconds(),
            allowedLateness: config.allowedLateness, catchUpWindow: config.catchUpWindow)
        sources = config.sources.map { source in
            let mapping = config.mappings[source.format]
            return TailedSource(
                config: source, tailer: FileTailer(pattern: source.path, maxLineBytes: maxLineBytes),
                jsonl: JSONLEventDecoder(source: source.name),
                reference: reference ? ReferenceJSONLDecoder(source: source.name) : nil, mapping: mapping,
                mapper: mapping.map { SnapshotMapper(mapping: $0) })
        }
    }

    /// Loads the ledger into the engine and resumes every source from its saved offsets.
    ///
    /// Mapped (status-snapshot) sources re-read their files from the start:
    /// their mapping depends on earlier rows, and the events they yield again
    /// carry the same identities, which the ledger ignores.
    mutating func restore() throws -> [SLANotification] {
        var engine = live.engine
        _ = engine.add(try store.events().map(\.event))
        let now = wallMilliseconds()
        live = LiveEngine(
            engine: engine, nowMilliseconds: now, allowedLateness: live.allowedLateness,
            catchUpWindow: live.catchUpWindow, emitted: try store.outbox())
        let saved = Dictionary(grouping: try store.offsets(), by: \.source)
        for i in sources.indices where sources[i].mapping == nil {
            let positions = (saved[sources[i].config.name] ?? []).map {
                FilePosition(
                    fingerprint: $0.fingerprint, path: $0.path, inode: $0.inode, offset: $0.offset, line: $0.line)
            }
            sources[i] = TailedSource(
                config: sources[i].config,
                tailer: FileTailer(pattern: sources[i].config.path, maxLineBytes: maxLineBytes, saved: positions),
                jsonl: sources[i].jsonl, reference: sources[i].reference, mapping: nil, mapper: nil)
        }
        // Restart catch-up: whatever came due while slad was down is decided now, once, marked late.
        return live.catchUp(incidents: live.engine.incidentIDs, nowMilliseconds: now)
    }

    /// Per source: bytes not yet read (`lag_bytes.NAME`), for the status line.
    func lag() -> [String: String] {
        var out: [String: String] = [:]
        for source in sources {
            var behind: Int64 = 0
            for p in source.tailer.positions {
                var st = stat()
                if stat(p.path, &st) == 0, UInt64(st.st_ino) == p.inode {
                    behind += max(0, Int64(st.st_size) - p.offset)
                }
            }
            out["lag_bytes.\(source.config.name)"] = String(behind)
        }
        return out
    }

    /// Reads up to `maxLines` lines across sources and turns them into a batch.
    mutating func nextBatch(maxLines: Int) -> Batch {
        var batch = Batch()
        var decoded: [(SLAEvent, String)] = []
        var remaining = maxLines
        for i in sources.indices where remaining > 0 {
            let name = sources[i].config.name
            let lines = sources[i].tailer.poll(maxLines: remaining)
            guard !lines.isEmpty else { continue }
            remaining -= lines.count
            var stats = SourceStats()
            stats.lines = lines.count
            for line in lines {
                func quarantine(_ field: String?, _ reason: String) {
                    stats.quarantined += 1
                    batch.quarantine.append(
                        QuarantineRecord(
                            source: name, fingerprint: line.fingerprint, offset: line.offset, line: line.number,
                            field: field, reason: reason, raw: String(decoding: line.bytes, as: UTF8.self)))
                }
                if line.tooLong {
                    quarantine(nil, "line longer than \(maxLineBytes) bytes")
                    continue
                }
                if sources[i].mapping != nil {
                    switch mapLine(&sources[i], line) {
                    case .events(let events): decoded += events.map { ($0, name) }
                    case .skipped, nil: continue
                    case .rejected(let field, let reason): quarantine(field, reason)
                    }
                    continue
                }
                if line.bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                let result =
                    sources[i].reference.map {
                        $0.decode(line: Substring(String(decoding: line.bytes, as: UTF8.self)), number: line.number)
                    }
                    ?? line.bytes.withUnsafeBytes { sources[i].jsonl.decode(bytes: $0, number: line.number) }
                switch result {
                case .success(let e): decoded.append((e, name))
                case .failure(let error): quarantine(error.field, error.reason)
                }
            }
            batch.stats[name] = stats
            for p in sources[i].tailer.positions {
                batch.offsets.append(
                    SourceOffset(
                        source: name, fingerprint: p.fingerprint, path: p.path, inode: p.inode, offset: p.offset,
                        line: p.line))
            }
        }
        let (fresh, touched, notifications) = live.add(decoded.map(\.0), nowMilliseconds: wallMilliseconds())
        batch.notifications = notifications
        let freshIDs = Set(fresh.map(\.id))
        var seenInBatch = Set<String>()
        for (e, source) in decoded {
            if freshIDs.contains(e.id), seenInBatch.insert(e.id).inserted {
                batch.events.append((e, source))
                batch.stats[source]?.events += 1
            } else {
                batch.stats[source]?.duplicates += 1
            }
        }
        for incident in touched.sorted() {
            let (verdict, rejections) = live.engine.evaluate(incident: incident)
            if let verdict { batch.incidents.append(verdict) } else { batch.unevaluated.append(incident) }
            batch.rejections += rejections
        }
        return batch
    }

    /// Maps one CSV line of a status-snapshot source (one record per line); the first line of a file is its header.
    func mapLine(_ source: inout TailedSource, _ line: TailedLine) -> SnapshotMapper.Outcome? {
        guard let mapping = source.mapping, case .csv(let delimiter) = mapping.format else {
            return .rejected(field: nil, reason: "only CSV status-snapshot sources can be tailed")
        }
        var reader = CSVReader(bytes: line.bytes, delimiter: delimiter)
        guard let record = reader.next() else { return nil }
        guard let header = source.headers[line.fingerprint] else {
            var index: [String: Int] = [:]
            for (i, name) in record.fields.enumerated() where index[name] == nil { index[name] = i }
            source.headers[line.fingerprint] = index
            return nil
        }
        return source.mapper?.map(line: line.number, idPrefix: "\(source.config.name):\(line.fingerprint)") { name in
            guard let i = header[name], i < record.fields.count else { return nil }
            let v = record.fields[i]
            return v.isEmpty || mapping.unknownValues.contains(v) ? nil : v
        }
    }
}

/// Wall-clock time in milliseconds since the epoch: SLA deadlines are wall-clock instants.
func wallMilliseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
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
