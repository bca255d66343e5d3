/// Every event the ingest engine holds, once, in arrival order, packed: 64 bytes per event
/// where an ``SLAEvent`` is 192, in chunks that never move, so that holding millions of events
/// costs no allocation per incident.
///
/// Why packed: every event of history is held (the engine re-evaluates an incident from all of
/// its events), and at a million incidents the events were most of the daemon's memory. A
/// packed event keeps its incident as its number in the engine's table of incidents, and each
/// other text but the id as its number in one table of the texts seen (contracts, statuses,
/// assignees, teams, …: few distinct values, repeated on every event).
///
/// An evaluation gets the events back as values (``withUnpacker(incident:_:)``), built
/// without reference counting: each text is the bits of a `String` that this store or a table
/// of the engine owns and outlives the evaluation (the id is the packed event's own, which is
/// the only copy the engine keeps: its table of ids finds an id through the event). An
/// unpacked event is never deinitialized; a copy made of it is an ordinary, owned value.
///
/// An array per incident would cost a `malloc` and a move of every event at each doubling,
/// and a third more memory (room for eight events where an incident has five).
final class EventStore: @unchecked Sendable {
    // @unchecked: events are only appended, through a store its engine holds alone (the engine
    // copies it first otherwise, ``IngestEngine``); reads, from several threads at once, happen
    // between appends.
    private static let chunkShift = 14
    private static let chunkSize = 1 << chunkShift

    /// The bits of a `String`, whose storage someone else owns.
    typealias TextBits = (UInt64, UInt64)

    /// One event, its texts by number.
    struct Packed {
        var time: Int64
        /// The id.
        var id: String
        /// The incident's number in the engine's table of incidents.
        var incident: Int32
        // Each: an index into `optionalTexts` (0: none).
        var contract: UInt32
        var service: UInt32
        var priority: UInt32
        var status: UInt32
        var assignee: UInt32
        var team: UInt32
        var level: UInt32
        var promise: UInt32
        var type: EventType
        var fractional: Bool
        /// Whether the event has a due instant, kept in ``dues``: few events have one (a
        /// promise made), and 8 bytes on every event would take it to 72.
        var hasDue: Bool
    }

    // Unchecked: the class is only changed by the one engine that holds it alone (above); a
    // dynamic exclusivity check on each access was 3 % of an ingest's instructions (callgrind).
    @exclusivity(unchecked) private var chunks: [UnsafeMutablePointer<Packed>] = []
    /// The texts of the events' fields other than id and incident, each once.
    @exclusivity(unchecked) private var texts = StringTable()
    /// `nil`, then each text of `texts` in its order: what an unpacked field's bits come from.
    @exclusivity(unchecked) private(set) var optionalTexts: [String?] = [nil]
    /// The due instants of the events that have one, by index.
    @exclusivity(unchecked) private var dues: [Int32: Int64] = [:]
    /// Events held; their indices are `0..<count`.
    @exclusivity(unchecked) private(set) var count = 0

    init() {
        // Texts are moved as their bits: a `String` and a `String?` must be those two words.
        precondition(MemoryLayout<String>.size == 16 && MemoryLayout<String?>.size == 16)
    }

    /// A store holding the same events (for an engine that was copied and then added to).
    func copy() -> EventStore {
        let copy = EventStore()
        copy.texts = texts
        copy.optionalTexts = optionalTexts
        copy.dues = dues
        for i in 0..<count { copy.append(packed: self[i]) }
        return copy
    }

    /// Adds the event `event` points at, at index `count`, with its incident's number.
    func append(_ event: UnsafePointer<SLAEvent>, incident: Int) {
        let e = event
        if let due = e.pointee.due { dues[Int32(count)] = due.seconds }
        append(
            packed: Packed(
                time: e.pointee.time.seconds, id: e.pointee.id,
                incident: Int32(incident), contract: code(e.pointee.contract), service: code(e.pointee.service),
                priority: code(e.pointee.priority), status: code(e.pointee.status),
                assignee: code(e.pointee.assignee), team: code(e.pointee.team), level: code(e.pointee.level),
                promise: code(e.pointee.promise), type: e.pointee.type, fractional: e.pointee.fractional,
                hasDue: e.pointee.due != nil))
    }

    private func append(packed: Packed) {
        let offset = count & (Self.chunkSize - 1)
        if offset == 0 { chunks.append(.allocate(capacity: Self.chunkSize)) }
        (chunks[count >> Self.chunkShift] + offset).initialize(to: packed)
        count += 1
    }

    /// Texts coded lately, by a cheap mix of their bits: most fields repeat a few values, and
    /// a hit costs a comparison where the table hashes the text (`Hasher`).
    @exclusivity(unchecked) private var recent = [(text: String, code: UInt32)](
        repeating: ("", 0), count: EventStore.recentSlots)
    private static let recentSlots = 256

    /// The number a field's text is kept under (an index into ``optionalTexts``).
    @inline(__always)
    private func code(_ text: String?) -> UInt32 {
        guard let text else { return 0 }
        let bits = withUnsafeBytes(of: text) { $0.loadUnaligned(as: TextBits.self) }
        let slot = Int(
            truncatingIfNeeded: ((bits.0 ^ (bits.1 &* 0x9E37_79B9_7F4A_7C15)) &* 0xBF58_476D_1CE4_E5B9) >> 56)
        if recent[slot].code != 0 && recent[slot].text == text { return recent[slot].code }
        let (number, inserted) = texts.insert(text)
        if inserted { optionalTexts.append(text) }
        recent[slot] = (text, UInt32(number + 1))
        return UInt32(number + 1)
    }

