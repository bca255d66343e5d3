import Crypto
import Foundation
import SLACore
import Yams

/// Loads `contracts.d/*.yaml` into resolved contracts.
enum ContractLoader {
    static let keys = [
        "id", "customer", "valid", "calendar", "timezone", "fee", "services", "availability", "priorities", "pause_on",
        "warn_at", "escalations", "penalties", "notify", "promises", "version", "versions",
    ]
    /// What a later version may change: the terms. The id, validity and time zone belong to the
    /// contract as a whole.
    static let versionTerms = [
        "customer", "calendar", "fee", "services", "availability", "priorities", "pause_on", "warn_at", "escalations",
        "penalties", "notify", "promises",
    ]
    static let versionKeys = ["version", "effective", "applies_to_open"] + versionTerms

    /// Resolves a calendar name (`24x7` is built in) in the zone of the contract.
    typealias CalendarLookup = (_ name: String, _ zone: ZoneRules?) -> BusinessCalendar?

    /// One contract file, every error reported against its line and field; nil when it has any.
    static func load(
        _ root: YAMLValue, calendars: @escaping CalendarLookup, calendarNames: [String], notifyTargets: Set<String>?
    ) -> Contract? {
        guard let f = root.mapping(known: keys, what: "a contract (id, customer, calendar, fee, priorities, …)") else {
            return nil
        }
        let before = root.diagnostics.count
        let name = f["version"]?.identifier("a version name") ?? "1"
        /// One version's terms; nil when they (or anything before) had errors.
        func version(_ fields: Fields, _ version: (String, Instant?, Bool)) -> Contract? {
            let c = terms(
                fields, calendars: calendars, calendarNames: calendarNames, notifyTargets: notifyTargets,
                version: version)
            return root.diagnostics.count == before ? c : nil
        }
        guard let first = version(f, (name, nil, false)) else { return nil }
        // Each later version is the one before it with the terms it writes replaced.
        var later: [Contract] = []
        var merged = f
        merged.values["versions"] = nil
        merged.values["version"] = nil
        var names: Set<String> = [name]
        for item in f["versions"]?.list("a list of { version, effective, applies_to_open, terms… }") ?? [] {
            guard let v = item.mapping(known: versionKeys, what: "{ version, effective, applies_to_open, terms… }"),
                let versionName = v.required("version")?.identifier("a version name"),
                let effectiveValue = v.required("effective", hint: "the instant it takes effect, e.g. 2027-01-01")
            else { return nil }
            if !names.insert(versionName).inserted {
                v["version"]!.fail("version '\(versionName)' is written twice")
                return nil
            }
            guard let effective = self.effective(effectiveValue, zone: first.zone) else { return nil }
            let previous = later.last ?? first
            if let p = previous.effective, effective <= p {
                effectiveValue.fail("a version takes effect after the one before it (\(previous.version))")
                return nil
            }
            for key in v.order where versionTerms.contains(key) {
                merged.values[key] = v[key]
                if !merged.order.contains(key) { merged.order.append(key) }
            }
            let appliesToOpen = v["applies_to_open"]?.bool() ?? false
            guard let next = version(merged, (versionName, effective, appliesToOpen)) else { return nil }
            if next.zone != first.zone {
                item.fail(
                    "version \(versionName) is in \(next.zone.identifier), the contract in \(first.zone.identifier)",
                    hint: "a contract keeps its time zone (its months); a new zone is a new contract")
                return nil
            }
            if next.currency != first.currency {
                item.fail(
                    "version \(versionName) charges \(next.currency.code), the contract \(first.currency.code)",
                    hint: "a contract keeps its currency; a new currency is a new contract")
                return nil
            }
            later.append(next)
        }
        return later.isEmpty ? first : first.with(laterVersions: later)
    }

