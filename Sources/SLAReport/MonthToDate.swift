import SLAAPI
import SLACore

extension ReportBook {
    /// Each contract's month so far as of `asOf` (its own month, in its zone): this month's
    /// penalties (capped, without corrections of sealed months, which the report carries),
    /// the clocks decided, and the availability budget with its burn windows. For the metrics
    /// and `slactl contracts`; contracts not in force at `asOf` are left out.
    public func monthToDate(asOf: Instant) throws -> [MonthToDate] {
        let valid = contracts.filter { $0.isValid(at: asOf) }
        let services = try valid.isEmpty ? [] : store.serviceEvents()
        return try valid.map { c in
            let month = c.month(of: asOf)
            // One timeline for the statement and the budget.
            let timeline = Self.timeline(of: c, services: services, asOf: asOf)
            let s = try statement(c, month: month, asOf: asOf, timeline: timeline)
            return MonthToDate(
                contract: c.id, month: month.description, asOf: ISO8601.format(asOf, in: c.zone),
                currency: c.currency.code, penaltiesMinor: s.total.minorUnits, penalties: s.total.amountText,
                breaches: s.breaches.count,
                reaction: ClockTally(met: s.reaction.met, breached: s.reaction.breached),
                resolution: ClockTally(met: s.resolution.met, breached: s.resolution.breached),
                availability: ErrorBudget.of(c, services: timeline, asOf: asOf).map { b in
                    BudgetView(
                        target: String(b.target.description.dropLast()),
                        achieved: s.availability.map { String($0.achieved.description.dropLast()) } ?? "100",
                        monthSeconds: b.monthSeconds, elapsedSeconds: b.elapsedSeconds,
                        allowedSeconds: b.allowedSeconds, spentSeconds: b.spentSeconds,
                        remainingSeconds: b.remainingSeconds, counting: b.counting, down: b.down,
                        windows: b.windows.map {
                            BurnWindowView(lengthSeconds: $0.length, downSeconds: $0.down, countedSeconds: $0.counted)
                        },
                        burning: b.firing.map { alert in
                            BurnAlertView(
                                rate: alert.rate, longSeconds: alert.long, shortSeconds: alert.short,
                                severity: alert.severity,
                                sinceSecond: b.windows.first { $0.length == alert.long }?.firstDown ?? asOf.seconds)
                        })
                })
        }
    }
}
