/// The definition of a calendar as configured: zone, weekly hours, exceptions.
public struct CalendarDefinition: Sendable, Hashable {
    /// The calendar's name (its file name, or `24x7`).
    public var id: String
    /// The zone whose wall clock the hours are read in.
    public var zone: ZoneRules
    /// Working hours by weekday.
    public var weekly: WeeklyHours
    /// Whole days off.
    public var holidays: Set<LocalDate>
    /// Days worked with these hours whatever the weekday or holiday list says.
    public var extraWorkingDays: [LocalDate: [DaySpan]]
    /// The length of one business day, the meaning of `d` in durations.
    public var dayLength: Int64

    /// Creates a definition; `dayLength` defaults to the typical working day (see ``typicalDayLength(_:)``).
    public init(
        id: String, zone: ZoneRules, weekly: WeeklyHours, holidays: Set<LocalDate> = [],
        extraWorkingDays: [LocalDate: [DaySpan]] = [:], dayLength: Int64? = nil
    ) {
        self.id = id
        self.zone = zone
        self.weekly = weekly
        self.holidays = holidays
        self.extraWorkingDays = extraWorkingDays
        self.dayLength = dayLength ?? CalendarDefinition.typicalDayLength(weekly)
    }

    /// The most common non-zero daily total across the week (ties: the longer), 24 h when none.
    public static func typicalDayLength(_ weekly: WeeklyHours) -> Int64 {
        var counts: [Int64: Int] = [:]
        for spans in weekly.days {
            let total = spans.reduce(0) { $0 + $1.length }
            if total > 0 { counts[total, default: 0] += 1 }
        }
        return counts.max { ($0.value, $0.key) < ($1.value, $1.key) }?.key ?? 86_400
    }

    /// The spans worked on `date`, exceptions applied.
    public func spans(on date: LocalDate) -> [DaySpan] {
        if let extra = extraWorkingDays[date] { return extra }
        if holidays.contains(date) { return [] }
        return weekly.spans(weekday: date.weekday)
    }

    /// Whether this definition is round-the-clock with no exceptions.
    public var isAlways: Bool { weekly == .always && holidays.isEmpty && extraWorkingDays.isEmpty }
}

/// Business-time arithmetic over a precomputed table of working intervals.
///
/// Every working span of every day in the supported range is converted once to
/// a UTC interval; a prefix sum of their lengths turns "business seconds
/// between two instants" into two binary searches and "instant + business
/// duration" into one. DST days come out as the 23 h or 25 h they are, because
/// the bounds of each span are converted with the zone rules of that very day.
public struct BusinessCalendar: Sendable {
    /// The table, shared by every copy: a calendar is copied into every clock phase of every
    /// incident evaluated, and one reference costs one retain where its nine fields cost nine.
    private final class Table: Sendable {
        let definition: CalendarDefinition
        let range: ClosedRange<Instant>
        let always: Bool
        let starts: [Int64]
        let ends: [Int64]
        /// `prefix[k]` is the total length of intervals `0..<k`.
        let prefix: [Int64]

        init(
            definition: CalendarDefinition, range: ClosedRange<Instant>, always: Bool, starts: [Int64],
            ends: [Int64], prefix: [Int64]
        ) {
            self.definition = definition
            self.range = range
            self.always = always
            self.starts = starts
            self.ends = ends
            self.prefix = prefix
        }
    }

    private let table: Table

    /// The configuration this table was built from.
    public var definition: CalendarDefinition { table.definition }
    /// The first and last supported instant; outside, no time is business time.
    public var range: ClosedRange<Instant> { table.range }
    private var always: Bool { table.always }
    private var starts: [Int64] { table.starts }
    private var ends: [Int64] { table.ends }
    private var prefix: [Int64] { table.prefix }

    /// The calendar's name.
    public var id: String { definition.id }
    /// The calendar's time zone.
    public var zone: ZoneRules { definition.zone }
    /// Seconds in one business day, the meaning of `d` in durations.
    public var dayLength: Int64 { definition.dayLength }

    /// The built-in round-the-clock calendar in `zone`.
    public static func twentyFourSeven(zone: ZoneRules = .utc, id: String = "24x7") -> BusinessCalendar {
        BusinessCalendar(CalendarDefinition(id: id, zone: zone, weekly: .always, dayLength: 86_400))
    }

