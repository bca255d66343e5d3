import Foundation
import SLACore
import TestSupport

/// Zone rules from the system time zone database, shared across tests (building them scans the zone's history).
enum Zones {
    static let berlin = ZoneRules(timeZone: TimeZone(identifier: "Europe/Berlin")!)
    static let newYork = ZoneRules(timeZone: TimeZone(identifier: "America/New_York")!)
    static let moscow = ZoneRules(timeZone: TimeZone(identifier: "Europe/Moscow")!)
}

/// `2026-03-29T01:30:00+01:00` → instant; crashes the test on a typo, which is what a typo deserves.
func t(_ text: String) -> Instant {
    guard let p = ISO8601.parse(text), p.offset != nil else { fatalError("bad test time \(text)") }
    return p.instant(in: .utc)
}

func spans(_ texts: String...) -> [DaySpan] { texts.map { DaySpan(parsing: $0)! } }

/// Monday–Friday 09:00–17:00 in `zone`, with holidays.
func officeCalendar(_ zone: ZoneRules, holidays: Set<LocalDate> = []) -> BusinessCalendar {
    let week = spans("09:00-17:00")
    return BusinessCalendar(
        CalendarDefinition(
            id: "office", zone: zone, weekly: WeeklyHours(days: [week, week, week, week, week, [], []]),
            holidays: holidays))
}

/// Every day 00:00–24:00 but as a table (not the round-the-clock shortcut), so DST shows in day lengths.
func allDayTable(_ zone: ZoneRules) -> BusinessCalendar {
    let day = spans("00:00-24:00")
    return BusinessCalendar(
        CalendarDefinition(
            id: "all-day", zone: zone, weekly: WeeklyHours(days: Array(repeating: day, count: 7)),
            holidays: [LocalDate(year: 1990, month: 1, day: 1)]))
}
