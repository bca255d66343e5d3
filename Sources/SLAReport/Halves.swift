import SLACore

/// Work over a month's breach lines split in two halves run on two threads, once there are
/// enough lines to pay for a thread: each line is formatted on its own, so the halves need
/// nothing from each other, and the result is the same as one thread's. The tallies of a month
/// read in parts are finished the same way, one thread each (``each(_:_:)``).
enum Halves {
    /// Below this many elements one thread does it all.
    static let minimum = 50_000

    /// The two halves of `0..<count`.
    static func range(_ half: Int, of count: Int) -> Range<Int> {
        half == 0 ? 0..<count / 2 : count / 2..<count
    }

    /// `body` of each half of `0..<count` (of all of it when `count` is small), in order.
    static func run<T>(_ count: Int, _ body: (Range<Int>) -> T) -> [T] {
        guard count >= minimum else { return [body(0..<count)] }
        return Parallel.map(2, parts: 2) { half in body(range(half, of: count)) }
    }

    /// `body` on every element of `items`, each on a thread of its own.
    static func each<T>(_ items: inout [T], _ body: (inout T) -> Void) {
        Parallel.each(&items, body)
    }
}