    /// `effective:` of a version: a day (from its start) or a local date and time, in the
    /// contract's zone.
    static func effective(_ value: YAMLValue, zone: ZoneRules) -> Instant? {
        guard let text = value.string("a date or a local date and time") else { return nil }
        if let d = LocalDate(parsing: text) { return zone.startOfDay(d) }
        if let p = ISO8601.parse(text), p.offset == nil { return p.instant(in: zone) }
        value.fail(
            "'\(text)' is not a date or a local date and time",
            hint: "e.g. 2027-01-01 or 2027-01-01T08:00 (in the contract's zone)")
        return nil
    }

    /// The terms of one version written in `f`; nil when they have errors (reported).
    static func terms(
        _ f: Fields, calendars: @escaping CalendarLookup, calendarNames: [String], notifyTargets: Set<String>?,
        version: (name: String, effective: Instant?, appliesToOpen: Bool)
    ) -> Contract? {
        let root = f.parent
        let before = root.diagnostics.count
        let id = f.required("id")?.identifier("a contract id")
        let customer = f.required("customer")?.string("the customer's name")
        let (validFrom, validTo) = validity(f)
        let resolver = CalendarResolver(
            calendars: calendars, names: calendarNames, zone: f["timezone"]?.timeZone())
        let calendar = f.required("calendar", hint: "a file name in calendars/ without .yaml, or 24x7").flatMap(
            resolver.calendar)
        if let explicitZone = resolver.zone, let calendar, calendar.id != "24x7", calendar.zone != explicitZone {
            f["timezone"]!.fail(
                "timezone \(explicitZone.identifier) differs from calendar \(calendar.id)'s \(calendar.zone.identifier)",
                hint: "drop timezone: the calendar's zone is the contract's")
        }
        let (currency, fee) = self.fee(f)
        let services = f["services"]?.strings("a list of service names") ?? []
        let availability = f["availability"].flatMap {
            self.availability($0, services: services, resolver: resolver, zone: resolver.zone ?? calendar?.zone)
        }
        let (priorities, priorityNames) = self.priorities(f, resolver: resolver, calendar: calendar)
        // A list pauses the resolution clock; a mapping names the statuses of each clock.
        var pauseOn: Set<String> = []
        var reactionPauseOn: Set<String> = []
        if let v = f["pause_on"] {
            if case .mapping = v.node {
                let m = v.mapping(known: ConfigKeys.pauseOn, what: "{ reaction, resolution } or a list of statuses")
                pauseOn = Set(m?["resolution"]?.strings("a list of statuses") ?? [])
                reactionPauseOn = Set(m?["reaction"]?.strings("a list of statuses") ?? [])
            } else {
                pauseOn = Set(v.strings("a list of statuses") ?? [])
            }
        }
        let warnAt = self.warnings(f)
        let escalations = self.escalations(f, notifyTargets: notifyTargets)
        let penalties =
            f["penalties"].flatMap { self.penalties($0, priorityNames: priorityNames, currency: currency) }
            ?? PenaltyRules()
        let notify = f["notify"].flatMap { checkTargets($0, notifyTargets) } ?? []
        var promises: [String: PromiseTerms] = [:]
        for (name, value) in f["promises"]?.entries("promise kinds (callback, …, default)") ?? [] {
            guard let p = value.mapping(known: ConfigKeys.promise, what: "{ warn_at, escalations, every }") else {
                continue
            }
            var every: Int64?
            if let v = p["every"], let d = v.duration() {
                // Wall time: a day is 24 hours, as for every promise.
                every = d.resolved(dayLength: 86_400)
                if name == "default" {
                    v.fail("'default' gives terms to other kinds; a recurring kind has its own name")
                }
                if (every ?? 0) < 60 {
                    v.fail("a recurring promise needs a period of at least 1m", hint: "e.g. every: 4h")
                }
            }
            promises[name] = PromiseTerms(
                warnAt: Self.warnings(p).sorted(),
                escalations: Self.escalations(p, notifyTargets: notifyTargets).sorted { $0.at < $1.at }, every: every)
        }

        guard root.diagnostics.count == before, let id, let customer, let calendar, let fee else { return nil }
        return Contract(
            id: id, customer: customer, validFrom: validFrom, validTo: validTo, calendar: calendar, fee: fee,
            services: services, availability: availability, priorities: priorities, pauseOn: pauseOn,
            warnAt: warnAt.sorted(),
            escalations: escalations.sorted { $0.at < $1.at }, penalties: penalties, notify: notify,
            promises: promises, reactionPauseOn: reactionPauseOn, version: version.name,
            versionHash: hash(f, version: version), effective: version.effective,
            appliesToOpen: version.appliesToOpen)
    }

