/// A duration as written in a contract: whole business days plus seconds.
///
/// `d` means one business day of the calendar the duration is measured in
/// (its `day_length`, 24 h for round-the-clock calendars), so `1d` on a
/// 09:00–18:00 calendar is 9 business hours: opened Monday 14:00, due Tuesday 14:00.
public struct BusinessDuration: Hashable, Sendable, CustomStringConvertible {
    /// Whole business days.
    public var days: Int64
    /// Seconds on top of the days.
    public var seconds: Int64

    /// Creates a duration.
    public init(days: Int64 = 0, seconds: Int64 = 0) {
        self.days = days
        self.seconds = seconds
    }

    /// Seconds of business time on a calendar whose day is `dayLength` seconds.
    public func resolved(dayLength: Int64) -> Int64 { days * dayLength + seconds }

    /// Parses `15m`, `4h`, `1d`, `1h30m`, `90s`, `2d4h` (units d, h, m, s, each at most once, in that order).
    public init?(parsing text: String) {
        let u = Array(text.utf8)
        guard !u.isEmpty, u.count <= 24 else { return nil }
        var i = 0
        var days: Int64 = 0
        var secs: Int64 = 0
        var lastRank = -1
        while i < u.count {
            var n: Int64 = 0
            let start = i
            while i < u.count, u[i] &- 48 < 10 {
                n = n * 10 + Int64(u[i] - 48)
                i += 1
                guard n < 10_000_000 else { return nil }
            }
            guard i > start, i < u.count else { return nil }
            let rank: Int
            switch u[i] {
            case UInt8(ascii: "d"): rank = 0; days = n
            case UInt8(ascii: "h"): rank = 1; secs += n * 3600
            case UInt8(ascii: "m"): rank = 2; secs += n * 60
            case UInt8(ascii: "s"): rank = 3; secs += n
            default: return nil
            }
            guard rank > lastRank else { return nil }
            lastRank = rank
            i += 1
        }
        self.init(days: days, seconds: secs)
    }

    /// Canonical text, e.g. `1d4h30m`; `0s` for zero.
    public var description: String {
        var out = days > 0 ? "\(days)d" : ""
        out += formatSeconds(seconds, zero: days > 0 ? "" : "0s")
        return out
    }
}

/// `4h12m`, `15m`, `1h0m5s` style text for a number of seconds (no days unit: business days vary).
public func formatSeconds(_ value: Int64, zero: String = "0s") -> String {
    guard value != 0 else { return zero }
    let sign = value < 0 ? "-" : ""
    let v = value.magnitude
    let h = v / 3600
    let m = v / 60 % 60
    let s = v % 60
    var out = sign
    if h > 0 { out += "\(h)h" }
    if m > 0 || (h > 0 && s > 0) { out += "\(m)m" }
    if s > 0 { out += "\(s)s" }
    return out
}