    /// The packed event at `index`.
    subscript(index: Int) -> Packed {
        precondition(index >= 0 && index < count, "EventStore: index out of range")
        return chunks[index >> Self.chunkShift][index & (Self.chunkSize - 1)]
    }

    /// Whether the id of the event at `index` is `id`.
    @inline(__always)
    func id(at index: Int, is id: String) -> Bool {
        precondition(index >= 0 && index < count, "EventStore: index out of range")
        return (chunks[index >> Self.chunkShift] + (index & (Self.chunkSize - 1))).pointee.id == id
    }

    private static let template = SLAEvent(id: "", time: Instant(0), type: .opened)
    private static let idOffset = MemoryLayout<SLAEvent>.offset(of: \SLAEvent.id)!
    private static let packedIdOffset = MemoryLayout<Packed>.offset(of: \Packed.id)!
    private static let timeOffset = MemoryLayout<SLAEvent>.offset(of: \SLAEvent.time)!
    private static let typeOffset = MemoryLayout<SLAEvent>.offset(of: \SLAEvent.type)!
    private static let fractionalOffset = MemoryLayout<SLAEvent>.offset(of: \SLAEvent.fractional)!
    private static let dueOffset = MemoryLayout<SLAEvent>.offset(of: \SLAEvent.due)!
    private static let incidentOffset = MemoryLayout<SLAEvent>.offset(of: \SLAEvent.incident)!
    /// Where each coded field of ``Packed`` goes, in its order there.
    private static let textOffsets = [
        \SLAEvent.contract, \.service, \.priority, \.status, \.assignee, \.team, \.level, \.promise,
    ].map { MemoryLayout<SLAEvent>.offset(of: $0)! }

    /// Calls `body` with a function that writes the event at an index into uninitialized memory,
    /// as a value whose texts are borrowed (see the type's comment): `incident` is the
    /// incident of every event unpacked, which the caller knows. The memory written must not
    /// be deinitialized, nor used after `body` returns.
    func withUnpacker<R>(
        incident: String, _ body: ((_ index: Int, _ target: UnsafeMutablePointer<SLAEvent>) -> Void) -> R
    ) -> R {
        let offsets = Self.textOffsets
        let chunks = chunks
        let count = count
        let dues = dues
        // Read once: a static is checked for its first use at every read.
        let (idAt, timeAt, typeAt, fractionalAt) = (
            Self.idOffset, Self.timeOffset, Self.typeOffset, Self.fractionalOffset
        )
        let (dueAt, incidentAt, packedIdAt) = (Self.dueOffset, Self.incidentOffset, Self.packedIdOffset)
        // Every field is written below; the template's bytes are there for a field added later.
        return withUnsafeBytes(of: Self.template) { template in
            withUnsafeBytes(of: Optional(incident)) { incident in
                optionalTexts.withUnsafeBytes { texts in
                    offsets.withUnsafeBufferPointer { offsets in
                        let textBase = texts.baseAddress!
                        let incidentBits = incident.loadUnaligned(as: TextBits.self)
                        let stride = MemoryLayout<String?>.stride
                        return body { index, target in
                            precondition(index >= 0 && index < count, "EventStore: index out of range")
                            // Read in place: a copy of the packed event would retain and release its id.
                            let packed = chunks[index >> Self.chunkShift] + (index & (Self.chunkSize - 1))
                            let raw = UnsafeMutableRawPointer(target)
                            raw.copyMemory(from: template.baseAddress!, byteCount: MemoryLayout<SLAEvent>.size)
                            raw.storeBytes(
                                of: UnsafeRawPointer(packed).loadUnaligned(
                                    fromByteOffset: packedIdAt, as: TextBits.self), toByteOffset: idAt,
                                as: TextBits.self)
                            raw.storeBytes(of: Instant(packed.pointee.time), toByteOffset: timeAt, as: Instant.self)
                            raw.storeBytes(of: packed.pointee.type, toByteOffset: typeAt, as: EventType.self)
                            raw.storeBytes(of: packed.pointee.fractional, toByteOffset: fractionalAt, as: Bool.self)
                            raw.storeBytes(
                                of: packed.pointee.hasDue ? dues[Int32(index)].map(Instant.init) : nil,
                                toByteOffset: dueAt,
                                as: Instant?.self)
                            raw.storeBytes(of: incidentBits, toByteOffset: incidentAt, as: TextBits.self)
                            func put(_ k: Int, _ code: UInt32) {
                                let bits = textBase.load(fromByteOffset: Int(code) * stride, as: TextBits.self)
                                raw.storeBytes(of: bits, toByteOffset: offsets[k], as: TextBits.self)
                            }
                            put(0, packed.pointee.contract)
                            put(1, packed.pointee.service)
                            put(2, packed.pointee.priority)
                            put(3, packed.pointee.status)
                            put(4, packed.pointee.assignee)
                            put(5, packed.pointee.team)
                            put(6, packed.pointee.level)
                            put(7, packed.pointee.promise)
                        }
                    }
                }
            }
        }
    }

    deinit {
        for (i, chunk) in chunks.enumerated() {
            chunk.deinitialize(count: min(Self.chunkSize, count - i * Self.chunkSize))
            chunk.deallocate()
        }
    }
}
