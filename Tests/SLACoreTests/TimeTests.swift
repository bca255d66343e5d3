import Foundation
import SLACore
import TestSupport
import Testing

@Suite("Time: dates, zones, ISO 8601")
struct TimeTests {
    @Test("civil dates round-trip through day numbers, weekdays are right")
    func civilDates() {
        var rng = SeededRandom(seed: 7)
        for _ in 0..<10_000 {
            let n = Int64.random(in: -100_000..<100_000, using: &rng)
            #expect(LocalDate(daysSinceEpoch: n).daysSinceEpoch == n)
        }
        #expect(LocalDate(year: 1970, month: 1, day: 1).weekday == 4)
        #expect(LocalDate(year: 2026, month: 11, day: 22).weekday == 7)
        #expect(LocalDate(year: 2024, month: 2, day: 29).isValid)
        #expect(!LocalDate(year: 2026, month: 2, day: 29).isValid)
        #expect(LocalDate(parsing: "2026-13-01") == nil)
    }

    @Test(
        "zone offsets agree with Foundation at random instants",
        arguments: ["Europe/Berlin", "America/New_York", "Europe/Moscow", "Australia/Lord_Howe", "Asia/Kolkata"])
    func offsetsAgree(_ id: String) {
        let tz = TimeZone(identifier: id)!
        let rules = ZoneRules(timeZone: tz)
        var rng = SeededRandom(seed: UInt64(id.utf8.count))
        for _ in 0..<2_000 {
            let s = Int64.random(in: 700_000_000..<4_000_000_000, using: &rng)
            let expected = Int64(tz.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(s))))
            #expect(rules.offset(at: Instant(s)) == expected, "\(id) at \(s)")
        }
    }

    @Test("wall time in a gap moves forward, in an overlap takes the first")
    func gapsAndOverlaps() {
        let berlin = Zones.berlin
        let gap = LocalDate(year: 2026, month: 3, day: 29).daysSinceEpoch * 86_400 + 2 * 3600 + 1800
        #expect(berlin.instant(fromLocal: gap) == t("2026-03-29T03:30:00+02:00"))
        let overlap = LocalDate(year: 2026, month: 10, day: 25).daysSinceEpoch * 86_400 + 2 * 3600 + 1800
        #expect(berlin.instant(fromLocal: overlap) == t("2026-10-25T02:30:00+02:00"))
        #expect(berlin.localDate(at: t("2026-10-24T22:30:00Z")) == LocalDate(year: 2026, month: 10, day: 25))
    }

    @Test("ISO 8601 parsing and formatting")
    func iso() {
        #expect(ISO8601.parse("2026-11-02T09:14:03+03:00")?.instant(in: .utc) == Instant(1_793_600_043))
        #expect(ISO8601.parse("2026-11-02T06:14:03Z")?.instant(in: .utc) == Instant(1_793_600_043))
        #expect(ISO8601.parse("2026-11-02T06:14:03.999Z")?.instant(in: .utc) == Instant(1_793_600_043))
        #expect(ISO8601.parse("2026-11-02 09:14:03+0300")?.instant(in: .utc) == Instant(1_793_600_043))
        #expect(ISO8601.parse("2026-11-02T09:14")?.offset == nil)
        // A dropped fraction is noted, and a deadline with one is the next whole second.
        #expect(ISO8601.parse("2026-11-02T06:14:03.999Z")?.fractional == true)
        #expect(ISO8601.parse("2026-11-02T06:14:03,5Z")?.fractional == true)
        #expect(ISO8601.parse("2026-11-02T06:14:03.000Z")?.fractional == false)
        #expect(ISO8601.parse("2026-11-02T06:14:03Z")?.fractional == false)
        #expect(ISO8601.parse("2026-11-02T06:14:03.001Z")?.deadline(in: .utc) == Instant(1_793_600_044))
        #expect(ISO8601.parse("2026-11-02T06:14:03.000Z")?.deadline(in: .utc) == Instant(1_793_600_043))
        for bad in [
            "", "2026-11-02", "2026-11-02T25:00:00Z", "2026-02-30T00:00:00Z", "2026-11-02T09:14:03+3",
            "junk junk junk junk",
        ] {
            #expect(ISO8601.parse(bad) == nil, "\(bad) must not parse")
        }
        #expect(ISO8601.format(Instant(1_793_600_043), in: Zones.moscow) == "2026-11-02T09:14:03+03:00")
        #expect(ISO8601.format(Instant(1_793_600_043), in: .utc) == "2026-11-02T06:14:03Z")
        #expect(ISO8601.format(t("2026-03-08T07:00:00-04:00"), in: Zones.newYork) == "2026-03-08T07:00:00-04:00")
    }

    @Test("formatting writes the same text as printf-style padding, across zones, years and offsets")
    func formatMatchesPadding() {
        var rng = SeededRandom(seed: 41)
        let zones: [ZoneRules] = [.utc, Zones.moscow, Zones.newYork, Zones.berlin]
        // From year 0500 (three-digit years are padded) to 2200, then a few beyond 9999.
        var instants = (0..<20_000).map { _ in Instant(Int64.random(in: -46_800_000_000...7_258_118_400, using: &rng)) }
        instants += [Instant(0), Instant(-1), Instant(253_402_300_799), Instant(253_402_300_800)]
        for instant in instants {
            for zone in zones {
                let offset = zone.offset(at: instant)
                let local = instant.seconds + offset
                let days = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
                let date = LocalDate(daysSinceEpoch: days)
                let sod = local - days * 86_400
                var expected = String(
                    format: "%04d-%02d-%02dT%02d:%02d:%02d", date.year, date.month, date.day, Int(sod / 3_600),
                    Int(sod / 60 % 60), Int(sod % 60))
                if zone.identifier == "UTC" && offset == 0 {
                    expected += "Z"
                } else {
                    expected += String(
                        format: "%@%02d:%02d", offset < 0 ? "-" : "+", Int(abs(offset) / 3_600),
                        Int(abs(offset) / 60 % 60))
                }
                #expect(ISO8601.format(instant, in: zone) == expected)
            }
        }
    }

    @Test("durations parse in unit order and print canonically")
    func durations() {
        #expect(BusinessDuration(parsing: "15m") == BusinessDuration(seconds: 900))
        #expect(BusinessDuration(parsing: "1d4h") == BusinessDuration(days: 1, seconds: 14_400))
        #expect(BusinessDuration(parsing: "1h30m")!.resolved(dayLength: 0) == 5400)
        #expect(BusinessDuration(parsing: "2d")!.resolved(dayLength: 9 * 3600) == 18 * 3600)
        for bad in ["", "15", "m", "15 min", "30m1h", "1h1h", "-5m", "1.5h"] {
            #expect(BusinessDuration(parsing: bad) == nil, "\(bad) must not parse")
        }
        #expect(formatSeconds(4 * 3600 + 1) == "4h0m1s")
        #expect(formatSeconds(0) == "0s")
    }
}