    /// Precomputes the table for `[fromYear, toYear)` in the calendar's zone.
    public init(_ definition: CalendarDefinition, fromYear: Int = 1990, toYear: Int = 2100) {
        let first = LocalDate(year: fromYear, month: 1, day: 1)
        let last = LocalDate(year: toYear, month: 1, day: 1)
        let range = definition.zone.startOfDay(first)...definition.zone.startOfDay(last).adding(seconds: -1)
        guard !definition.isAlways else {
            table = Table(definition: definition, range: range, always: true, starts: [], ends: [], prefix: [])
            return
        }
        var starts: [Int64] = []
        var ends: [Int64] = []
        starts.reserveCapacity(Int(last.daysSinceEpoch - first.daysSinceEpoch))
        ends.reserveCapacity(starts.capacity)
        for dayNumber in first.daysSinceEpoch..<last.daysSinceEpoch {
            let date = LocalDate(daysSinceEpoch: dayNumber)
            let midnight = dayNumber * 86_400
            for span in definition.spans(on: date) {
                let s = definition.zone.instant(fromLocal: midnight + Int64(span.start)).seconds
                let e = definition.zone.instant(fromLocal: midnight + Int64(span.end)).seconds
                guard e > s else { continue }
                if let lastEnd = ends.last, s <= lastEnd {
                    ends[ends.count - 1] = max(lastEnd, e)
                } else {
                    starts.append(s)
                    ends.append(e)
                }
            }
        }
        var prefix = [Int64](repeating: 0, count: starts.count + 1)
        for k in 0..<starts.count { prefix[k + 1] = prefix[k] + ends[k] - starts[k] }
        table = Table(definition: definition, range: range, always: false, starts: starts, ends: ends, prefix: prefix)
    }

    /// Number of precomputed working intervals (0 for round-the-clock).
    public var intervalCount: Int { starts.count }

    /// Business seconds in `[from, to)`; zero when `to ≤ from`.
    public func elapsed(from: Instant, to: Instant) -> Int64 {
        guard to > from else { return 0 }
        return cumulative(to) - cumulative(from)
    }

    /// Business seconds from the start of the table to `t`.
    func cumulative(_ t: Instant) -> Int64 {
        if always { return t.seconds }
        let x = t.seconds
        var lo = 0
        var hi = starts.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if starts[mid] <= x { lo = mid + 1 } else { hi = mid }
        }
        guard lo > 0 else { return 0 }
        return prefix[lo - 1] + min(x, ends[lo - 1]) - starts[lo - 1]
    }

    /// The earliest instant `t ≥ start` with `elapsed(start, t) == duration`,
    /// or nil when the table ends first.
    public func adding(business duration: Int64, to start: Instant) -> Instant? {
        guard duration > 0 else { return start }
        if always { return start.adding(seconds: duration) }
        let goal = cumulative(start) + duration
        // First interval j whose end reaches the goal: prefix[j + 1] ≥ goal.
        var lo = 0
        var hi = starts.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if prefix[mid + 1] < goal { lo = mid + 1 } else { hi = mid }
        }
        guard lo < starts.count else { return nil }
        return Instant(starts[lo] + goal - prefix[lo])
    }

    /// Whether `t` falls in working time.
    public func isWorking(at t: Instant) -> Bool {
        if always { return true }
        return cumulative(t.adding(seconds: 1)) - cumulative(t) == 1
    }
}

extension BusinessCalendar {
    /// The working stretches of `[from, to)`, in order: what a clock running through it counts.
    public func workingIntervals(from: Instant, to: Instant) -> [(from: Instant, to: Instant)] {
        guard to > from else { return [] }
        if always { return [(from, to)] }
        var lo = 0
        var hi = starts.count
        // The first interval ending after `from`.
        while lo < hi {
            let mid = (lo + hi) >> 1
            if ends[mid] <= from.seconds { lo = mid + 1 } else { hi = mid }
        }
        var out: [(from: Instant, to: Instant)] = []
        var k = lo
        while k < starts.count && starts[k] < to.seconds {
            out.append((Instant(max(starts[k], from.seconds)), Instant(min(ends[k], to.seconds))))
            k += 1
        }
        return out
    }
}
