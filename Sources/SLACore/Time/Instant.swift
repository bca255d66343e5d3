/// A point in time, in whole seconds since 1970-01-01T00:00:00Z.
///
/// SLA clocks are exact to the second; sub-second parts of event times are
/// truncated toward the past so that an event never appears later than it was.
public struct Instant: Hashable, Comparable, Sendable, Codable {
    /// Seconds since the Unix epoch (UTC), negative before it.
    public var seconds: Int64

    /// Creates an instant from seconds since the Unix epoch.
    public init(_ seconds: Int64) { self.seconds = seconds }

    /// Orders instants in time.
    public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.seconds < rhs.seconds }

    /// The instant `delta` seconds later (earlier when negative).
    public func adding(seconds delta: Int64) -> Instant { Instant(seconds + delta) }

    /// Decodes from seconds since the epoch.
    public init(from decoder: any Decoder) throws {
        seconds = try decoder.singleValueContainer().decode(Int64.self)
    }

    /// Encodes as seconds since the epoch.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(seconds)
    }
}

/// A calendar date without a time zone (proleptic Gregorian).
public struct LocalDate: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The year, e.g. 2026.
    public var year: Int
    /// The month, 1–12.
    public var month: Int
    /// The day of the month, 1–31.
    public var day: Int

    /// Creates a date; the caller guarantees the components are valid (see ``isValid``).
    public init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// Whether month and day exist in that year.
    public var isValid: Bool {
        month >= 1 && month <= 12 && day >= 1 && day <= LocalDate.daysIn(year: year, month: month)
    }

    /// Orders dates in time.
    public static func < (lhs: LocalDate, rhs: LocalDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    /// Days since 1970-01-01 (Howard Hinnant's days_from_civil).
    public var daysSinceEpoch: Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The date `days` days after 1970-01-01 (civil_from_days).
    public init(daysSinceEpoch days: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        self.init(year: Int(yoe + era * 400 + (m <= 2 ? 1 : 0)), month: Int(m), day: Int(d))
    }

    /// ISO weekday: 1 = Monday … 7 = Sunday.
    public var weekday: Int {
        let d = daysSinceEpoch
        // 1970-01-01 was a Thursday (4).
        let w = (d + 3) % 7
        return Int(w < 0 ? w + 7 : w) + 1
    }

    /// The date `n` days later.
    public func adding(days n: Int64) -> LocalDate { LocalDate(daysSinceEpoch: daysSinceEpoch + n) }

    /// The first day of the following month.
    public var firstOfNextMonth: LocalDate {
        month == 12 ? LocalDate(year: year + 1, month: 1, day: 1) : LocalDate(year: year, month: month + 1, day: 1)
    }

    /// Whether `year` has 29 February.
    public static func isLeap(_ year: Int) -> Bool { (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 }

    /// Days in `month` of `year`.
    public static func daysIn(year: Int, month: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// `YYYY-MM-DD`.
    public var description: String {
        "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    /// Parses the basic form `YYYYMMDD` (iCalendar), ignoring anything after the date.
    public init?(basicFormat text: some StringProtocol) {
        let u = Array(text.utf8)
        guard u.count >= 8, let y = digits(u, 0, 4), let m = digits(u, 4, 2), let d = digits(u, 6, 2) else {
            return nil
        }
        self.init(year: y, month: m, day: d)
        guard isValid else { return nil }
    }

    /// Parses `YYYY-MM-DD`; nil when malformed or not a real date.
    public init?(parsing text: some StringProtocol) {
        let u = Array(text.utf8)
        guard u.count == 10, u[4] == UInt8(ascii: "-"), u[7] == UInt8(ascii: "-"),
            let y = digits(u, 0, 4), let m = digits(u, 5, 2), let d = digits(u, 8, 2)
        else { return nil }
        self.init(year: y, month: m, day: d)
        guard isValid else { return nil }
    }
}

/// A calendar month, the unit of reports.
public struct YearMonth: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    /// The year, e.g. 2026.
    public var year: Int
    /// The month, 1–12.
    public var month: Int

    /// Creates a month; the caller guarantees `1...12`.
    public init(year: Int, month: Int) {
        self.year = year
        self.month = month
    }

    /// Orders months in time.
    public static func < (lhs: YearMonth, rhs: YearMonth) -> Bool { (lhs.year, lhs.month) < (rhs.year, rhs.month) }

    /// The first day of the month.
    public var firstDay: LocalDate { LocalDate(year: year, month: month, day: 1) }
    /// The following month.
    public var next: YearMonth {
        month == 12 ? YearMonth(year: year + 1, month: 1) : YearMonth(year: year, month: month + 1)
    }

    /// `YYYY-MM`.
    public var description: String { "\(pad(year, 4))-\(pad(month, 2))" }

    /// Parses `YYYY-MM`.
    public init?(parsing text: some StringProtocol) {
        let u = Array(text.utf8)
        guard u.count == 7, u[4] == UInt8(ascii: "-"), let y = digits(u, 0, 4), let m = digits(u, 5, 2),
            (1...12).contains(m)
        else { return nil }
        self.init(year: y, month: m)
    }

    /// Decodes from `YYYY-MM`.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = YearMonth(parsing: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not YYYY-MM"))
        }
        self = value
    }

    /// Encodes as `YYYY-MM`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

@inline(__always)
func digits(_ u: [UInt8], _ start: Int, _ count: Int) -> Int? {
    var value = 0
    for i in start..<(start + count) {
        let c = u[i] &- 48
        guard c < 10 else { return nil }
        value = value * 10 + Int(c)
    }
    return value
}

func pad(_ value: Int, _ width: Int) -> String {
    let s = String(value)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}
