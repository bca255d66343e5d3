import Foundation
import SLAAPI
import SLACore

#if canImport(Glibc)
import Glibc
#endif

/// Human output: aligned tables; colour only on a terminal and never with NO_COLOR.
enum Render {
    static let colour: Bool =
        isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"].map(\.isEmpty) ?? true
        && ProcessInfo.processInfo.environment["TERM"] != "dumb"

    static func paint(_ text: String, _ code: String) -> String { colour ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text }

    static func standing(_ s: String?) -> String {
        switch s {
        case "breached": paint("breached", "31")
        case "at_risk": paint("at risk", "33")
        case "fine": "fine"
        default: s ?? "-"
        }
    }

    /// Columns padded to their widest cell (ANSI colour codes do not count).
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        func width(_ s: String) -> Int {
            var n = 0
            var escape = false
            for c in s.unicodeScalars {
                if c == "\u{1B}" { escape = true } else if escape { if c == "m" { escape = false } } else { n += 1 }
            }
            return n
        }
        var widths = header.map(width)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], width(cell)) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in
                i == cells.count - 1 ? c : c + String(repeating: " ", count: widths[i] - width(c))
            }.joined(separator: "  ")
        }
        return ([paint(line(header), "1")] + rows.map(line)).joined(separator: "\n") + "\n"
    }

    /// A wall-clock span (uptime, time left to a deadline instant): `3d2h15m`, `4h12m`, `45s`;
    /// negative as `-1h5m`.
    static func duration(_ seconds: Int64?) -> String {
        guard let seconds else { return "-" }
        let sign = seconds < 0 ? "-" : ""
        let s = seconds.magnitude
        let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60)
        if d > 0 { return "\(sign)\(d)d\(h)h\(m)m" }
        if h > 0 { return "\(sign)\(h)h\(m)m" }
        if m > 0 { return "\(sign)\(m)m\(s % 60 == 0 ? "" : "\(s % 60)s")" }
        return "\(sign)\(s)s"
    }

    /// Business time (targets, elapsed, remaining) in the clock's own terms: whole business
    /// days of its calendar first (`day` seconds each: a `5d` target of 9-hour days is `5d`),
    /// then hours, minutes and seconds, none dropped (`5d25m`, `1d4h30m`, `4h`). Without a day
    /// length (availability budgets), hours are the largest unit.
    static func business(_ seconds: Int64?, day: Int64? = nil) -> String {
        guard let seconds else { return "-" }
        guard let day, day > 0, seconds.magnitude >= day else { return formatSeconds(seconds) }
        let sign = seconds < 0 ? "-" : ""
        let days = Int64(seconds.magnitude) / day
        let rest = Int64(seconds.magnitude) % day
        return "\(sign)\(days)d" + (rest == 0 ? "" : formatSeconds(rest))
    }

    /// The zone every time is shown in when one is chosen: `TZ` (which `--utc` sets); nil: each
    /// contract's own zone. UTC keeps the `Z` form.
    static let chosenZone: ZoneRules? = {
        guard let tz = ProcessInfo.processInfo.environment["TZ"], !tz.isEmpty else { return nil }
        let name = tz.hasPrefix(":") ? String(tz.dropFirst()) : tz
        if ["UTC", "GMT", "Etc/UTC", "Universal", "UTC0"].contains(name) { return .utc }
        return TimeZone(identifier: name).map { ZoneRules(timeZone: $0) } ?? local
    }()

    /// The system's zone, for times of no contract.
    static let local: ZoneRules = {
        let current = TimeZone.current
        return current.secondsFromGMT() == 0 && ["UTC", "GMT", "Etc/UTC", "Universal"].contains(current.identifier)
            ? .utc : ZoneRules(timeZone: current)
    }()

    /// An API time (UTC) in `TZ` when set, else in the contract's zone `contractZone`, else the system's.
    static func time(_ iso: String?, zone contractZone: String? = nil) -> String {
        guard let iso else { return "-" }
        guard let parsed = ISO8601.parse(iso), parsed.offset != nil else { return iso }
        let zone = chosenZone ?? contractZone.flatMap { ZoneCache.rules(for: $0) } ?? local
        return ISO8601.format(parsed.instant(in: .utc), in: zone)
    }

    static func bytes(_ n: Int64) -> String {
        n < 1024 ? "\(n) B" : n < 1 << 20 ? "\(n / 1024) KiB" : "\(n >> 20) MiB"
    }

    static func status(_ s: StatusReport) -> String {
        let c = s.incidents
        var out = "slad \(s.version), up \(duration(s.uptimeSeconds)), configuration generation \(s.configGeneration)\n"
        out += "incidents: \(c.open) open, \(c.atRisk > 0 ? paint("\(c.atRisk) at risk", "33") : "0 at risk"), "
        out += "\(c.breached > 0 ? paint("\(c.breached) breached", "31") : "0 breached")"
        out += "; \(s.events) events, \(s.armedTimers) timers armed\n"
        if s.role == "leader" {
            out +=
                "role: leader of a shared store, as \(s.leaseHolder ?? "?"), fencing token \(s.fencingToken.map(String.init) ?? "?")\n"
        }
        if let error = s.storeError {
            out += paint("store: does not take writes: \(error); retrying, nothing is lost", "31") + "\n"
        }
        for source in s.sources {
            if let error = source.error { out += paint("source \(source.name): \(error)", "31") + "\n" }
        }
        out += "\n"
        out += table(
            ["SOURCE", "READ", "LAG", "LINES", "EVENTS", "DUPLICATES", "CONFLICTS", "QUARANTINED"],
            s.sources.map {
                [
                    $0.name, bytes($0.offsetBytes), $0.lagBytes > 0 ? paint(bytes($0.lagBytes), "33") : "0",
                    "\($0.lines)", "\($0.events)", "\($0.duplicates)",
                    $0.conflicts > 0 ? paint("\($0.conflicts)", "31") : "0", "\($0.quarantined)",
                ]
            })
        out += "\n"
        out += table(
            ["SINK", "PENDING", "DELIVERED", "FAILED", "SKIPPED"],
            s.outbox.map {
                [
                    $0.name, "\($0.pending)", "\($0.delivered)", $0.failed > 0 ? paint("\($0.failed)", "31") : "0",
                    "\($0.skipped)",
                ]
            })
        if !s.quarantine.isEmpty {
            out += "\n" + table(["QUARANTINED", "REASON"], s.quarantine.map { ["\($0.count)", $0.reason] })
        }
        return out
    }

    static func contracts(_ list: ContractList) -> String {
        table(
            ["CONTRACT", "CUSTOMER", "ZONE", "FEE", "OPEN", "AT RISK", "BREACHED", "PENALTIES (MONTH)", "BUDGET LEFT"],
            list.contracts.map {
                [
                    $0.id, $0.customer, $0.timeZone, money($0.feeMinor, $0.currency), "\($0.incidents.open)",
                    "\($0.incidents.atRisk)", "\($0.incidents.breached)",
                    $0.monthToDate.map { money($0.penaltiesMinor, $0.currency) } ?? "-",
                    $0.monthToDate?.availability.map(budgetLeft) ?? "-",
                ]
            })
    }

    /// `12m of 43m` (allowed), red when overspent, with the burn alerts firing.
    static func budgetLeft(_ b: BudgetView) -> String {
        var text = "\(business(b.remainingSeconds)) of \(business(b.allowedSeconds))"
        if b.remainingSeconds < 0 { text = paint(text, "31") }
        if !b.burning.isEmpty { text += paint(" burning ×" + b.burning.map(\.rate).joined(separator: "/×"), "33") }
        return text
    }

    /// The month so far: penalties, clocks, availability and its budget.
    static func month(_ m: MonthToDate) -> String {
        func clocks(_ t: ClockTally) -> String {
            let total = t.met + t.breached
            return "\(t.met) met, \(t.breached) breached"
                + (total > 0 ? " (\(percent(t.met, of: total)) %)" : "")
        }
        var out = "\(m.month) so far: penalties \(money(m.penaltiesMinor, m.currency)) (\(m.breaches) breaches);"
        out += " reaction \(clocks(m.reaction)); resolution \(clocks(m.resolution))\n"
        guard let a = m.availability else { return out }
        out += "availability \(a.achieved) % (target \(a.target) %)\(a.down ? paint(", down now", "31") : "");"
        out += " error budget \(business(a.spentSeconds)) spent of \(business(a.allowedSeconds))"
        out += a.remainingSeconds < 0 ? paint(", overspent", "31") : ", \(business(a.remainingSeconds)) left"
        for alert in a.burning {
            out += paint(
                "\nburning ×\(alert.rate) over \(business(alert.longSeconds)) and \(business(alert.shortSeconds)) (\(alert.severity))",
                "33")
        }
        out += "\n"
        return out
    }

    /// `part/total` in percent with one decimal, rounded half up (for display only).
    static func percent(_ part: Int, of total: Int) -> String {
        let tenths = (part * 1000 + total / 2) / total
        return "\(tenths / 10).\(tenths % 10)"
    }

    static func money(_ minor: Int64, _ currency: String) -> String {
        guard let c = Currency(code: currency) else { return "\(minor) (minor units) \(currency)" }
        return Money(minorUnits: minor, currency: c).description
    }

    static func contract(_ c: ContractView) -> String {
        var out = "\(c.id): \(c.customer) (\(c.services.joined(separator: ", ")))\n"
        out += "valid \(c.validFrom ?? "…") to \(c.validTo ?? "…"), \(c.timeZone), calendar \(c.calendar)\n"
        out += "fee \(money(c.feeMinor, c.currency)) a month"
        out += c.availabilityTarget.map { ", availability target \($0) %" } ?? ""
        out +=
            "; warnings at \(c.warnAt.map { "\($0) %" }.joined(separator: ", ")); notifies \(c.notify.joined(separator: ", "))\n"
        out +=
            "open incidents: \(c.incidents.open) (\(c.incidents.atRisk) at risk, \(c.incidents.breached) breached)\n"
        out += c.monthToDate.map(month) ?? ""
        out += "\n"
        out += table(
            ["PRIORITY", "REACTION", "RESOLUTION", "CALENDAR"],
            c.priorities.map {
                [
                    $0.name, business($0.reactionSeconds, day: $0.businessDaySeconds),
                    business($0.resolutionSeconds, day: $0.businessDaySeconds), $0.calendar,
                ]
            })
        return out
    }

    static func incidents(_ page: IncidentPage) -> String {
        var out = table(
            ["INCIDENT", "CONTRACT", "PRIORITY", "STANDING", "NEXT", "DEADLINE", "LEFT"],
            page.incidents.map {
                [
                    $0.id, $0.contract, $0.priority, standing($0.standing), $0.nextMetric ?? "-",
                    time($0.nextDeadline, zone: $0.timeZone),
                    ($0.secondsLeft ?? 0) < 0
                        ? paint("over \(duration(-($0.secondsLeft ?? 0)))", "31")
                        : duration($0.secondsLeft),
                ]
            })
        if let next = page.nextCursor { out += "more: --cursor '\(next)'\n" }
        return out
    }

    static func incident(_ d: IncidentDetail) -> String {
        let i = d.incident
        var out = "\(i.id) (\(i.contract), \(i.priority)) \(i.status)"
        out += i.standing.map { ", \(standing($0))" } ?? ""
        let zone = i.timeZone
        out += "; opened \(time(i.openedAt, zone: zone)); \(d.handoffs) handoff\(d.handoffs == 1 ? "" : "s")"
        out += d.covered ? "\n\n" : "; not covered by the contract\n\n"
        out += table(
            ["CLOCK", "PRIORITY", "TARGET", "ELAPSED", "REMAINING", "OUTCOME", "WHEN"],
            d.clocks.map {
                let when =
                    if let at = $0.breachedAt { "breached \(time(at, zone: zone))" } else if let at = $0.deadline {
                        "due \(time(at, zone: zone))"
                    } else if let at = $0.stoppedAt {
                        "\($0.outcome == "met" ? "met" : "stopped") \(time(at, zone: zone))"
                    } else { "-" }
                let day = $0.businessDaySeconds
                return [
                    $0.metric, $0.priority, business($0.targetSeconds, day: day), business($0.elapsedSeconds, day: day),
                    business($0.remainingSeconds, day: day),
                    $0.outcome == "breached" ? paint("breached", "31") : $0.outcome, when,
                ]
            })
        out += "\n"
        out += table(
            ["TIME", "EVENT", "DETAIL"],
            d.events.map { e in
                var detail: [String] = []
                if let p = e.priority { detail.append("priority \(p)") }
                if let s = e.status { detail.append("status \(s)") }
                if let t = e.team { detail.append("team \(t)") }
                if let l = e.level { detail.append("level \(l)") }
                if let a = e.assignee { detail.append("assignee \(a)") }
                if let r = e.rejected { detail.append(paint("ignored: \(r)", "33")) }
                return [time(e.time, zone: zone), e.type, detail.joined(separator: ", ")]
            })
        return out
    }

    static func breaches(_ list: BreachList) -> String {
        var out = table(
            ["BREACHED AT", "INCIDENT", "CONTRACT", "CLOCK", "PRIORITY", "TARGET", "ELAPSED"],
            list.breaches.map {
                [
                    time($0.breachedAt, zone: $0.timeZone), $0.incident, $0.contract, $0.metric, $0.priority,
                    business($0.targetSeconds, day: $0.businessDaySeconds),
                    business($0.elapsedSeconds, day: $0.businessDaySeconds),
                ]
            })
        if list.truncated { out += "(more: narrow with --since or --contract)\n" }
        return out
    }
}
