import Foundation
import SLACore
import TestSupport
import Testing

@Suite("Business calendar arithmetic")
struct CalendarTests {
    static let calendars: [(String, BusinessCalendar)] = [
        ("office Berlin", officeCalendar(Zones.berlin, holidays: [LocalDate(year: 2026, month: 4, day: 30)])),
        ("office New York", officeCalendar(Zones.newYork)),
        ("all-day Berlin", allDayTable(Zones.berlin)),
        ("24x7", .twentyFourSeven(zone: Zones.moscow)),
        (
            "split shifts Moscow",
            BusinessCalendar(
                CalendarDefinition(
                    id: "split", zone: Zones.moscow,
                    weekly: WeeklyHours(
                        days: Array(repeating: spans("08:00-12:00", "13:00-17:30", "22:00-24:00"), count: 6) + [[]]),
                    holidays: [LocalDate(year: 2026, month: 5, day: 1)]))
        ),
    ]

    @Test("elapsed(a, add(a, d)) == d for random a and d", arguments: 0..<calendars.count)
    func addThenElapsed(_ index: Int) {
        let (name, cal) = Self.calendars[index]
        var rng = SeededRandom(seed: 0x5A1D + UInt64(index))
        let base = t("2025-01-01T00:00:00Z").seconds
        for _ in 0..<5_000 {
            let a = Instant(base + Int64.random(in: 0..<(3 * 365 * 86_400), using: &rng))
            let d = Int64.random(in: 0..<(400 * 3600), using: &rng)
            guard let b = cal.adding(business: d, to: a) else {
                Issue.record("\(name): no result for \(a.seconds) + \(d)")
                return
            }
            #expect(b >= a)
            #expect(cal.elapsed(from: a, to: b) == d, "\(name): a=\(a.seconds) d=\(d) b=\(b.seconds)")
            // Earliest: one second less does not reach d.
            if d > 0 { #expect(cal.elapsed(from: a, to: b.adding(seconds: -1)) == d - 1, "\(name): not the earliest") }
        }
    }

    @Test("elapsed is additive and monotonic", arguments: 0..<calendars.count)
    func additiveMonotonic(_ index: Int) {
        let (name, cal) = Self.calendars[index]
        var rng = SeededRandom(seed: 0xBEEF + UInt64(index))
        let base = t("2026-01-01T00:00:00Z").seconds
        for _ in 0..<5_000 {
            var xs = (0..<3).map { _ in base + Int64.random(in: 0..<(365 * 86_400), using: &rng) }
            xs.sort()
            let (a, b, c) = (Instant(xs[0]), Instant(xs[1]), Instant(xs[2]))
            let ab = cal.elapsed(from: a, to: b)
            let bc = cal.elapsed(from: b, to: c)
            #expect(ab >= 0 && bc >= 0)
            #expect(ab + bc == cal.elapsed(from: a, to: c), "\(name): not additive")
            #expect(ab <= b.seconds - a.seconds, "\(name): more business time than wall time")
        }
    }

    @Test("DST days last 23 h and 25 h in Europe/Berlin and America/New_York")
    func dstDayLengths() {
        let cases: [(ZoneRules, LocalDate, Int64)] = [
            (Zones.berlin, LocalDate(year: 2026, month: 3, day: 29), 23 * 3600),
            (Zones.berlin, LocalDate(year: 2026, month: 10, day: 25), 25 * 3600),
            (Zones.berlin, LocalDate(year: 2026, month: 6, day: 1), 24 * 3600),
            (Zones.newYork, LocalDate(year: 2026, month: 3, day: 8), 23 * 3600),
            (Zones.newYork, LocalDate(year: 2026, month: 11, day: 1), 25 * 3600),
            (Zones.newYork, LocalDate(year: 2026, month: 11, day: 2), 24 * 3600),
        ]
        for (zone, date, hours) in cases {
            let cal = allDayTable(zone)
            let start = zone.startOfDay(date)
            let end = zone.startOfDay(date.adding(days: 1))
            #expect(end.seconds - start.seconds == hours, "\(zone.identifier) \(date) wall length")
            #expect(cal.elapsed(from: start, to: end) == hours, "\(zone.identifier) \(date) business length")
        }
    }

    @Test("office hours are 8 h on the weekdays after a DST change, and the change happens on the right instant")
    func officeAroundDST() {
        let cal = officeCalendar(Zones.berlin)
        // Friday before, Monday after the spring change.
        #expect(cal.elapsed(from: t("2026-03-27T00:00:00+01:00"), to: t("2026-03-28T00:00:00+01:00")) == 8 * 3600)
        #expect(cal.elapsed(from: t("2026-03-30T00:00:00+02:00"), to: t("2026-03-31T00:00:00+02:00")) == 8 * 3600)
        // Friday 16:00 CET + 2 h → Monday 10:00 CEST.
        #expect(cal.adding(business: 2 * 3600, to: t("2026-03-27T16:00:00+01:00")) == t("2026-03-30T10:00:00+02:00"))
        // New York autumn: Friday 16:00 EDT + 2 h → Monday 10:00 EST.
        let ny = officeCalendar(Zones.newYork)
        #expect(ny.adding(business: 2 * 3600, to: t("2026-10-30T16:00:00-04:00")) == t("2026-11-02T10:00:00-05:00"))
    }

    @Test("a holiday on a month end, and midnight crossings")
    func holidayOnMonthEnd() {
        let holiday = LocalDate(year: 2026, month: 4, day: 30)  // Thursday, last day of April
        let cal = officeCalendar(Zones.berlin, holidays: [holiday])
        // Wednesday 16:00 + 2 h skips Thursday 30 April → Friday 1 May 10:00.
        #expect(cal.adding(business: 2 * 3600, to: t("2026-04-29T16:00:00+02:00")) == t("2026-05-01T10:00:00+02:00"))
        #expect(cal.elapsed(from: t("2026-04-30T00:00:00+02:00"), to: t("2026-05-01T00:00:00+02:00")) == 0)
        #expect(!cal.isWorking(at: t("2026-04-30T12:00:00+02:00")))
        #expect(cal.isWorking(at: t("2026-05-01T09:00:00+02:00")))
        #expect(!cal.isWorking(at: t("2026-05-01T17:00:00+02:00")))
        // Month end in a 24x7 table: 31 March 23:00 → 1 April 01:00 is 2 h.
        let all = allDayTable(Zones.berlin)
        #expect(all.elapsed(from: t("2026-03-31T23:00:00+02:00"), to: t("2026-04-01T01:00:00+02:00")) == 7200)
        // Exactly at a span end, adding reaches the end, not the next span.
        #expect(cal.adding(business: 3600, to: t("2026-05-04T16:00:00+02:00")) == t("2026-05-04T17:00:00+02:00"))
    }

    @Test("starting outside working hours starts at the next span; zero duration is the start itself")
    func startsOutside() {
        let cal = officeCalendar(Zones.newYork)
        #expect(cal.adding(business: 60, to: t("2026-11-07T12:00:00-05:00")) == t("2026-11-09T09:01:00-05:00"))
        #expect(cal.adding(business: 0, to: t("2026-11-07T12:00:00-05:00")) == t("2026-11-07T12:00:00-05:00"))
        #expect(cal.elapsed(from: t("2026-11-09T10:00:00-05:00"), to: t("2026-11-09T09:00:00-05:00")) == 0)
    }

    @Test("extra working days beat weekends and holidays")
    func extraWorkingDay() {
        let sunday = LocalDate(year: 2026, month: 11, day: 1)
        let week = spans("09:00-18:00")
        let cal = BusinessCalendar(
            CalendarDefinition(
                id: "x", zone: Zones.moscow, weekly: WeeklyHours(days: [week, week, week, week, week, [], []]),
                holidays: [sunday], extraWorkingDays: [sunday: spans("10:00-12:00")]))
        #expect(cal.elapsed(from: t("2026-11-01T00:00:00+03:00"), to: t("2026-11-02T00:00:00+03:00")) == 7200)
        #expect(cal.dayLength == 9 * 3600)
    }

    @Test("matches a minute-by-minute walk on random short ranges")
    func matchesNaiveWalk() {
        let zone = Zones.newYork
        let cal = officeCalendar(zone, holidays: [LocalDate(year: 2026, month: 11, day: 26)])
        var rng = SeededRandom(seed: 42)
        let base = t("2026-10-25T00:00:00Z").seconds
        for _ in 0..<200 {
            let a = base + Int64.random(in: 0..<(20 * 86_400), using: &rng) / 60 * 60
            let b = a + Int64.random(in: 0..<(5 * 86_400), using: &rng) / 60 * 60
            var naive: Int64 = 0
            var m = a
            while m < b {
                let date = zone.localDate(at: Instant(m))
                let local = m + zone.offset(at: Instant(m)) - date.daysSinceEpoch * 86_400
                if date.weekday <= 5, date != LocalDate(year: 2026, month: 11, day: 26), local >= 9 * 3600,
                    local < 17 * 3600
                {
                    naive += 60
                }
                m += 60
            }
            #expect(cal.elapsed(from: Instant(a), to: Instant(b)) == naive)
        }
    }
}