    /// SHA-256 (hex) of a version's terms as written: the mapping with its keys in order (so
    /// that comments, layout and key order do not count), then its name, start and reach.
    static func hash(_ f: Fields, version: (name: String, effective: Instant?, appliesToOpen: Bool)) -> String {
        var text = ""
        func write(_ node: Node) {
            switch node {
            case .scalar(let s):
                text +=
                    "\""
                    + s.string.replacingOccurrences(of: "\\", with: "\\\\")
                    .replacingOccurrences(of: "\"", with: "\\\"") + "\""
            case .sequence(let items):
                text += "["
                for (k, item) in items.enumerated() {
                    if k > 0 { text += "," }
                    write(item)
                }
                text += "]"
            case .mapping(let map):
                text += "{"
                let pairs = map.map { ($0.key.string ?? "", $0.value) }.sorted { $0.0 < $1.0 }
                for (k, pair) in pairs.enumerated() {
                    if k > 0 { text += "," }
                    write(.scalar(.init(pair.0)))
                    text += ":"
                    write(pair.1)
                }
                text += "}"
            case .alias: text += "*"
            }
        }
        text += "{"
        // The versions that follow, and the name (written below), are not this version's terms.
        for (k, key) in f.values.keys.filter({ $0 != "versions" && $0 != "version" }).sorted().enumerated() {
            if k > 0 { text += "," }
            write(.scalar(.init(key)))
            text += ":"
            write(f.values[key]!.node)
        }
        text += "}\nversion=\(version.name)\neffective=\(version.effective.map { String($0.seconds) } ?? "-")"
        text += "\napplies_to_open=\(version.appliesToOpen)\n"
        return SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Calendar names of one contract resolved in its zone; an unknown name is an error with a hint.
    struct CalendarResolver {
        let calendars: CalendarLookup
        let names: [String]
        /// The contract's explicit `timezone`, if it has one.
        let zone: ZoneRules?

        func calendar(_ value: YAMLValue) -> BusinessCalendar? {
            guard let name = value.string("a calendar name") else { return nil }
            if let c = calendars(name, zone) { return c }
            let hint =
                closest(to: name, in: names).map { "did you mean '\($0)'?" }
                ?? "known calendars: \(names.joined(separator: ", "))"
            value.fail("calendar '\(name)' is not defined in calendars/", hint: hint)
            return nil
        }
    }

    /// `valid: { from, to }`, whole days; `to` may not be before `from`.
    static func validity(_ f: Fields) -> (from: LocalDate?, to: LocalDate?) {
        guard let v = f["valid"]?.mapping(known: ConfigKeys.validity, what: "{ from, to }") else { return (nil, nil) }
        let from = v["from"]?.date()
        let to = v["to"]?.date()
        if let a = from, let b = to, b < a {
            v["to"]!.fail("'to' (\(b)) is before 'from' (\(a))")
        }
        return (from, to)
    }

    /// `fee: { amount, currency }`: the currency (ISO 4217) and the monthly fee in it.
    static func fee(_ f: Fields) -> (currency: Currency?, fee: Money?) {
        guard let feeValue = f.required("fee", hint: "e.g. fee: { amount: \"150000.00\", currency: RUB }"),
            let m = feeValue.mapping(known: ConfigKeys.fee, what: "{ amount, currency }")
        else { return (nil, nil) }
        var currency: Currency?
        if let c = m.required("currency"), let code = c.string("a currency code") {
            currency = Currency(code: code)
            if currency == nil { c.fail("'\(code)' is not an ISO 4217 currency code", hint: "e.g. EUR, USD, RUB") }
        }
        return (currency, m.required("amount")?.money(currency))
    }

    /// `availability: { target, calendar, exclude_maintenance, credits }`; needs `services`.
    static func availability(
        _ value: YAMLValue, services: [String], resolver: CalendarResolver, zone: ZoneRules?
    ) -> AvailabilityTerms? {
        guard let a = value.mapping(known: ConfigKeys.availability) else {
            return nil
        }
        let targetValue = a.required("target")
        var target = targetValue?.percentage()
        if let t = target, t > .hundred || t.millionths == 0 {
            targetValue?.fail("an availability target is above 0% and at most 100%", hint: "e.g. 99.9%")
            target = nil
        }
        let availabilityCalendar = a["calendar"].map(resolver.calendar) ?? resolver.calendars("24x7", zone)
        let exclude = a["exclude_maintenance"]?.bool() ?? false
        var tiers: [CreditTier] = []
        for item in a["credits"]?.list("a list of { below, credit }") ?? [] {
            guard let t = item.mapping(known: ConfigKeys.creditTier, what: "{ below, credit }"),
                let belowValue = t.required("below"), let below = belowValue.percentage(),
                let credit = t.required("credit")?.percentage()
            else { continue }
            if let target, below > target {
                belowValue.fail("credit tier below \(below) is above the target \(target)")
            }
            if credit > .hundred { t["credit"]!.fail("a credit above 100% of the fee") }
            tiers.append(CreditTier(below: below, credit: credit))
        }
        if services.isEmpty {
            a.parent.fail("availability needs the contract's services", hint: "add services: [name, …]")
        }
        guard let target, let availabilityCalendar else { return nil }
        return AvailabilityTerms(
            target: target, calendar: availabilityCalendar, excludeMaintenance: exclude, credits: tiers)
    }

    /// `priorities: { NAME: { reaction, resolution, calendar } }`, and every name written (a
    /// priority whose calendar is bad still counts as named, so penalties may refer to it).
    static func priorities(_ f: Fields, resolver: CalendarResolver, calendar: BusinessCalendar?) -> (
        [PriorityTerms], Set<String>
    ) {
        var priorities: [PriorityTerms] = []
        var names = Set<String>()
        guard
            let entries = f.required(
                "priorities", hint: "e.g. priorities: { P1: { reaction: 15m, resolution: 4h } }")?.entries(
                    "priorities by name")
        else { return ([], []) }
        for (name, value) in entries {
            names.insert(name)
            guard
                let p = value.mapping(
                    known: ConfigKeys.priority, what: "{ reaction, resolution, calendar }")
            else { continue }
            let cal = p["calendar"].map(resolver.calendar) ?? calendar
            let reaction = p["reaction"]?.duration()
            let resolution = p["resolution"]?.duration()
            if p["reaction"] == nil && p["resolution"] == nil {
                value.fail("priority \(name) has neither reaction nor resolution")
            }
            if let cal {
                priorities.append(
                    PriorityTerms(
                        name: name, reaction: reaction?.resolved(dayLength: cal.dayLength),
                        resolution: resolution?.resolved(dayLength: cal.dayLength), calendar: cal))
            }
        }
        return (priorities, names)
    }

    /// `warn_at`: shares above 0 % and below 100 %.
    static func warnings(_ f: Fields) -> [Percentage] {
        var warnAt: [Percentage] = []
        for item in f["warn_at"]?.list("a list of percentages") ?? [] {
            guard let p = item.percentage() else { continue }
            if p >= .hundred || p.millionths == 0 { item.fail("a warning must be above 0% and below 100%") }
            warnAt.append(p)
        }
        return warnAt
    }

    /// `escalations: [{ at, notify }]`, each at 100 % or more.
    static func escalations(_ f: Fields, notifyTargets: Set<String>?) -> [Escalation] {
        var escalations: [Escalation] = []
        for item in f["escalations"]?.list("a list of { at, notify }") ?? [] {
            guard let e = item.mapping(known: ConfigKeys.escalation, what: "{ at, notify }"),
                let atValue = e.required("at"),
                let at = atValue.percentage()
            else { continue }
            if at < .hundred { atValue.fail("an escalation is at 100% or more; use warn_at below 100%") }
            let notify = e["notify"].flatMap { checkTargets($0, notifyTargets) } ?? []
            escalations.append(Escalation(at: at, notify: notify))
        }
        return escalations
    }

    /// `penalties: { reaction_breach, resolution_breach, promise_breach, cap }`; per-priority
    /// tables may name only the contract's priorities.
    static func penalties(_ value: YAMLValue, priorityNames: Set<String>, currency: Currency?) -> PenaltyRules? {
        guard let p = value.mapping(known: ConfigKeys.penalties) else {
            return nil
        }
        func table(_ key: String) -> [String: BreachPenalty] {
            var out: [String: BreachPenalty] = [:]
            for (name, value) in p[key]?.entries("penalties by priority") ?? [] {
                if !priorityNames.contains(name) {
                    value.fail(
                        "priority \(name) is not in priorities",
                        hint: "known: \(priorityNames.sorted().joined(separator: ", "))")
                }
                if let b = breachPenalty(value, currency) { out[name] = b }
            }
            return out
        }
        var penalties = PenaltyRules()
        penalties.reaction = table("reaction_breach")
        penalties.resolution = table("resolution_breach")
        penalties.promise = p["promise_breach"].flatMap { breachPenalty($0, currency) }
        if let c = p["cap"], let text = c.string("a percentage of the fee or an amount") {
            if let pct = Percentage(parsing: text) {
                penalties.cap = .percentOfFee(pct)
            } else if let m = c.money(currency) {
                penalties.cap = .amount(m)
            }
        }
        return penalties
    }

    /// `"1000.00"` or `{ fixed: "5000.00", per_hour_late: "500.00" }`.
    static func breachPenalty(_ value: YAMLValue, _ currency: Currency?) -> BreachPenalty? {
        if case .scalar = value.node {
            return value.money(currency).map { BreachPenalty(fixed: $0) }
        }
        guard let m = value.mapping(known: ConfigKeys.penalty, what: "an amount or { fixed, per_hour_late }")
        else {
            return nil
        }
        let fixed = m["fixed"]?.money(currency) ?? currency.map(Money.zero)
        let perHour = m["per_hour_late"]?.money(currency)
        guard let fixed else { return nil }
        return BreachPenalty(fixed: fixed, perHourLate: perHour)
    }

    /// Notification target names; checked against slad.yaml's webhooks when it defines any.
    static func checkTargets(_ value: YAMLValue, _ known: Set<String>?) -> [String]? {
        guard let items = value.list("a list of webhook names") else { return nil }
        var out: [String] = []
        for item in items {
            guard let name = item.string("a webhook name") else { continue }
            if name.hasPrefix("@") {
                // A role, resolved per incident through its team (`teams:` in slad.yaml).
                if name != "@lead" {
                    item.fail("'\(name)' is not a role", hint: "@lead: the lead of the team holding the incident")
                }
            } else if let known, !known.contains(name) {
                item.fail(
                    "'\(name)' is not a webhook in slad.yaml",
                    hint: closest(to: name, in: known.sorted()).map { "did you mean '\($0)'?" }
                        ?? "known: \(known.sorted().joined(separator: ", "))")
            }
            out.append(name)
        }
        return out
    }
}
