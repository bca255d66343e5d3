/// A span of wall-clock time within one day, in seconds after local midnight.
public struct DaySpan: Hashable, Sendable, CustomStringConvertible {
    /// Inclusive start, 0 ..< 86 400.
    public var start: Int32
    /// Exclusive end, start < end ≤ 86 400 (24:00).
    public var end: Int32

    /// Creates a span; the caller guarantees `0 ≤ start < end ≤ 86 400`.
    public init(start: Int32, end: Int32) {
        self.start = start
        self.end = end
    }

    /// Seconds in the span.
    public var length: Int64 { Int64(end - start) }

    /// `HH:MM-HH:MM`.
    public var description: String {
        func hm(_ s: Int32) -> String { "\(pad(Int(s / 3600), 2)):\(pad(Int(s / 60 % 60), 2))" }
        return "\(hm(start))-\(hm(end))"
    }

    /// Parses `HH:MM-HH:MM` (end may be `24:00`).
    public init?(parsing text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let s = DaySpan.clock(parts[0].trimmingSpaces),
            let e = DaySpan.clock(parts[1].trimmingSpaces),
            s < e, s < 86_400
        else { return nil }
        self.init(start: s, end: e)
    }

    static func clock(_ text: Substring) -> Int32? {
        let u = Array(text.utf8)
        guard u.count == 5, u[2] == UInt8(ascii: ":"), let h = digits(u, 0, 2), let m = digits(u, 3, 2), m < 60,
            h < 24 || (h == 24 && m == 0)
        else { return nil }
        return Int32(h * 3600 + m * 60)
    }
}

/// Working hours for each ISO weekday (index 0 = Monday … 6 = Sunday).
public struct WeeklyHours: Hashable, Sendable {
    /// Spans per ISO weekday, Monday first.
    public var days: [[DaySpan]]

    /// Creates the week from exactly seven day entries, Monday first.
    public init(days: [[DaySpan]]) {
        precondition(days.count == 7, "one entry per weekday")
        self.days = days
    }

    /// Round the clock, every day.
    public static let always = WeeklyHours(days: Array(repeating: [DaySpan(start: 0, end: 86_400)], count: 7))

    /// The spans of the ISO weekday `weekday` (1 = Monday).
    public func spans(weekday: Int) -> [DaySpan] { days[weekday - 1] }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return s
    }
}
