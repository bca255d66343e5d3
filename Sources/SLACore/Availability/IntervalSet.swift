/// A set of instants as sorted, disjoint, half-open intervals `[start, end)`.
public struct IntervalSet: Sendable, Hashable {
    /// The intervals, sorted and disjoint.
    public private(set) var intervals: [Range<Int64>] = []

    /// The empty set.
    public init() {}

    /// Builds a set from any intervals (overlapping or unsorted).
    public init(_ ranges: [Range<Int64>]) {
        for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) where !r.isEmpty {
            if let last = intervals.last, r.lowerBound <= last.upperBound {
                intervals[intervals.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
            } else {
                intervals.append(r)
            }
        }
    }

    /// Instants in either set.
    public func union(_ other: IntervalSet) -> IntervalSet { IntervalSet(intervals + other.intervals) }

    /// The part of this set outside `other`.
    public func subtracting(_ other: IntervalSet) -> IntervalSet {
        var result: [Range<Int64>] = []
        var j = 0
        for r in intervals {
            var start = r.lowerBound
            while j < other.intervals.count, other.intervals[j].upperBound <= start { j += 1 }
            var k = j
            while k < other.intervals.count, other.intervals[k].lowerBound < r.upperBound {
                let o = other.intervals[k]
                if o.lowerBound > start { result.append(start..<o.lowerBound) }
                start = max(start, o.upperBound)
                k += 1
            }
            if start < r.upperBound { result.append(start..<r.upperBound) }
        }
        var s = IntervalSet()
        s.intervals = result
        return s
    }

    /// The part of this set inside `range`.
    public func clamped(to range: Range<Int64>) -> IntervalSet {
        var s = IntervalSet()
        s.intervals = intervals.compactMap { r in
            let c = r.clamped(to: range)
            return c.isEmpty ? nil : c
        }
        return s
    }

    /// Whether the second `t` is in the set.
    public func contains(_ t: Int64) -> Bool {
        var lo = 0
        var hi = intervals.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if intervals[mid].upperBound <= t { lo = mid + 1 } else { hi = mid }
        }
        return lo < intervals.count && intervals[lo].contains(t)
    }

    /// Business seconds covered, measured with `calendar`.
    public func measure(with calendar: BusinessCalendar) -> Int64 {
        intervals.reduce(0) { $0 + calendar.elapsed(from: Instant($1.lowerBound), to: Instant($1.upperBound)) }
    }
}
