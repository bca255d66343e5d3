import Foundation
import SLAConfig
import SLACore
import SLAIngest

/// One source being tailed and decoded.
struct TailedSource {
    let config: SourceConfig
    let tailer: FileTailer
    var jsonl: JSONLEventDecoder
    var reference: ReferenceJSONLDecoder?
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
    /// the reading thread, which has time to spare, instead of the engine thread.
    var idHashes: [UInt64] = []
    var quarantine: [QuarantineRecord] = []
    var stats: [String: SourceStats] = [:]
    var offsets: [SourceOffset] = []
    /// A source is in the middle of searching an over-long line: more is to come at once.
    var scanning = false
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

extension SourceSet {
    /// Reads and decodes up to `maxLines` lines across sources.
    func read(maxLines: Int) -> SourceRead {
        var read = SourceRead()
        var remaining = maxLines
        for i in list.indices where remaining > 0 {
            let name = list[i].config.name
            let lines = list[i].tailer.poll(maxLines: remaining)
            if list[i].tailer.scanning { read.scanning = true }
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
                        case .events(let events):
                            if let refused = events.lazy.compactMap(\.refusal).first {
                                quarantine(refused.field, refused.reason)
                            } else {
                                read.decoded += events.map { (event: $0, source: name) }
                            }
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
                    case .success(let e)?:
                        if let refused = e.refusal {
                            quarantine(refused.field, refused.reason)
                        } else {
                            read.decoded.append((event: e, source: name))
                        }
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
                        line: p.line, tail: p.tail))
            }
        }
        read.decoded.withUnsafeBufferPointer { all in
            guard let pairs = EventPairs(all) else { return }
            read.idHashes = (0..<pairs.count).map { IngestEngine.identityHash(pairs.event($0).pointee.id) }
        }
        return read
    }
}
