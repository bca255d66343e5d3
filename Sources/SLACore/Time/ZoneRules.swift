import Foundation

/// The UTC offsets of one IANA time zone as a transition table.
///
/// Foundation's `TimeZone` answers one instant at a time and is too slow for
/// the per-day precomputation of business calendars; this table answers
/// `offset(at:)` with a binary search and converts local wall time to UTC with
/// explicit rules for DST gaps and overlaps.
public struct ZoneRules: Sendable, Hashable {
    /// IANA identifier, e.g. `Europe/Berlin`.
    public let identifier: String
    /// Instants at which the offset changes, ascending.
    let transitions: [Int64]
    /// `offsets[i]` holds before `transitions[i]`; the last one after the last transition.
    let offsets: [Int32]

    /// UTC itself.
    public static let utc = ZoneRules(identifier: "UTC", transitions: [], offsets: [0])

    /// Creates rules from a transition table (`offsets.count == transitions.count + 1`).
    public init(identifier: String, transitions: [Int64], offsets: [Int32]) {
        precondition(offsets.count == transitions.count + 1, "one offset per span between transitions")
        self.identifier = identifier
        self.transitions = transitions
        self.offsets = offsets
    }

    /// Seconds east of UTC in force at `instant`.
    public func offset(at instant: Instant) -> Int64 {
        Int64(offsets[upperBound(instant.seconds)])
    }

    func upperBound(_ t: Int64) -> Int {
        var lo = 0
        var hi = transitions.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if transitions[mid] <= t { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// The instant at which the wall clock of this zone shows `localSeconds`
    /// (seconds since 1970-01-01T00:00 local).
    ///
    /// In an overlap (clocks set back) the earlier instant is chosen; in a gap
    /// (clocks set forward) the wall time is read with the offset before the
    /// gap, which lands the same distance after the gap: 02:30 on a spring-forward
    /// night becomes 03:30. This is what people mean by "02:30" that night.
    public func instant(fromLocal localSeconds: Int64) -> Instant {
        let before = offset(at: Instant(localSeconds - 86_400))
        let after = offset(at: Instant(localSeconds + 86_400))
        var best: Int64?
        for o in [before, after] {
            let t = localSeconds - o
            if offset(at: Instant(t)) == o, best.map({ t < $0 }) ?? true { best = t }
        }
        return Instant(best ?? (localSeconds - before))
    }

    /// The instant of local midnight starting `date` (or the first instant of that date after a gap).
    public func startOfDay(_ date: LocalDate) -> Instant {
        instant(fromLocal: date.daysSinceEpoch * 86_400)
    }

    /// The local date at `instant`.
    public func localDate(at instant: Instant) -> LocalDate {
        let local = instant.seconds + offset(at: instant)
        return LocalDate(daysSinceEpoch: floorDiv(local, 86_400))
    }

    /// The calendar month, in this zone, that `instant` falls in.
    public func month(of instant: Instant) -> YearMonth {
        let d = localDate(at: instant)
        return YearMonth(year: d.year, month: d.month)
    }
}

extension ZoneRules {
    /// Builds the table for a Foundation time zone over `[from, to)` years.
    ///
    /// Offsets are sampled once a day and every change is bisected to the
    /// second, which finds DST and standard-offset changes alike (Moscow 2011,
    /// 2014) without relying on `nextDaylightSavingTimeTransition`.
    public init(timeZone: TimeZone, fromYear: Int = 1990, toYear: Int = 2100) {
        let start = LocalDate(year: fromYear, month: 1, day: 1).daysSinceEpoch * 86_400 - 86_400
        let end = LocalDate(year: toYear, month: 1, day: 1).daysSinceEpoch * 86_400 + 86_400
        func off(_ t: Int64) -> Int32 {
            Int32(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(t))))
        }
        var transitions: [Int64] = []
        var offsets: [Int32] = [off(start)]
        var t = start
        var current = offsets[0]
        // Sample every 6 h: no zone changes its offset twice within 6 hours.
        let step: Int64 = 6 * 3600
        while t < end {
            let next = t + step
            let o = off(next)
            if o != current {
                var lo = t
                var hi = next
                while hi - lo > 1 {
                    let mid = (lo + hi) / 2
                    if off(mid) == current { lo = mid } else { hi = mid }
                }
                transitions.append(hi)
                offsets.append(o)
                current = o
            }
            t = next
        }
        self.init(identifier: timeZone.identifier, transitions: transitions, offsets: offsets)
    }
}

@inline(__always)
func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}
