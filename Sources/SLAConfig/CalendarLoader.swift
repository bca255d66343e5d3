import Foundation
import SLACore

/// Loads `calendars/NAME.yaml` into calendar definitions.
enum CalendarLoader {
    static let keys = ["id", "timezone", "day_length", "hours", "holidays", "holidays_ics", "extra_working_days"]
    static let dayNames = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

    /// Parses one calendar file. `directory` resolves `holidays_ics` paths.
    static func load(_ root: YAMLValue, name: String, directory: String) -> CalendarDefinition? {
        guard let f = root.mapping(known: keys, what: "a calendar (timezone, hours, holidays)") else { return nil }
        let before = root.diagnostics.count
        if let idValue = f["id"], let id = idValue.identifier(), id != name {
            idValue.fail("id '\(id)' differs from the file name '\(name)'", hint: "rename the file or the id")
        }
        let zone = f.required("timezone", hint: "e.g. timezone: Europe/Moscow")?.timeZone()
        var weekly = Array(repeating: [DaySpan](), count: 7)
        if let hours = f.required("hours", hint: "e.g. hours: { mon-fri: [\"09:00-18:00\"] }")?.entries("days → spans")
        {
            var seen = Set<Int>()
            for (key, value) in hours {
                guard let days = dayRange(key) else {
                    value.fail(
                        "'\(key)' is not a day or day range",
                        hint: "use mon, tue, wed, thu, fri, sat, sun or a range like mon-fri")
                    continue
                }
                let spans = self.spans(value)
                for d in days {
                    if !seen.insert(d).inserted { value.fail("\(dayNames[d]) is given twice") }
                    weekly[d] = spans ?? []
                }
            }
        }
        var holidays = Set<LocalDate>()
        if let list = f["holidays"]?.list("a list of dates") {
            for item in list {
                if case .mapping = item.node {
                    guard let h = item.mapping(known: ConfigKeys.holiday) else { continue }
                    if let d = h.required("date")?.date() { holidays.insert(d) }
                    _ = h["name"]?.string()
                } else if let d = item.date() {
                    holidays.insert(d)
                }
            }
        }
        if let files = f["holidays_ics"] {
            let names: [YAMLValue] = if case .sequence = files.node { files.list() ?? [] } else { [files] }
            for value in names {
                guard let file = value.string("a file name") else { continue }
                let path = file.hasPrefix("/") ? file : (directory as NSString).appendingPathComponent(file)
                guard let data = readFile(path, limit: YAMLFile.maxBytes + 1), data.count <= YAMLFile.maxBytes,
                    let text = String(data: data, encoding: .utf8)
                else {
                    value.fail(
                        "cannot read iCalendar file '\(file)'", hint: "paths are relative to the calendars folder")
                    continue
                }
                let display =
                    (value.file as NSString).deletingLastPathComponent.isEmpty
                    ? file
                    : ((value.file as NSString).deletingLastPathComponent as NSString).appendingPathComponent(file)
                for h in ICalendar.holidays(from: text, file: display, diagnostics: root.diagnostics) {
                    holidays.insert(h.date)
                }
            }
        }
        var extra: [LocalDate: [DaySpan]] = [:]
        if let list = f["extra_working_days"]?.list("a list of { date, hours }") {
            for item in list {
                guard let e = item.mapping(known: ConfigKeys.extraWorkingDay, what: "{ date, hours }"),
                    let d = e.required("date")?.date()
                else { continue }
                if let h = e["hours"] {
                    extra[d] = spans(h) ?? []
                } else {
                    // Without hours, the day is worked like the calendar's typical weekday.
                    extra[d] =
                        weekly.first {
                            $0.reduce(0) { $0 + $1.length }
                                == CalendarDefinition.typicalDayLength(WeeklyHours(days: weekly))
                        } ?? []
                }
            }
        }
        var dayLength: Int64?
        if let v = f["day_length"], let d = v.duration() {
            if d.days > 0 || d.seconds <= 0 || d.seconds > 86_400 {
                v.fail("day_length must be between 1s and 24h", hint: "write hours, e.g. 9h")
            } else {
                dayLength = d.seconds
            }
        }
        guard root.diagnostics.count == before, let zone else { return nil }
        return CalendarDefinition(
            id: name, zone: zone, weekly: WeeklyHours(days: weekly), holidays: holidays, extraWorkingDays: extra,
            dayLength: dayLength)
    }

    /// `mon` → [0], `mon-fri` → [0…4], `sat-sun`; nil when malformed.
    static func dayRange(_ key: String) -> [Int]? {
        let parts = key.lowercased().split(separator: "-").map(String.init)
        guard let a = parts.first.flatMap({ dayNames.firstIndex(of: $0) }) else { return nil }
        if parts.count == 1 { return [a] }
        guard parts.count == 2, let b = dayNames.firstIndex(of: parts[1]), a <= b else { return nil }
        return Array(a...b)
    }

    /// A list of `HH:MM-HH:MM` spans, checked for overlap.
    static func spans(_ value: YAMLValue) -> [DaySpan]? {
        guard let items = value.list("a list of spans like \"09:00-18:00\"") else { return nil }
        var spans: [DaySpan] = []
        for item in items {
            guard let text = item.string("a span like \"09:00-18:00\"") else { continue }
            guard let span = DaySpan(parsing: text) else {
                item.fail(
                    "'\(text)' is not a span of the day",
                    hint: "write HH:MM-HH:MM with start before end, e.g. \"09:00-18:00\"")
                continue
            }
            spans.append(span)
        }
        spans.sort { $0.start < $1.start }
        for (a, b) in zip(spans, spans.dropFirst()) where b.start < a.end {
            value.fail("spans \(a) and \(b) overlap")
            return nil
        }
        return spans
    }
}
