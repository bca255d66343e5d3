import Dispatch

/// Pure work spread over threads, with results in item order (evaluating the incidents of an
/// ingest batch, formatting a month's breach lines). The caller waits for all of it.
public enum Parallel {
    /// `[element(0), element(1), …, element(count - 1)]`, computed in `parts` contiguous parts,
    /// each on a thread of its own (one part: on the caller's thread).
    public static func map<T>(_ count: Int, parts: Int, _ element: (Int) -> T) -> [T] {
        let parts = max(1, min(parts, count))
        guard parts > 1 else { return (0..<count).map(element) }
        return Array(unsafeUninitializedCapacity: count) { buffer, initialized in
            // Safe to share: each part initializes only its own range of the buffer.
            nonisolated(unsafe) let base = buffer.baseAddress!
            withoutActuallyEscaping(element) { element in
                // Safe to share: `element` is pure, as the callers promise.
                nonisolated(unsafe) let element = element
                DispatchQueue.concurrentPerform(iterations: parts) { p in
                    for i in part(p, of: parts, 0..<count) { (base + i).initialize(to: element(i)) }
                }
            }
            initialized = count
        }
    }

    /// Part `p` of `range` cut into `parts` contiguous parts of nearly equal size, in order: how
    /// ``map(_:parts:_:)`` shares out its work.
    public static func part(_ p: Int, of parts: Int, _ range: Range<Int>) -> Range<Int> {
        (range.lowerBound + range.count * p / parts)..<(range.lowerBound + range.count * (p + 1) / parts)
    }

    /// `body` on every element of `items`, each on a thread of its own.
    public static func each<T>(_ items: inout [T], _ body: (inout T) -> Void) {
        items.withUnsafeMutableBufferPointer { buffer in
            // Safe to share: each thread touches its own element only.
            nonisolated(unsafe) let buffer = buffer
            withoutActuallyEscaping(body) { body in
                // Safe to share: `body` changes only the element it is given.
                nonisolated(unsafe) let body = body
                DispatchQueue.concurrentPerform(iterations: buffer.count) { body(&buffer[$0]) }
            }
        }
    }
}
