import Foundation
import Logging
import SLAConfig
import SLACore
import SLAIngest
import SLAStore

#if canImport(Glibc)
import Glibc
#endif

/// The ingest side of the daemon: sources → decoded events → engine → batches.
struct Ingest {
    let store: any DaemonStore
    let logger: Logger
    var live: LiveEngine
    let sources: SourceSet
    let useReference: Bool
    /// slad.yaml's policies, for native events whose opening names no contract.
    var policies: PolicyBook

    init(config: SladConfiguration, store: any DaemonStore, maxLineBytes: Int, reference: Bool, logger: Logger) {
        self.store = store
        self.logger = logger
        useReference = reference
        policies = config.policies
        live = LiveEngine(
            engine: IngestEngine(contracts: config.contracts), nowMilliseconds: wallMilliseconds(),
            allowedLateness: config.allowedLateness, catchUpWindow: config.catchUpWindow)
        live.teams = config.teams
        sources = SourceSet(
            config.sources.map { source in
                Self.source(
                    source, mapping: config.mappings[source.format], saved: [], maxLineBytes: maxLineBytes,
                    reference: reference, policies: config.policies)
            }, maxLineBytes: maxLineBytes)
    }

    /// A tailed source resuming from `saved` offsets (JSONL sources; mapped sources re-read from the start).
    static func source(
        _ config: SourceConfig, mapping: SourceMapping?, saved: [SourceOffset], maxLineBytes: Int, reference: Bool,
        policies: PolicyBook
    ) -> TailedSource {
        let positions =
            mapping != nil
            ? []
            : saved.map {
                FilePosition(
                    fingerprint: $0.fingerprint, path: $0.path, inode: $0.inode, offset: $0.offset, line: $0.line,
                    tail: $0.tail)
            }
        return TailedSource(
            config: config, tailer: FileTailer(pattern: config.path, maxLineBytes: maxLineBytes, saved: positions),
            jsonl: JSONLEventDecoder(source: config.name, policies: policies),
            reference: reference ? ReferenceJSONLDecoder(source: config.name, policies: policies) : nil,
            mapping: mapping,
            mapper: mapping.map { SnapshotMapper(mapping: $0) })
    }

    /// A reload: sources whose definition (and mapping) is unchanged keep their tailers;
    /// new or changed ones start from their saved offsets; removed ones stop.
    mutating func replaceSources(_ config: SladConfiguration) throws {
        policies = config.policies
        let saved = Dictionary(grouping: try store.offsets(), by: \.source)
        let current = sources.list
        sources.list = config.sources.map { source in
            let mapping = config.mappings[source.format]
            // A mapped source is rebuilt (its mapping may have changed): it re-reads from the start anyway.
            // A native source keeps its place, and reads on with the policies now in force.
            if mapping == nil, var kept = current.first(where: { $0.config == source && $0.mapping == nil }) {
                kept.jsonl.policies = config.policies
                kept.reference?.policies = config.policies
                return kept
            }
            return Self.source(
                source, mapping: mapping, saved: saved[source.name] ?? [], maxLineBytes: sources.maxLineBytes,
                reference: useReference, policies: config.policies)
        }
    }

    /// Loads the ledger into the engine and resumes every source from its saved offsets.
    ///
    /// Mapped (status-snapshot) sources re-read their files from the start:
    /// their mapping depends on earlier rows, and the events they yield again
    /// carry the same identities, which the ledger ignores.
    ///
    /// `warm`: the ledger as a standby followed it; only the rows after it are read.
    ///
    /// The restart catch-up comes from the state stored at the last stop when it still holds
    /// (``LiveSnapshot``: the ledger ends where it ended then, and `fingerprint`, the
    /// configuration and build, is the same); otherwise every incident is evaluated again.
    mutating func restore(warm: FollowedLedger? = nil, fingerprint: String) throws -> [SLANotification] {
        // A run at a time: the whole ledger as one array, copied on its way in, held four
        // copies of every event at once (3.4 GB at the peak of a restart with 4 M events).
        var ledger = warm ?? FollowedLedger(engine: live.engine)
        try ledger.readOn(store)
        let through = ledger.through
        let now = wallMilliseconds()
        let teams = live.teams
        live = LiveEngine(
            engine: (consume ledger).engine, nowMilliseconds: now, allowedLateness: live.allowedLateness,
            catchUpWindow: live.catchUpWindow, emitted: try store.outbox())
        live.teams = teams
        let saved = Dictionary(grouping: try store.offsets(), by: \.source)
        for i in sources.list.indices where sources.list[i].mapping == nil {
            sources.list[i] = Self.source(
                sources.list[i].config, mapping: nil, saved: saved[sources.list[i].config.name] ?? [],
                maxLineBytes: sources.maxLineBytes, reference: useReference, policies: policies)
        }
        // Restart catch-up: whatever came due while slad was down is decided now, once, marked late.
        resumed = false
        if let snapshot = try store.liveSnapshot(atLedgerRow: through), snapshot.fingerprint == fingerprint,
            let due = live.resume(from: snapshot, nowMilliseconds: now)
        {
            resumed = true
            return due
        }
        return live.catchUp(nowMilliseconds: now)
    }

    /// Whether the last ``restore(warm:fingerprint:)`` resumed from the stored snapshot.
    private(set) var resumed = false

