/// Every event the ingest engine holds, once, in arrival order, in chunks that never move: a
/// pointer to an event stays valid while the store lives, so an evaluation reads events where
/// they are, and holding a million events costs no allocation per incident.
///
/// An array per incident would cost a `malloc` and a move of every event at each doubling,
/// and a third more memory (room for eight events where an incident has five).
final class EventStore: @unchecked Sendable {
    // @unchecked: events are only appended, through a store its engine holds alone (the engine
    // copies it first otherwise, ``IngestEngine``); reads, from several threads at once, happen
    // between appends.
    private static let chunkShift = 14
    private static let chunkSize = 1 << chunkShift

    private var chunks: [UnsafeMutablePointer<SLAEvent>] = []
    /// Events held; their indices are `0..<count`.
    private(set) var count = 0

    init() {}

    /// A store holding the same events (for an engine that was copied and then added to).
    func copy() -> EventStore {
        let copy = EventStore()
        for i in 0..<count { copy.append(self[i]) }
        return copy
    }

    /// Adds a copy of the event `event` points at, at index `count`: copied once, from where
    /// it is into where it stays (handed over as a value, it would be copied twice).
    func append(_ event: UnsafePointer<SLAEvent>) {
        let offset = count & (Self.chunkSize - 1)
        if offset == 0 { chunks.append(.allocate(capacity: Self.chunkSize)) }
        (chunks[count >> Self.chunkShift] + offset).initialize(to: event.pointee)
        count += 1
    }

    /// The event at `index`, where it is.
    subscript(index: Int) -> UnsafePointer<SLAEvent> {
        precondition(index >= 0 && index < count, "EventStore: index out of range")
        return UnsafePointer(chunks[index >> Self.chunkShift] + (index & (Self.chunkSize - 1)))
    }

    deinit {
        for (k, chunk) in chunks.enumerated() {
            chunk.deinitialize(count: min(Self.chunkSize, count - (k << Self.chunkShift)))
            chunk.deallocate()
        }
    }
}
