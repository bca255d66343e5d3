import SLACore

extension ReportBook {
    /// What each contract owes for each past month not sealed yet (its own month in its zone,
    /// the capped total without corrections of sealed months, minor units), as of `asOf`: the
    /// money a reload may still change. A contract never sealed counts from the month of its
    /// first incident.
    public func unsealedPastTotals(asOf: Instant) throws -> [UnsealedTotal] {
        let lastSealed = try store.lastSealedMonths()
        let services = try contracts.isEmpty ? [] : store.serviceEvents()
        var out: [UnsealedTotal] = []
        for c in contracts {
            guard let start = try firstUnsealedMonth(c, lastSealed: lastSealed) else { continue }
            let current = c.month(of: asOf)
            var month = start
            while month < current {
                defer { month = month.next }
                guard c.validDays(in: month) > 0 else { continue }
                let total = try statement(c, month: month, asOf: asOf, services: services).total
                out.append(
                    UnsealedTotal(contract: c.id, month: month, minorUnits: total.minorUnits, currency: c.currency))
            }
        }
        return out
    }
}

/// A contract's total for one unsealed past month.
public struct UnsealedTotal: Sendable, Hashable {
    /// The contract id.
    public var contract: String
    /// The month, in the contract's zone.
    public var month: YearMonth
    /// The capped total, minor units.
    public var minorUnits: Int64
    /// Its currency.
    public var currency: Currency
}