    /// Per source: bytes read, bytes written but not yet read, and why files cannot be read.
    func positions() -> [(name: String, path: String, offset: Int64, lag: Int64, error: String?)] {
        sources.list.map { source in
            var behind: Int64 = 0
            var offset: Int64 = 0
            for p in source.tailer.positions {
                offset += p.offset
                var st = stat()
                if stat(p.path, &st) == 0, UInt64(st.st_ino) == p.inode {
                    behind += max(0, Int64(st.st_size) - p.offset)
                }
            }
            let problems = source.tailer.problems
            return (
                source.config.name, source.config.path, offset, behind,
                problems.isEmpty ? nil : problems.joined(separator: "; ")
            )
        }
    }

    /// A read of the sources applied to the engine: the batch to commit.
    mutating func apply(_ read: consuming SourceRead) -> Batch {
        var batch = Batch()
        batch.quarantine = read.quarantine
        batch.stats = read.stats
        batch.offsets = read.offsets
        // Taken out of `read`, so that the batch can keep the array without copying it.
        var decoded: [(event: SLAEvent, source: String)] = []
        swap(&decoded, &read.decoded)
        apply(decoded, idHashes: read.idHashes, to: &batch)
        return batch
    }

    /// Applies decoded events (with their source) to the engine and records in `batch`
    /// the new ones, the duplicates, the touched incidents' verdicts and the decisions.
    /// `idHashes`, when given, are the engine's hashes of the events' ids (``SourceRead``).
    mutating func apply(
        _ decoded: consuming [(event: SLAEvent, source: String)], idHashes: [UInt64]? = nil, to batch: inout Batch
    ) {
        var decoded = decoded
        let (fresh, numbers) = live.mark(decoded, idHashes: idHashes)
        var conflicting = Set(live.engine.lastConflicts)
        for k in live.engine.lastConflicts.prefix(10) {
            logger.note(
                "slad: an event id came again with other content; the first stands",
                ["id": decoded[k].event.id, "source": decoded[k].source], level: .error)
        }
        // Evaluating the touched incidents is pure: on both cores when there are many.
        let engine = live.engine
        let touched = ForkJoin.map(numbers.count) { k in
            let (verdict, rejections) = engine.evaluate(number: numbers[k])
            return (number: numbers[k], verdict: verdict, rejections: rejections)
        }
        batch.notifications += live.decide(touched, nowMilliseconds: wallMilliseconds())
        // A source's events are contiguous: counted in a run, written to `stats` once per run.
        // The new events are kept by moving them to the front of `decoded`, which then becomes
        // (or joins) the batch's: no event is copied.
        var run: (source: String, events: Int, duplicates: Int, conflicts: Int)?
        func flush() {
            guard let r = run else { return }
            batch.stats[r.source]?.events += r.events
            batch.stats[r.source]?.duplicates += r.duplicates
            batch.stats[r.source]?.conflicts += r.conflicts
        }
        decoded.withUnsafeBufferPointer { all in
            // Sources read in place (``EventPairs``: subscripting copies the whole pair).
            guard let pairs = EventPairs(all) else { return }
            for k in 0..<pairs.count {
                if run?.source != pairs.source(k).pointee {
                    flush()
                    run = (pairs.source(k).pointee, 0, 0, 0)
                }
                if fresh[k] {
                    run!.events += 1
                } else if conflicting.remove(k) != nil {
                    run!.conflicts += 1
                } else {
                    run!.duplicates += 1
                }
            }
        }
        flush()
        var kept = 0
        for k in decoded.indices where fresh[k] {
            if kept != k { decoded.swapAt(kept, k) }
            kept += 1
        }
        decoded.removeLast(decoded.count - kept)
        if batch.events.isEmpty { batch.events = decoded } else { batch.events += decoded }
        for (number, verdict, rejections) in touched {
            if let verdict {
                batch.incidents.append(verdict)
            } else {
                batch.unevaluated.append(engine.name(of: number))
            }
            batch.rejections += rejections
        }
    }

    /// Puts the stored state of `incidents` into `batch`: each verdict (as of its last event), or
    /// the incident as unevaluated, and the events the engine rejects.
    func recordVerdicts(of incidents: some Sequence<String>, into batch: inout Batch) {
        recordVerdicts(ofSorted: incidents.sorted(), into: &batch)
    }

    /// ``recordVerdicts(of:into:)`` for incidents already in name order.
    func recordVerdicts(ofSorted sorted: some RandomAccessCollection<String>, into batch: inout Batch) {
        // Pure, as in ``apply(_:idHashes:to:)``: on both cores.
        let engine = live.engine
        let names = Array(sorted)
        let evaluated = ForkJoin.map(names.count) { k in engine.evaluate(incident: names[k]) }
        for (incident, (verdict, rejections)) in zip(names, evaluated) {
            if let verdict { batch.incidents.append(verdict) } else { batch.unevaluated.append(incident) }
            batch.rejections += rejections
        }
    }

    /// Maps one CSV line of a status-snapshot source (one record per line); the first line of a file is its header.
    static func mapLine(_ source: inout TailedSource, _ line: TailedLine) -> SnapshotMapper.Outcome? {
        guard let mapping = source.mapping, case .csv(let delimiter) = mapping.format else {
            return .rejected(field: nil, reason: "only CSV status-snapshot sources can be tailed")
        }
        var reader = CSVReader(bytes: Array(line.bytes), delimiter: delimiter)
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
