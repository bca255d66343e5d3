import Foundation
import SLAConfig
import SLACore
import SLAIngest
import SLAStore

#if canImport(Glibc)
import Glibc
#endif

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

/// What one read of the sources yields: decoded events with their source, quarantined lines,
/// counters and the positions reached, before the engine sees any of it.
struct SourceRead {
    var decoded: [(event: SLAEvent, source: String)] = []
    /// The engine's hash of each decoded event's id (`IngestEngine.identityHash`), made on
    /// the reading thread: hashing was a fifteenth of the engine thread's time.
    var idHashes: [UInt64] = []
    var quarantine: [QuarantineRecord] = []
    var stats: [String: SourceStats] = [:]
    var offsets: [SourceOffset] = []
    /// No line was read.
    var isEmpty: Bool { stats.isEmpty }
}

/// The sources being tailed, behind one reference: the engine loop reads the next batch on
/// another core while the engine applies the previous one (`EngineLoop.run`).
final class SourceSet: @unchecked Sendable {
    // @unchecked: one thread at a time uses it, the engine thread or the read it started and
    // waits for before it touches the sources again.
    var list: [TailedSource]
    let maxLineBytes: Int

    init(_ list: [TailedSource], maxLineBytes: Int) {
        self.list = list
        self.maxLineBytes = maxLineBytes
    }
}

/// The ingest side of the daemon: sources → decoded events → engine → batches.
struct Ingest {
    let store: SLAStore
    var live: LiveEngine
    let sources: SourceSet
    let useReference: Bool

    init(config: SladConfiguration, store: SLAStore, maxLineBytes: Int, reference: Bool) {
        self.store = store
        useReference = reference
        live = LiveEngine(
            engine: IngestEngine(contracts: config.contracts), nowMilliseconds: wallMilliseconds(),
            allowedLateness: config.allowedLateness, catchUpWindow: config.catchUpWindow)
        sources = SourceSet(
            config.sources.map { source in
                Self.source(
                    source, mapping: config.mappings[source.format], saved: [], maxLineBytes: maxLineBytes,
                    reference: reference)
            }, maxLineBytes: maxLineBytes)
    }

    /// A tailed source resuming from `saved` offsets (JSONL sources; mapped sources re-read from the start).
    static func source(
        _ config: SourceConfig, mapping: SourceMapping?, saved: [SourceOffset], maxLineBytes: Int, reference: Bool
    ) -> TailedSource {
        let positions =
            mapping != nil
            ? []
            : saved.map {
                FilePosition(
                    fingerprint: $0.fingerprint, path: $0.path, inode: $0.inode, offset: $0.offset, line: $0.line)
            }
        return TailedSource(
            config: config, tailer: FileTailer(pattern: config.path, maxLineBytes: maxLineBytes, saved: positions),
            jsonl: JSONLEventDecoder(source: config.name),
            reference: reference ? ReferenceJSONLDecoder(source: config.name) : nil, mapping: mapping,
            mapper: mapping.map { SnapshotMapper(mapping: $0) })
    }

