/// Events with their source, as ingest reads them, read where they are in their array.
///
/// Why pointers: `Array`'s subscript returns a copy, so reading one field of an element, or
/// handing its event to a call, copies the whole pair first (200 bytes, and a retain and a
/// release of every text in it) wherever the optimizer cannot prove the copy useless.
/// Through a pointer, only the fields read are loaded.
@frozen public struct EventPairs {
    /// An event and the source it came from.
    public typealias Pair = (event: SLAEvent, source: String)
    @usableFromInline let base: UnsafeRawPointer
    /// Pairs.
    public let count: Int
    @usableFromInline static let stride = MemoryLayout<Pair>.stride
    @usableFromInline static let eventOffset = MemoryLayout<Pair>.offset(of: \Pair.event)!
    @usableFromInline static let sourceOffset = MemoryLayout<Pair>.offset(of: \Pair.source)!

    /// Valid only inside `withUnsafeBufferPointer` of the pairs' array; nil when it is empty.
    @inlinable public init?(_ pairs: UnsafeBufferPointer<Pair>) {
        guard let start = pairs.baseAddress else { return nil }
        base = UnsafeRawPointer(start)
        count = pairs.count
    }

    /// The `k`-th event.
    @inlinable public func event(_ k: Int) -> UnsafePointer<SLAEvent> {
        (base + k * Self.stride + Self.eventOffset).assumingMemoryBound(to: SLAEvent.self)
    }

    /// The `k`-th source.
    @inlinable public func source(_ k: Int) -> UnsafePointer<String> {
        (base + k * Self.stride + Self.sourceOffset).assumingMemoryBound(to: String.self)
    }
}
