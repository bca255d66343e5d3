import SLACore

/// Holiday dates from an iCalendar (RFC 5545) file: all-day `VEVENT`s.
///
/// Supported: `DTSTART;VALUE=DATE` (or a date-time, whose date is taken),
/// `DTEND` (exclusive, multi-day holidays), `SUMMARY`, folded lines, and
/// `RRULE:FREQ=YEARLY` with optional `COUNT` or `UNTIL` (expanded to 2099).
/// Anything else in an `RRULE` is an error rather than a silently wrong list.
enum ICalendar {
    struct Holiday: Equatable {
        var date: LocalDate
        var name: String?
    }

    static func holidays(from text: String, file: String, diagnostics: Diagnostics) -> [Holiday] {
        // Unfold: a line starting with space or tab continues the previous one. RFC 5545 ends
        // lines with CRLF, which a Swift string holds as one Character; bare LF is accepted too.
        var lines: [(Int, String)] = []
        for (n, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isLineEnd).enumerated() {
            let line = String(raw)
            if let first = line.first, first == " " || first == "\t", !lines.isEmpty {
                lines[lines.count - 1].1 += line.dropFirst()
            } else {
                lines.append((n + 1, line))
            }
        }
        func fail(_ line: Int, _ reason: String) {
            diagnostics.report(ConfigError(file: file, line: line, field: "", reason: reason))
        }
        guard lines.contains(where: { $0.1 == "BEGIN:VCALENDAR" }) else {
            fail(1, "not an iCalendar file (no BEGIN:VCALENDAR)")
            return []
        }
        var result: [Holiday] = []
        var inEvent = false
        var start: (Int, LocalDate)?
        var end: LocalDate?
        var summary: String?
        var rule: (count: Int?, until: LocalDate?)?
        for (number, line) in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let head = line[..<colon]
            let value = String(line[line.index(after: colon)...])
            let name = head.split(separator: ";").first.map(String.init) ?? ""
            switch name {
            case "BEGIN" where value == "VEVENT":
                inEvent = true
                start = nil
                end = nil
                summary = nil
                rule = nil
            case "DTSTART" where inEvent:
                guard let d = date(value) else {
                    fail(number, "DTSTART '\(value)' is not a date")
                    continue
                }
                start = (number, d)
            case "DTEND" where inEvent:
                guard let d = date(value) else {
                    fail(number, "DTEND '\(value)' is not a date")
                    continue
                }
                end = d
            case "SUMMARY" where inEvent:
                summary = value.replacingOccurrences(of: "\\,", with: ",").replacingOccurrences(of: "\\;", with: ";")
            case "RRULE" where inEvent:
                var parts: [String: String] = [:]
                for p in value.split(separator: ";") {
                    let kv = p.split(separator: "=", maxSplits: 1)
                    if kv.count == 2 { parts[String(kv[0])] = String(kv[1]) }
                }
                guard parts["FREQ"] == "YEARLY", Set(parts.keys).isSubset(of: ["FREQ", "COUNT", "UNTIL", "INTERVAL"]),
                    parts["INTERVAL"].map({ $0 == "1" }) ?? true
                else {
                    fail(number, "RRULE '\(value)' is not supported; only FREQ=YEARLY with COUNT or UNTIL")
                    continue
                }
                rule = (parts["COUNT"].flatMap { Int($0) }, parts["UNTIL"].flatMap(date))
            case "END" where value == "VEVENT" && inEvent:
                inEvent = false
                guard let (_, first) = start else {
                    fail(number, "VEVENT without DTSTART")
                    continue
                }
                let days = max(1, Int((end ?? first.adding(days: 1)).daysSinceEpoch - first.daysSinceEpoch))
                var occurrences = [first]
                if let rule {
                    var year = first.year + 1
                    while year < 2100 {
                        if let count = rule.count, occurrences.count >= count { break }
                        let next = LocalDate(year: year, month: first.month, day: first.day)
                        if let until = rule.until, next > until { break }
                        if next.isValid { occurrences.append(next) }
                        year += 1
                    }
                }
                for o in occurrences {
                    for k in 0..<min(days, 366) {
                        result.append(Holiday(date: o.adding(days: Int64(k)), name: summary))
                    }
                }
            default:
                continue
            }
        }
        return result
    }

    /// `20260101`, `20260101T000000`, `20260101T000000Z` → the date part.
    static func date(_ value: String) -> LocalDate? { LocalDate(basicFormat: value) }
}