    /// A reload: sources whose definition (and mapping) is unchanged keep their tailers;
    /// new or changed ones start from their saved offsets; removed ones stop.
    func replaceSources(_ config: SladConfiguration) throws {
        let saved = Dictionary(grouping: try store.offsets(), by: \.source)
        let current = sources.list
        sources.list = config.sources.map { source in
            let mapping = config.mappings[source.format]
            // A mapped source is rebuilt (its mapping may have changed): it re-reads from the start anyway.
            if mapping == nil, let kept = current.first(where: { $0.config == source && $0.mapping == nil }) {
                return kept
            }
            return Self.source(
                source, mapping: mapping, saved: saved[source.name] ?? [], maxLineBytes: sources.maxLineBytes,
                reference: useReference)
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
        for i in sources.list.indices where sources.list[i].mapping == nil {
            sources.list[i] = Self.source(
                sources.list[i].config, mapping: nil, saved: saved[sources.list[i].config.name] ?? [],
                maxLineBytes: sources.maxLineBytes, reference: useReference)
        }
        // Restart catch-up: whatever came due while slad was down is decided now, once, marked late.
        return live.catchUp(incidents: live.engine.incidentIDs, nowMilliseconds: now)
    }

    /// Per source: bytes read and bytes written but not yet read.
    func positions() -> [(name: String, path: String, offset: Int64, lag: Int64)] {
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
            return (source.config.name, source.config.path, offset, behind)
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
        var run: (source: String, events: Int, duplicates: Int)?
        func flush() {
            guard let r = run else { return }
            batch.stats[r.source]?.events += r.events
            batch.stats[r.source]?.duplicates += r.duplicates
        }
        decoded.withUnsafeBufferPointer { all in
            // Sources read in place (``EventPairs``: subscripting copies the whole pair).
            guard let pairs = EventPairs(all) else { return }
            for k in 0..<pairs.count {
                if run?.source != pairs.source(k).pointee {
                    flush()
                    run = (pairs.source(k).pointee, 0, 0)
                }
                if fresh[k] { run!.events += 1 } else { run!.duplicates += 1 }
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
        for incident in incidents.sorted() {
            let (verdict, rejections) = live.engine.evaluate(incident: incident)
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

extension SourceSet {
    /// Reads and decodes up to `maxLines` lines across sources.
    func read(maxLines: Int) -> SourceRead {
        var read = SourceRead()
        var remaining = maxLines
        for i in list.indices where remaining > 0 {
            let name = list[i].config.name
            let lines = list[i].tailer.poll(maxLines: remaining)
            guard !lines.isEmpty else { continue }
            remaining -= lines.count
            // Events are 200-byte values: growing the array by doubling would move them all again.
            read.decoded.reserveCapacity(read.decoded.count + lines.count)
            var stats = SourceStats()
            stats.lines = lines.count
            // Per source, not per line: `list[i]` copies the whole source each time it is read.
            let mapped = list[i].mapping != nil
            let reference = list[i].reference
            let jsonl = list[i].jsonl
            // Lines read where they are (iterating copies each line: its texts and its chunk).
            lines.withUnsafeBufferPointer { all in
                for k in all.indices {
                    let line = all.baseAddress! + k
                    func quarantine(_ field: String?, _ reason: String) {
                        stats.quarantined += 1
                        read.quarantine.append(
                            QuarantineRecord(
                                source: name, fingerprint: line.pointee.fingerprint, offset: line.pointee.offset,
                                line: line.pointee.number, field: field, reason: reason,
                                raw: String(decoding: line.pointee.bytes, as: UTF8.self)))
                    }
                    if line.pointee.tooLong {
                        quarantine(nil, "line longer than \(maxLineBytes) bytes")
                        continue
                    }
                    if mapped {
                        switch Ingest.mapLine(&list[i], line.pointee) {
                        case .events(let events): read.decoded += events.map { (event: $0, source: name) }
                        case .skipped, nil: continue
                        case .rejected(let field, let reason): quarantine(field, reason)
                        }
                        continue
                    }
                    let number = line.pointee.number
                    let result: Result<SLAEvent, LineError>? = line.pointee.bytes.withUnsafeBytes { bytes in
                        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return nil }
                        if let reference {
                            return reference.decode(
                                line: Substring(String(decoding: bytes, as: UTF8.self)), number: number)
                        }
                        return jsonl.decode(bytes: bytes, number: number)
                    }
                    switch consume result {
                    case .success(let e)?: read.decoded.append((event: e, source: name))
                    case .failure(let error)?: quarantine(error.field, error.reason)
                    case nil: continue
                    }
                }
            }
            read.stats[name] = stats
            for p in list[i].tailer.positions {
                read.offsets.append(
                    SourceOffset(
                        source: name, fingerprint: p.fingerprint, path: p.path, inode: p.inode, offset: p.offset,
                        line: p.line))
            }
        }
        read.decoded.withUnsafeBufferPointer { all in
            guard let pairs = EventPairs(all) else { return }
            read.idHashes = (0..<pairs.count).map { IngestEngine.identityHash(pairs.event($0).pointee.id) }
        }
        return read
    }
}

/// A read of the sources running on a thread of its own.
final class ReadAhead: @unchecked Sendable {
    // @unchecked: `result` is written by the read before `done` signals, read after the wait.
    private var result: SourceRead?
    private let done = DispatchSemaphore(value: 0)

    /// Starts reading up to `maxLines` lines of `sources`; the caller leaves them alone until ``wait()``.
    init(_ sources: SourceSet, maxLines: Int) {
        DispatchQueue.global().async { [self] in
            result = sources.read(maxLines: maxLines)
            done.signal()
        }
    }

    /// What was read.
    func wait() -> SourceRead {
        done.wait()
        return result!
    }
}
