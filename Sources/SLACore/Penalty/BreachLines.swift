/// The breach lines of a month's statement, as a collection of ``BreachLine`` values.
///
/// A month can hold a million lines, and most of what a line carries (metric, priority, amount,
/// rule) is one of the few prices of that month. So a line is stored as its incident, instants
/// and the index of its ``Price``: 48 bytes instead of 128 and one reference-counted text
/// instead of six, which is what ordering, merging and rendering a month move around
/// (Benchmarks/report-vs-duckdb.sh). Lines are made on access; renderers that write a million of
/// them read the parts (``incident(_:)``, ``priceIndex(_:)``, …) instead.
public struct BreachLines: RandomAccessCollection, Sendable {
    /// What every line of one metric, priority and price shares.
    public struct Price: Sendable, Hashable {
        /// Which clock breached.
        public var metric: Metric
        /// The priority in force at the breach.
        public var priority: String
        /// What the breach costs.
        public var amount: Money
        /// How the amount was computed, e.g. `5000.00 + 3 h × 500.00`.
        public var rule: String
        /// The contract version whose penalties priced it.
        public var version: String = "1"
    }

    struct Entry {
        var incident: String
        var at: Int64
        var target: Int64
        var actual: Int64
        var price: Int
    }

    var entries: [Entry] = []
    /// The prices lines refer to, in the order they were first needed.
    public private(set) var prices: [Price] = []

    /// No lines.
    public init() {}

    /// The first line's position, 0.
    public var startIndex: Int { 0 }
    /// One past the last line.
    public var endIndex: Int { entries.count }

    /// Line `k`, made of its entry and its price.
    public subscript(k: Int) -> BreachLine {
        let e = entries[k]
        let p = prices[e.price]
        return BreachLine(
            incident: e.incident, metric: p.metric, priority: p.priority, target: e.target, actual: e.actual,
            at: Instant(e.at), amount: p.amount, rule: p.rule, version: p.version)
    }

    /// The incident of line `k`.
    public func incident(_ k: Int) -> String { entries[k].incident }
    /// When line `k` breached.
    public func instant(_ k: Int) -> Instant { Instant(entries[k].at) }
    /// The target of line `k`, in business seconds.
    public func target(_ k: Int) -> Int64 { entries[k].target }
    /// The elapsed business seconds of line `k`.
    public func actual(_ k: Int) -> Int64 { entries[k].actual }
    /// Where line `k`'s metric, priority, amount and rule are in ``prices``.
    public func priceIndex(_ k: Int) -> Int { entries[k].price }

    /// The sum of every line's amount, `zero` when there are none.
    public func total(zero: Money) -> Money {
        // Counted per price and multiplied: exact, and one money addition per price.
        var counts = [Int64](repeating: 0, count: prices.count)
        for e in entries { counts[e.price] += 1 }
        var sum = zero
        for (k, p) in prices.enumerated() where counts[k] > 0 { sum = sum + p.amount.times(counts[k]) }
        return sum
    }

    mutating func addPrice(_ price: Price) -> Int {
        prices.append(price)
        return prices.count - 1
    }

    mutating func append(incident: String, at: Instant, target: Int64, actual: Int64, price: Int) {
        entries.append(Entry(incident: incident, at: at.seconds, target: target, actual: actual, price: price))
    }

    /// Appends `other`'s lines after these; `remap[k]` is where `other`'s price `k` is in ``prices``.
    mutating func append(contentsOf other: BreachLines, remap: [Int]) {
        append(other.entries[...], remap: remap)
    }

    /// Appends `lines` of another `BreachLines`, their prices mapped by `remap`.
    private mutating func append(_ lines: ArraySlice<Entry>, remap: [Int]) {
        entries.reserveCapacity(entries.count + lines.count)
        for var e in lines {
            e.price = remap[e.price]
            entries.append(e)
        }
    }

    /// `other`'s prices added to these (each once); the result maps `other`'s price indices to
    /// indices of ``prices``.
    mutating func adopt(pricesOf other: BreachLines) -> [Int] {
        var index: [Price: Int] = [:]
        for (k, p) in prices.enumerated() { index[p] = k }
        return other.prices.map { p in
            if let k = index[p] { return k }
            let k = addPrice(p)
            index[p] = k
            return k
        }
    }

    /// Statement order: time, then incident, then metric.
    func before(_ a: Entry, _ b: Entry) -> Bool {
        if a.at != b.at { return a.at < b.at }
        if a.incident != b.incident { return a.incident < b.incident }
        return prices[a.price].metric < prices[b.price].metric
    }

    /// Puts the lines in statement order (time, incident, metric). Ordering packed
    /// (time, position) integers and moving each line once costs less than comparing lines:
    /// only lines of equal time are compared by incident and metric.
    mutating func putInTimeOrder() {
        guard let first = entries.min(by: { $0.at < $1.at })?.at,
            let last = entries.max(by: { $0.at < $1.at })?.at,
            entries.count < 1 << 24, last - first < 1 << 39
        else {
            let sorted = entries.sorted { before($0, $1) }
            entries = sorted
            return
        }
        var keys = entries.indices.map { UInt64(entries[$0].at - first) << 24 | UInt64($0) }
        keys.sort()
        var order = keys.map { Int($0 & 0xFF_FFFF) }
        var start = 0
        while start < order.count {
            var end = start + 1
            while end < order.count && keys[end] >> 24 == keys[start] >> 24 { end += 1 }
            if end - start > 1 { order[start..<end].sort { before(entries[$0], entries[$1]) } }
            start = end
        }
        Self.permute(&entries, by: &order)
    }

    /// Rearranges `items` so that position `k` holds what was at `order[k]`, moving each item
    /// once along the permutation's cycles: no second array of a million lines.
    /// `order` is used up (each entry set to `-1`).
    static func permute<T>(_ items: inout [T], by order: inout [Int]) {
        precondition(items.count == order.count, "one position per item")
        items.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for start in order.indices where order[start] >= 0 {
                let held = (base + start).move()
                var k = start
                while order[k] != start {
                    let from = order[k]
                    (base + k).moveInitialize(from: base + from, count: 1)
                    order[k] = -1
                    k = from
                }
                (base + k).initialize(to: held)
                order[k] = -1
            }
        }
    }

    /// These lines and `other`'s, both in statement order, merged in statement order; `remap`
    /// maps `other`'s price indices to ``prices`` (``adopt(pricesOf:)``).
    mutating func merge(ordered other: BreachLines, remap: [Int]) {
        guard !other.entries.isEmpty else { return }
        let a = entries
        var out: [Entry] = []
        out.reserveCapacity(a.count + other.entries.count)
        var i = 0
        var j = 0
        let b = other.entries
        while i < a.count && j < b.count {
            var next = b[j]
            next.price = remap[next.price]
            if before(next, a[i]) {
                out.append(next)
                j += 1
            } else {
                out.append(a[i])
                i += 1
            }
        }
        out += a[i...]
        entries = out
        append(b[j...], remap: remap)
    }
}

extension BreachLines: Equatable {
    /// Equal when they hold the same lines in the same order, however their prices are numbered.
    public static func == (a: BreachLines, b: BreachLines) -> Bool { a.elementsEqual(b) }
}
