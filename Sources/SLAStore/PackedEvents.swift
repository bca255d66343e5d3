import SLACore

/// A run of events of one source as one value of the ledger (`ledger.events`), so that a batch
/// of twenty thousand events is one B-tree insert, not twenty thousand.
///
/// The encoding is deterministic: a tag byte, a checksum of everything after it (8 bytes,
/// little-endian), the number of events, then per event a flag byte pair saying which optional
/// values follow, its texts as a length and UTF-8 bytes and its instants as zigzag LEB128
/// varints. The type is written as its text (`incident.opened`), so the encoding does not
/// depend on the order of Swift's enum. The checksum makes a flipped byte (a `P3` become `P1`)
/// an error on read instead of a different ledger; rows written before it (tag 1) have none.
package enum PackedEvents {
    /// The first byte: a later encoding comes with a new tag (readers keep reading the old).
    static let tag: UInt8 = 2
    /// The tag of rows without a checksum.
    static let uncheckedTag: UInt8 = 1

    /// Appends the encoding of `events`, in their order, to `out`.
    package static func encode(_ events: some Collection<SLAEvent>, into out: inout [UInt8]) {
        let start = header(count: events.count, &out)
        for e in events { withUnsafePointer(to: e) { append($0, &out) } }
        seal(from: start, &out)
    }

    /// ``encode(_:into:)`` for a run of a batch's events, each read where it is.
    static func encode(_ pairs: EventPairs, _ range: Range<Int>, into out: inout [UInt8]) {
        let start = header(count: range.count, &out)
        for k in range { append(pairs.event(k), &out) }
        seal(from: start, &out)
    }

    /// Writes the tag, room for the checksum and the count; returns where the encoding starts.
    private static func header(count: Int, _ out: inout [UInt8]) -> Int {
        // Most events take under 100 bytes: one allocation instead of doubling a megabyte.
        out.reserveCapacity(out.count + 100 * count)
        let start = out.count
        out.append(tag)
        out.append(contentsOf: repeatElement(0, count: 8))
        PackedBytes.number(Int64(count), &out)
        return start
    }

    /// Fills in the checksum of the encoding that starts at `start`.
    private static func seal(from start: Int, _ out: inout [UInt8]) {
        out.withUnsafeMutableBufferPointer { b in
            let sum = PackedBytes.checksum(UnsafeBufferPointer(rebasing: b[(start + 9)...]))
            for k in 0..<8 { b[start + 1 + k] = UInt8(truncatingIfNeeded: sum >> (8 * UInt64(k))) }
        }
    }

    private static func append(_ p: UnsafePointer<SLAEvent>, _ out: inout [UInt8]) {
        // The optional texts, in their order in the encoding (the flags' bits 0-8).
        func optionalTexts(_ body: (String?) -> Void) {
            body(p.pointee.incident)
            body(p.pointee.contract)
            body(p.pointee.service)
            body(p.pointee.priority)
            body(p.pointee.status)
            body(p.pointee.assignee)
            body(p.pointee.team)
            body(p.pointee.level)
            body(p.pointee.promise)
        }
        // Bit k: the k-th optional text is present; bit 9: `due` is; bit 10: `fractional`.
        var flags: UInt16 = (p.pointee.due == nil ? 0 : 1 << 9) | (p.pointee.fractional ? 1 << 10 : 0)
        var bit: UInt16 = 0
        optionalTexts { v in
            if v != nil { flags |= 1 << bit }
            bit += 1
        }
        out.append(UInt8(truncatingIfNeeded: flags))
        out.append(UInt8(truncatingIfNeeded: flags >> 8))
        PackedBytes.text(p.pointee.id, &out)
        PackedBytes.text(p.pointee.type.rawValue, &out)
        PackedBytes.number(p.pointee.time.seconds, &out)
        optionalTexts { v in if let v { PackedBytes.text(v, &out) } }
        if let v = p.pointee.due { PackedBytes.number(v.seconds, &out) }
    }

    /// The events of `bytes`, in their order; throws ``Malformed`` for bytes that are not an
    /// encoding of events (a damaged store), never reading outside them.
    package static func decode(_ bytes: UnsafeBufferPointer<UInt8>) throws -> [SLAEvent] {
        var reader = PackedBytes.Reader(bytes)
        switch reader.byte() {
        case tag:
            guard bytes.count >= 9 else { throw Malformed() }
            var stored: UInt64 = 0
            for k in 0..<8 { stored |= UInt64(reader.byte()!) << (8 * UInt64(k)) }
            guard stored == PackedBytes.checksum(UnsafeBufferPointer(rebasing: bytes[9...])) else {
                throw Malformed(reason: "its checksum does not match: a byte of the store changed on disk")
            }
        case uncheckedTag:
            break
        default:
            throw Malformed()
        }
        guard let count = reader.number(), count >= 0, count <= bytes.count else { throw Malformed() }
        var out: [SLAEvent] = []
        out.reserveCapacity(Int(count))
        func string(_ b: UnsafeBufferPointer<UInt8>) -> String { String(decoding: b, as: UTF8.self) }
        for _ in 0..<count {
            guard let low = reader.byte(), let high = reader.byte(), let id = reader.text(),
                let typeName = reader.text(), let type = EventType(utf8: UnsafeRawBufferPointer(typeName)),
                let time = reader.number()
            else { throw Malformed() }
            let flags = UInt16(low) | UInt16(high) << 8
            func next(_ bit: UInt16) throws -> String? {
                guard flags & (1 << bit) != 0 else { return nil }
                guard let v = reader.text() else { throw Malformed() }
                return string(v)
            }
            var e = SLAEvent(
                id: string(id), time: Instant(time), type: type, incident: try next(0), contract: try next(1),
                service: try next(2), priority: try next(3), status: try next(4), assignee: try next(5),
                team: try next(6), level: try next(7), promise: try next(8), fractional: flags & (1 << 10) != 0)
            if flags & (1 << 9) != 0 {
                guard let due = reader.number() else { throw Malformed() }
                e.due = Instant(due)
            }
            // Moved in: a copy retained each of its texts, and the end of `e` released them.
            out.append(consume e)
        }
        guard reader.atEnd else { throw Malformed() }
        return out
    }

    /// Thrown for bytes that are not an encoding of events (a damaged store).
    package struct Malformed: Error, CustomStringConvertible {
        /// The ledger row (`seq`), when known.
        package var row: Int64? = nil
        /// What is wrong with it.
        var reason = "not slad's encoding"
        package var description: String {
            "ledger row \(row.map(String.init) ?? "?"): its events are damaged (\(reason))"
        }
    }
}
